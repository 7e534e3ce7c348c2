// Where two journals of one channel diverge (odds-replay compare, DESIGN section 10): a primary
// and its secondary, or a journal before and after a restore. Walks both in lockstep, frame by
// frame (two FrameCursors, so neither journal's writer is held up), and reports the first seq at
// which their frames differ in any field (header or payload), with the state digests (DESIGN
// section 7) of both at common points: the start of every epoch both hold, the last seq on which
// they agree, the first difference, and the end of their common part.
//
// A journal that is a prefix of the other (a secondary that is behind) does not diverge: the
// report says where each ends. Damage in either journal is an error naming the journal and seq.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "engine/journal.h"
#include "engine/read_progress.h"

namespace oddsbus::engine {

struct CompareCheckpoint {
  uint64_t seq = 0;
  std::string point;  // "epoch 2 begins", "last agreement", "first difference", "common end"
  uint64_t digest_a = 0;
  uint64_t digest_b = 0;
};

struct CompareReport {
  std::optional<uint64_t> first_difference;
  uint64_t a_last_seq = 0;
  uint64_t b_last_seq = 0;
  uint32_t a_epoch = 0;  // epoch of each journal's last frame read
  uint32_t b_epoch = 0;
  uint64_t common_last_seq = 0;                // frames 1..this were read from both
  std::vector<CompareCheckpoint> checkpoints;  // ascending by seq
  std::string frame_a;  // the first differing frames as JSON (schemas/frame_json.h)
  std::string frame_b;
};

std::expected<CompareReport, std::string> compare_journals(const Journal& a, const Journal& b,
                                                           const ReadProgress& progress = {});

// {"first_difference": SEQ|null, "a": {"journal": DIR, "last_seq": N, "epoch": E}, "b": {...},
//  "common_last_seq": N, "checkpoints": [{"seq": N, "point": S, "digest_a": HEX, "digest_b":
//  HEX}], "frame_a": {...}, "frame_b": {...}} (the frames only when they differ); no newline.
void append_compare_json(std::string& out, const CompareReport& report, const std::string& dir_a,
                         const std::string& dir_b);

}  // namespace oddsbus::engine
