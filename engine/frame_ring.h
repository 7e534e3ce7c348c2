// A ring of the most recent batches, kept after they are journaled, so recent frames can be served
// (recovery, DESIGN section 4) without touching LMDB.
//
// Bounded: at most `slots` batches; each slot's buffer is reused, so memory stays at the largest
// batches seen times slots. Invariant: slots hold consecutive, ascending seq ranges.
// Thread safety: none; owned by the sequencer thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace oddsbus::engine {

class FrameRing {
 public:
  explicit FrameRing(size_t slots) : slots_(slots) {}

  // Keeps a copy of a journaled batch holding seq first..last, evicting the oldest when full.
  void store(uint64_t first_seq, uint64_t last_seq, std::span<const uint8_t> batch) {
    Slot& slot = slots_[next_ % slots_.size()];
    slot.first_seq = first_seq;
    slot.last_seq = last_seq;
    slot.bytes.assign(batch.begin(), batch.end());
    ++next_;
  }

  // The batch holding `seq`, or an empty span when the ring no longer (or not yet) holds it.
  // Valid until the next store().
  std::span<const uint8_t> find(uint64_t seq) const {
    const size_t held = std::min<uint64_t>(next_, slots_.size());
    for (size_t i = 0; i < held; ++i) {
      const Slot& slot = slots_[(next_ - 1 - i) % slots_.size()];
      if (seq >= slot.first_seq && seq <= slot.last_seq) return slot.bytes;
      if (seq > slot.last_seq) break;
    }
    return {};
  }

  // The oldest seq the ring holds (0 when empty).
  uint64_t oldest_seq() const {
    if (next_ == 0) return 0;
    const size_t held = std::min<uint64_t>(next_, slots_.size());
    return slots_[(next_ - held) % slots_.size()].first_seq;
  }

 private:
  struct Slot {
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;
    std::vector<uint8_t> bytes;
  };
  std::vector<Slot> slots_;
  uint64_t next_ = 0;
};

}  // namespace oddsbus::engine
