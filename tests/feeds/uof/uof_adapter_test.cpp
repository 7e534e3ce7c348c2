#include "feeds/uof/uof_adapter.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/feeds/uof/uof_test_support.h"

namespace oddsbus::feeds::uof {
namespace {

using testing::data_path;
using testing::describe_other;
using testing::Lines;
using testing::load_mapping;
using testing::status_line;

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// One line per event, so that a whole message's events compare (and print) as one value.
std::string describe(const Event& e) {
  switch (e.type) {
    case EventType::kPrice:
      return "price " + std::to_string(e.market) + "/" + std::to_string(e.selection) + " " +
             std::to_string(e.odds.price_e4) + " " + e.odds_text;
    case EventType::kStatus:
      return status_line(e) +
             (e.reason == fb::StatusReason::Provider ? "" : " (reason not provider)");
    default:
      return describe_other(e);
  }
}

class UofAdapterTest : public testing::UofFeedTest<describe> {
 protected:
  // The reason the adapter rejects a message with; checks it appended nothing.
  RejectReason reject(std::string_view message) {
    std::vector<Event> out(1);  // appending must leave what is there alone
    const auto result = adapter_.parse(message, out);
    EXPECT_FALSE(result) << "accepted: " << message;
    EXPECT_EQ(out.size(), 1u);
    return result ? RejectReason::kCount : result.error().reason;
  }
};

// A one-market odds_change for match 12345, market 1 (canonical 1001) unless given.
std::string odds_change(const std::string& markets, const std::string& event_id = "sr:match:12345",
                        const std::string& timestamp = "1700000000000") {
  return R"(<odds_change product="1" event_id=")" + event_id + R"(" timestamp=")" + timestamp +
         R"("><odds>)" + markets + "</odds></odds_change>";
}

std::string market_1x2(const std::string& status, const std::string& home,
                       const std::string& draw = "3.4", const std::string& away = "2.9") {
  return R"(<market id="1" status=")" + status + R"("><outcome id="1" odds=")" + home +
         R"(" active="1"/><outcome id="2" odds=")" + draw +
         R"(" active="1"/><outcome id="3" odds=")" + away + R"(" active="1"/></market>)";
}

