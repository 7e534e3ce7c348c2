#include "schemas/iso8601.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>

namespace oddsbus {
namespace {

constexpr uint64_t kNs = 1'000'000'000;
constexpr uint64_t k20261123T093000Z = 1795426200;  // date -u -d 2026-11-23T09:30:00Z +%s

uint64_t parsed(std::string_view text) {
  auto ns = parse_iso8601_ns(text);
  EXPECT_TRUE(ns) << text << ": " << (ns ? "" : ns.error());
  return ns.value_or(0);
}

TEST(Iso8601, ParsesUtcTimes) {
  EXPECT_EQ(parsed("1970-01-01T00:00:00Z"), 0u);
  EXPECT_EQ(parsed("1970-01-01T00:00:01Z"), kNs);
  EXPECT_EQ(parsed("2026-11-23T09:30:00Z"), k20261123T093000Z * kNs);
  EXPECT_EQ(parsed("2000-02-29T23:59:59Z"), 951868799 * kNs);  // a leap day
  EXPECT_EQ(parsed("2026-03-01T00:00:00Z"), 1772323200 * kNs);
}

TEST(Iso8601, DateAloneIsMidnightUtc) {
  EXPECT_EQ(parsed("2026-11-23"), (k20261123T093000Z - 9 * 3600 - 30 * 60) * kNs);
  EXPECT_EQ(parsed("1970-01-01"), 0u);
}

TEST(Iso8601, FractionalSecondsUpToNanoseconds) {
  const uint64_t base = k20261123T093000Z * kNs;
  EXPECT_EQ(parsed("2026-11-23T09:30:00.5Z"), base + 500'000'000);
  EXPECT_EQ(parsed("2026-11-23T09:30:00.123Z"), base + 123'000'000);
  EXPECT_EQ(parsed("2026-11-23T09:30:00.000001Z"), base + 1'000);
  EXPECT_EQ(parsed("2026-11-23T09:30:00.123456789Z"), base + 123'456'789);
  EXPECT_EQ(parsed("2026-11-23T09:30:00,25Z"), base + 250'000'000);
}

TEST(Iso8601, OffsetsAreConvertedToUtc) {
  const uint64_t base = k20261123T093000Z * kNs;
  EXPECT_EQ(parsed("2026-11-23T10:30:00+01:00"), base);
  EXPECT_EQ(parsed("2026-11-23T04:00:00-05:30"), base);
  EXPECT_EQ(parsed("2026-11-23T10:30:00+0100"), base);
  EXPECT_EQ(parsed("2026-11-23T09:30:00+00:00"), base);
  EXPECT_EQ(parsed("2026-11-24T00:30:00+15:00"), base);  // crosses midnight
}

TEST(Iso8601, AcceptsLowerCaseSpaceAndNoSeconds) {
  const uint64_t base = k20261123T093000Z * kNs;
  EXPECT_EQ(parsed("2026-11-23t09:30:00z"), base);
  EXPECT_EQ(parsed("2026-11-23 09:30:00Z"), base);
  EXPECT_EQ(parsed("2026-11-23T09:30Z"), base);
}

TEST(Iso8601, RejectsMalformedText) {
  for (const std::string_view text : {
           "",
           "2026",
           "2026-11",
           "26-11-23",
           "2026/11/23",
           "2026-11-23T",
           "2026-11-23T09",
           "2026-11-23T09:30:00",              // no zone
           "2026-11-23T09:30:00ZZ",            // trailing text
           "2026-11-23T09:30:00.Z",            // no fraction digits
           "2026-11-23T09:30:00.1234567891Z",  // more than ns
           "2026-11-23T09:30:00+1",            // short offset
           "2026-11-23T9:30:00Z",              // one-digit hour
           "x2026-11-23",
           " 2026-11-23",
           "2026-11-23 ",
       }) {
    auto ns = parse_iso8601_ns(text);
    EXPECT_FALSE(ns) << "'" << text << "' parsed as " << ns.value_or(0);
    if (!ns) {
      EXPECT_NE(ns.error().find("ISO 8601"), std::string::npos) << ns.error();
    }
  }
}

TEST(Iso8601, RejectsOutOfRangeFields) {
  for (const std::string_view text : {
           "2026-00-10",
           "2026-13-01",
           "2026-11-00",
           "2026-11-32",
           "2026-11-23T24:00:00Z",
           "2026-11-23T09:60:00Z",
           "2026-11-23T09:30:61Z",
       }) {
    EXPECT_FALSE(parse_iso8601_ns(text)) << text;
  }
}

// A day past the end of its month is not a date; accepting it silently would turn
// `odds-replay state --at-time 2026-02-30` into the state of March 2.
TEST(Iso8601, RejectsDayPastTheEndOfTheMonth) {
  for (const std::string_view text : {"2026-02-29", "2026-02-30", "2026-04-31", "2100-02-29"}) {
    EXPECT_FALSE(parse_iso8601_ns(text)) << text;
  }
  EXPECT_TRUE(parse_iso8601_ns("2028-02-29"));
  EXPECT_TRUE(parse_iso8601_ns("2000-02-29"));
}

TEST(Iso8601, RejectsTimesBeforeTheEpoch) {
  EXPECT_FALSE(parse_iso8601_ns("1969-12-31T23:59:59Z"));
  EXPECT_FALSE(parse_iso8601_ns("1970-01-01T00:30:00+01:00"));
}

}  // namespace
}  // namespace oddsbus
