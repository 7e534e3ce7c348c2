#include "feeds/link/circuit_breaker.h"

#include <gtest/gtest.h>

#include <chrono>

namespace oddsbus::feeds::link {
namespace {

using namespace std::chrono_literals;
using State = CircuitBreaker::State;

const CircuitBreaker::Clock::time_point t0{};

CircuitBreakerConfig config() {
  return CircuitBreakerConfig{.failure_threshold = 3,
                              .disconnect_threshold = 3,
                              .disconnect_window = 10s,
                              .open_for = 1s,
                              .max_open_for = 4s};
}

TEST(CircuitBreaker, OpensAfterConsecutiveConnectFailures) {
  CircuitBreaker breaker(config());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(breaker.allow_attempt(t0));
    breaker.on_connect_failure(t0);
  }
  EXPECT_EQ(breaker.state(), State::kClosed);
  breaker.on_connect_failure(t0 + 1ms);
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_EQ(breaker.trips(), 1u);
  EXPECT_EQ(breaker.open_until(), t0 + 1ms + 1s);
  EXPECT_FALSE(breaker.allow_attempt(t0 + 500ms));
}

TEST(CircuitBreaker, ASuccessResetsTheFailureCount) {
  CircuitBreaker breaker(config());
  breaker.on_connect_failure(t0);
  breaker.on_connect_failure(t0);
  breaker.on_connected(t0);
  breaker.on_connect_failure(t0);
  breaker.on_connect_failure(t0);
  EXPECT_EQ(breaker.state(), State::kClosed);
}

TEST(CircuitBreaker, HalfOpenAllowsExactlyOneAttemptAndASuccessCloses) {
  CircuitBreaker breaker(config());
  for (int i = 0; i < 3; ++i) breaker.on_connect_failure(t0);
  ASSERT_EQ(breaker.state(), State::kOpen);
  EXPECT_TRUE(breaker.allow_attempt(t0 + 1s));
  EXPECT_EQ(breaker.state(), State::kHalfOpen);
  EXPECT_FALSE(breaker.allow_attempt(t0 + 1s));
  breaker.on_connected(t0 + 1s);
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.allow_attempt(t0 + 1s));
}

TEST(CircuitBreaker, AFailedProbeReopensForTwiceAsLongUpToTheCap) {
  CircuitBreaker breaker(config());
  for (int i = 0; i < 3; ++i) breaker.on_connect_failure(t0);
  auto now = t0;
  for (const auto expected : {2s, 4s, 4s}) {
    now = breaker.open_until();
    ASSERT_TRUE(breaker.allow_attempt(now));
    breaker.on_connect_failure(now);
    EXPECT_EQ(breaker.state(), State::kOpen);
    EXPECT_EQ(breaker.open_until() - now, expected);
  }
  EXPECT_EQ(breaker.trips(), 4u);
}

TEST(CircuitBreaker, OpensAfterManyDisconnectsWithinTheWindow) {
  CircuitBreaker breaker(config());
  breaker.on_connected(t0);
  breaker.on_disconnect(t0);
  breaker.on_connected(t0 + 20s);
  breaker.on_disconnect(t0 + 20s);  // the first is out of the window by now
  breaker.on_disconnect(t0 + 25s);
  EXPECT_EQ(breaker.state(), State::kClosed);
  breaker.on_disconnect(t0 + 29s);
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_EQ(breaker.trips(), 1u);
}

TEST(CircuitBreaker, ADropSoonAfterTheProbeSucceedsReopensForLonger) {
  CircuitBreaker breaker(config());
  for (int i = 0; i < 3; ++i) breaker.on_connect_failure(t0);
  auto now = breaker.open_until();
  ASSERT_TRUE(breaker.allow_attempt(now));
  breaker.on_connected(now);
  breaker.on_disconnect(now + 100ms);  // on probation: a peer that accepts and drops us
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_EQ(breaker.open_until() - (now + 100ms), 2s);
}

TEST(CircuitBreaker, ProbationPassedRestoresTheInitialOpenPeriod) {
  CircuitBreaker breaker(config());
  for (int i = 0; i < 3; ++i) breaker.on_connect_failure(t0);
  auto now = breaker.open_until();
  ASSERT_TRUE(breaker.allow_attempt(now));
  breaker.on_connected(now);
  now += 11s;  // past disconnect_window: the line proved healthy
  breaker.on_disconnect(now);
  EXPECT_EQ(breaker.state(), State::kClosed);
  for (int i = 0; i < 3; ++i) breaker.on_connect_failure(now);
  ASSERT_EQ(breaker.state(), State::kOpen);
  EXPECT_EQ(breaker.open_until() - now, 1s);
}

TEST(CircuitBreaker, ZeroThresholdsNeverTrip) {
  CircuitBreaker breaker(CircuitBreakerConfig{.failure_threshold = 0, .disconnect_threshold = 0});
  for (int i = 0; i < 100; ++i) {
    breaker.on_connect_failure(t0);
    breaker.on_connected(t0);
    breaker.on_disconnect(t0);
  }
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_EQ(breaker.trips(), 0u);
}

}  // namespace
}  // namespace oddsbus::feeds::link