TEST_F(UofAdapterTest, ReplaysTheSampleFeedEventByEvent) {
  const Lines messages = read_lines(data_path("sample_feed.txt"));
  ASSERT_EQ(messages.size(), 15u);

  // alive, subscribed.
  EXPECT_EQ(feed(messages[0]), Lines{"heartbeat"});

  // First odds: every mapped market's status, then its priced outcomes. total=2.5's outcome 99 is
  // unmapped, total=3.5's outcome 13 is inactive (its price, unknown so far, withdrawn), and
  // market 10 is unmapped.
  EXPECT_EQ(feed(messages[1]),
            (Lines{"status 1001 open", "price 1001/1 24800 2.48", "price 1001/2 32000 3.2",
                   "price 1001/3 13330 1.333", "status 1002 open", "price 1002/1 18500 1.85",
                   "price 1002/2 19500 1.95", "status 1003 suspended", "price 1003/1 27500 2.75",
                   "price 1003/2 0 "}));
  for (const Event& e : out_) {
    EXPECT_EQ(e.source, "sr");
    EXPECT_EQ(e.source_ns, 1'700'000'001'000'000'000u);
    EXPECT_EQ(e.event, 501u);
  }
  EXPECT_EQ(adapter_.counters().unknown_markets, 1u);
  EXPECT_EQ(adapter_.counters().unknown_selections, 1u);

  // Only what changed: 1001/1 and 1003/1 keep their price, 1001/3's odds text is bad (withdrawn,
  // counted), total=3.5 opens and its under gets its first price.
  EXPECT_EQ(feed(messages[2]), (Lines{"price 1001/2 32500 3.25", "price 1001/3 0 ",
                                      "status 1003 open", "price 1003/2 14500 1.45"}));
  EXPECT_EQ(adapter_.uof_counters().bad_odds, 1u);

  // bet_stop: every mapped market of the event, not the other event's nor the other feed's.
  EXPECT_EQ(feed(messages[3]),
            (Lines{"status 1001 suspended", "status 1002 suspended", "status 1003 suspended"}));

  // Reopened with unchanged prices: the status alone.
  EXPECT_EQ(feed(messages[4]), Lines{"status 1001 open"});

  // Settlement: winners are the mapped outcomes with result 1; market 10 is unmapped.
  EXPECT_EQ(feed(messages[5]), (Lines{"settle 1001 [1]", "settle 1002 [2]"}));

  EXPECT_EQ(feed(messages[6]), Lines{"rollback 1001"});
  // bet_cancel and its rollback refund bets; they change no status.
  EXPECT_EQ(feed(messages[7]), Lines{});
  EXPECT_EQ(feed(messages[8]), Lines{});

  // The only product goes down; subscribed again, it is up only when its recovery completes.
  EXPECT_EQ(feed(messages[9]), Lines{"source down"});
  EXPECT_FALSE(adapter_.source_up());
  EXPECT_EQ(feed(messages[10]), Lines{});
  EXPECT_FALSE(adapter_.source_up());

  EXPECT_EQ(feed(messages[11]), Lines{"source up"});
  EXPECT_TRUE(adapter_.source_up());
  EXPECT_EQ(adapter_.uof_counters().snapshot_complete, 1u);
  EXPECT_EQ(feed(messages[12]), Lines{});
  EXPECT_EQ(adapter_.uof_counters().fixture_change, 1u);

  EXPECT_EQ(reject(messages[13]), RejectReason::kMalformedXml);
  EXPECT_EQ(reject(messages[14]), RejectReason::kUnknownMessage);

  const AdapterCounters& c = adapter_.counters();
  EXPECT_EQ(c.messages, 13u);
  EXPECT_EQ(c.rejected, 2u);
  EXPECT_EQ(c.heartbeats, 3u);
  EXPECT_EQ(c.events, 24u);
  EXPECT_EQ(c.unknown_markets, 2u);     // market 10 in odds_change and in bet_settlement
  EXPECT_EQ(c.unknown_selections, 2u);  // outcome 99 in odds_change and in bet_settlement
  EXPECT_EQ(adapter_.unknown_ids(), (Lines{"outcome 99 of market sr:match:12345/18?total=2.5",
                                           "market sr:match:12345/10"}));
}

TEST_F(UofAdapterTest, PricesAreExactFromTheOddsText) {
  feed(odds_change(market_1x2("1", "2.48", "1.333", "1000")));
  ASSERT_EQ(out_.size(), 4u);
  EXPECT_EQ(out_[1].odds.price_e4, 24800u);
  EXPECT_EQ(out_[1].odds_text, "2.48");
  EXPECT_EQ(out_[1].odds.format, fb::OddsFormat::Decimal);
  EXPECT_EQ(out_[1].odds.numerator, 248u);
  EXPECT_EQ(out_[1].odds.denominator, 100u);
  EXPECT_EQ(out_[2].odds.price_e4, 13330u);
  EXPECT_EQ(out_[2].odds_text, "1.333");
  EXPECT_EQ(out_[3].odds.price_e4, 10'000'000u);
}

TEST_F(UofAdapterTest, BadOddsWithdrawOnlyTheirOutcome) {
  EXPECT_EQ(
      feed(odds_change(market_1x2("1", "2.5", "1.0", "-3"))),
      (Lines{"status 1001 open", "price 1001/1 25000 2.5", "price 1001/2 0 ", "price 1001/3 0 "}));
  EXPECT_EQ(adapter_.uof_counters().bad_odds, 2u);
}

TEST_F(UofAdapterTest, EmitsAPriceOnlyWhenItChanges) {
  feed(odds_change(market_1x2("1", "2.5")));
  EXPECT_EQ(feed(odds_change(market_1x2("1", "2.50"))), Lines{});  // same price_e4, other text
  EXPECT_EQ(feed(odds_change(market_1x2("1", "2.52"))), Lines{"price 1001/1 25200 2.52"});
}

TEST_F(UofAdapterTest, EmitsTheStatusBeforeThePrices) {
  EXPECT_EQ(feed(odds_change(market_1x2("-1", "2.5"))),
            (Lines{"status 1001 suspended", "price 1001/1 25000 2.5", "price 1001/2 34000 3.4",
                   "price 1001/3 29000 2.9"}));
  EXPECT_EQ(feed(odds_change(market_1x2("1", "2.6"))),
            (Lines{"status 1001 open", "price 1001/1 26000 2.6"}));
}

