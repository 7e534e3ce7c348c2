#include "edge/epoch_tracker.h"

#include <gtest/gtest.h>

namespace oddsbus::edge {
namespace {

StreamPosition at(uint64_t last_seq, uint32_t epoch, uint64_t epoch_start) {
  return StreamPosition{true, last_seq, epoch, epoch_start};
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
