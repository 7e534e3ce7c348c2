#include "edge/reorder_buffer.h"

#include <cstring>
#include <iterator>

namespace oddsbus::edge {

namespace {
constexpr size_t kMaxSpare = 4096;  // released frame storage kept for reuse
}  // namespace

ReorderBuffer::ReorderBuffer(size_t max_frames, size_t max_bytes)
    : max_frames_(max_frames), max_bytes_(max_bytes) {}

bool ReorderBuffer::full(size_t adding) const {
  return frames_.size() >= max_frames_ || bytes_ + adding > max_bytes_;
}

ReorderBuffer::StoreResult ReorderBuffer::store(const fb::Frame& frame,
                                                std::span<const uint8_t> bytes) {
  StoreResult result;
  const uint64_t seq = frame.seq();
  if (auto it = frames_.find(seq); it != frames_.end()) {
    if (frame.epoch() <= it->second.frame().epoch()) {
      result.duplicate = true;
      return result;
    }
    release(it);  // a higher epoch's frame replaces a copy from a history that lost
  }
  // Past the bound the newest frames go; the range recovery fetches them later.
  while (full(bytes.size()) && !frames_.empty() && std::prev(frames_.end())->first > seq) {
    release(std::prev(frames_.end()));
    ++result.dropped;
  }
  if (full(bytes.size())) {
    ++result.dropped;
    return result;
  }
  Held held;
  if (!spare_.empty()) {
    held.words = std::move(spare_.back());
    spare_.pop_back();
  }
  held.words.resize((bytes.size() + 7) / 8);
  std::memcpy(held.words.data(), bytes.data(), bytes.size());
  held.size = static_cast<uint32_t>(bytes.size());
  bytes_ += bytes.size();
  frames_.emplace(seq, std::move(held));
  result.stored = true;
  return result;
}

void ReorderBuffer::pop_first() { release(frames_.begin()); }

uint64_t ReorderBuffer::next_after(uint64_t seq) const {
  const auto it = frames_.upper_bound(seq);
  return it == frames_.end() ? 0 : it->first;
}

void ReorderBuffer::clear() {
  while (!frames_.empty()) release(frames_.begin());
}

void ReorderBuffer::release(std::map<uint64_t, Held>::iterator it) {
  bytes_ -= it->second.size;
  if (spare_.size() < kMaxSpare) spare_.push_back(std::move(it->second.words));
  frames_.erase(it);
}

}  // namespace oddsbus::edge
