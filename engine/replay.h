// Journal replay: what odds-replay reports about a journal (DESIGN sections 6 and 10). Every
// function reads through scan_frames, so none of them goes past a damaged frame: a query that
// needs frames beyond the first bad seq fails, naming it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <expected>
#include <optional>
#include <string>

#include "engine/journal.h"
#include "engine/journal_scan.h"
#include "schemas/market_state.h"

namespace oddsbus::engine {

struct VerifyReport {
  bool ok = false;
  ScanStats stats;
  JournalFault fault;  // when !ok
};

// Reads the whole journal with every check.
VerifyReport verify_journal(const Journal& journal);

struct StateQuery {
  std::optional<uint64_t> at_seq;      // fold frames 1..at_seq (must exist)
  std::optional<uint64_t> at_time_ns;  // fold frames sequenced at or before this time
};

// The market state after folding frames up to the query (the whole journal when it is empty).
std::expected<MarketState, std::string> state_at(const Journal& journal, const StateQuery& query);

struct EventsQuery {
  uint64_t from_seq = 1;
  uint64_t to_seq = kNoLimit;
  std::optional<uint64_t> market;  // only frames that touch this market
};

// Writes one JSON line per frame to `out`. Returns how many it wrote.
std::expected<uint64_t, std::string> write_events(const Journal& journal, const EventsQuery& query,
                                                  FILE* out);

}  // namespace oddsbus::engine
