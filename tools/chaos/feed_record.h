// What a deterministic feed sent, as oddsjson lines that `odds-engine ingest` (engine/
// file_ingest.h) can sequence: converts odds-feedsim's --record file (feeds/sim/record.h: one
// fact per line, after faults, images and duplicates included) of an oddsjson feed back into the
// provider messages it stands for, in the order sent. Market facts carry no selections; they come
// from the mapping the feed simulator wrote (--write-mapping). Prices are written in decimal
// from price_e4 (exact: 25000 -> "2.5000"), so ingest gives the same price_e4 the engine got.
// Only facts of `line` (0: the first) are used: every line carries the same messages.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <expected>
#include <string>

#include "feeds/mapping.h"

namespace oddsbus::chaos {

struct RecordConversion {
  uint64_t facts = 0;      // facts of the line read
  uint64_t lines = 0;      // oddsjson lines written
  uint64_t skipped = 0;    // heartbeats, corrupt messages, other lines' facts
  uint64_t truncated = 0;  // a last line cut short (a simulator killed mid-write): left out
};

// Appends the oddsjson lines for the record file at `record_path` to `out_path`. Errors: a file
// that cannot be read or written, a fact that is not JSON or names a market the mapping lacks.
std::expected<RecordConversion, std::string> append_record_as_oddsjson(
    const std::string& record_path, const feeds::Mapping& mapping, const std::string& out_path,
    uint32_t line = 0);

}  // namespace oddsbus::chaos
