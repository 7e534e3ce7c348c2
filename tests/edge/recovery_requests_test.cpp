#include "edge/recovery_requests.h"

#include <gtest/gtest.h>

namespace oddsbus::edge {
namespace {

constexpr uint64_t kMs = 1'000'000;
using K = RecoveryRequestKind;

TEST(RecoveryRequests, OneOutstandingRequestAnsweredByItsService) {
  RecoveryRequests r(3, 500 * kMs);
  EXPECT_TRUE(r.ready(0));
  const RecoveryRequest& sent = r.send(K::kRange, 10, 20, 1000);
  EXPECT_EQ(sent.service, 0u);
  EXPECT_TRUE(r.awaits(0));
  EXPECT_FALSE(r.awaits(1));
  EXPECT_TRUE(r.awaits_range(0, 10));
  EXPECT_FALSE(r.awaits_range(0, 11));
  r.settle();
  EXPECT_FALSE(r.outstanding().active);
  EXPECT_FALSE(r.awaits(0));
}

TEST(RecoveryRequests, ASnapshotRequestIsNotARange) {
  RecoveryRequests r(1, 500 * kMs);
  r.send(K::kSnapshot, 0, 0, 0);
  EXPECT_TRUE(r.awaits(0));
  EXPECT_FALSE(r.awaits_range(0, 0));
  r.cancel(K::kRange);
  EXPECT_TRUE(r.outstanding().active);
  r.cancel(K::kSnapshot);
  EXPECT_FALSE(r.outstanding().active);
}

TEST(RecoveryRequests, AnUnansweredRequestExpiresToTheNextServiceInRotation) {
  RecoveryRequests r(2, 500 * kMs);
  r.send(K::kRange, 1, 5, 1000);
  EXPECT_FALSE(r.expire(1000 + 499 * kMs));
  EXPECT_TRUE(r.outstanding().active);
  EXPECT_TRUE(r.expire(1000 + 500 * kMs));
  EXPECT_FALSE(r.outstanding().active);
  EXPECT_EQ(r.service(), 1u);
  EXPECT_TRUE(r.ready(1000 + 500 * kMs));
  r.send(K::kRange, 1, 5, 2000);
  EXPECT_TRUE(r.expire(2000 + 500 * kMs));
  EXPECT_EQ(r.service(), 0u);  // wrapped around
}

TEST(RecoveryRequests, BusyRetriesTheSameServiceAndErrorMovesOn) {
  RecoveryRequests r(3, 500 * kMs);
  r.send(K::kRange, 1, 5, 0);
  r.settle();
  r.retry_at(0, 50 * kMs);
  EXPECT_FALSE(r.ready(49 * kMs));
  EXPECT_TRUE(r.ready(50 * kMs));
  EXPECT_EQ(r.service(), 0u);
  r.move_on(0, 60 * kMs);
  EXPECT_EQ(r.service(), 1u);
  EXPECT_FALSE(r.ready(59 * kMs));
  r.hold_until(0);
  EXPECT_TRUE(r.ready(0));
}

TEST(RecoveryRequests, NoServicesMeansServiceZeroAlways) {
  RecoveryRequests r(0, 500 * kMs);
  EXPECT_EQ(r.next_service(0), 0u);
  r.move_on(0, 0);
  EXPECT_EQ(r.service(), 0u);
}

TEST(RecoveryRequests, ResetForgetsTheRequestAndTheBackoffButNotTheRotation) {
  RecoveryRequests r(2, 500 * kMs);
  r.move_on(0, 100 * kMs);
  r.send(K::kProbe, 2, 3, 0);
  r.reset();
  EXPECT_FALSE(r.outstanding().active);
  EXPECT_TRUE(r.ready(0));
  EXPECT_EQ(r.service(), 1u);
}

}  // namespace
}  // namespace oddsbus::edge
