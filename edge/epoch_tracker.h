// What the arbiter (edge/arbiter.h) knows about epochs beyond its own position: the epochs heard
// of ahead of their frames and where each started (from EpochChange frames, heartbeats'
// epoch_start and range replies' EPOCH EPOCH_START), the newest (epoch, seq) any publisher
// claimed, and from these the lowest epoch a frame at a seq may have (fencing) and where the
// subscriber's delivered history parted from a higher epoch's (divergence).
//
// Rules:
//  - Epoch numbers rise by one per takeover, so a start learned for position.epoch + 1 (or for an
//    epoch whose EpochChange says it followed position.epoch) is exactly where the histories part;
//    a start learned for a later epoch only bounds it (the arbiter probes for the exact point).
//  - A start learned from an EpochChange frame (previous != 0) overrides one learned without it.
//
// Invariants: at most kMaxEpochsAhead epochs are held (the highest are forgotten first); once
// forget_through(E) ran, no epoch <= E is held until learned again unpositioned.
// Thread safety: none; owned by the arbiter's thread. Performs no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

namespace oddsbus::edge {

// Where the arbiter's delivered stream stands.
struct StreamPosition {
  bool positioned = false;   // false: waiting for a snapshot (nothing below is meaningful)
  uint64_t last_seq = 0;     // the last seq delivered
  uint32_t epoch = 0;        // the epoch of the frame at last_seq + 1
  uint64_t epoch_start = 1;  // the seq of that epoch's EpochChange frame
};

class EpochTracker {
 public:
  static constexpr size_t kMaxEpochsAhead = 64;

  // `epoch` began at seq `start`, after epoch `previous` (0: learned without its EpochChange).
  // Ignored for epochs at or below the position's while positioned.
  void learn(uint32_t epoch, uint64_t start, uint32_t previous, const StreamPosition& position);
  // Drops what is known of epochs at or below `epoch` (the position moved there).
  void forget_through(uint32_t epoch);

  // A publisher claimed to hold `seq` in `epoch` (a frame, heartbeat or reply).
  void note_newest(uint32_t epoch, uint64_t seq);
  // The position reached (epoch, last_seq): the newest is at least that.
  void note_position(uint32_t epoch, uint64_t last_seq);
  uint64_t newest_seq() const { return newest_seq_; }
  uint32_t newest_epoch() const { return newest_epoch_; }

  // The lowest epoch a frame at `seq` may carry: any lower one is from a deposed publisher.
  uint32_t min_epoch_at(uint64_t seq, const StreamPosition& position) const;
  // Where a known epoch started, or 0 when unknown.
  uint64_t start_of(uint32_t epoch) const;
  // True when a higher epoch than the position's began at or below its last_seq: frames the
  // subscriber delivered lost.
  bool history_lost(const StreamPosition& position) const;
  // Where exactly the delivered history parted from the next higher epoch (its first seq), or 0
  // when that is not known (two takeovers missed, or none found).
  uint64_t divergence_at(const StreamPosition& position) const;

  // Forgets everything (reset to a new position).
  void clear();

 private:
  struct EpochInfo {
    uint64_t start = 0;     // seq of the epoch's EpochChange frame
    uint32_t previous = 0;  // the epoch it followed; 0 when learned without its EpochChange
  };

  std::map<uint32_t, EpochInfo> epochs_;  // epochs above the position's, heard of ahead
  uint64_t newest_seq_ = 0;
  uint32_t newest_epoch_ = 0;
};

}  // namespace oddsbus::edge
