#include "edge/market_cache.h"

#include <algorithm>
#include <utility>

namespace oddsbus::edge {

std::shared_ptr<const FrameChange> MarketCache::apply(const fb::Frame& frame) {
  state_.apply(frame);
  epoch_ = frame.epoch();
  channel_ = frame.channel();
  std::shared_ptr<const FrameChange> change = describe_change(frame, state_);
  if (change) {
    window_bytes_ += change->bytes();
    window_.push_back(change);
    trim();
  }
  return change;
}

void MarketCache::install(SnapshotImage image) {
  channel_ = image.channel;
  epoch_ = image.epoch;
  state_ = std::move(image.state);  // decode_snapshot loaded it at image.seq
  positioned_ = true;
  window_.clear();
  window_bytes_ = 0;
  covered_after_ = state_.seq();
}

std::deque<std::shared_ptr<const FrameChange>>::const_iterator MarketCache::changes_after(
    uint64_t seq) const {
  return std::upper_bound(
      window_.begin(), window_.end(), seq,
      [](uint64_t s, const std::shared_ptr<const FrameChange>& change) { return s < change->seq; });
}

void MarketCache::trim() {
  while (!window_.empty() &&
         (window_.size() > config_.retain_frames || window_bytes_ > config_.retain_bytes)) {
    covered_after_ = window_.front()->seq;
    window_bytes_ -= window_.front()->bytes();
    window_.pop_front();
  }
}

}  // namespace oddsbus::edge
