#include "edge/epoch_tracker.h"

#include <algorithm>
#include <iterator>

namespace oddsbus::edge {

void EpochTracker::learn(uint32_t epoch, uint64_t start, uint32_t previous,
                         const StreamPosition& position) {
  if (position.positioned && epoch <= position.epoch) return;
  EpochInfo& info = epochs_[epoch];
  if (info.start == 0 || previous != 0) info.start = start;
  if (previous != 0) info.previous = previous;
  while (epochs_.size() > kMaxEpochsAhead) epochs_.erase(std::prev(epochs_.end()));
}

void EpochTracker::forget_through(uint32_t epoch) {
  std::erase_if(epochs_, [&](const auto& e) { return e.first <= epoch; });
}

void EpochTracker::note_newest(uint32_t epoch, uint64_t seq) {
  if (epoch > newest_epoch_) {
    newest_epoch_ = epoch;
    newest_seq_ = seq;
  } else if (epoch == newest_epoch_) {
    newest_seq_ = std::max(newest_seq_, seq);
  }
}

void EpochTracker::note_position(uint32_t epoch, uint64_t last_seq) {
  if (newest_epoch_ < epoch || (newest_epoch_ == epoch && newest_seq_ < last_seq)) {
    newest_epoch_ = epoch;
    newest_seq_ = last_seq;
  }
}

uint32_t EpochTracker::min_epoch_at(uint64_t seq, const StreamPosition& position) const {
  uint32_t epoch = position.positioned && seq >= position.epoch_start ? position.epoch : 0;
  for (const auto& [e, info] : epochs_) {
    if (info.start <= seq) epoch = std::max(epoch, e);
  }
  return epoch;
}

uint64_t EpochTracker::start_of(uint32_t epoch) const {
  const auto it = epochs_.find(epoch);
  return it == epochs_.end() ? 0 : it->second.start;
}

bool EpochTracker::history_lost(const StreamPosition& position) const {
  if (!position.positioned) return false;
  const auto next = epochs_.upper_bound(position.epoch);
  return next != epochs_.end() && next->second.start <= position.last_seq;
}

uint64_t EpochTracker::divergence_at(const StreamPosition& position) const {
  // Exact only for the epoch right after ours, or one whose EpochChange says it followed ours.
  const auto next = epochs_.upper_bound(position.epoch);
  if (next != epochs_.end() &&
      (next->first == position.epoch + 1 || next->second.previous == position.epoch) &&
      next->second.start > position.epoch_start && next->second.start <= position.last_seq) {
    return next->second.start;
  }
  return 0;
}

void EpochTracker::clear() {
  epochs_.clear();
  newest_seq_ = 0;
  newest_epoch_ = 0;
}

}  // namespace oddsbus::edge
