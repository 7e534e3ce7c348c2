// Journal replay: what odds-replay reports about a journal (DESIGN sections 6 and 10). No function
// goes past a damaged frame: a query that needs frames beyond the first bad seq fails, naming it.
// state_at folds from the nearest usable journal snapshot at or below its target
// (engine/journal_snapshot.h), else from seq 1, through scan_frames; verify reads from seq 1, or
// from the oldest snapshot when retention pruned the log before it. write_events without a market
// reads only its range (a FrameCursor from its first seq), so it neither reads nor reports damage
// before that.
#pragma once

#include <cstdint>
#include <cstdio>
#include <expected>
#include <optional>
#include <string>

#include "engine/journal.h"
#include "engine/journal_scan.h"
#include "engine/read_progress.h"
#include "schemas/market_state.h"

namespace oddsbus::engine {

struct VerifyReport {
  bool ok = false;
  ScanStats stats;
  JournalFault fault;              // when !ok
  uint64_t first_seq = 1;          // the first seq checked (after the oldest snapshot if pruned)
  uint64_t snapshots_checked = 0;  // snapshots decoded and compared with the fold at their seq
};

// Reads the whole journal with every check. A log that retention pruned is read from the snapshot
// it was pruned behind. Every snapshot from there on is checked: its CRCs and digest, and that it
// equals the state folded from the log at its seq; a bad one is a fault naming its seq.
VerifyReport verify_journal(const Journal& journal);

struct StateQuery {
  std::optional<uint64_t> at_seq;  // fold frames 1..at_seq (must exist)
  // Fold the frames up to JournalTimeIndex::last_at_or_before(at_time_ns): the longest prefix of
  // the log stamped at or before this time (journal_time_index.h says what that means when the
  // wall clock stepped back). Found by binary search, not by reading the stamps of every frame.
  std::optional<uint64_t> at_time_ns;
  // Fold from seq 1 even when a snapshot would do (tests compare the two). Last, so that
  // positional initialisers {at_seq, at_time_ns} keep their meaning.
  bool ignore_snapshots = false;
};

// The market state after folding frames up to the query (the whole journal when it is empty).
std::expected<MarketState, std::string> state_at(const Journal& journal, const StateQuery& query,
                                                 const ReadProgress& progress = {});

// A seq range [from_seq, to_seq] for optional times, through the time index: from_seq is the
// first frame stamped at or after from_ns (last_seq + 1 when none), to_seq the last of the prefix
// stamped at or before to_ns (0 when none). Without a time, 1 and the journal's last seq.
struct SeqRange {
  uint64_t from_seq = 1;
  uint64_t to_seq = 0;
  bool empty() const { return from_seq > to_seq; }
};
std::expected<SeqRange, std::string> seq_range_for_times(const Journal& journal,
                                                         std::optional<uint64_t> from_ns,
                                                         std::optional<uint64_t> to_ns);

struct EventsQuery {
  uint64_t from_seq = 1;
  uint64_t to_seq = kNoLimit;
  std::optional<uint64_t> market;  // only frames that touch this market
};

struct TimeRange {
  std::optional<uint64_t> from_ns;
  std::optional<uint64_t> to_ns;
};

// Writes one JSON line per frame to `out`, for the frames in `query` and also in
// seq_range_for_times(times). Returns how many it wrote.
std::expected<uint64_t, std::string> write_events(const Journal& journal, const EventsQuery& query,
                                                  FILE* out, const TimeRange& times = {},
                                                  const ReadProgress& progress = {});

}  // namespace oddsbus::engine
