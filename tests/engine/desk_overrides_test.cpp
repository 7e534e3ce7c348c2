// DeskOverrides, the sans-I/O core of desk control: which feed events are held back, what a release
// or an expiry emits to hand a market back to its feeds, and its bounds. Time is injected.
#include "engine/desk_overrides.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/engine/engine_test_support.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;

// Market 1001 as its feed "bf" left it: open, Home 2.0, Draw 3.0, Away unpriced.
MarketRecord feed_market() {
  MarketRecord m;
  m.id = 1001;
  m.event = 501;
  m.status = fb::MarketStatus::Open;
  m.reason = fb::StatusReason::Provider;
  m.selections = {{1, "Home", 20000, "2.0"}, {2, "Draw", 30000, "3.0"}, {3, "Away", 0, ""}};
  return m;
}

feeds::Event feed_price(uint64_t market, uint64_t selection, std::string_view odds) {
  feeds::Event e = price_event(market, selection, odds);
  e.source = "bf";
  return e;
}

TEST(DeskOverrides, HoldsFeedPricesAndStatusesOfHeldMarketsOnly) {
  DeskOverrides overrides;
  ASSERT_TRUE(overrides.take(feed_market(), "bf", 0, 0));
  EXPECT_TRUE(overrides.holds(1001));
  EXPECT_TRUE(overrides.hold(feed_price(1001, 1, "2.2")));
  EXPECT_TRUE(
      overrides.hold(status_event(1001, fb::MarketStatus::Suspended, fb::StatusReason::Provider)));
  EXPECT_FALSE(overrides.hold(feed_price(1002, 1, "2.2"))) << "another market is not held";
  EXPECT_FALSE(overrides.hold(market_event(1001, 501, "Match Odds", home_draw_away())));
  EXPECT_FALSE(overrides.hold(settle_event(1001, {1})));
  EXPECT_FALSE(overrides.hold(heartbeat_event()));
  EXPECT_EQ(overrides.counters().held_prices, 1u);
  EXPECT_EQ(overrides.counters().held_statuses, 1u);
}

TEST(DeskOverrides, ReleaseRestoresTheFeedViewPricesFirstThenTheOpenStatus) {
  DeskOverrides overrides;
  ASSERT_TRUE(overrides.take(feed_market(), "bf", 0, 0));
  // Meanwhile the desk priced Home at 5.0 and Away at 9.0; the feed moved Draw to 3.5.
  MarketRecord now = feed_market();
  now.selections[0].price_e4 = 50000;
  now.selections[0].odds = "5.0";
  now.selections[2].price_e4 = 90000;
  now.selections[2].odds = "9.0";
  now.status = fb::MarketStatus::Suspended;
  now.reason = fb::StatusReason::Trader;
  ASSERT_TRUE(overrides.hold(feed_price(1001, 2, "3.5")));

  std::vector<feeds::Event> out;
  ASSERT_TRUE(overrides.release(1001, &now, out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].type, feeds::EventType::kPrice);
  EXPECT_EQ(out[0].selection, 1u);
  EXPECT_EQ(out[0].odds.price_e4, 20000u);
  EXPECT_EQ(out[0].odds_text, "2.0");
  EXPECT_EQ(out[0].source, "bf");
  EXPECT_EQ(out[1].selection, 2u);
  EXPECT_EQ(out[1].odds.price_e4, 35000u);
  EXPECT_EQ(out[2].type, feeds::EventType::kStatus);
  EXPECT_EQ(out[2].status, fb::MarketStatus::Open);
  EXPECT_EQ(out[2].reason, fb::StatusReason::Provider);
  EXPECT_FALSE(overrides.holds(1001));
  EXPECT_EQ(overrides.counters().released, 1u);
  // Away was never priced by the feed: the desk's 9.0 stays until the feed prices it.
  out.clear();
  EXPECT_FALSE(overrides.release(1001, &now, out)) << "not held any more";
  EXPECT_TRUE(out.empty());
}

