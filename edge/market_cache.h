// The edge's live market state (DESIGN section 5): the fold of the frames the arbiter delivers,
// the channel and epoch they came in, and a retained window of recent changes so a client that
// reconnects with resume_from SEQ can be given what it missed without a new image.
//
// Invariants: the window holds the change of every frame in (covered_after(), seq()] that touched a
// market, in seq order; it is bounded by frames and bytes (the oldest go first, and covered_after()
// moves up past them). Installing a snapshot empties it: history before a snapshot is not known.
// The cache also knows where each epoch of its history began (the snapshot's epoch and its start,
// then every epoch change it applied), so it can tell whether a client's (seq, epoch) lies in this
// history: a seq of epoch E is in it when E began at or before seq and the next epoch began after
// it. A client that folded frames of a history that lost holds an epoch whose frames here stopped
// before its seq (or an epoch this cache never saw), and is not resumed on it.
// Sans-I/O and not thread-safe: owned by the edge's serving thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "edge/frame_change.h"
#include "schemas/market_state.h"
#include "schemas/snapshot_image.h"

namespace oddsbus::edge {

struct MarketCacheConfig {
  size_t retain_frames = 100000;
  size_t retain_bytes = size_t{64} << 20;
};

class MarketCache {
 public:
  explicit MarketCache(const MarketCacheConfig& config) : config_(config) {}

  // Folds a delivered frame (the next in seq order; the caller guarantees it). Returns what it
  // changed, or nullptr when it touched no market. Heartbeats are not given here. `fresh`: for
  // the age_ms and stale of whole markets in the change.
  std::shared_ptr<const FrameChange> apply(const fb::Frame& frame, const Freshness& fresh = {});

  // Replaces the state with a decoded snapshot; the window restarts after its seq.
  void install(SnapshotImage image);

  // True once a snapshot was installed (the state is a real position in the stream).
  bool positioned() const { return positioned_; }
  const MarketState& state() const { return state_; }
  uint64_t seq() const { return state_.seq(); }
  uint32_t epoch() const { return epoch_; }
  uint32_t channel() const { return channel_; }

  // True when the window holds every change after `seq` (so a client that has seen `seq` can be
  // brought up to date from it).
  bool can_resume_after(uint64_t seq) const {
    return positioned_ && seq >= covered_after_ && seq <= state_.seq();
  }
  // True when `seq` of `epoch` lies in this cache's history (see above) and inside the window: a
  // client holding the state at (seq, epoch) can be brought up to date with the retained changes.
  bool can_resume(uint64_t seq, uint32_t epoch) const;
  // The epoch of the frame at `seq` in this history (seq at or after the snapshot installed).
  uint32_t epoch_at(uint64_t seq) const;
  // Counts installs: a state replaced from a snapshot may keep its seq but not its contents.
  uint64_t generation() const { return generation_; }
  uint64_t covered_after() const { return covered_after_; }
  // The retained changes with seq > `seq`, oldest first (valid until the next apply or install).
  std::deque<std::shared_ptr<const FrameChange>>::const_iterator changes_after(uint64_t seq) const;
  std::deque<std::shared_ptr<const FrameChange>>::const_iterator changes_end() const {
    return window_.end();
  }
  size_t window_frames() const { return window_.size(); }
  size_t window_bytes() const { return window_bytes_; }

 private:
  void trim();
  void note_epoch(uint32_t epoch, uint64_t start);

  MarketCacheConfig config_;
  MarketState state_;
  bool positioned_ = false;
  uint32_t epoch_ = 0;
  uint32_t channel_ = 0;
  uint64_t covered_after_ = 0;
  uint64_t generation_ = 0;
  // (epoch, seq of its first frame), ascending; only epochs whose frames reach into the window.
  std::vector<std::pair<uint32_t, uint64_t>> epoch_starts_;
  std::deque<std::shared_ptr<const FrameChange>> window_;
  size_t window_bytes_ = 0;
};

}  // namespace oddsbus::edge
