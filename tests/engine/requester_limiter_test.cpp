// The recovery service's per-requester rate limits (engine/requester_limiter.h), with injected
// time.
#include "engine/requester_limiter.h"

#include <gtest/gtest.h>

namespace oddsbus::engine {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kT0 = 1'000'000 * kMs;

RequesterLimiterConfig small() {
  RequesterLimiterConfig config;
  config.requests_per_s = 10;
  config.request_burst = 2;
  config.frames_per_s = 1000;
  config.frame_burst = 100;
  config.max_requesters = 2;
  return config;
}

TEST(RequesterLimiter, AdmitsABurstThenSaysHowLongToWait) {
  RequesterLimiter limiter(small());
  EXPECT_TRUE(limiter.admit("a", kT0).admitted);
  EXPECT_TRUE(limiter.admit("a", kT0).admitted);
  const Admission refused = limiter.admit("a", kT0);
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.retry_ms, 100u);  // one request at 10/s
  EXPECT_FALSE(limiter.admit("a", kT0 + 99 * kMs).admitted);
  EXPECT_TRUE(limiter.admit("a", kT0 + 200 * kMs).admitted);
  EXPECT_EQ(limiter.counters().admitted, 3u);
  EXPECT_EQ(limiter.counters().refused, 2u);
}

TEST(RequesterLimiter, RequestersAreLimitedApart) {
  RequesterLimiter limiter(small());
  EXPECT_TRUE(limiter.admit("a", kT0).admitted);
  EXPECT_TRUE(limiter.admit("a", kT0).admitted);
  EXPECT_FALSE(limiter.admit("a", kT0).admitted);
  EXPECT_TRUE(limiter.admit("b", kT0).admitted);
}

TEST(RequesterLimiter, FramesServedPastTheBalanceMakeTheNextRequestWait) {
  RequesterLimiter limiter(small());
  ASSERT_TRUE(limiter.admit("a", kT0).admitted);
  limiter.charge("a", 300);  // a large range: the balance goes to -200
  const Admission refused = limiter.admit("a", kT0);
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.retry_ms, 201u);  // back to +1 frame at 1000/s
  EXPECT_FALSE(limiter.admit("a", kT0 + 200 * kMs).admitted);
  EXPECT_TRUE(limiter.admit("a", kT0 + 202 * kMs).admitted);
}

TEST(RequesterLimiter, RefillingNeverPassesTheBurst) {
  RequesterLimiter limiter(small());
  ASSERT_TRUE(limiter.admit("a", kT0).admitted);
  const uint64_t later = kT0 + 3600'000 * kMs;  // an hour idle
  EXPECT_TRUE(limiter.admit("a", later).admitted);
  EXPECT_TRUE(limiter.admit("a", later).admitted);
  EXPECT_FALSE(limiter.admit("a", later).admitted);
}

TEST(RequesterLimiter, ARetryIsCappedAtAMinute) {
  RequesterLimiterConfig config = small();
  config.frames_per_s = 1;
  RequesterLimiter limiter(config);
  ASSERT_TRUE(limiter.admit("a", kT0).admitted);
  limiter.charge("a", 1'000'000);
  EXPECT_EQ(limiter.admit("a", kT0).retry_ms, RequesterLimiter::kMaxRetryMs);
}

TEST(RequesterLimiter, TheTableEvictsTheLeastRecentlySeen) {
  RequesterLimiter limiter(small());
  ASSERT_TRUE(limiter.admit("a", kT0).admitted);
  ASSERT_TRUE(limiter.admit("a", kT0).admitted);  // a's requests are spent
  ASSERT_TRUE(limiter.admit("b", kT0).admitted);
  ASSERT_FALSE(limiter.admit("a", kT0).admitted);  // a is now the most recently seen
  ASSERT_TRUE(limiter.admit("c", kT0).admitted);   // evicts b
  EXPECT_EQ(limiter.size(), 2u);
  EXPECT_EQ(limiter.counters().evicted, 1u);
  EXPECT_FALSE(limiter.admit("a", kT0).admitted) << "a was kept, with its spent bucket";
  limiter.charge("b", 1'000'000);  // evicted: nothing to charge, nothing breaks
  EXPECT_EQ(limiter.size(), 2u);
}

TEST(RequesterLimiter, ChargeReachesARequesterThatIsNotTheLastSeen) {
  RequesterLimiter limiter(small());
  ASSERT_TRUE(limiter.admit("a", kT0).admitted);
  ASSERT_TRUE(limiter.admit("b", kT0).admitted);
  limiter.charge("a", 100);  // a parked request of a's answered later
  EXPECT_FALSE(limiter.admit("a", kT0).admitted);
  EXPECT_TRUE(limiter.admit("b", kT0).admitted);
}

}  // namespace
}  // namespace oddsbus::engine