TEST_F(UofAdapterTest, MapsEveryMarketStatusAsDocumented) {
  const auto status = [&](const std::string& s) {
    return feed(odds_change(R"(<market id="1" status=")" + s + R"("/>)"));
  };
  EXPECT_EQ(status("1"), Lines{"status 1001 open"});
  EXPECT_EQ(status("-1"), Lines{"status 1001 suspended"});
  EXPECT_EQ(status("0"), Lines{});  // deactivated is suspended, which it already is
  EXPECT_EQ(status("1"), Lines{"status 1001 open"});
  EXPECT_EQ(status("0"), Lines{"status 1001 suspended"});
  EXPECT_EQ(status("1"), Lines{"status 1001 open"});
  EXPECT_EQ(status("-2"), Lines{"status 1001 suspended"});
  EXPECT_EQ(status("-3"), Lines{"status 1001 settled"});
  EXPECT_EQ(status("-4"), Lines{"status 1001 closed"});
  EXPECT_EQ(feed(odds_change(R"(<market id="1"/>)")), Lines{"status 1001 open"});  // no status
  EXPECT_EQ(reject(odds_change(R"(<market id="1" status="2"/>)")), RejectReason::kBadStatus);
  EXPECT_EQ(reject(odds_change(R"(<market id="1" status="open"/>)")), RejectReason::kBadStatus);
}

TEST_F(UofAdapterTest, InactiveOrUnpricedOutcomesHaveNoPrice) {
  EXPECT_EQ(
      feed(odds_change(R"(<market id="1" status="1"><outcome id="1" odds="2.5" active="0"/>)"
                       R"(<outcome id="2" active="1"/><outcome id="3" odds="4.5"/></market>)")),
      (Lines{"status 1001 open", "price 1001/1 0 ", "price 1001/2 0 ", "price 1001/3 45000 4.5"}));
}

TEST_F(UofAdapterTest, SpecifiersTellLinesOfOneMarketApart) {
  const std::string line = R"(<outcome id="12" odds="1.9"/><outcome id="13" odds="1.9"/></market>)";
  EXPECT_EQ(feed(odds_change(R"(<market id="18" specifiers="total=3.5" status="1">)" + line)),
            (Lines{"status 1003 open", "price 1003/1 19000 1.9", "price 1003/2 19000 1.9"}));
  EXPECT_EQ(feed(odds_change(R"(<market id="18" specifiers="total=1.5" status="1">)" + line)),
            Lines{});
  EXPECT_EQ(feed(odds_change(R"(<market id="18" status="1">)" + line)), Lines{});
  EXPECT_EQ(adapter_.counters().unknown_markets, 2u);
  EXPECT_EQ(adapter_.unknown_ids(),
            (Lines{"market sr:match:12345/18?total=1.5", "market sr:match:12345/18"}));
}

TEST_F(UofAdapterTest, UnknownIdsAreSampledOnceEach) {
  for (int i = 0; i < 3; ++i) feed(odds_change(R"(<market id="10" status="1"/>)"));
  for (int i = 0; i < 2 * int(Adapter::kUnknownIdSamples); ++i) {
    feed(odds_change(R"(<market id=")" + std::to_string(1000 + i) + R"("/>)"));
  }
  EXPECT_EQ(adapter_.counters().unknown_markets, 3 + 2 * Adapter::kUnknownIdSamples);
  ASSERT_EQ(adapter_.unknown_ids().size(), Adapter::kUnknownIdSamples);
  EXPECT_EQ(adapter_.unknown_ids()[0], "market sr:match:12345/10");
  EXPECT_EQ(adapter_.unknown_ids()[1], "market sr:match:12345/1000");
}

TEST_F(UofAdapterTest, AnotherEventsMarketsAreItsOwn) {
  EXPECT_EQ(feed(odds_change(market_1x2("1", "2.5"), "sr:match:67890")),
            (Lines{"status 1004 open", "price 1004/1 25000 2.5", "price 1004/2 34000 3.4",
                   "price 1004/3 29000 2.9"}));
  EXPECT_EQ(out_[0].event, 502u);
  EXPECT_EQ(feed(odds_change(market_1x2("1", "2.5"), "sr:match:1")), Lines{});
}

