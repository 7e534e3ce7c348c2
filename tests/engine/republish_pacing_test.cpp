// The republish pacing schedule (engine/republish_pacing.h): a pure function of the batches'
// stamps and the speed.
#include "engine/republish_pacing.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace oddsbus::engine {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kT0 = 1'795'426'200'000'000'000ull;

std::vector<uint64_t> offsets(RepublishSpeed speed, const std::vector<uint64_t>& stamps) {
  PacingSchedule schedule(speed);
  std::vector<uint64_t> out;
  for (uint64_t stamp : stamps) out.push_back(schedule.next(stamp));
  return out;
}

TEST(PacingSchedule, KeepsTheJournalsSpacingAtSpeedOne) {
  EXPECT_EQ(offsets({1.0, false}, {kT0, kT0 + 5 * kMs, kT0 + 5 * kMs, kT0 + 1000 * kMs}),
            (std::vector<uint64_t>{0, 5 * kMs, 5 * kMs, 1000 * kMs}));
}

TEST(PacingSchedule, ScalesTheSpacingByTheSpeed) {
  EXPECT_EQ(offsets({10.0, false}, {kT0, kT0 + 100 * kMs, kT0 + 2000 * kMs}),
            (std::vector<uint64_t>{0, 10 * kMs, 200 * kMs}));
  EXPECT_EQ(offsets({0.5, false}, {kT0, kT0 + 100 * kMs}), (std::vector<uint64_t>{0, 200 * kMs}));
}

TEST(PacingSchedule, MaxSendsEveryBatchAtOnce) {
  EXPECT_EQ(offsets({1.0, true}, {kT0, kT0 + 100 * kMs, kT0 + 3'600'000 * kMs}),
            (std::vector<uint64_t>{0, 0, 0}));
}

TEST(PacingSchedule, AStampThatSteppedBackAddsNoWaitAndTheNextKeepTheirSpacing) {
  // A takeover by a node whose clock is 2 s behind: the batches after it are 10 ms apart on its
  // clock and must stay 10 ms apart, not wait 2 s for the old clock's time to come back.
  EXPECT_EQ(offsets({1.0, false},
                    {kT0, kT0 + 50 * kMs, kT0 - 1950 * kMs, kT0 - 1940 * kMs, kT0 - 1930 * kMs}),
            (std::vector<uint64_t>{0, 50 * kMs, 50 * kMs, 60 * kMs, 70 * kMs}));
}

TEST(PacingSchedule, OffsetsNeverDecreaseAndMatchTheScaledForwardGapsForAnySeed) {
  for (uint32_t seed : {1u, 2u, 3u, 4u, 5u}) {
    std::mt19937_64 random(seed);
    const double speed = 0.25 + static_cast<double>(random() % 400) / 10.0;
    PacingSchedule schedule({speed, false});
    uint64_t stamp = kT0;
    uint64_t previous_stamp = stamp;
    uint64_t forward = 0;
    uint64_t previous = 0;
    for (int i = 0; i < 10'000; ++i) {
      // Mostly forward by up to 50 ms, sometimes back by up to 1 s.
      if (random() % 20 == 0) {
        stamp -= random() % (1000 * kMs);
      } else {
        stamp += random() % (50 * kMs);
      }
      if (i > 0 && stamp > previous_stamp) forward += stamp - previous_stamp;
      previous_stamp = stamp;
      const uint64_t offset = schedule.next(stamp);
      ASSERT_GE(offset, previous) << "seed " << seed << " batch " << i;
      const double expected = static_cast<double>(forward) / speed;
      ASSERT_NEAR(static_cast<double>(offset), expected, 1.0) << "seed " << seed << " batch " << i;
      previous = offset;
    }
  }
}

TEST(RepublishSpeed, ParsesANumberOrMaxAndRefusesTheRest) {
  auto one = parse_republish_speed("1");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->factor, 1.0);
  EXPECT_FALSE(one->max);
  auto half = parse_republish_speed("0.5");
  ASSERT_TRUE(half);
  EXPECT_EQ(half->factor, 0.5);
  auto max = parse_republish_speed("max");
  ASSERT_TRUE(max);
  EXPECT_TRUE(max->max);
  for (const char* bad : {"", "0", "-2", "fast", "2x", "nan", "inf"}) {
    auto parsed = parse_republish_speed(bad);
    EXPECT_FALSE(parsed) << bad;
    if (!parsed) {
      EXPECT_NE(parsed.error().find("--speed"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace oddsbus::engine
