// Where a replica's arbiter starts (engine/replica.h, and the cluster simulator's replica): at the
// history the node's sequencer holds, whose epoch may be below sequencer.epoch() (the highest this
// node journaled or heard of), linked to the epoch that history continued, so that the arbiter can
// tell a primary's epoch that continued ours from one that replaced it (issue 12,
// edge/epoch_tracker.h). Sans-I/O.
#pragma once

#include <span>

#include "edge/arbiter.h"
#include "engine/sequencer.h"

namespace oddsbus::engine {

inline void position_at_history(edge::Arbiter& arbiter, const Sequencer& sequencer) {
  const HistoryEpoch& history = sequencer.history();
  const edge::EpochLink continued{history.previous_epoch, history.previous_start};
  std::span<const edge::EpochLink> ancestors;
  if (continued.epoch != 0 && continued.start != 0) ancestors = {&continued, 1};
  arbiter.reset(sequencer.last_seq(), history.epoch, history.start, ancestors);
}

}  // namespace oddsbus::engine
