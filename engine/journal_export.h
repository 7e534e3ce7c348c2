// A journal as rows for auditors (odds-replay export): one row per selection price, per status
// change, per market and selection definition, per settlement and rollback, per event suspension
// and per epoch change, in seq order, as JSON lines or CSV.
//
// The columns are a contract: they keep their names and this order, new ones are only appended.
//   seq            the frame's seq
//   epoch          its epoch
//   ts             its sequencer time, ISO 8601 UTC (exact to the ns, engine/time_text.h)
//   sequenced_ns   the same, ns since the Unix epoch
//   source_ns      the provider's own time, ns (0 when unknown)
//   publisher      node id of the sequencer that stamped it
//   market_seq     frames that touched the market so far (as the frame carries it)
//   type           market_definition | selection_definition | price | status | event_suspension |
//                  settlement | settlement_rollback | epoch_change | eviction
//   event          the event id (definitions, event suspensions; empty otherwise)
//   market         the market id (empty for an event suspension without --market, epoch change)
//   selection      the selection id (selection_definition, price)
//   name           market or selection name (definitions)
//   price_e4       decimal odds x 10000 (price)
//   odds           the odds text exactly as received (price)
//   source         the feed, or "desk", whose price won (price)
//   status         open | suspended | closed | settled (status, definitions, settlement)
//   reason         provider | trader | feed-stale | settlement | reconcile (status, suspension)
//   winners        winning selection ids separated by spaces (settlement)
//   previous_epoch the epoch before (epoch_change)
// JSON lines carry every column as a key, null when empty, ids and numbers as numbers. CSV has a
// header line and follows RFC 4180 (fields with a comma, quote or newline are quoted).
#pragma once

#include <cstdint>
#include <cstdio>
#include <expected>
#include <optional>
#include <string>

#include "engine/journal.h"
#include "engine/read_progress.h"

namespace oddsbus::engine {

enum class ExportFormat : uint8_t { kJsonLines, kCsv };

struct ExportQuery {
  ExportFormat format = ExportFormat::kJsonLines;
  uint64_t from_seq = 1;
  uint64_t to_seq = UINT64_MAX;
  std::optional<uint64_t> market;  // only rows of this market (its event's suspensions included)
};

// The CSV header line (without a newline): the columns above, in order.
const char* export_csv_header();

// Writes the rows to `out` (for CSV the header line first, even when no row follows); returns how
// many rows. Errors name a damaged seq. Without a market it reads only from_seq..to_seq; with one,
// from seq 1 (its event's suspensions need its definition).
std::expected<uint64_t, std::string> export_journal(const Journal& journal,
                                                    const ExportQuery& query, FILE* out,
                                                    const ReadProgress& progress = {});

}  // namespace oddsbus::engine
