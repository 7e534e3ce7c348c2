#include "edge/market_cache.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace oddsbus::edge {

std::shared_ptr<const FrameChange> MarketCache::apply(const fb::Frame& frame,
                                                      const Freshness& fresh) {
  // A redefinition may move a market to another event: its old event's clients must hear it left.
  std::optional<uint64_t> moved_from;
  if (frame.payload_type() == fb::Payload::MarketDefinition) {
    const auto* definition = frame.payload_as_MarketDefinition();
    const MarketRecord* before = state_.find(definition->market());
    if (before != nullptr && before->event != definition->event()) moved_from = before->event;
  } else if (frame.payload_type() == fb::Payload::MarketEviction) {
    // An evicted market leaves every view: its event's clients must hear it went.
    const MarketRecord* before = state_.find(frame.payload_as_MarketEviction()->market());
    if (before != nullptr) moved_from = before->event;
  }
  state_.apply(frame);
  if (frame.epoch() != epoch_ || frame.payload_type() == fb::Payload::EpochChange) {
    note_epoch(frame.epoch(), frame.seq());
  }
  epoch_ = frame.epoch();
  channel_ = frame.channel();
  std::shared_ptr<const FrameChange> change = describe_change(frame, state_, moved_from, fresh);
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
  ++generation_;
  epoch_starts_.clear();
  epoch_starts_.emplace_back(image.epoch, image.epoch_start);
}

void MarketCache::note_epoch(uint32_t epoch, uint64_t start) {
  if (!epoch_starts_.empty() && epoch_starts_.back().first == epoch) return;
  epoch_starts_.emplace_back(epoch, start);
}

bool MarketCache::can_resume(uint64_t seq, uint32_t epoch) const {
  if (!can_resume_after(seq)) return false;
  for (size_t i = 0; i < epoch_starts_.size(); ++i) {
    if (epoch_starts_[i].first != epoch) continue;
    const bool began = epoch_starts_[i].second <= seq;
    const bool ended = i + 1 < epoch_starts_.size() && epoch_starts_[i + 1].second <= seq;
    return began && !ended;
  }
  return false;  // an epoch this history does not hold (a history that lost, or older)
}

uint32_t MarketCache::epoch_at(uint64_t seq) const {
  uint32_t epoch = epoch_starts_.empty() ? epoch_ : epoch_starts_.front().first;
  for (const auto& [e, start] : epoch_starts_) {
    if (start <= seq) epoch = e;
  }
  return epoch;
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
  // An epoch whose successor began at or before the window's start has no frame left in it.
  size_t gone = 0;
  while (gone + 1 < epoch_starts_.size() && epoch_starts_[gone + 1].second <= covered_after_)
    ++gone;
  epoch_starts_.erase(epoch_starts_.begin(), epoch_starts_.begin() + static_cast<ptrdiff_t>(gone));
}

}  // namespace oddsbus::edge
