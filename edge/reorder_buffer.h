// The arbiter's reorder buffer: frames past the next expected seq, waiting for the ones before them
// (edge/arbiter.h). A map by seq holding a copy of each frame's bytes, bounded in frames and in
// bytes; the storage of released frames is kept for the next ones, so a steady stream allocates
// nothing.
//
// Rules:
//  - One frame per seq. A frame for a seq already held replaces it only when its epoch is higher
//    (the held copy came from a history that lost); otherwise it is a duplicate and not stored.
//  - Past a bound the newest frames go first (they are the cheapest to recover later): frames of
//    a higher seq than the one offered are dropped to make room; when that is not enough, the
//    offered frame itself is dropped.
//
// Invariants: size() <= max_frames and bytes() <= max_bytes after every call; bytes() is the sum
// of the held frames' sizes; every held frame passed the batch checks before it was offered.
// Thread safety: none; owned by the arbiter's thread. Performs no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "schemas/batch.h"

namespace oddsbus::edge {

class ReorderBuffer {
 public:
  struct StoreResult {
    bool stored = false;     // the frame is held
    bool duplicate = false;  // a copy of an equal or higher epoch was already held
    uint64_t dropped = 0;    // frames dropped for the bounds (the offered one included)
  };

  ReorderBuffer(size_t max_frames, size_t max_bytes);

  // Copies the frame in (bytes: the frame's own bytes as the batch held them).
  StoreResult store(const fb::Frame& frame, std::span<const uint8_t> bytes);

  bool empty() const { return frames_.empty(); }
  size_t size() const { return frames_.size(); }
  size_t bytes() const { return bytes_; }

  // The lowest seq held, its frame and bytes. Precondition: !empty(). Valid until the next
  // store(), pop_first() or clear().
  uint64_t first_seq() const { return frames_.begin()->first; }
  const fb::Frame& first_frame() const { return frames_.begin()->second.frame(); }
  std::span<const uint8_t> first_bytes() const { return frames_.begin()->second.span(); }
  // Releases the lowest seq held (its storage is kept for reuse). Precondition: !empty().
  void pop_first();

  // The lowest seq held above `seq`, or 0 when none is.
  uint64_t next_after(uint64_t seq) const;

  // Releases every frame.
  void clear();

 private:
  struct Held {
    std::vector<uint64_t> words;  // the frame's bytes; u64 storage keeps them aligned
    uint32_t size = 0;
    const fb::Frame& frame() const { return *fb::GetFrame(words.data()); }
    std::span<const uint8_t> span() const {
      return {reinterpret_cast<const uint8_t*>(words.data()), size};
    }
  };

  bool full(size_t adding) const;
  void release(std::map<uint64_t, Held>::iterator it);

  size_t max_frames_;
  size_t max_bytes_;
  std::map<uint64_t, Held> frames_;
  size_t bytes_ = 0;
  std::vector<std::vector<uint64_t>> spare_;  // storage of released frames, for reuse
};

}  // namespace oddsbus::edge