TEST_F(UofAdapterTest, AFeedSeesOnlyTheMarketsItIsMappedFor) {
  UofAdapter second(mapping_, "sr2");
  std::vector<Event> out;
  ASSERT_TRUE(second.parse(odds_change(R"(<market id="1" status="-1"/>)"), out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].market, 1005u);
  EXPECT_EQ(out[0].source, "sr2");
  out.clear();
  ASSERT_TRUE(second.parse(
      R"(<bet_stop product="1" event_id="sr:match:12345" timestamp="1700000000001"/>)", out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].market, 1005u);
}

TEST_F(UofAdapterTest, BetStopSuspendsEveryMappedMarketEveryTime) {
  const std::string stop = R"(<bet_stop product="1" event_id="sr:match:12345" timestamp="5"/>)";
  const Lines all{"status 1001 suspended", "status 1002 suspended", "status 1003 suspended"};
  EXPECT_EQ(feed(stop), all);
  EXPECT_EQ(out_[0].source_ns, 5'000'000u);
  EXPECT_EQ(feed(stop), all);  // state-setting: repeated, not filtered
  // Already suspended as far as odds_change is concerned.
  EXPECT_EQ(feed(odds_change(R"(<market id="1" status="-1"/>)")), Lines{});
  EXPECT_EQ(feed(R"(<bet_stop product="1" event_id="sr:match:99" timestamp="5"/>)"), Lines{});
}

TEST_F(UofAdapterTest, SettlementWinnersAreTheMappedResultOnesAscending) {
  EXPECT_EQ(feed(R"(<bet_settlement certainty="1" product="1" event_id="sr:match:12345" )"
                 R"(timestamp="1"><outcomes><market id="1"><outcome id="3" result="1"/>)"
                 R"(<outcome id="2" result="0"/><outcome id="1" result="1" void_factor="0.5"/>)"
                 R"(<outcome id="7" result="1"/></market>)"
                 R"(<market id="18" specifiers="total=3.5"><outcome id="12" result="0"/>)"
                 R"(<outcome id="13" result="0" void_factor="1"/></market></outcomes>)"
                 R"(</bet_settlement>)"),
            (Lines{"settle 1001 [1,3]", "settle 1003 []"}));
  EXPECT_EQ(adapter_.counters().unknown_selections, 1u);
  // Settled as far as odds_change is concerned; a rollback suspends it.
  EXPECT_EQ(feed(odds_change(R"(<market id="1" status="-3"/>)")), Lines{});
  feed(R"(<rollback_bet_settlement product="1" event_id="sr:match:12345" timestamp="2">)"
       R"(<market id="1"/></rollback_bet_settlement>)");
  EXPECT_EQ(feed(odds_change(R"(<market id="1" status="-1"/>)")), Lines{});
}

TEST_F(UofAdapterTest, CancelAndItsRollbackChangeNoStatus) {
  EXPECT_EQ(feed(R"(<bet_cancel product="1" event_id="sr:match:12345" timestamp="1">)"
                 R"(<market id="18" specifiers="total=2.5" void_reason="12"/><market id="10"/>)"
                 R"(</bet_cancel>)"),
            Lines{});
  EXPECT_EQ(adapter_.counters().unknown_markets, 1u);
  EXPECT_EQ(feed(R"(<rollback_bet_cancel product="1" event_id="sr:match:12345" timestamp="1">)"
                 R"(<market id="18" specifiers="total=2.5"/></rollback_bet_cancel>)"),
            Lines{});
  EXPECT_EQ(reject(R"(<bet_cancel product="1" event_id="sr:match:12345" timestamp="1">)"
                   R"(<market specifiers="total=2.5"/></bet_cancel>)"),
            RejectReason::kMissingField);
}

