#include "feeds/mapping.h"

#include <gtest/gtest.h>

namespace oddsbus::feeds {
namespace {

// The example of DESIGN section 10.
constexpr const char* kDesignExample = R"(
[[market]]
id = 1001                      # canonical market id
event = 501
name = "Match Odds"
sources = ["bf", "sr"]         # priority order, highest first; names are feed names from --feed
selections = [{ id = 1, name = "Home" }, { id = 2, name = "Draw" }, { id = 3, name = "Away" }]

[market.provider.bf]           # a betfair-stream feed
market = "1.234567890"
selections = { "47972" = 1, "47973" = 2, "58805" = 3 }

[market.provider.sr]           # a uof-xml feed
event = "sr:match:12345"
market = "1"                   # UOF market id
specifiers = ""                # UOF specifiers, e.g. "total=2.5"; empty for none
selections = { "1" = 1, "2" = 2, "3" = 3 }   # UOF outcome id -> canonical selection
)";

TEST(Mapping, ParsesTheDesignExample) {
  auto mapping = Mapping::parse(kDesignExample);
  ASSERT_TRUE(mapping) << mapping.error();
  ASSERT_EQ(mapping->markets().size(), 1u);
  const MarketMapping& m = mapping->markets()[0];
  EXPECT_EQ(m.id, 1001u);
  EXPECT_EQ(m.event, 501u);
  EXPECT_EQ(m.name, "Match Odds");
  EXPECT_EQ(m.sources, (std::vector<std::string>{"bf", "sr"}));
  ASSERT_EQ(m.selections.size(), 3u);
  EXPECT_EQ(m.selections[2].name, "Away");
}

TEST(Mapping, FindsBetfairMarketsByMarketIdAndMapsRunners) {
  auto mapping = Mapping::parse(kDesignExample);
  const ProviderMarketMapping* bf = mapping->find("bf", "1.234567890");
  ASSERT_NE(bf, nullptr);
  EXPECT_EQ(bf->canonical_market, 1001u);
  EXPECT_EQ(bf->selection("58805"), 3u);
  EXPECT_EQ(bf->selection("99999"), 0u);
  EXPECT_EQ(mapping->find("bf", "1.0"), nullptr);
  EXPECT_EQ(mapping->find("sr", "1.234567890"), nullptr) << "feeds do not share ids";
}

TEST(Mapping, FindsUofMarketsByEventMarketAndSpecifiers) {
  auto mapping = Mapping::parse(kDesignExample);
  const ProviderMarketMapping* sr = mapping->find("sr", "sr:match:12345", "1", "");
  ASSERT_NE(sr, nullptr);
  EXPECT_EQ(sr->selection("2"), 2u);
  EXPECT_EQ(mapping->find("sr", "sr:match:12345", "1", "total=2.5"), nullptr);
  EXPECT_EQ(mapping->find("sr", "sr:match:1", "1", ""), nullptr);
  EXPECT_EQ(mapping->find_event("sr", "sr:match:12345").size(), 1u);
  EXPECT_TRUE(mapping->find_event("sr", "sr:match:2").empty());
}

TEST(Mapping, SurvivesAMoveWithItsIndexes) {
  auto parsed = Mapping::parse(kDesignExample);
  Mapping moved = std::move(*parsed);
  ASSERT_NE(moved.find("bf", "1.234567890"), nullptr);
  EXPECT_EQ(moved.find("bf", "1.234567890")->canonical_market, 1001u);
  EXPECT_NE(moved.market(1001), nullptr);
}

TEST(Mapping, RejectsAProviderSelectionTheMarketDoesNotList) {
  std::string text = kDesignExample;
  text.replace(text.find("\"58805\" = 3"), 11, "\"58805\" = 9");
  auto mapping = Mapping::parse(text);
  ASSERT_FALSE(mapping);
  EXPECT_NE(mapping.error().find("58805"), std::string::npos) << mapping.error();
}

TEST(Mapping, RejectsASourceWithoutAProviderSection) {
  std::string text = kDesignExample;
  text.replace(text.find("[\"bf\", \"sr\"]"), 12, "[\"bf\", \"xx\"]");
  auto mapping = Mapping::parse(text);
  ASSERT_FALSE(mapping);
  EXPECT_NE(mapping.error().find("xx"), std::string::npos) << mapping.error();
}

TEST(Mapping, RejectsDuplicateMarketsAndBadToml) {
  auto twice = Mapping::parse(std::string(kDesignExample) + kDesignExample);
  ASSERT_FALSE(twice);
  auto bad = Mapping::parse("[[market]\nid = ");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("line"), std::string::npos) << bad.error();
  EXPECT_FALSE(Mapping::parse("title = \"no markets\""));
}

