// The uof-xml adapter against Sportradar's documented Unified Odds Feed semantics (issue 17,
// items 6 to 12): each test is a message sequence the documentation describes and the events it
// must produce. Sources are cited in feeds/uof/uof_adapter.cpp where each rule is applied.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "feeds/uof/market_groups.h"
#include "feeds/uof/uof_adapter.h"
#include "tests/feeds/uof/uof_test_support.h"

namespace oddsbus::feeds::uof {
namespace {

using testing::describe_other;
using testing::Lines;
using testing::status_line;

std::string describe(const Event& e) {
  switch (e.type) {
    case EventType::kPrice:
      return "price " + std::to_string(e.market) + "/" + std::to_string(e.selection) + " " +
             std::to_string(e.odds.price_e4) + (e.odds_text.empty() ? "" : " " + e.odds_text);
    case EventType::kStatus:
      return status_line(e) + (e.reason == fb::StatusReason::FeedStale ? " (feed-stale)" : "");
    default:
      return describe_other(e);
  }
}

class UofProviderRulesTest : public testing::UofFeedTest<describe> {};

// An odds_change of match 12345 from `product` at `timestamp` (ms).
std::string odds_change(const std::string& markets, int product = 1,
                        const std::string& timestamp = "1700000000000") {
  return R"(<odds_change product=")" + std::to_string(product) +
         R"(" event_id="sr:match:12345" timestamp=")" + timestamp + R"("><odds>)" + markets +
         "</odds></odds_change>";
}

std::string market_1x2(const std::string& status, const std::string& home = "2.5") {
  return R"(<market id="1" status=")" + status + R"("><outcome id="1" odds=")" + home +
         R"(" active="1"/><outcome id="2" odds="3.4" active="1"/>)"
         R"(<outcome id="3" odds="2.9" active="1"/></market>)";
}

std::string market_total(const std::string& total, const std::string& status,
                         const std::string& over = "1.9") {
  return R"(<market id="18" specifiers="total=)" + total + R"(" status=")" + status +
         R"("><outcome id="12" odds=")" + over + R"("/><outcome id="13" odds="1.9"/></market>)";
}

std::string alive(int product, int subscribed) {
  return R"(<alive product=")" + std::to_string(product) + R"(" timestamp="1" subscribed=")" +
         std::to_string(subscribed) + R"("/>)";
}

std::string snapshot_complete(int product) {
  return R"(<snapshot_complete product=")" + std::to_string(product) +
         R"(" request_id="7" timestamp="2"/>)";
}

// Item 6: "bet_cancel ... all bets on the market (in the interval, with start_time/end_time)
// are refunded"; the market's status is odds_change's alone, and a rollback changes none either.
TEST_F(UofProviderRulesTest, BetCancelAndItsRollbackLeaveTheMarketStatusAlone) {
  EXPECT_EQ(feed(odds_change(market_total("2.5", "1"))),
            (Lines{"status 1002 open", "price 1002/1 19000 1.9", "price 1002/2 19000 1.9"}));
  EXPECT_EQ(feed(R"(<bet_cancel product="1" event_id="sr:match:12345" timestamp="1" )"
                 R"(start_time="1699999990000" end_time="1699999995000">)"
                 R"(<market id="18" specifiers="total=2.5" void_reason="12"/></bet_cancel>)"),
            Lines{});
  EXPECT_EQ(feed(R"(<bet_cancel product="1" event_id="sr:match:12345" timestamp="2">)"
                 R"(<market id="18" specifiers="total=2.5"/><market id="10"/></bet_cancel>)"),
            Lines{});
  EXPECT_EQ(feed(R"(<rollback_bet_cancel product="1" event_id="sr:match:12345" timestamp="3">)"
                 R"(<market id="18" specifiers="total=2.5"/></rollback_bet_cancel>)"),
            Lines{});
  // Still open as far as the adapter knows: the same odds_change has nothing new to say.
  EXPECT_EQ(feed(odds_change(market_total("2.5", "1"))), Lines{});
  EXPECT_EQ(adapter_.counters().unknown_markets, 1u);  // market 10, still counted
  EXPECT_EQ(adapter_.uof_counters().cancels, 3u);
}

