#include "schemas/odds.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace oddsbus {
namespace {

struct Conversion {
  std::string_view text;
  uint32_t price_e4;
  fb::OddsFormat format;
  uint64_t numerator;
  uint64_t denominator;
};

constexpr Conversion kConversions[] = {
    // Decimal: digits without the point over 10^places.
    {"2.5", 25000, fb::OddsFormat::Decimal, 25, 10},
    {"2.50", 25000, fb::OddsFormat::Decimal, 250, 100},
    {"1.01", 10100, fb::OddsFormat::Decimal, 101, 100},
    {"100", 1000000, fb::OddsFormat::Decimal, 100, 1},
    {"2.48", 24800, fb::OddsFormat::Decimal, 248, 100},
    {"10000", 100000000, fb::OddsFormat::Decimal, 10000, 1},
    {"10000.0000", 100000000, fb::OddsFormat::Decimal, 100000000, 10000},
    {"1.0001", 10001, fb::OddsFormat::Decimal, 10001, 10000},
    {"02.5", 25000, fb::OddsFormat::Decimal, 25, 10},
    // Fractional: 1 + n/d.
    {"5/2", 35000, fb::OddsFormat::Fractional, 5, 2},
    {"1/3", 13333, fb::OddsFormat::Fractional, 1, 3},
    {"2/3", 16667, fb::OddsFormat::Fractional, 2, 3},
    {"100/1", 1010000, fb::OddsFormat::Fractional, 100, 1},
    {"9999/1", 100000000, fb::OddsFormat::Fractional, 9999, 1},
    {"evens", 20000, fb::OddsFormat::Fractional, 1, 1},
    {"EVENS", 20000, fb::OddsFormat::Fractional, 1, 1},
    {"Evens", 20000, fb::OddsFormat::Fractional, 1, 1},
    {"1/1", 20000, fb::OddsFormat::Fractional, 1, 1},
    // American: +a -> 1 + a/100 (denominator 100), -a -> 1 + 100/a (denominator 0).
    {"+150", 25000, fb::OddsFormat::American, 150, 100},
    {"-110", 19091, fb::OddsFormat::American, 110, 0},
    {"-200", 15000, fb::OddsFormat::American, 200, 0},
    {"+100", 20000, fb::OddsFormat::American, 100, 100},
    {"-100", 20000, fb::OddsFormat::American, 100, 0},
    {"+999900", 100000000, fb::OddsFormat::American, 999900, 100},
    {"-1", 1010000, fb::OddsFormat::American, 1, 0},
    // Rounding: ties go up (away from zero), anything below a tie goes down.
    // 1 + 1/32 = 1.03125 -> 10312.5 -> 10313; 1 + 3/32 = 1.09375 -> 10937.5 -> 10938.
    {"1/32", 10313, fb::OddsFormat::Fractional, 1, 32},
    {"3/32", 10938, fb::OddsFormat::Fractional, 3, 32},
    {"1.00005", 10001, fb::OddsFormat::Decimal, 100005, 100000},
    {"1.00015", 10002, fb::OddsFormat::Decimal, 100015, 100000},
    {"1.000149", 10001, fb::OddsFormat::Decimal, 1000149, 1000000},
    {"-16000", 10063, fb::OddsFormat::American, 16000, 0},  // 10062.5 -> 10063
};

TEST(Odds, ConvertsEveryFormatToExactPriceE4) {
  for (const Conversion& c : kConversions) {
    SCOPED_TRACE(std::string(c.text));
    auto odds = parse_odds(c.text);
    ASSERT_TRUE(odds.has_value()) << to_string(odds.error());
    EXPECT_EQ(odds->price_e4, c.price_e4);
    EXPECT_EQ(odds->format, c.format);
    EXPECT_EQ(odds->numerator, c.numerator);
    EXPECT_EQ(odds->denominator, c.denominator);
  }
}

TEST(Odds, RoundsAHalfTenThousandthUp) {
  // -2000000 -> 1 + 100/2000000 = 1.00005 -> 10000.5 -> 10001.
  auto odds = parse_odds("-2000000");
  ASSERT_TRUE(odds.has_value());
  EXPECT_EQ(odds->price_e4, 10001u);
  // Just below the tie rounds down to 1.0 and is therefore rejected.
  EXPECT_EQ(parse_odds("-2000001").error(), OddsError::kOutOfRange);
}

TEST(Odds, AcceptsTheUpperBoundAndRejectsAnythingAboveIt) {
  EXPECT_EQ(parse_odds("10000")->price_e4, kMaxPriceE4);
  EXPECT_EQ(parse_odds("10000.0001").error(), OddsError::kOutOfRange);
  EXPECT_EQ(parse_odds("10000.00001").error(), OddsError::kOutOfRange);  // exact, not rounded
  EXPECT_EQ(parse_odds("10001").error(), OddsError::kOutOfRange);
  EXPECT_EQ(parse_odds("9999/1")->price_e4, kMaxPriceE4);
  EXPECT_EQ(parse_odds("10000/1").error(), OddsError::kOutOfRange);
  EXPECT_EQ(parse_odds("+999900")->price_e4, kMaxPriceE4);
  EXPECT_EQ(parse_odds("+999901").error(), OddsError::kOutOfRange);
}

TEST(Odds, RejectsOneAndAnythingThatRoundsToOne) {
  EXPECT_EQ(parse_odds("1").error(), OddsError::kOutOfRange);
  EXPECT_EQ(parse_odds("1.0").error(), OddsError::kOutOfRange);
  EXPECT_EQ(parse_odds("1.00001").error(), OddsError::kOutOfRange);
  EXPECT_EQ(parse_odds("1.000049").error(), OddsError::kOutOfRange);
  EXPECT_EQ(parse_odds("0/1").error(), OddsError::kOutOfRange);
  EXPECT_EQ(parse_odds("1/100000").error(), OddsError::kOutOfRange);
  EXPECT_EQ(parse_odds("+0").error(), OddsError::kOutOfRange);
}

TEST(Odds, RejectsValuesBelowOne) {
  EXPECT_EQ(parse_odds("0").error(), OddsError::kOutOfRange);
  EXPECT_EQ(parse_odds("0.5").error(), OddsError::kOutOfRange);
  EXPECT_EQ(parse_odds("0.0").error(), OddsError::kOutOfRange);
}

TEST(Odds, RejectsMalformedText) {
  for (std::string_view text :
       {"",    "abc",  "2.",  ".5",     "2.5.0", "+2.5", "-2.5", "2,5",   "2.5 ", " 2.5",
        "2e3", "1e+2", "5/0", "abc/2",  "5/abc", "/2",   "5/",   "5/2/1", "-5/2", "+",
        "-",   "++1",  "-0",  "evens ", "even",  "0x10", "nan",  "inf",   "2.5\r"}) {
    SCOPED_TRACE(std::string(text));
    auto odds = parse_odds(text);
    ASSERT_FALSE(odds.has_value());
    EXPECT_EQ(odds.error(), OddsError::kMalformed);
  }
}

TEST(Odds, RejectsOverlongDigitStringsInsteadOfOverflowing) {
  for (std::string_view text :
       {"1234567890123456789", "18446744073709551617", "2.0000000000000000001",
        "1.0000000000000000000", "99999999999999999999999/1", "1/99999999999999999999999",
        "+18446744073709551617", "-99999999999999999999999",
        "2.5000000000000000000000000000000000000000"}) {
    SCOPED_TRACE(std::string(text));
    auto odds = parse_odds(text);
    ASSERT_FALSE(odds.has_value());
    EXPECT_EQ(odds.error(), OddsError::kMalformed);
  }
}

TEST(Odds, IgnoresLeadingZerosWhenCountingSignificantDigits) {
  auto odds = parse_odds("0000000000000000000002.5");
  ASSERT_TRUE(odds.has_value());
  EXPECT_EQ(odds->price_e4, 25000u);
  // Eighteen significant digits is the most accepted.
  EXPECT_TRUE(parse_odds("2.00000000000000000").has_value());
  EXPECT_EQ(parse_odds("123456789012345678/100000000000000000")->price_e4, 22346u);
}

TEST(Odds, DecimalOnlyParserRejectsOtherFormats) {
  EXPECT_EQ(parse_decimal_odds("2.48")->price_e4, 24800u);
  EXPECT_EQ(parse_decimal_odds("5/2").error(), OddsError::kMalformed);
  EXPECT_EQ(parse_decimal_odds("+150").error(), OddsError::kMalformed);
  EXPECT_EQ(parse_decimal_odds("evens").error(), OddsError::kMalformed);
}

TEST(Odds, NamesItsErrors) {
  EXPECT_EQ(to_string(OddsError::kMalformed), "malformed");
  EXPECT_EQ(to_string(OddsError::kOutOfRange), "out_of_range");
}

}  // namespace
}  // namespace oddsbus
