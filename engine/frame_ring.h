// A ring of the most recent batches, kept after they are journaled, so recent frames can be served
// (recovery, DESIGN section 4) without touching LMDB.
//
// Bounded twice: at most `slots` batches and at most `max_bytes` of batch bytes; storing evicts
// the oldest batches until both hold (an evicted slot gives its memory back). A batch larger than
// max_bytes on its own is not kept: the ring is emptied and recovery reads LMDB instead.
// Invariant: held slots are consecutive, ascending seq ranges.
// Thread safety: none; owned by the sequencer thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace oddsbus::engine {

class FrameRing {
 public:
  explicit FrameRing(size_t slots, size_t max_bytes = size_t{64} << 20)
      : slots_(slots), max_bytes_(max_bytes) {}

  // Keeps a copy of a journaled batch holding seq first..last.
  void store(uint64_t first_seq, uint64_t last_seq, std::span<const uint8_t> batch) {
    if (batch.size() > max_bytes_) {
      while (held_ > 0) evict_oldest();
      return;
    }
    if (held_ == slots_.size()) evict_oldest();
    while (held_ > 0 && held_bytes_ + batch.size() > max_bytes_) evict_oldest();
    Slot& slot = slots_[(oldest_ + held_) % slots_.size()];
    slot.first_seq = first_seq;
    slot.last_seq = last_seq;
    slot.bytes.assign(batch.begin(), batch.end());
    held_bytes_ += batch.size();
    ++held_;
  }

  // The batch holding `seq`, or an empty span when the ring no longer (or not yet) holds it.
  // Valid until the next store().
  std::span<const uint8_t> find(uint64_t seq) const {
    for (size_t i = held_; i > 0; --i) {
      const Slot& slot = slots_[(oldest_ + i - 1) % slots_.size()];
      if (seq >= slot.first_seq && seq <= slot.last_seq) return slot.bytes;
      if (seq > slot.last_seq) break;
    }
    return {};
  }

  // The oldest seq the ring holds (0 when empty).
  uint64_t oldest_seq() const { return held_ == 0 ? 0 : slots_[oldest_].first_seq; }
  size_t held_bytes() const { return held_bytes_; }

 private:
  struct Slot {
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;
    std::vector<uint8_t> bytes;
  };

  void evict_oldest() {
    Slot& slot = slots_[oldest_];
    held_bytes_ -= slot.bytes.size();
    std::vector<uint8_t>().swap(slot.bytes);
    oldest_ = (oldest_ + 1) % slots_.size();
    --held_;
  }

  std::vector<Slot> slots_;
  size_t max_bytes_;
  size_t oldest_ = 0;
  size_t held_ = 0;
  size_t held_bytes_ = 0;
};

}  // namespace oddsbus::engine