// Item 7: "only active markets should be set to suspended, and not markets that are already
// deactivated, settled or canceled".
TEST_F(UofProviderRulesTest, BetStopSuspendsOnlyActiveMarkets) {
  feed(odds_change(market_1x2("1") + market_total("2.5", "1") + market_total("3.5", "1")));
  EXPECT_EQ(feed(R"(<bet_settlement certainty="2" product="1" event_id="sr:match:12345" )"
                 R"(timestamp="1700000001000"><outcomes><market id="18" specifiers="total=2.5">)"
                 R"(<outcome id="12" result="1"/><outcome id="13" result="0"/></market>)"
                 R"(</outcomes></bet_settlement>)"),
            Lines{"settle 1002 [1]"});
  EXPECT_EQ(feed(R"(<bet_stop product="1" event_id="sr:match:12345" timestamp="1700000002000"/>)"),
            (Lines{"status 1001 suspended", "status 1003 suspended"}));
  // Cancelled (-4) by odds_change: not active either.
  feed(odds_change(market_total("3.5", "-4"), 1, "1700000003000"));
  EXPECT_EQ(feed(R"(<bet_stop product="1" event_id="sr:match:12345" timestamp="1700000004000"/>)"),
            Lines{"status 1001 suspended"});
}

// Item 7: "groups: the market groups to stop" (all, or e.g. score, corners); a market's groups
// come from the market descriptions (feeds/uof/market_groups.h).
TEST_F(UofProviderRulesTest, BetStopStopsOnlyTheNamedGroups) {
  feed(odds_change(market_1x2("1") + market_total("2.5", "1")));
  const auto stop = [&](const std::string& groups) {
    return feed(R"(<bet_stop product="1" event_id="sr:match:12345" timestamp="1700000000000" )"
                R"(groups=")" +
                groups + R"("/>)");
  };
  EXPECT_EQ(stop("corners|bookings"), Lines{});  // 1x2 and total are neither
  const Lines every{"status 1001 suspended", "status 1002 suspended", "status 1003 suspended"};
  EXPECT_EQ(stop("bookings|score"), every);
  feed(odds_change(market_1x2("1") + market_total("2.5", "1")));
  EXPECT_EQ(stop("all"), every);
  EXPECT_TRUE(in_groups("1", "regular_play"));
  EXPECT_FALSE(in_groups("18", "corners"));
  EXPECT_TRUE(in_groups("999999", "corners"));  // groups unknown: stopped, the safe reading
  EXPECT_TRUE(in_groups("18", ""));
}

// Item 8: "HandedOver = -2: if the odds for this market were already received from another
// producer this update should be ignored, otherwise the market should be suspended until such
// odds are received".
TEST_F(UofProviderRulesTest, AHandoverDoesNotSuspendWhatTheLiveProducerAlreadyPrices) {
  feed(odds_change(market_1x2("1"), 1));                              // live odds first
  EXPECT_EQ(feed(odds_change(market_1x2("-2", "9.0"), 3)), Lines{});  // pre-match hands over
  EXPECT_EQ(adapter_.uof_counters().handovers_ignored, 1u);
  // A market only the pre-match producer priced is suspended until live odds arrive.
  feed(odds_change(market_total("2.5", "1"), 3));
  EXPECT_EQ(feed(odds_change(market_total("2.5", "-2"), 3)), Lines{"status 1002 suspended"});
  EXPECT_EQ(feed(odds_change(market_total("2.5", "1"), 1)), Lines{"status 1002 open"});
}

// Item 8: a message older (by timestamp) than what a market has from the same product is
// dropped; products are independent.
TEST_F(UofProviderRulesTest, AnOlderMessageOfAProductIsDropped) {
  feed(odds_change(market_1x2("1", "2.5"), 1, "2000"));
  EXPECT_EQ(feed(odds_change(market_1x2("-1", "2.6"), 1, "1000")), Lines{});
  EXPECT_EQ(adapter_.uof_counters().out_of_order, 1u);
  EXPECT_EQ(feed(odds_change(market_1x2("1", "2.7"), 3, "1000")),
            Lines{"price 1001/1 27000 2.7"});  // another product's own order
  EXPECT_EQ(feed(odds_change(market_1x2("1", "2.8"), 1, "2000")),
            Lines{"price 1001/1 28000 2.8"});  // not older: applied
  EXPECT_EQ(
      feed(R"(<bet_stop product="1" event_id="sr:match:12345" timestamp="1500" groups="all"/>)"),
      (Lines{"status 1002 suspended", "status 1003 suspended"}));  // 1001 has newer from 1
}