// Two markets of the DESIGN example's shape; `second` is the second market's provider sections.
std::string two_markets(std::string_view second) {
  return std::string(kDesignExample) + R"toml(
[[market]]
id = 1002
event = 501
name = "Match Odds (copy)"
sources = []
selections = [{ id = 1, name = "Home" }, { id = 2, name = "Draw" }, { id = 3, name = "Away" }]
)toml" + std::string(second);
}

TEST(Mapping, RejectsAProviderMarketClaimedByTwoCanonicalMarkets) {
  auto bf = Mapping::parse(two_markets(R"(
[market.provider.bf]
market = "1.234567890"
selections = { "47972" = 1 }
)"));
  ASSERT_FALSE(bf);
  for (const char* named : {"1001", "1002", "1.234567890", "bf"}) {
    EXPECT_NE(bf.error().find(named), std::string::npos) << named << ": " << bf.error();
  }
  auto sr = Mapping::parse(two_markets(R"(
[market.provider.sr]
event = "sr:match:12345"
market = "1"
selections = { "1" = 1 }
)"));
  ASSERT_FALSE(sr);
  for (const char* named : {"1001", "1002", "sr:match:12345", "sr"}) {
    EXPECT_NE(sr.error().find(named), std::string::npos) << named << ": " << sr.error();
  }
  // The same provider market on another feed, or another UOF line of it, is someone else's.
  EXPECT_TRUE(Mapping::parse(two_markets(R"(
[market.provider.bf]
market = "1.234567891"
selections = { "47972" = 1 }
[market.provider.sr]
event = "sr:match:12345"
market = "1"
specifiers = "total=2.5"
selections = { "1" = 1 }
)")));
}

TEST(Mapping, RejectsTwoProviderSelectionsMappedToOneCanonicalSelection) {
  std::string text = kDesignExample;
  text.replace(text.find("\"47973\" = 2"), 11, "\"47973\" = 1");
  auto mapping = Mapping::parse(text);
  ASSERT_FALSE(mapping);
  for (const char* named : {"1001", "bf", "47972", "47973"}) {
    EXPECT_NE(mapping.error().find(named), std::string::npos) << named << ": " << mapping.error();
  }
}

TEST(Mapping, NamesABetfairRunnerByIdAndHandicap) {
  std::string text = kDesignExample;
  text.replace(text.find("\"47973\" = 2"), 11, "\"47972@-1.50\" = 2");
  text.replace(text.find("\"58805\" = 3"), 11, "\"47972@+0.25\" = 3");
  auto mapping = Mapping::parse(text);
  ASSERT_TRUE(mapping) << mapping.error();
  const ProviderMarketMapping* bf = mapping->find("bf", "1.234567890");
  ASSERT_NE(bf, nullptr);
  EXPECT_EQ(bf->selection("47972"), 1u);
  EXPECT_EQ(bf->selection("47972@-1.5"), 2u);
  EXPECT_EQ(bf->selection("47972@0.25"), 3u);
  EXPECT_EQ(bf->selection("47972@-1"), 0u);
  EXPECT_EQ(runner_key("47972", "0"), "47972");
  EXPECT_EQ(runner_key("47972", "-1.5"), "47972@-1.5");
  EXPECT_EQ(canonical_handicap("-1.50"), "-1.5");
  EXPECT_EQ(canonical_handicap("2.0"), "2");
  EXPECT_EQ(canonical_handicap("-0.0"), "0");
  EXPECT_EQ(canonical_handicap("+007.250"), "7.25");
  for (const char* bad : {"", "-", ".", "1.", "1e2", "1.5.5", "--1", " 1", "abc"}) {
    EXPECT_EQ(canonical_handicap(bad), std::nullopt) << bad;
  }
}

TEST(Mapping, RejectsOneBetfairRunnerNamedTwiceOrABadHandicap) {
  for (const std::string twice : {"\"47972@0\"", "\"47972@-0.0\""}) {
    std::string text = kDesignExample;
    text.replace(text.find("\"47973\" = 2"), 11, twice + " = 2");
    auto mapping = Mapping::parse(text);
    ASSERT_FALSE(mapping) << twice;
    EXPECT_NE(mapping.error().find("\"47972\""), std::string::npos) << mapping.error();
    EXPECT_NE(mapping.error().find(twice), std::string::npos) << mapping.error();
  }
  std::string text = kDesignExample;
  text.replace(text.find("\"47973\" = 2"), 11, "\"47973@x\" = 2");
  auto bad = Mapping::parse(text);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("47973@x"), std::string::npos) << bad.error();
}

TEST(Mapping, LoadNamesAMissingFile) {
  auto mapping = Mapping::load("/nonexistent/mapping.toml");
  ASSERT_FALSE(mapping);
  EXPECT_NE(mapping.error().find("/nonexistent/mapping.toml"), std::string::npos);
}

}  // namespace
}  // namespace oddsbus::feeds