TEST(DeskOverrides, ReleaseToASuspendedFeedSendsTheStatusFirst) {
  DeskOverrides overrides;
  ASSERT_TRUE(overrides.take(feed_market(), "bf", 0, 0));
  ASSERT_TRUE(
      overrides.hold(status_event(1001, fb::MarketStatus::Suspended, fb::StatusReason::FeedStale)));
  MarketRecord now = feed_market();
  now.selections[1].price_e4 = 41000;
  now.selections[1].odds = "4.1";
  std::vector<feeds::Event> out;
  ASSERT_TRUE(overrides.release(1001, &now, out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type, feeds::EventType::kStatus);
  EXPECT_EQ(out[0].status, fb::MarketStatus::Suspended);
  EXPECT_EQ(out[0].reason, fb::StatusReason::FeedStale);
  EXPECT_EQ(out[1].type, feeds::EventType::kPrice);
  EXPECT_EQ(out[1].selection, 2u);
  EXPECT_EQ(out[1].odds.price_e4, 30000u);
}

TEST(DeskOverrides, ReleaseOfAnUnchangedMarketStillEmitsItsStatusFrame) {
  DeskOverrides overrides;
  ASSERT_TRUE(overrides.take(feed_market(), "bf", 0, 0));
  const MarketRecord now = feed_market();
  std::vector<feeds::Event> out;
  ASSERT_TRUE(overrides.release(1001, &now, out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, feeds::EventType::kStatus);
}

TEST(DeskOverrides, ExpiresAtItsDeadlineAndNotBefore) {
  DeskOverrides overrides;
  MarketRecord other = feed_market();
  other.id = 1002;
  ASSERT_TRUE(overrides.take(feed_market(), "bf", 100, 1000));
  ASSERT_TRUE(overrides.take(other, "bf", 100, 0));
  EXPECT_EQ(overrides.next_expiry_ns(), 1100u);

  MarketState state;
  std::vector<feeds::Event> out;
  EXPECT_EQ(overrides.on_tick(1099, state, out), 0u);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(overrides.on_tick(1100, state, out), 1u);
  EXPECT_FALSE(overrides.holds(1001));
  EXPECT_TRUE(overrides.holds(1002)) << "held until released";
  EXPECT_FALSE(out.empty());
  EXPECT_EQ(out.back().market, 1001u);
  EXPECT_EQ(overrides.counters().expired, 1u);
  EXPECT_EQ(overrides.next_expiry_ns(), 0u);
}

TEST(DeskOverrides, ATakeOfAHeldMarketOnlyMovesItsExpiry) {
  DeskOverrides overrides;
  ASSERT_TRUE(overrides.take(feed_market(), "bf", 0, 1000));
  MarketRecord desk_priced = feed_market();
  desk_priced.selections[0].price_e4 = 70000;
  desk_priced.selections[0].odds = "7.0";
  ASSERT_TRUE(overrides.take(desk_priced, "bf", 500, 0));
  EXPECT_EQ(overrides.next_expiry_ns(), 0u) << "the later request asked for no expiry";
  std::vector<feeds::Event> out;
  ASSERT_TRUE(overrides.release(1001, &desk_priced, out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].odds.price_e4, 20000u) << "the feed's view, not the desk's price";
  EXPECT_EQ(overrides.counters().taken, 1u);
}

TEST(DeskOverrides, RefusesMoreMarketsThanItsLimit) {
  DeskOverrides overrides(DeskOverridesConfig{1});
  MarketRecord other = feed_market();
  other.id = 1002;
  ASSERT_TRUE(overrides.take(feed_market(), "bf", 0, 0));
  EXPECT_FALSE(overrides.take(other, "bf", 0, 0));
  EXPECT_FALSE(overrides.holds(1002));
  EXPECT_EQ(overrides.counters().refused, 1u);
}

TEST(DeskOverrides, ASettlementEndsControlWithoutEvents) {
  DeskOverrides overrides;
  ASSERT_TRUE(overrides.take(feed_market(), "bf", 0, 10));
  overrides.on_settled(1001);
  EXPECT_FALSE(overrides.holds(1001));
  EXPECT_EQ(overrides.next_expiry_ns(), 0u);
  EXPECT_EQ(overrides.counters().settled, 1u);
  EXPECT_FALSE(overrides.hold(feed_price(1001, 1, "2.2")));
}

}  // namespace
}  // namespace oddsbus::engine
