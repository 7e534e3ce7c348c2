#include "feeds/sim/mapping_writer.h"

#include <gtest/gtest.h>

#include <vector>

#include "feeds/mapping.h"

namespace oddsbus::feeds::sim {
namespace {

TEST(MappingWriter, WritesAMappingTheLoaderAcceptsForEveryFormat) {
  const std::vector<PlannedMarket> markets = {{1001, 501}, {1002, 502}};
  const std::vector<MappingFeed> feeds = {{"bf", Format::kBetfairStream},
                                          {"bf2", Format::kBetfairStream},
                                          {"sr", Format::kUofXml},
                                          {"oj", Format::kOddsJson}};
  const std::string text = write_mapping(markets, feeds);
  auto mapping = Mapping::parse(text, "sim");
  ASSERT_TRUE(mapping.has_value()) << mapping.error() << "\n" << text;
  ASSERT_EQ(mapping->markets().size(), 2u);
  const MarketMapping* market = mapping->market(1002);
  ASSERT_NE(market, nullptr);
  EXPECT_EQ(market->event, 502u);
  EXPECT_EQ(market->name, "Match Odds");
  EXPECT_EQ(market->sources, (std::vector<std::string>{"bf", "bf2", "sr", "oj"}));
  ASSERT_EQ(market->selections.size(), 3u);
  EXPECT_EQ(market->selections[1].id, 2u);
  EXPECT_EQ(market->selections[1].name, "Draw");

  const ProviderMarketMapping* bf = mapping->find("bf2", "1.1002");
  ASSERT_NE(bf, nullptr);
  EXPECT_EQ(bf->canonical_market, 1002u);
  EXPECT_EQ(bf->selection("101"), 1u);
  EXPECT_EQ(bf->selection("103"), 3u);
  EXPECT_EQ(bf->selection("1"), 0u);

  const ProviderMarketMapping* sr = mapping->find("sr", "sr:match:501", "1", "");
  ASSERT_NE(sr, nullptr);
  EXPECT_EQ(sr->canonical_market, 1001u);
  EXPECT_EQ(sr->selection("2"), 2u);
  EXPECT_EQ(mapping->find_event("sr", "sr:match:502").size(), 1u);

  const ProviderMarketMapping* oj = mapping->find("oj", "1001");
  ASSERT_NE(oj, nullptr);
  EXPECT_EQ(oj->selection("3"), 3u);
}

TEST(MappingWriter, PlansEveryMarketABoundedRunStarts) {
  SimConfig config{.seed = 3, .markets = 4, .rate = 100, .max_updates = 2'000, .settle_after = 20};
  const auto planned = planned_markets(config);
  MarketSimulator simulator(config);
  std::vector<SimEvent> events;
  simulator.advance(UINT64_MAX - 1, events);
  ASSERT_EQ(planned.size(), simulator.markets_started());
  EXPECT_GT(planned.size(), 10u);
  for (size_t k = 0; k < planned.size(); ++k) {
    EXPECT_EQ(planned[k].id, kFirstMarketId + k);
    EXPECT_EQ(planned[k].event, kFirstEventId + k);
  }
  for (const SimEvent& event : events) EXPECT_LE(event.market.id, planned.back().id);
}

TEST(MappingWriter, PlansTheTotalOfAnUnboundedRun) {
  EXPECT_EQ(planned_markets({.markets = 4, .total_markets = 40}).size(), 40u);
  EXPECT_EQ(planned_markets({.markets = 4, .settle_after = 0}).size(), 4u);
}

}  // namespace
}  // namespace oddsbus::feeds::sim