// Item 9: an outcome that is inactive, unpriced or has odds the contract rejects has no price.
TEST_F(UofProviderRulesTest, InactiveUnpricedOrUnreadableOutcomesWithdrawTheirPrice) {
  feed(odds_change(market_1x2("1")));
  EXPECT_EQ(feed(odds_change(R"(<market id="1" status="1"><outcome id="1" odds="2.5" )"
                             R"(active="0"/><outcome id="2" active="1"/>)"
                             R"(<outcome id="3" odds="1.0" active="1"/></market>)")),
            (Lines{"price 1001/1 0", "price 1001/2 0", "price 1001/3 0"}));
  for (const Event& e : out_) EXPECT_TRUE(e.odds_text.empty());
  EXPECT_EQ(adapter_.uof_counters().withdrawn, 3u);
  // Withdrawn already: nothing more; priced again: the price comes back.
  EXPECT_EQ(feed(odds_change(R"(<market id="1" status="1"><outcome id="1" odds="2.5" )"
                             R"(active="0"/></market>)")),
            Lines{});
  EXPECT_EQ(feed(odds_change(market_1x2("1"))),
            (Lines{"price 1001/1 25000 2.5", "price 1001/2 34000 3.4", "price 1001/3 29000 2.9"}));
}

// Item 9: what the engine holds is unknown at start (it may continue a journal), so an
// inactive outcome's first sight withdraws whatever price it might have.
TEST_F(UofProviderRulesTest, AFreshAdapterWithdrawsAnInactiveOutcomesPrice) {
  EXPECT_EQ(feed(odds_change(R"(<market id="1" status="1"><outcome id="1" odds="2.5" )"
                             R"(active="0"/></market>)")),
            (Lines{"status 1001 open", "price 1001/1 0"}));
}

// Item 10: void and dead-heat factors travel with the settlement; a market whose every outcome
// is refunded is voided, not settled with no winner.
TEST_F(UofProviderRulesTest, SettlementsCarryVoidAndDeadHeatFactors) {
  EXPECT_EQ(feed(R"(<bet_settlement certainty="2" product="1" event_id="sr:match:12345" )"
                 R"(timestamp="1"><outcomes><market id="1">)"
                 R"(<outcome id="1" result="1" dead_heat_factor="0.5"/>)"
                 R"(<outcome id="2" result="0" void_factor="0.5"/><outcome id="3" result="0"/>)"
                 R"(</market><market id="18" specifiers="total=2.5" void_reason="4">)"
                 R"(<outcome id="12" result="0" void_factor="1"/>)"
                 R"(<outcome id="13" result="0" void_factor="1.0"/></market>)"
                 R"(</outcomes></bet_settlement>)"),
            (Lines{"settle 1001 [1]", "settle 1002 []"}));
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(out_[0].factors, (std::vector<SettlementFactor>{{1, 0, 5000}, {2, 5000, 0}}));
  EXPECT_FALSE(out_[0].voided);
  EXPECT_EQ(out_[1].factors, (std::vector<SettlementFactor>{{1, 10000, 0}, {2, 10000, 0}}));
  EXPECT_TRUE(out_[1].voided);

  // A half-void outcome does not void the market; a factor that is not a share is rejected.
  std::vector<Event> out;
  EXPECT_FALSE(adapter_.parse(R"(<bet_settlement product="1" event_id="sr:match:12345" )"
                              R"(timestamp="1"><outcomes><market id="1">)"
                              R"(<outcome id="1" result="0" void_factor="1.5"/>)"
                              R"(</market></outcomes></bet_settlement>)",
                              out));
  EXPECT_TRUE(out.empty());
}

