// What the arbiter (edge/arbiter.h) knows about epochs beyond its own position: the epochs heard
// of ahead of their frames and where each started (from EpochChange frames, heartbeats'
// epoch_start and range replies' EPOCH EPOCH_START), the newest (epoch, seq) any publisher
// claimed, and from these the lowest epoch a frame at a seq may have (fencing) and where the
// subscriber's delivered history parted from a higher epoch's (divergence).
//
// Rules:
//  - A history is a chain of epochs, each begun by an EpochChange that names the epoch it
//    continued and where that one began (previous, previous_start). A higher epoch E' that began
//    at s' after epoch P shares the delivered history up to the end of P in it, so the histories
//    part at min(s', where the delivered history left P): exact whenever P is the position's
//    epoch or one of its known ancestors (StreamPosition::ancestors). This holds when two
//    takeovers put their EpochChange frames at the same seq (issue 12: epoch 16 continued 14 at
//    the seq where this subscriber's epoch 15 began): the position's own epoch lost.
//  - When P is not in the known chain but older than the position's epoch, the position's epoch
//    is not an ancestor: the history lost at least from the first known epoch after P (a bound:
//    the owner truncates there and learns more as frames arrive, never less).
//  - Learned without its EpochChange (a heartbeat's or range reply's epoch start), E' is taken
//    to follow the position's epoch when E' == position.epoch + 1 (epoch numbers rise by one per
//    takeover); a later E' only bounds the divergence (the arbiter probes for the exact point).
//  - A start learned from an EpochChange frame (previous != 0) overrides one learned without it.
//
// Invariants: at most kMaxEpochsAhead epochs are held (the highest are forgotten first); once
// forget_through(E) ran, no epoch <= E is held until learned again unpositioned.
// Thread safety: none; owned by the arbiter's thread. Performs no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>

namespace oddsbus::edge {

// One epoch of a delivered history: the epoch and the seq of its EpochChange.
struct EpochLink {
  uint32_t epoch = 0;
  uint64_t start = 0;
};

// Where the arbiter's delivered stream stands.
struct StreamPosition {
  bool positioned = false;   // false: waiting for a snapshot (nothing below is meaningful)
  uint64_t last_seq = 0;     // the last seq delivered
  uint32_t epoch = 0;        // the epoch of the frame at last_seq + 1
  uint64_t epoch_start = 1;  // the seq of that epoch's EpochChange frame
  // The epochs the delivered history passed through before `epoch`, oldest first, as far as
  // known (may be empty); each link's epoch ends where the next link (or epoch_start) begins.
  std::span<const EpochLink> ancestors;
};

class EpochTracker {
 public:
  static constexpr size_t kMaxEpochsAhead = 64;

  // `epoch` began at seq `start`, continuing epoch `previous` begun at `previous_start` (0:
  // learned without its EpochChange; previous_start 0: not stated). Ignored for epochs at or
  // below the position's while positioned.
  void learn(uint32_t epoch, uint64_t start, uint32_t previous, const StreamPosition& position,
             uint64_t previous_start = 0);
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
  // True when frames the subscriber delivered are not in the history of the next higher epoch
  // known (see the rules above).
  bool history_lost(const StreamPosition& position) const;
  // From where the delivered history lost to the next higher epoch known (its first seq when that
  // epoch continued the position's), or 0 when not lost or not known (the arbiter probes). A
  // bound, never past the exact point, when the epoch continued one the position does not know.
  uint64_t divergence_at(const StreamPosition& position) const;

  // Forgets everything (reset to a new position).
  void clear();

 private:
  struct EpochInfo {
    uint64_t start = 0;           // seq of the epoch's EpochChange frame
    uint32_t previous = 0;        // the epoch it followed; 0 when learned without its EpochChange
    uint64_t previous_start = 0;  // where `previous` began; 0 when not stated
  };
  struct Divergence {
    bool lost = false;
    uint64_t at = 0;  // 0: not known
  };
  Divergence divergence(const StreamPosition& position) const;

  std::map<uint32_t, EpochInfo> epochs_;  // epochs above the position's, heard of ahead
  uint64_t newest_seq_ = 0;
  uint32_t newest_epoch_ = 0;
};

}  // namespace oddsbus::edge
