#include "edge/epoch_tracker.h"

#include <algorithm>
#include <iterator>

namespace oddsbus::edge {

void EpochTracker::learn(uint32_t epoch, uint64_t start, uint32_t previous,
                         const StreamPosition& position, uint64_t previous_start) {
  if (position.positioned && epoch <= position.epoch) return;
  EpochInfo& info = epochs_[epoch];
  if (info.start == 0 || previous != 0) info.start = start;
  if (previous != 0) {
    info.previous = previous;
    info.previous_start = previous_start;
  }
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

EpochTracker::Divergence EpochTracker::divergence(const StreamPosition& position) const {
  if (!position.positioned) return {};
  const auto next = epochs_.upper_bound(position.epoch);
  if (next == epochs_.end()) return {};
  const uint32_t epoch = next->first;
  const EpochInfo& info = next->second;
  const uint64_t last = position.last_seq;
  if (info.previous == 0) {
    // Learned without its EpochChange: exact only on the assumption that it followed ours.
    if (info.start > last) return {};
    const bool follows = epoch == position.epoch + 1 && info.start > position.epoch_start;
    return {true, follows ? info.start : 0};
  }
  const auto same_start = [&](uint64_t start) {
    return info.previous_start == 0 || start == 0 || info.previous_start == start;
  };
  if (info.previous == position.epoch && same_start(position.epoch_start)) {
    // It continued our epoch: we lost what we delivered from its start on.
    if (info.start > last) return {};
    return {true, info.start > position.epoch_start ? info.start : 0};
  }
  if (info.previous > position.epoch) {
    // It continued an epoch after ours that we never saw: where that one began is unknown.
    if (info.start > last) return {};
    return {true, 0};
  }
  // It continued an earlier epoch: the delivered history left that epoch where the next link of
  // the chain begins, and lost from there (or from the new epoch's start, if earlier).
  // When the chain does not hold it, this is a bound: we lost at least from there, and what the
  // arbiter learns of the epochs between (the new epoch's previous_start) refines it.
  uint64_t left_at = position.epoch_start;
  for (size_t i = position.ancestors.size(); i-- > 0;) {
    const EpochLink& link = position.ancestors[i];
    if (link.epoch == info.previous && same_start(link.start)) break;
    if (link.epoch < info.previous) break;
    left_at = link.start;  // this epoch is not in the new history either
  }
  const uint64_t at = std::min(info.start, left_at);
  if (at > last) return {};
  return {true, at};
}

bool EpochTracker::history_lost(const StreamPosition& position) const {
  return divergence(position).lost;
}

uint64_t EpochTracker::divergence_at(const StreamPosition& position) const {
  return divergence(position).at;
}

void EpochTracker::clear() {
  epochs_.clear();
  newest_seq_ = 0;
  newest_epoch_ = 0;
}

}  // namespace oddsbus::edge
