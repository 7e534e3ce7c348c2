// Reads a journal frame by frame with every check applied: each batch's header, CRC32C and
// FlatBuffers verification, seq continuity across records (gap-free from 1), channel, and epochs
// that never decrease. The first fault stops the scan and names its seq, so nothing built on a scan
// (verify, state, digest, events, a restarting node) ever goes past a bad frame.
//
// Thread safety: uses its own JournalReader; call from any one thread. The scan holds its read
// transaction (and so the journal's map lock, journal.h) until it returns: visit must not wait for
// the writer's append().
#pragma once

#include <cstdint>
#include <expected>
#include <limits>
#include <string>
#include <type_traits>

#include "engine/journal.h"
#include "schemas/frame_generated.h"

namespace oddsbus::engine {

struct JournalFault {
  uint64_t seq = 0;  // the first seq that could not be read whole and in order
  std::string problem;
};

struct ScanStats {
  uint64_t frames = 0;    // frames visited
  uint64_t batches = 0;   // records read
  uint64_t last_seq = 0;  // seq of the last frame visited
  uint32_t last_epoch = 0;
};

inline constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

// Visits frames from seq 1 through `to_seq` in order (frames before `from_seq` are checked but
// not visited). visit(ctx, frame) returns false to stop. Frames are valid only during the call.
using FrameVisit = bool (*)(void* ctx, const fb::Frame& frame);
std::expected<ScanStats, JournalFault> scan_frames(const Journal& journal, uint64_t from_seq,
                                                   uint64_t to_seq, FrameVisit visit, void* ctx);

// Where a scan begins: after a state snapshot at `after_seq` (engine/journal_snapshot.h), whose
// epoch is `epoch`, or at seq 1 (after_seq 0). The first frame read is after_seq + 1; the record
// holding it may begin earlier (its earlier frames are skipped, not checked).
struct ScanStart {
  uint64_t after_seq = 0;
  uint32_t epoch = 0;
};

// As above, from `start` instead of seq 1.
std::expected<ScanStats, JournalFault> scan_frames(const Journal& journal, const ScanStart& start,
                                                   uint64_t from_seq, uint64_t to_seq,
                                                   FrameVisit visit, void* ctx);

template <typename F>
std::expected<ScanStats, JournalFault> scan_frames(const Journal& journal, const ScanStart& start,
                                                   uint64_t from_seq, uint64_t to_seq, F&& f) {
  return scan_frames(
      journal, start, from_seq, to_seq,
      [](void* ctx, const fb::Frame& frame) {
        return (*static_cast<std::remove_reference_t<F>*>(ctx))(frame);
      },
      &f);
}

template <typename F>
std::expected<ScanStats, JournalFault> scan_frames(const Journal& journal, uint64_t from_seq,
                                                   uint64_t to_seq, F&& f) {
  return scan_frames(
      journal, from_seq, to_seq,
      [](void* ctx, const fb::Frame& frame) {
        return (*static_cast<std::remove_reference_t<F>*>(ctx))(frame);
      },
      &f);
}

}  // namespace oddsbus::engine
