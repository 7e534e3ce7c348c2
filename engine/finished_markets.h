// Which settled or closed markets are due to leave the live state (issue 15, bounded live state):
// a market that has been finished (Settled or Closed) and untouched for --evict-after is evicted
// through a journaled MarketEviction frame, so every node, edge and replay drops it at one seq.
//
// A queue of (time the market became finished, market), in the order frames finished them.
// Entries are checked when taken: a market no longer finished (a settlement rolled back) is
// dropped; one touched since (its updated_ns is later) goes to the back with that time, so a
// market leaves at least evict_after after its last frame (and, behind entries of later times,
// at most about twice that). Times are the frames' sequenced_ns (wall clock), so the schedule
// survives a restart and a takeover: rebuild() takes it from a state.
//
// Memory: one entry per transition into a finished status, freed when taken; a node that never
// takes them (a secondary, which applies its primary's evictions) rebuilds the queue from its
// state when it outgrows it (engine/sequencer.cpp).
// Thread safety: none; owned by the sequencer's thread (engine/sequencer.h).
#pragma once

#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "schemas/market_state.h"

namespace oddsbus::engine {

inline bool finished(fb::MarketStatus status) {
  return status == fb::MarketStatus::Settled || status == fb::MarketStatus::Closed;
}

class FinishedMarkets {
 public:
  // After a frame about `market` was applied to `state`: `was_finished` is whether the market
  // was held and finished before it. Queues the market when the frame finished it.
  void note(uint64_t market, bool was_finished, const MarketState& state);

  // Replaces the queue with every finished market of `state`, oldest first (start-up from a
  // snapshot).
  void rebuild(const MarketState& state);

  // Appends to `due` (at most `max`) the markets of `state` that have been finished and
  // untouched for `evict_after_ns` at `now_ns`, taking them off the queue; returns how many.
  size_t take_due(const MarketState& state, uint64_t now_ns, uint64_t evict_after_ns, size_t max,
                  std::vector<uint64_t>& due);

  size_t size() const { return queue_.size(); }

 private:
  std::deque<std::pair<uint64_t, uint64_t>> queue_;  // (finished at ns, market)
};

}  // namespace oddsbus::engine