// Item 11: specifiers are a set of key=value pairs.
TEST(UofSpecifiers, CompareAsASetOfPairs) {
  auto mapping = Mapping::parse(R"(
[[market]]
id = 7
event = 1
sources = ["sr"]
selections = [{ id = 1 }, { id = 2 }]
[market.provider.sr]
event = "sr:match:1"
market = "223"
specifiers = "total=2.5|hcp=0:1"
selections = { "1714" = 1, "1715" = 2 }
)");
  ASSERT_TRUE(mapping) << mapping.error();
  UofAdapter adapter(*mapping, "sr");
  for (const std::string specifiers : {"hcp=0:1|total=2.5", "total=2.5|hcp=0:1"}) {
    std::vector<Event> out;
    ASSERT_TRUE(adapter.parse(R"(<odds_change product="1" event_id="sr:match:1" timestamp="1">)"
                              R"(<odds><market id="223" specifiers=")" +
                                  specifiers + R"(" status="-1"/></odds></odds_change>)",
                              out));
    EXPECT_EQ(adapter.counters().unknown_markets, 0u) << specifiers;
  }
  std::string normal;
  normalise_specifiers("variant=sr:exact_goals:4+|total=2.5|hcp=1:0", normal);
  EXPECT_EQ(normal, "hcp=1:0|total=2.5|variant=sr:exact_goals:4+");
}

// Item 12: a product is up again only when its recovery completes, and its markets reopen then.
TEST_F(UofProviderRulesTest, AProductIsUpOnlyAfterItsRecoveryCompletes) {
  EXPECT_EQ(feed(alive(1, 1)), Lines{"heartbeat"});
  feed(odds_change(market_1x2("1"), 1, "1000"));
  EXPECT_EQ(feed(alive(1, 0)), Lines{"source down"});
  EXPECT_EQ(feed(alive(1, 1)), Lines{});  // subscribed, not yet recovered
  EXPECT_FALSE(adapter_.source_up());
  // The recovery's odds: every price again (nothing from before the outage is taken as
  // current), the market held suspended...
  EXPECT_EQ(feed(odds_change(market_1x2("1"), 1, "5000")),
            (Lines{"status 1001 suspended", "price 1001/1 25000 2.5", "price 1001/2 34000 3.4",
                   "price 1001/3 29000 2.9"}));
  // ... until the recovery is complete.
  EXPECT_EQ(feed(snapshot_complete(1)), (Lines{"source up", "status 1001 open"}));
  EXPECT_TRUE(adapter_.source_up());
  EXPECT_EQ(feed(alive(1, 1)), Lines{"heartbeat"});
  EXPECT_EQ(feed(snapshot_complete(1)), Lines{});  // an up product's snapshot: nothing
}

// Item 12: producers are decoupled: one going down suspends only the markets it priced.
TEST_F(UofProviderRulesTest, OneProductDownLeavesTheOthersUp) {
  feed(alive(1, 1));
  feed(alive(3, 1));
  feed(odds_change(market_1x2("1"), 1));
  feed(odds_change(market_total("2.5", "1"), 3));
  EXPECT_EQ(feed(alive(1, 0)), (Lines{"status 1001 suspended (feed-stale)", "heartbeat"}));
  EXPECT_TRUE(adapter_.source_up());
  EXPECT_FALSE(adapter_.product_up(1));
  EXPECT_TRUE(adapter_.product_up(3));
  EXPECT_EQ(feed(odds_change(market_total("2.5", "1", "2.1"), 3, "1700000001000")),
            Lines{"price 1002/1 21000 2.1"});
  EXPECT_EQ(feed(alive(3, 1)), Lines{"heartbeat"});
  feed(odds_change(market_1x2("1"), 1, "1700000002000"));
  EXPECT_EQ(feed(snapshot_complete(1)), Lines{"status 1001 open"});
  EXPECT_EQ(adapter_.uof_counters().product_down, 1u);
  EXPECT_EQ(adapter_.uof_counters().product_recovered, 1u);
  EXPECT_EQ(adapter_.uof_counters().source_down, 0u);
}

}  // namespace
}  // namespace oddsbus::feeds::uof