TEST_F(UofAdapterTest, TheSourceIsDownOnlyWhenEveryProductIsDown) {
  const auto alive = [](int product, int subscribed) {
    return R"(<alive product=")" + std::to_string(product) + R"(" timestamp="1" subscribed=")" +
           std::to_string(subscribed) + R"("/>)";
  };
  const auto recovered = [](int product) {
    return R"(<snapshot_complete product=")" + std::to_string(product) +
           R"(" request_id="1" timestamp="2"/>)";
  };
  EXPECT_EQ(feed(alive(1, 1)), Lines{"heartbeat"});
  EXPECT_EQ(feed(alive(3, 1)), Lines{"heartbeat"});
  EXPECT_EQ(feed(alive(1, 0)), Lines{"heartbeat"});  // product 3 is still up
  EXPECT_EQ(feed(alive(3, 0)), Lines{"source down"});
  EXPECT_EQ(out_[0].source_ns, 1'000'000u);
  EXPECT_EQ(feed(alive(1, 0)), Lines{});
  EXPECT_EQ(feed(alive(1, 1)), Lines{});  // subscribed again, but not recovered
  EXPECT_FALSE(adapter_.source_up());
  EXPECT_EQ(feed(recovered(1)), Lines{"source up"});
  EXPECT_EQ(feed(alive(3, 1)), Lines{"heartbeat"});  // product 3 is still recovering
  EXPECT_FALSE(adapter_.product_up(3));
  EXPECT_EQ(feed(recovered(3)), Lines{});
  EXPECT_TRUE(adapter_.product_up(3));
  EXPECT_EQ(adapter_.counters().heartbeats, 7u);
  EXPECT_EQ(adapter_.uof_counters().source_down, 1u);
}

TEST_F(UofAdapterTest, AfterTheSourceRecoversEveryPriceIsEmittedAgain) {
  const std::string odds = odds_change(market_1x2("1", "2.5"));
  const Lines everything{"status 1001 open", "price 1001/1 25000 2.5", "price 1001/2 34000 3.4",
                         "price 1001/3 29000 2.9"};
  EXPECT_EQ(feed(odds), everything);
  EXPECT_EQ(feed(odds), Lines{});
  feed(R"(<alive product="1" timestamp="1" subscribed="0"/>)");
  feed(R"(<alive product="1" timestamp="2" subscribed="1"/>)");
  // The recovery's odds re-emit every price, the market held suspended until it completes.
  EXPECT_EQ(feed(odds), (Lines{"status 1001 suspended", "price 1001/1 25000 2.5",
                               "price 1001/2 34000 3.4", "price 1001/3 29000 2.9"}));
  EXPECT_EQ(feed(R"(<snapshot_complete product="1" request_id="1" timestamp="3"/>)"),
            (Lines{"source up", "status 1001 open"}));
}

TEST_F(UofAdapterTest, RejectsWhatItCannotRead) {
  EXPECT_EQ(reject(""), RejectReason::kMalformedXml);
  EXPECT_EQ(reject("not xml"), RejectReason::kMalformedXml);
  EXPECT_EQ(reject(R"(<alive product="1" timestamp="1" subscribed="1">)"),
            RejectReason::kMalformedXml);
  EXPECT_EQ(reject(R"(<alive product="1"/><alive product="1"/>)"), RejectReason::kMalformedXml);
  EXPECT_EQ(reject(R"(<bet_stop_all product="1" timestamp="1"/>)"), RejectReason::kUnknownMessage);
  EXPECT_EQ(reject(R"(<odds_change product="1" timestamp="1"><odds/></odds_change>)"),
            RejectReason::kMissingField);
  EXPECT_EQ(reject(R"(<bet_stop product="1" timestamp="1"/>)"), RejectReason::kMissingField);
  EXPECT_EQ(reject(R"(<bet_settlement product="1" timestamp="1"/>)"), RejectReason::kMissingField);
  EXPECT_EQ(reject(odds_change(R"(<market status="1"/>)")), RejectReason::kMissingField);
  EXPECT_EQ(reject(odds_change(R"(<market id="1"><outcome odds="2.5"/></market>)")),
            RejectReason::kMissingField);
  EXPECT_EQ(reject(R"(<bet_settlement product="1" event_id="sr:match:12345" timestamp="1">)"
                   R"(<outcomes><market id="1"><outcome id="1"/></market></outcomes>)"
                   R"(</bet_settlement>)"),
            RejectReason::kMissingField);
  EXPECT_EQ(reject(odds_change("", "sr:match:12345", "yesterday")), RejectReason::kBadFieldType);
  EXPECT_EQ(reject(odds_change("", "sr:match:12345", "99999999999999999999")),
            RejectReason::kBadFieldType);
  EXPECT_EQ(reject(R"(<alive product="1" timestamp="1" subscribed="yes"/>)"),
            RejectReason::kBadFieldType);
  EXPECT_EQ(reject(R"(<alive product="live" timestamp="1" subscribed="1"/>)"),
            RejectReason::kBadFieldType);
  EXPECT_EQ(adapter_.counters().rejected, 15u);
  EXPECT_EQ(adapter_.counters().messages, 0u);
}

