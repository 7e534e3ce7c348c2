#include "edge/epoch_tracker.h"

#include <gtest/gtest.h>

#include <vector>

namespace oddsbus::edge {
namespace {

StreamPosition at(uint64_t last_seq, uint32_t epoch, uint64_t epoch_start) {
  return StreamPosition{true, last_seq, epoch, epoch_start, {}};
}

TEST(EpochTracker, TheNextEpochsStartLocatesTheDivergenceExactly) {
  EpochTracker t;
  const StreamPosition p = at(8, 1, 1);
  EXPECT_FALSE(t.history_lost(p));
  t.learn(2, 6, 0, p);  // from a heartbeat: epoch 2 began at 6
  EXPECT_TRUE(t.history_lost(p));
  EXPECT_EQ(t.divergence_at(p), 6u);
  EXPECT_EQ(t.start_of(2), 6u);
  EXPECT_FALSE(t.history_lost(at(5, 1, 1)));  // delivered only the shared past
}

TEST(EpochTracker, TwoTakeoversMissedOnlyBoundTheDivergence) {
  EpochTracker t;
  const StreamPosition p = at(8, 1, 1);
  t.learn(3, 8, 0, p);  // epoch 3 at 8; where epoch 2 began is unknown
  EXPECT_TRUE(t.history_lost(p));
  EXPECT_EQ(t.divergence_at(p), 0u);
  t.learn(3, 8, 1, p);  // an EpochChange saying epoch 3 followed epoch 1: exact after all
  EXPECT_EQ(t.divergence_at(p), 8u);
}

// Issue 12: the chain of epochs locates a divergence that starts at or before our epoch's start.
TEST(EpochTracker, AnEpochThatContinuedOurPreviousEpochLostOursFromItsStart) {
  const std::vector<EpochLink> chain{{1, 1}, {2, 5}};
  StreamPosition p{true, 14, 3, 10, chain};
  {
    EpochTracker t;
    t.learn(4, 10, 2, p, 5);  // the same seq as our EpochChange
    EXPECT_TRUE(t.history_lost(p));
    EXPECT_EQ(t.divergence_at(p), 10u);
  }
  {
    EpochTracker t;
    t.learn(4, 12, 2, p, 5);  // after our start: all of our epoch 3 lost all the same
    EXPECT_EQ(t.divergence_at(p), 10u);
  }
  {
    EpochTracker t;
    t.learn(4, 20, 2, p, 5);  // beyond what we delivered: still not our history
    EXPECT_TRUE(t.history_lost(p));
    EXPECT_EQ(t.divergence_at(p), 10u);
  }
  {
    EpochTracker t;
    t.learn(4, 9, 1, p, 1);  // continued epoch 1: our 2 and 3 lost, from epoch 2's start
    EXPECT_EQ(t.divergence_at(p), 5u);
  }
  {
    EpochTracker t;
    t.learn(4, 12, 3, p, 10);  // continued ours: exact at its start, as before
    EXPECT_EQ(t.divergence_at(p), 12u);
    t.learn(5, 13, 4, p, 12);
    EXPECT_EQ(t.divergence_at(p), 12u);  // the lowest epoch above ours decides
  }
  {
    EpochTracker t;
    t.learn(4, 12, 3, p, 7);  // "our" epoch 3 begun elsewhere: a different history
    EXPECT_EQ(t.divergence_at(p), 10u);
  }
  {
    EpochTracker t;
    t.learn(4, 20, 3, p, 10);  // continued ours past what we delivered: nothing lost
    EXPECT_FALSE(t.history_lost(p));
  }
}

TEST(EpochTracker, AnEpochThatContinuedOneWeNeverHeldIsABoundThatRefines) {
  const std::vector<EpochLink> chain{{1, 1}, {3, 5}};  // we went from 1 to 3 at 5
  StreamPosition p{true, 14, 4, 10, chain};            // and from 3 to 4 at 10
  EpochTracker t;
  t.learn(5, 12, 2, p, 3);  // epoch 5 continued epoch 2 (begun at 3), which we never held
  // We lost at least our epoch 3 from its start (5); where epoch 2 parted from our 1 is known
  // only once the owner truncated there and its position is (1, 1).
  EXPECT_EQ(t.divergence_at(p), 5u);
  t.learn(2, 3, 0, StreamPosition{true, 4, 1, 1, {}});
  EXPECT_EQ(t.divergence_at(StreamPosition{true, 4, 1, 1, {}}), 3u);
}

TEST(EpochTracker, AnEpochChangeOverridesAStartLearnedWithoutIt) {
  EpochTracker t;
  const StreamPosition p = at(3, 1, 1);
  t.learn(2, 9, 0, p);
  t.learn(2, 7, 0, p);  // a second guess does not move it
  EXPECT_EQ(t.start_of(2), 9u);
  t.learn(2, 6, 1, p);
  EXPECT_EQ(t.start_of(2), 6u);
  EXPECT_EQ(t.start_of(4), 0u);
}

TEST(EpochTracker, EpochsAtOrBelowThePositionsAreIgnoredAndForgotten) {
  EpochTracker t;
  t.learn(2, 6, 0, at(3, 2, 6));
  EXPECT_EQ(t.start_of(2), 0u);
  t.learn(3, 9, 0, at(3, 2, 6));
  t.learn(4, 12, 0, at(3, 2, 6));
  t.forget_through(3);
  EXPECT_EQ(t.start_of(3), 0u);
  EXPECT_EQ(t.start_of(4), 12u);
  StreamPosition unpositioned;
  t.learn(1, 1, 0, unpositioned);  // unpositioned: anything is news
  EXPECT_EQ(t.start_of(1), 1u);
}

TEST(EpochTracker, MinEpochFencesDeposedFramesPastAnEpochsStart) {
  EpochTracker t;
  const StreamPosition p = at(7, 2, 6);
  EXPECT_EQ(t.min_epoch_at(5, p), 0u);  // the shared past: any epoch
  EXPECT_EQ(t.min_epoch_at(6, p), 2u);
  t.learn(3, 10, 0, p);
  EXPECT_EQ(t.min_epoch_at(9, p), 2u);
  EXPECT_EQ(t.min_epoch_at(10, p), 3u);
  EXPECT_EQ(t.min_epoch_at(10, StreamPosition{}), 3u);
}

TEST(EpochTracker, HoldsABoundedNumberOfEpochsKeepingTheLowest) {
  EpochTracker t;
  const StreamPosition p = at(1, 1, 1);
  for (uint32_t e = 2; e < 2 + EpochTracker::kMaxEpochsAhead + 10; ++e) t.learn(e, e * 10, 0, p);
  EXPECT_EQ(t.start_of(2), 20u);
  EXPECT_EQ(t.start_of(2 + EpochTracker::kMaxEpochsAhead), 0u);
}

TEST(EpochTracker, NewestFollowsTheHighestEpochThenTheHighestSeq) {
  EpochTracker t;
  t.note_newest(1, 10);
  t.note_newest(1, 8);
  EXPECT_EQ(t.newest_seq(), 10u);
  t.note_newest(2, 7);  // a higher epoch wins even at a lower seq
  EXPECT_EQ(t.newest_seq(), 7u);
  EXPECT_EQ(t.newest_epoch(), 2u);
  t.note_newest(1, 20);
  EXPECT_EQ(t.newest_seq(), 7u);
  t.note_position(2, 9);
  EXPECT_EQ(t.newest_seq(), 9u);
  t.clear();
  EXPECT_EQ(t.newest_seq(), 0u);
}

}  // namespace
}  // namespace oddsbus::edge
