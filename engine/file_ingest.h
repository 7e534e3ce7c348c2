// Batch ingest: sequences captured feed files into a journal (odds-engine ingest). Lines are read
// in file order, parsed, validated and sequenced; accepted events are journaled in batches of
// up to batch_frames frames (one write transaction each). Rejected lines are counted by reason,
// logged rate-limited with file and line, and skipped.
//
// Thread safety: runs on the calling thread; the journal must not be written by anyone else.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <span>
#include <string>

#include "engine/journal.h"
#include "feeds/rejection.h"

namespace oddsbus::engine {

struct IngestSummary {
  uint64_t lines = 0;       // non-empty lines read
  uint64_t accepted = 0;    // lines that became frames
  uint64_t heartbeats = 0;  // accepted lines that make no frame
  std::array<uint64_t, static_cast<size_t>(feeds::RejectReason::kCount)> rejected{};
  uint64_t first_seq = 0;  // first seq written by this ingest (0 when none)
  uint64_t last_seq = 0;   // the journal's last seq afterwards

  uint64_t rejected_total() const;
};

struct IngestOptions {
  std::string format = "oddsjson";
  size_t batch_frames = 1024;
  size_t max_line = 1 << 20;
};

// Returns the summary, or an error when a file cannot be read or the journal cannot be written
// (what was committed before stays committed).
std::expected<IngestSummary, std::string> ingest_files(Journal& journal,
                                                       std::span<const std::string> files,
                                                       const IngestOptions& options);

}  // namespace oddsbus::engine