TEST_F(UofAdapterTest, ARejectedMessageLeavesStateUntouched) {
  feed(odds_change(market_1x2("1", "2.5")));
  const AdapterCounters before = adapter_.counters();

  // Changes a status and a price, meets an unknown market and outcome, then a market without id.
  EXPECT_EQ(reject(odds_change(market_1x2("-1", "2.6") +
                               R"(<market id="18" specifiers="total=2.5"><outcome id="77" )"
                               R"(odds="2.0"/></market><market id="10"/><market status="1"/>)")),
            RejectReason::kMissingField);
  const AdapterCounters& after = adapter_.counters();
  EXPECT_EQ(after.rejected, before.rejected + 1);
  EXPECT_EQ(after.messages, before.messages);
  EXPECT_EQ(after.events, before.events);
  EXPECT_EQ(after.unknown_markets, before.unknown_markets);
  EXPECT_EQ(after.unknown_selections, before.unknown_selections);
  EXPECT_TRUE(adapter_.unknown_ids().empty());

  // The adapter still remembers open and 2.5, not suspended and 2.6.
  EXPECT_EQ(feed(odds_change(market_1x2("1", "2.5"))), Lines{});
  EXPECT_EQ(feed(odds_change(market_1x2("-1", "2.6"))),
            (Lines{"status 1001 suspended", "price 1001/1 26000 2.6"}));

  // A settlement rejected after its first market leaves that market unsettled too.
  EXPECT_EQ(reject(R"(<bet_settlement product="1" event_id="sr:match:12345" timestamp="1">)"
                   R"(<outcomes><market id="1"><outcome id="1" result="1"/></market>)"
                   R"(<market><outcome id="1" result="1"/></market></outcomes></bet_settlement>)"),
            RejectReason::kMissingField);
  EXPECT_EQ(feed(odds_change(R"(<market id="1" status="-1"/>)")), Lines{});
}

TEST_F(UofAdapterTest, AppendsToWhatTheCallerHas) {
  std::vector<Event> out(2);
  ASSERT_TRUE(adapter_.parse(R"(<alive product="1" timestamp="1" subscribed="1"/>)", out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].type, EventType::kHeartbeat);
  EXPECT_EQ(out[2].source, "sr");
}

// Two canonical markets cannot claim one provider market: the mapping is rejected at load
// (issue 17 item 13; feeds/mapping_test.cpp checks the error names both).
TEST(UofAdapterMapping, TwoMarketsClaimingOneProviderMarketAreRejectedAtLoad) {
  auto mapping = Mapping::parse(R"(
[[market]]
id = 7
event = 1
sources = ["sr"]
selections = [{ id = 1 }]
[market.provider.sr]
event = "sr:match:1"
market = "1"
selections = { "1" = 1 }

[[market]]
id = 8
event = 1
sources = ["sr"]
selections = [{ id = 1 }]
[market.provider.sr]
event = "sr:match:1"
market = "1"
selections = { "1" = 1 }
)");
  ASSERT_FALSE(mapping);
  EXPECT_NE(mapping.error().find("market 7 and market 8"), std::string::npos) << mapping.error();
}

TEST(UofAdapterFactory, MakesAUofXmlAdapterForAMapping) {
  Mapping mapping = load_mapping();
  EXPECT_FALSE(make_adapter("uof-xml", "sr", nullptr));
  auto adapter = make_adapter("uof-xml", "sr", &mapping);
  ASSERT_TRUE(adapter);
  std::vector<Event> out;
  ASSERT_TRUE((*adapter)->parse(R"(<alive product="1" timestamp="1" subscribed="1"/>)", out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, EventType::kHeartbeat);
}

}  // namespace
}  // namespace oddsbus::feeds::uof
