#include "edge/connection_limits.h"

#include <gtest/gtest.h>

#include <string>

namespace oddsbus::edge {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;

TEST(ConnectionLimits, RefusesPastMaxConnectionsUntilOneIsReleased) {
  ConnectionLimits limits(ConnectionLimitsConfig{.max_connections = 3});
  uint64_t now = 5 * kSec;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(limits.admit("10.0.0." + std::to_string(i), now), Admission::kAdmitted);
  }
  EXPECT_EQ(limits.open(), 3u);
  EXPECT_EQ(limits.admit("10.0.0.9", now), Admission::kTooManyConnections);
  EXPECT_EQ(limits.counters().refused_full, 1u);
  limits.release();
  EXPECT_EQ(limits.open(), 2u);
  EXPECT_EQ(limits.admit("10.0.0.9", now), Admission::kAdmitted);
  EXPECT_EQ(limits.counters().admitted, 4u);
  EXPECT_EQ(limits.counters().refused_too_fast, 0u);
}

TEST(ConnectionLimits, NeverCountsBelowZeroOpenConnections) {
  ConnectionLimits limits(ConnectionLimitsConfig{.max_connections = 1});
  limits.release();
  EXPECT_EQ(limits.open(), 0u);
  EXPECT_EQ(limits.admit("a", 0), Admission::kAdmitted);
  EXPECT_EQ(limits.admit("b", 0), Admission::kTooManyConnections);
}

TEST(ConnectionLimits, AdmitsABurstPerAddressThenRefusesItAsTooFast) {
  ConnectionLimits limits(ConnectionLimitsConfig{
      .max_connections = 1000, .per_address_per_second = 2, .per_address_burst = 5});
  const uint64_t now = 100 * kSec;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limits.admit("1.2.3.4", now), Admission::kAdmitted) << i;
  EXPECT_EQ(limits.admit("1.2.3.4", now), Admission::kTooFast);
  EXPECT_EQ(limits.counters().refused_too_fast, 1u);
  EXPECT_EQ(limits.open(), 5u) << "a refusal opens nothing";
  EXPECT_EQ(limits.admit("5.6.7.8", now), Admission::kAdmitted) << "other addresses are not held";
}

TEST(ConnectionLimits, RefillsTheBucketAtTheConfiguredRate) {
  ConnectionLimits limits(ConnectionLimitsConfig{
      .max_connections = 1000, .per_address_per_second = 2, .per_address_burst = 3});
  uint64_t now = 100 * kSec;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(limits.admit("h", now), Admission::kAdmitted);
  ASSERT_EQ(limits.admit("h", now), Admission::kTooFast);
  now += 400 * kMs;  // 0.8 token
  EXPECT_EQ(limits.admit("h", now), Admission::kTooFast);
  now += 100 * kMs;  // 1.0 token
  EXPECT_EQ(limits.admit("h", now), Admission::kAdmitted);
  EXPECT_EQ(limits.admit("h", now), Admission::kTooFast);
  // A long rest refills only up to the burst.
  now += 3600 * kSec;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limits.admit("h", now), Admission::kAdmitted) << i;
  EXPECT_EQ(limits.admit("h", now), Admission::kTooFast);
  // Sustained: one every 500 ms keeps being admitted.
  for (int i = 0; i < 20; ++i) {
    now += 500 * kMs;
    EXPECT_EQ(limits.admit("h", now), Admission::kAdmitted) << i;
  }
}

TEST(ConnectionLimits, TracksABoundedNumberOfAddressesForgettingIdleOnesFirst) {
  ConnectionLimits limits(ConnectionLimitsConfig{.max_connections = 100000,
                                                 .per_address_per_second = 1,
                                                 .per_address_burst = 2,
                                                 .max_tracked_addresses = 4});
  uint64_t now = 100 * kSec;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(limits.admit("busy" + std::to_string(i), now), Admission::kAdmitted);
  }
  EXPECT_EQ(limits.tracked_addresses(), 4u);
  // Every tracked bucket is still partly spent: a fifth address cannot be tracked.
  EXPECT_EQ(limits.admit("new", now), Admission::kTooFast);
  EXPECT_EQ(limits.tracked_addresses(), 4u);
  // Once they have refilled, the idle addresses are forgotten to make room.
  now += 2 * kSec;
  EXPECT_EQ(limits.admit("new", now), Admission::kAdmitted);
  EXPECT_LE(limits.tracked_addresses(), 4u);
  for (int i = 0; i < 1000; ++i) {
    now += 2 * kSec;
    limits.admit("spray" + std::to_string(i), now);
    ASSERT_LE(limits.tracked_addresses(), 4u);
  }
}

TEST(ConnectionLimits, KeepsAForgottenAddressesBucketFullWhenItReturns) {
  ConnectionLimits limits(ConnectionLimitsConfig{.max_connections = 100000,
                                                 .per_address_per_second = 1,
                                                 .per_address_burst = 2,
                                                 .max_tracked_addresses = 1});
  uint64_t now = 100 * kSec;
  ASSERT_EQ(limits.admit("a", now), Admission::kAdmitted);
  now += 5 * kSec;
  ASSERT_EQ(limits.admit("b", now), Admission::kAdmitted);  // "a" refilled and was forgotten
  EXPECT_EQ(limits.tracked_addresses(), 1u);
  EXPECT_EQ(limits.admit("b", now), Admission::kAdmitted);
  EXPECT_EQ(limits.admit("b", now), Admission::kTooFast) << "its burst of 2 is spent";
}

}  // namespace
}  // namespace oddsbus::edge
