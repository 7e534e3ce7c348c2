#include "feeds/betfair/stream_adapter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "feeds/adapter.h"
#include "feeds/mapping.h"
#include "schemas/odds.h"
#include "tests/feeds/betfair/betfair_test_support.h"
#include "tests/feeds/betfair/json_text.h"

namespace oddsbus::feeds::betfair {
namespace {

using testing::Json;
using testing::JsonText;
using testing::must_load;
using testing::read_lines;
using testing::shared_data;
using testing::test_data;

constexpr uint64_t kMarket = 9001;  // 1.100000001 in sample_mapping.toml
constexpr uint64_t kPt = 1700000000000;

struct PriceSeen {
  uint64_t selection;
  uint32_t price_e4;
  std::string text;
  bool operator==(const PriceSeen&) const = default;
};

std::ostream& operator<<(std::ostream& os, const PriceSeen& p) {
  return os << "{selection " << p.selection << ", " << p.price_e4 << ", '" << p.text << "'}";
}

// A message with nothing else to say still says the source is alive.
bool only_heartbeat(const std::vector<Event>& events) {
  return events.size() == 1 && events[0].type == EventType::kHeartbeat;
}

std::vector<PriceSeen> prices_of(const std::vector<Event>& events) {
  std::vector<PriceSeen> prices;
  for (const Event& event : events) {
    if (event.type == EventType::kPrice) {
      prices.push_back({event.selection, event.odds.price_e4, event.odds_text});
    }
  }
  return prices;
}

// A market change line for market 1.100000001 with the given `mc` entry body (without the id).
std::string change(std::string_view body, uint64_t pt = kPt) {
  return R"({"op":"mcm","id":2,"clk":"C","pt":)" + std::to_string(pt) +
         R"(,"mc":[{"id":"1.100000001",)" + std::string(body) + "}]}";
}

class StreamAdapterTest : public ::testing::Test {
 protected:
  std::vector<Event> feed(std::string_view line) {
    std::vector<Event> events;
    auto parsed = adapter_.parse(line, events);
    EXPECT_TRUE(parsed.has_value()) << line << "\n-> " << parsed.error().detail;
    return events;
  }

  Rejection rejection(std::string_view line) {
    std::vector<Event> events;
    auto parsed = adapter_.parse(line, events);
    EXPECT_FALSE(parsed.has_value()) << line;
    EXPECT_TRUE(events.empty()) << line;
    return parsed ? Rejection{RejectReason::kCount, "accepted"} : parsed.error();
  }

  Mapping mapping_ = must_load(test_data("sample_mapping.toml"));
  StreamAdapter adapter_{mapping_, "bf"};
};

TEST_F(StreamAdapterTest, NormalisesTheSampleCrlfCapture) {
  const auto lines = read_lines(test_data("sample_stream.crlf"));
  ASSERT_TRUE(lines.has_value());
  ASSERT_EQ(lines->size(), 14u);
  std::vector<std::vector<Event>> events;
  for (const std::string& line : *lines) events.push_back(feed(line));

  auto ns = [](uint64_t ms) { return ms * 1'000'000; };
  EXPECT_TRUE(only_heartbeat(events[0]));  // connection
  EXPECT_TRUE(only_heartbeat(events[1]));  // status SUCCESS

  // The image: the status, then each runner's derived price.
  ASSERT_EQ(events[2].size(), 4u);
  EXPECT_EQ(events[2][0].type, EventType::kStatus);
  EXPECT_EQ(events[2][0].market, kMarket);
  EXPECT_EQ(events[2][0].status, fb::MarketStatus::Open);
  EXPECT_EQ(events[2][0].reason, fb::StatusReason::Provider);
  EXPECT_EQ(prices_of(events[2]), (std::vector<PriceSeen>{{1, 25000, "2.5"},     // highest atb
                                                          {2, 34500, "3.45"},    // batb level 0
                                                          {3, 78000, "7.8"}}));  // ltp
  for (const Event& event : events[2]) {
    EXPECT_EQ(event.market, kMarket);
    EXPECT_EQ(event.source, "bf");
    EXPECT_EQ(event.source_ns, ns(1700000000000));
  }
  // Deltas: 2.5 leaves 1001's ladder; 1002's batb level 0 moves to 3.4.
  EXPECT_EQ(prices_of(events[3]), (std::vector<PriceSeen>{{1, 24800, "2.48"}, {2, 34000, "3.4"}}));
  ASSERT_EQ(events[4].size(), 1u);
  EXPECT_EQ(events[4][0].type, EventType::kHeartbeat);
  EXPECT_EQ(events[4][0].source_ns, ns(1700000005500));
  // Unknown runner and market skipped; 1003's highest atb (8) now beats its ltp.
  EXPECT_EQ(prices_of(events[5]), (std::vector<PriceSeen>{{3, 80000, "8"}}));
  EXPECT_EQ(events[5].size(), 1u);
  ASSERT_EQ(events[6].size(), 1u);
  EXPECT_EQ(events[6][0].type, EventType::kStatus);
  EXPECT_EQ(events[6][0].status, fb::MarketStatus::Suspended);
  EXPECT_TRUE(only_heartbeat(events[7]));  // still suspended
  // Segments: 1001's atb empties (its ltp 2.5 remains); 1002's batb level 0 still rules.
  EXPECT_EQ(prices_of(events[8]), (std::vector<PriceSeen>{{1, 25000, "2.5"}}));
  EXPECT_TRUE(only_heartbeat(events[9]));
  ASSERT_EQ(events[10].size(), 1u);  // 503: the stream's data may be late
  EXPECT_EQ(events[10][0].type, EventType::kSourceStatus);
  EXPECT_FALSE(events[10][0].source_up);
  ASSERT_EQ(events[11].size(), 3u);  // the status has cleared: the source is up first
  EXPECT_EQ(events[11][0].type, EventType::kSourceStatus);
  EXPECT_TRUE(events[11][0].source_up);
  EXPECT_EQ(events[11][1].type, EventType::kStatus);
  EXPECT_EQ(events[11][1].status, fb::MarketStatus::Open);
  EXPECT_EQ(prices_of(events[11]), (std::vector<PriceSeen>{{1, 10'000'000, "1000"}}));
  ASSERT_EQ(events[12].size(), 2u);
  EXPECT_EQ(events[12][0].type, EventType::kStatus);
  EXPECT_EQ(events[12][0].status, fb::MarketStatus::Closed);
  EXPECT_EQ(events[12][1].type, EventType::kSettle);
  EXPECT_EQ(events[12][1].market, kMarket);
  EXPECT_EQ(events[12][1].winners, (std::vector<uint64_t>{2}));
  EXPECT_TRUE(only_heartbeat(events[13]));  // settled once

  const AdapterCounters& counters = adapter_.counters();
  EXPECT_EQ(counters.messages, 14u);
  EXPECT_EQ(counters.events, 21u);
  EXPECT_EQ(counters.heartbeats, 1u);
  EXPECT_EQ(counters.rejected, 0u);
  EXPECT_EQ(counters.unknown_markets, 1u);
  EXPECT_EQ(counters.unknown_selections, 1u);
  EXPECT_EQ(adapter_.unknown_ids(),
            (std::vector<std::string>{"runner 1099", "market 1.999999999"}));
  EXPECT_EQ(adapter_.clk(), "AAAAAAAAAAAAAL==");
  EXPECT_EQ(adapter_.initial_clk(), "G1jVrwcBH6gLtLkKO7wHILqHqQc=");
  EXPECT_EQ(adapter_.stream_counters().stale_notices, 1u);
  EXPECT_EQ(adapter_.stream_counters().images, 1u);
  EXPECT_EQ(adapter_.stream_counters().status_failures, 0u);
}

TEST_F(StreamAdapterTest, ToleratesATrailingCarriageReturn) {
  const auto events = feed(change(R"("rc":[{"ltp":2.5,"id":1001}])") + "\r");
  EXPECT_EQ(prices_of(events), (std::vector<PriceSeen>{{1, 25000, "2.5"}}));
}

TEST_F(StreamAdapterTest, ReadsFieldsInAnyOrder) {
  const auto events = feed(R"({"mc":[{"rc":[{"id":1001,"atb":[[2.5,1]]}],"id":"1.100000001"}],)"
                           R"("pt":1700000000000,"clk":"Z","op":"mcm"})");
  EXPECT_EQ(prices_of(events), (std::vector<PriceSeen>{{1, 25000, "2.5"}}));
  EXPECT_EQ(adapter_.clk(), "Z");
}

TEST_F(StreamAdapterTest, KeepsPricesExactlyAsTheirText) {
  const auto events = feed(change(
      R"("rc":[{"ltp":2.48,"id":1001},{"atb":[[2.50 , 3]],"id":1002},{"batb":[[0,1.01,9]],"id":1003}])"));
  EXPECT_EQ(prices_of(events),
            (std::vector<PriceSeen>{{1, 24800, "2.48"}, {2, 25000, "2.50"}, {3, 10100, "1.01"}}));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].odds.format, fb::OddsFormat::Decimal);
  EXPECT_EQ(events[1].odds.numerator, 250u);
  EXPECT_EQ(events[1].odds.denominator, 100u);
}

TEST_F(StreamAdapterTest, EmitsAPriceOnlyWhenTheDerivedPriceChanges) {
  EXPECT_EQ(prices_of(feed(change(R"("img":true,"rc":[{"atb":[[3,5]],"id":1001}])"))).size(), 1u);
  EXPECT_TRUE(
      only_heartbeat(feed(change(R"("rc":[{"atb":[[2.9,5]],"id":1001}])"))));  // below the best
  EXPECT_TRUE(only_heartbeat(feed(change(R"("rc":[{"atb":[[3,50]],"id":1001}])"))));  // size only
  EXPECT_TRUE(
      only_heartbeat(feed(change(R"("rc":[{"atb":[[3.0,7]],"id":1001}])"))));    // same price_e4
  EXPECT_TRUE(only_heartbeat(feed(change(R"("rc":[{"ltp":2.2,"id":1001}])"))));  // ltp ranks last
  EXPECT_TRUE(only_heartbeat(feed(change(R"("rc":[{"tv":10,"id":1001}])"))));
  // Two deltas in one change that end where they started: no event.
  EXPECT_TRUE(only_heartbeat(feed(change(R"("rc":[{"atb":[[3,0],[3,1]],"id":1001}])"))));
  EXPECT_EQ(prices_of(feed(change(R"("rc":[{"atb":[[3,0]],"id":1001}])"))),
            (std::vector<PriceSeen>{{1, 29000, "2.9"}}));
}

TEST_F(StreamAdapterTest, DerivesBatbLevelZeroThenHighestAtbThenLtp) {
  EXPECT_EQ(prices_of(feed(change(R"("rc":[{"ltp":2,"atb":[[2.5,1],[3,5],[2.8,2]],"id":1001}])"))),
            (std::vector<PriceSeen>{{1, 30000, "3"}}));
  EXPECT_EQ(prices_of(feed(change(R"("rc":[{"batb":[[0,2.9,1],[1,2.8,4]],"id":1001}])"))),
            (std::vector<PriceSeen>{{1, 29000, "2.9"}}));
  // Without a level 0, batb gives no price: the highest atb does.
  EXPECT_EQ(prices_of(feed(change(R"("rc":[{"batb":[[0,2.9,0]],"id":1001}])"))),
            (std::vector<PriceSeen>{{1, 30000, "3"}}));
  EXPECT_EQ(prices_of(feed(change(R"("rc":[{"atb":[[3,0]],"id":1001}])"))),
            (std::vector<PriceSeen>{{1, 28000, "2.8"}}));
  EXPECT_EQ(prices_of(feed(change(R"("rc":[{"atb":[[2.8,0],[2.5,0]],"id":1001}])"))),
            (std::vector<PriceSeen>{{1, 20000, "2"}}));
}

// Betfair's RunnerChange.batb / batl / bdatb are "LevelPriceVol triple delta of price changes,
// keyed by level (0 vol is remove)" (ESASwaggerSchema.json, betfair/stream-api-sample-code), and a
// best-offers stream empties a level as [level, 0, 0]: that removes the level, never the message.
TEST_F(StreamAdapterTest, AnEmptiedLevelRemovesThatLevelAndNothingElse) {
  feed(change(R"("img":true,"rc":[{"batb":[[0,3.45,12],[1,3.4,5]],"atb":[[3.3,2]],"id":1002},)"
              R"({"ltp":2.5,"id":1001}])"));
  // Level 1 of 1002 empties in the same message as a new price for 1001 and a ladder of another
  // kind: all of it applies.
  auto events = feed(R"({"op":"mcm","id":2,"clk":"D","pt":1700000000100,"mc":[)"
                     R"({"id":"1.100000001","rc":[{"batb":[[1,0,0]],"batl":[[0,0,0]],)"
                     R"("bdatb":[[2,0,0]],"id":1002},{"atb":[[2.6,3]],"id":1001}]},)"
                     R"({"id":"1.999999999","rc":[{"batb":[[0,0,0]],"id":1}]}]})");
  EXPECT_EQ(prices_of(events), (std::vector<PriceSeen>{{1, 26000, "2.6"}}));
  // Level 0 empties: 1002 falls back to its highest atb.
  events = feed(change(R"("rc":[{"batb":[[0,0,0]],"id":1002}])"));
  EXPECT_EQ(prices_of(events), (std::vector<PriceSeen>{{2, 33000, "3.3"}}));
  // A level with size 0 is removed whatever its price says; a level with size needs real odds.
  EXPECT_TRUE(adapter_.parse(change(R"("rc":[{"batb":[[0,1.0,0]],"id":1002}])"), events));
  EXPECT_EQ(rejection(change(R"("rc":[{"batb":[[0,0,5]],"id":1002}])")).reason,
            RejectReason::kBadOdds);
  EXPECT_EQ(rejection(change(R"("rc":[{"batb":[[0,"0",0]],"id":1002}])")).reason,
            RejectReason::kBadFieldType);
  EXPECT_EQ(adapter_.counters().rejected, 2u);
}

TEST_F(StreamAdapterTest, ARunnerWithoutAnyPriceHasNone) {
  EXPECT_TRUE(prices_of(feed(change(R"("rc":[{"tv":3,"atl":[[2,4]],"id":1001}])"))).empty());
  EXPECT_EQ(prices_of(feed(change(R"("rc":[{"atb":[[4,1]],"id":1001}])"))).size(), 1u);
  // Its only price leaves: the price it showed is withdrawn, not left standing.
  EXPECT_EQ(prices_of(feed(change(R"("rc":[{"atb":[[4,0]],"id":1001}])"))),
            (std::vector<PriceSeen>{{1, 0, ""}}));
  EXPECT_TRUE(prices_of(feed(change(R"("rc":[{"atb":[[3,0]],"id":1001}])"))).empty());
  EXPECT_EQ(prices_of(feed(change(R"("rc":[{"atb":[[4,1]],"id":1001}])"))),
            (std::vector<PriceSeen>{{1, 40000, "4"}}));
}

// "img / Image - if this is set to true then you should replace this item in your cache" (Betfair
// Exchange Stream API, "Basic Message Protocol"; MarketChange.img in ESASwaggerSchema.json:
// "replace existing prices / data with the data supplied: it is not a delta").
TEST_F(StreamAdapterTest, AnImageReplacesTheMarketsLadders) {
  feed(change(
      R"("img":true,"rc":[{"atb":[[3,5],[2,1]],"ltp":2.5,"id":1001},{"atb":[[6,1]],"id":1002}])"));
  // The new image knows 1001 only, without its 3.0: 1002's price is withdrawn and 1001's old
  // ladder is gone.
  EXPECT_EQ(prices_of(feed(change(R"("img":true,"rc":[{"atb":[[2,1]],"id":1001}])"))),
            (std::vector<PriceSeen>{{1, 20000, "2"}, {2, 0, ""}}));
  EXPECT_EQ(prices_of(feed(change(R"("rc":[{"atb":[[2,0]],"id":1001}])"))),
            (std::vector<PriceSeen>{{1, 0, ""}}));  // no ltp in the new image either
  EXPECT_EQ(prices_of(feed(change(R"("rc":[{"atb":[[6,1]],"id":1002}])"))),
            (std::vector<PriceSeen>{{2, 60000, "6"}}));
}

// A non-runner: RunnerDefinition.status REMOVED (ESASwaggerSchema.json: ACTIVE, WINNER, LOSER,
// REMOVED, REMOVED_VACANT, HIDDEN, PLACED). Its price comes down at once.
TEST_F(StreamAdapterTest, ARemovedRunnerHasItsPriceWithdrawn) {
  auto definition = [](std::string_view third, std::string_view extra = "") {
    return change(R"("marketDefinition":{"status":"OPEN","runners":[)"
                  R"({"id":1001,"status":"ACTIVE"},{"id":1002,"status":"ACTIVE"},)"
                  R"({"id":1003,"status":")" +
                  std::string(third) + R"("})" + std::string(extra) + "]}");
  };
  feed(change(R"("img":true,"marketDefinition":{"status":"OPEN","runners":[]},)"
              R"("rc":[{"atb":[[2.5,5]],"id":1001},{"atb":[[3.4,1]],"id":1002},)"
              R"({"ltp":7.8,"id":1003}])"));
  auto events = feed(definition("REMOVED", R"(,{"id":1099,"status":"REMOVED"})"));
  EXPECT_EQ(prices_of(events), (std::vector<PriceSeen>{{3, 0, ""}}));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].odds.price_e4, 0u);
  EXPECT_EQ(events[0].market, kMarket);
  EXPECT_EQ(adapter_.counters().unknown_selections, 0u) << "an unmapped non-runner is no news";
  // Still removed: what its ladder does shows nothing; the others are untouched.
  EXPECT_EQ(
      prices_of(feed(change(R"("rc":[{"atb":[[8,1]],"id":1003},{"atb":[[2.6,1]],"id":1001}])"))),
      (std::vector<PriceSeen>{{1, 26000, "2.6"}}));
  EXPECT_TRUE(prices_of(feed(definition("REMOVED_VACANT"))).empty());
  // A definition that names it active again gives its price back.
  EXPECT_EQ(prices_of(feed(definition("ACTIVE"))), (std::vector<PriceSeen>{{3, 80000, "8"}}));
}

// "it contains the current state of all markets matching the existing subscription and should
// replace any existing values in any local cache" (Betfair Developer Program, "Exchange Stream
// API release 19th Nov 2019: SUB_IMAGE change"): a market the new image leaves out is gone.
TEST(StreamAdapterSubImage, AMarketAFullImageLeavesOutIsSuspended) {
  auto mapping = Mapping::parse(R"toml(
[[market]]
id = 9001
event = 901
selections = [{ id = 1 }, { id = 2 }]
[market.provider.bf]
market = "1.100000001"
selections = { "1001" = 1, "1002" = 2 }

[[market]]
id = 9002
event = 901
selections = [{ id = 1 }]
[market.provider.bf]
market = "1.100000002"
selections = { "2001" = 1 }
)toml");
  ASSERT_TRUE(mapping) << mapping.error();
  StreamAdapter adapter(*mapping, "bf");
  auto feed = [&](std::string_view line) {
    std::vector<Event> events;
    EXPECT_TRUE(adapter.parse(line, events)) << line;
    return events;
  };
  auto suspended = [](const std::vector<Event>& events) {
    std::vector<uint64_t> markets;
    for (const Event& e : events) {
      if (e.type == EventType::kStatus && e.status == fb::MarketStatus::Suspended &&
          e.reason == fb::StatusReason::Provider) {
        markets.push_back(e.market);
      }
    }
    return markets;
  };
  const std::string open = R"("marketDefinition":{"status":"OPEN","runners":[]})";
  feed(R"({"op":"mcm","id":1,"clk":"1","pt":1,"ct":"SUB_IMAGE","mc":[)"
       R"({"id":"1.100000001","img":true,)" +
       open + R"(,"rc":[{"atb":[[2,1]],"id":1001}]},)" + R"({"id":"1.100000002","img":true,)" +
       open + R"(,"rc":[{"atb":[[3,1]],"id":2001}]}]})");
  // A delta that leaves a market out says nothing about it.
  EXPECT_TRUE(suspended(feed(R"({"op":"mcm","id":1,"clk":"2","pt":2,"mc":[{"id":"1.100000001",)"
                             R"("rc":[{"atb":[[2.1,1]],"id":1001}]}]})"))
                  .empty());
  // A mid-stream image in two segments: only its end tells what it left out.
  EXPECT_TRUE(suspended(feed(R"({"op":"mcm","id":1,"clk":"3","pt":3,"ct":"SUB_IMAGE",)"
                             R"("segmentType":"SEG_START","mc":[{"id":"1.100000001","img":true,)" +
                             open + R"(,"rc":[{"atb":[[2.2,1]],"id":1001}]}]})"))
                  .empty());
  const auto end = feed(R"({"op":"mcm","id":1,"clk":"4","pt":4,"ct":"SUB_IMAGE",)"
                        R"("segmentType":"SEG_END","mc":[]})");
  EXPECT_EQ(suspended(end), std::vector<uint64_t>{9002});
  EXPECT_EQ(adapter.stream_counters().absent_from_image, 1u);
  // Once suspended it stays so; when it comes back its definition reopens it.
  EXPECT_TRUE(suspended(feed(R"({"op":"mcm","id":1,"clk":"5","pt":5,"ct":"SUB_IMAGE","mc":[)"
                             R"({"id":"1.100000001","img":true,)" +
                             open + "}]}"))
                  .empty());
  const auto back = feed(R"({"op":"mcm","id":1,"clk":"6","pt":6,"mc":[{"id":"1.100000002",)"
                         R"("img":true,)" +
                         open + "}]}");
  ASSERT_FALSE(back.empty());
  EXPECT_EQ(back[0].type, EventType::kStatus);
  EXPECT_EQ(back[0].status, fb::MarketStatus::Open);
}

TEST_F(StreamAdapterTest, EmitsAStatusOnlyWhenItChanges) {
  auto definition = [](std::string_view status) {
    return change(R"("marketDefinition":{"status":")" + std::string(status) +
                  R"(","runners":[{"id":1001,"status":"ACTIVE"}]})");
  };
  auto statuses = [](const std::vector<Event>& events) {
    std::vector<fb::MarketStatus> out;
    for (const Event& e : events) {
      if (e.type == EventType::kStatus) out.push_back(e.status);
    }
    return out;
  };
  using S = fb::MarketStatus;
  EXPECT_TRUE(statuses(feed(definition("INACTIVE"))).empty());  // no canonical meaning
  EXPECT_EQ(statuses(feed(definition("SUSPENDED"))), std::vector<S>{S::Suspended});  // first
  EXPECT_TRUE(statuses(feed(definition("SUSPENDED"))).empty());
  EXPECT_EQ(statuses(feed(definition("OPEN"))), std::vector<S>{S::Open});
  EXPECT_TRUE(statuses(feed(definition("OPEN"))).empty());
  EXPECT_EQ(statuses(feed(definition("CLOSED"))), std::vector<S>{S::Closed});  // no winner yet
  const auto settled = feed(change(
      R"("marketDefinition":{"status":"CLOSED","runners":[{"id":1003,"status":"WINNER"},{"id":1001,"status":"WINNER"},{"id":1002,"status":"LOSER"}]})"));
  ASSERT_EQ(settled.size(), 1u);  // dead heat, already closed
  EXPECT_EQ(settled[0].type, EventType::kSettle);
  EXPECT_EQ(settled[0].winners, (std::vector<uint64_t>{1, 3}));
}

TEST_F(StreamAdapterTest, DoesNotSettleOnAWinnerItCannotMap) {
  const auto events = feed(change(
      R"("marketDefinition":{"status":"CLOSED","runners":[{"id":1099,"status":"WINNER"},{"id":1001,"status":"LOSER"}]})"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, EventType::kStatus);
  EXPECT_EQ(adapter_.counters().unknown_selections, 1u);
  EXPECT_EQ(adapter_.unknown_ids(), std::vector<std::string>{"runner 1099"});
}

TEST_F(StreamAdapterTest, RejectsWhatItCannotRead) {
  const std::vector<std::pair<std::string, RejectReason>> cases = {
      {"", RejectReason::kMalformedJson},
      {"not json", RejectReason::kMalformedJson},
      {"[1,2]", RejectReason::kMalformedJson},
      {R"({"op":"mcm","mc":[{"id":"1.100000001")", RejectReason::kMalformedJson},
      {R"({"op":"mcm"} {"op":"mcm"})", RejectReason::kMalformedJson},
      {R"({"clk":"A","mc":[]})", RejectReason::kMissingField},
      {R"({"op":5})", RejectReason::kBadFieldType},
      {R"({"op":"ocm","oc":[]})", RejectReason::kUnknownMessage},
      {R"({"op":"mcm","pt":"soon"})", RejectReason::kBadFieldType},
      {R"({"op":"mcm","pt":-1})", RejectReason::kBadFieldType},
      {R"({"op":"mcm","clk":7})", RejectReason::kBadFieldType},
      {R"({"op":"mcm","mc":{}})", RejectReason::kBadFieldType},
      {R"({"op":"mcm","mc":[{"rc":[]}]})", RejectReason::kMissingField},
      {R"({"op":"mcm","mc":[{"id":1.1}]})", RejectReason::kBadFieldType},
      {R"({"op":"status","statusCode":"FAILURE","connectionClosed":"yes"})",
       RejectReason::kBadFieldType},
      {change(R"("img":"yes")"), RejectReason::kBadFieldType},
      {change(R"("rc":[{"atb":[[2,1]]}])"), RejectReason::kMissingField},
      {change(R"("rc":[{"id":"1001"}])"), RejectReason::kBadFieldType},
      {change(R"("rc":[{"id":-1001}])"), RejectReason::kBadFieldType},
      {change(R"("rc":[{"atb":[["2.5",1]],"id":1001}])"), RejectReason::kBadFieldType},
      {change(R"("rc":[{"atb":[[2.5]],"id":1001}])"), RejectReason::kBadFieldType},
      {change(R"("rc":[{"atb":[[2.5,1,7]],"id":1001}])"), RejectReason::kBadFieldType},
      {change(R"("rc":[{"atb":[[2.5,-1]],"id":1001}])"), RejectReason::kBadFieldType},
      {change(R"("rc":[{"atb":[2.5,1],"id":1001}])"), RejectReason::kBadFieldType},
      {change(R"("rc":[{"batb":[[-1,2.5,1]],"id":1001}])"), RejectReason::kBadFieldType},
      {change(R"("rc":[{"batb":[[0,2.5]],"id":1001}])"), RejectReason::kBadFieldType},
      {change(R"("rc":[{"atb":[[1.0,5]],"id":1001}])"), RejectReason::kBadOdds},
      {change(R"("rc":[{"atb":[[2.5e0,5]],"id":1001}])"), RejectReason::kBadOdds},
      {change(R"("rc":[{"ltp":-2,"id":1001}])"), RejectReason::kBadOdds},
      {change(R"("rc":[{"ltp":null,"id":1001}])"), RejectReason::kBadFieldType},
      {change(R"("marketDefinition":{"status":7})"), RejectReason::kBadFieldType},
      {change(R"("marketDefinition":{"runners":[{"status":"WINNER"}]})"),
       RejectReason::kMissingField},
  };
  for (const auto& [line, reason] : cases) {
    EXPECT_EQ(rejection(line).reason, reason) << line;
  }
  EXPECT_EQ(adapter_.counters().rejected, cases.size());
  EXPECT_EQ(adapter_.counters().messages, 0u);
  EXPECT_EQ(adapter_.counters().events, 0u);
}

TEST_F(StreamAdapterTest, ARejectedMessageChangesNothing) {
  feed(R"({"op":"mcm","clk":"K1","initialClk":"I1","mc":[{"id":"1.100000001","img":true,)"
       R"("marketDefinition":{"status":"OPEN"},"rc":[{"atb":[[3,5]],"id":1001}]}]})");
  // A valid first change, a bad second one: the whole message goes.
  const Rejection bad =
      rejection(R"({"op":"mcm","clk":"K2","initialClk":"I2","ct":"HEARTBEAT","mc":[)"
                R"({"id":"1.100000001","img":true,"marketDefinition":{"status":"SUSPENDED"},)"
                R"("rc":[{"atb":[[3,0],[4,1]],"id":1001},{"ltp":1.5,"id":1002}]},)"
                R"({"id":"1.100000001","rc":[{"atb":[[0.5,1]],"id":1001}]}]})");
  EXPECT_EQ(bad.reason, RejectReason::kBadOdds);
  EXPECT_EQ(adapter_.clk(), "K1");
  EXPECT_EQ(adapter_.initial_clk(), "I1");
  EXPECT_EQ(adapter_.counters().heartbeats, 0u);
  EXPECT_EQ(adapter_.stream_counters().images, 1u);
  // The ladders, status and unknown counts are as before the rejected message.
  const auto events = feed(change(R"("marketDefinition":{"status":"SUSPENDED"},)"
                                  R"("rc":[{"atb":[[4,1]],"id":1001},{"ltp":1.5,"id":1002}])"));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].status, fb::MarketStatus::Suspended);
  EXPECT_EQ(prices_of(events), (std::vector<PriceSeen>{{1, 40000, "4"}, {2, 15000, "1.5"}}));
}

TEST_F(StreamAdapterTest, BoundsEachRunnersLadder) {
  std::string atb;
  for (int i = 0; i <= 400; ++i) {  // 401 distinct prices: 2.0001 .. 2.0401
    char price[16];
    std::snprintf(price, sizeof price, "2.%04d", i + 1);
    atb += std::string(i == 0 ? "" : ",") + "[" + price + ",1]";
  }
  const auto events = feed(change(R"("rc":[{"atb":[)" + atb + R"(],"id":1001}])"));
  EXPECT_EQ(adapter_.stream_counters().ladder_overflows, 1u);
  // The 401st (and highest) price was not kept.
  EXPECT_EQ(prices_of(events), (std::vector<PriceSeen>{{1, 20400, "2.0400"}}));
  feed(change(R"("rc":[{"batb":[[400,3,1],[399,3,1]],"id":1001}])"));
  EXPECT_EQ(adapter_.stream_counters().ladder_overflows, 2u);
}

TEST_F(StreamAdapterTest, ReportsAFailureThatClosesTheConnection) {
  EXPECT_TRUE(only_heartbeat(feed(R"({"op":"status","id":1,"statusCode":"FAILURE",)"
                                  R"("errorCode":"TIMEOUT","connectionClosed":false})")));
  const auto events = feed(R"({"op":"status","id":2,"statusCode":"FAILURE",)"
                           R"("errorCode":"NOT_AUTHORIZED","connectionClosed":true})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, EventType::kSourceStatus);
  EXPECT_FALSE(events[0].source_up);
  EXPECT_EQ(events[0].source, "bf");
  EXPECT_EQ(adapter_.stream_counters().status_failures, 2u);
  EXPECT_EQ(adapter_.counters().messages, 2u);
}

// An Asian handicap market: Betfair names a runner by selection id and handicap, the same id at
// several `hc` values (RunnerChange.hc and RunnerDefinition.hc, "the handicap of the runner
// (selection)", ESASwaggerSchema.json; the sample client keys its cache by RunnerId(id, hc)).
constexpr const char* kHandicapMapping = R"toml(
[[market]]
id = 7001
event = 701
name = "Asian Handicap"
sources = ["bf"]
selections = [{ id = 1, name = "Home -1.5" }, { id = 2, name = "Away +1.5" },
              { id = 3, name = "Home -1" }, { id = 4, name = "Away +1" }, { id = 5, name = "Home 0" }]

[market.provider.bf]
market = "1.700000001"
selections = { "47972@-1.5" = 1, "47973@1.5" = 2, "47972@-1.0" = 3, "47973@+1" = 4, "47972" = 5 }
)toml";

std::string handicap_change(std::string_view body) {
  return R"({"op":"mcm","id":2,"clk":"H","pt":1700000000000,"mc":[{"id":"1.700000001",)" +
         std::string(body) + "}]}";
}

TEST(StreamAdapterHandicap, KeysRunnersBySelectionAndHandicap) {
  auto mapping = Mapping::parse(kHandicapMapping);
  ASSERT_TRUE(mapping) << mapping.error();
  StreamAdapter adapter(*mapping, "bf");
  std::vector<Event> events;
  ASSERT_TRUE(adapter.parse(
      handicap_change(
          R"("img":true,"rc":[{"atb":[[1.9,10]],"id":47972,"hc":-1.5},{"atb":[[1.6,5]],"hc":-1.0,"id":47972},)"
          R"({"atb":[[2.1,3]],"id":47973,"hc":1.5},{"atb":[[2.6,4]],"id":47973,"hc":1},)"
          R"({"atb":[[1.3,2]],"id":47972,"hc":0}])"),
      events));
  std::vector<PriceSeen> prices = prices_of(events);
  std::sort(prices.begin(), prices.end(),
            [](const PriceSeen& a, const PriceSeen& b) { return a.selection < b.selection; });
  EXPECT_EQ(prices, (std::vector<PriceSeen>{{1, 19000, "1.9"},
                                            {2, 21000, "2.1"},
                                            {3, 16000, "1.6"},
                                            {4, 26000, "2.6"},
                                            {5, 13000, "1.3"}}));
  // A delta for one line moves that line only; a runner without hc is the hc 0 line.
  events.clear();
  ASSERT_TRUE(adapter.parse(handicap_change(R"("rc":[{"atb":[[2.0,1]],"id":47972,"hc":-1.5},)"
                                            R"({"atb":[[1.35,1]],"id":47972}])"),
                            events));
  EXPECT_EQ(prices_of(events), (std::vector<PriceSeen>{{1, 20000, "2.0"}, {5, 13500, "1.35"}}));
  // A line the mapping does not name is unknown, not another line's.
  events.clear();
  ASSERT_TRUE(
      adapter.parse(handicap_change(R"("rc":[{"atb":[[5,1]],"id":47972,"hc":-2.5}])"), events));
  EXPECT_TRUE(prices_of(events).empty());
  EXPECT_EQ(adapter.counters().unknown_selections, 1u);
  EXPECT_EQ(adapter.unknown_ids(), std::vector<std::string>{"runner 47972@-2.5"});
  // Settlement names the winning line.
  events.clear();
  ASSERT_TRUE(adapter.parse(
      handicap_change(
          R"("marketDefinition":{"status":"CLOSED","runners":[)"
          R"({"id":47972,"hc":-1.5,"status":"LOSER"},{"id":47973,"hc":1.5,"status":"WINNER"},)"
          R"({"id":47972,"hc":-1,"status":"WINNER"},{"id":47973,"hc":1,"status":"LOSER"}]})"),
      events));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].type, EventType::kSettle);
  EXPECT_EQ(events[1].winners, (std::vector<uint64_t>{2, 3}));
  // A handicap that is not a number is a bad field.
  events.clear();
  EXPECT_FALSE(
      adapter.parse(handicap_change(R"("rc":[{"atb":[[5,1]],"id":47972,"hc":"-1.5"}])"), events));
  EXPECT_FALSE(
      adapter.parse(handicap_change(R"("rc":[{"atb":[[5,1]],"id":47972,"hc":1e1}])"), events));
}

TEST(MakeAdapter, BuildsTheBetfairStreamAdapter) {
  const Mapping mapping = must_load(test_data("sample_mapping.toml"));
  auto adapter = make_adapter("betfair-stream", "bf", &mapping);
  ASSERT_TRUE(adapter.has_value()) << adapter.error();
  std::vector<Event> events;
  ASSERT_TRUE((*adapter)->parse(change(R"("rc":[{"ltp":2.5,"id":1001}])"), events));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].market, kMarket);
}

// ---------------------------------------------------------------------------------------------
// The real captures, checked message by message against an independent reference model of the
// DESIGN section 10 price rule (its own JSON reader, std::map ladders).

class Reference {
 public:
  struct Price {
    uint32_t price_e4 = 0;
    std::string text;
  };
  struct Expected {
    std::vector<std::tuple<uint64_t, uint64_t, uint32_t, std::string>> prices;  // sorted
    std::vector<std::pair<uint64_t, std::string>> statuses;
    std::vector<std::pair<uint64_t, std::vector<uint64_t>>> settles;
  };

  explicit Reference(const Mapping& mapping) : mapping_(mapping) {}

  // Applies one message; what the adapter should have emitted for it.
  Expected apply(const Json& message) {
    Expected expected;
    const Json* changes = message.get("mc");
    if (changes == nullptr) return expected;
    for (const Json& change : changes->items) apply_change(change, expected);
    std::sort(expected.prices.begin(), expected.prices.end());
    return expected;
  }

  const std::map<std::string, std::string>& status() const { return status_; }

 private:
  struct Runner {
    std::map<uint32_t, std::string, std::greater<>> atb;  // price_e4 -> text, best first
    std::map<uint64_t, Price> batb;                       // level -> price
    Price ltp;
    uint32_t derived = 0;
    bool removed = false;
  };

  static uint32_t e4(const std::string& text) {
    const auto odds = parse_decimal_odds(text);
    EXPECT_TRUE(odds.has_value()) << text;
    return odds ? odds->price_e4 : 0;
  }
  static bool zero(const std::string& text) {
    return text.find_first_not_of("0.") == std::string::npos;
  }
  static const Price* best(const Runner& r) {
    static thread_local Price scratch;
    if (auto level0 = r.batb.find(0); level0 != r.batb.end()) return &level0->second;
    if (!r.atb.empty()) {
      scratch = {r.atb.begin()->first, r.atb.begin()->second};
      return &scratch;
    }
    return r.ltp.price_e4 != 0 ? &r.ltp : nullptr;
  }

  void apply_change(const Json& change, Expected& expected) {
    const std::string& id = change.get("id")->text;
    const ProviderMarketMapping* market = mapping_.find("bf", id);
    ASSERT_NE(market, nullptr) << id;
    auto& runners = markets_[id];
    std::set<uint64_t> touched;
    if (const Json* img = change.get("img"); img != nullptr && img->text == "true") {
      for (auto& [runner_id, runner] : runners) {
        runner.atb.clear();
        runner.batb.clear();
        runner.ltp = {};
        touched.insert(runner_id);
      }
    }
    const Json* definition = change.get("marketDefinition");
    if (definition != nullptr) {
      for (const Json& runner : definition->get("runners")->items) {
        const uint64_t runner_id = std::stoull(runner.get("id")->text);
        const std::string& status = runner.get("status")->text;
        const bool removed = status == "REMOVED" || status == "REMOVED_VACANT";
        if (runners.contains(runner_id) && runners[runner_id].removed != removed) {
          runners[runner_id].removed = removed;
          touched.insert(runner_id);
        }
      }
      const std::string& status = definition->get("status")->text;
      if ((status == "OPEN" || status == "SUSPENDED" || status == "CLOSED") &&
          status_[id] != status) {
        status_[id] = status;
        expected.statuses.emplace_back(market->canonical_market, status);
      }
    }
    if (const Json* rcs = change.get("rc"); rcs != nullptr) {
      for (const Json& rc : rcs->items) {
        const uint64_t runner_id = std::stoull(rc.get("id")->text);
        Runner& runner = runners[runner_id];
        touched.insert(runner_id);
        if (const Json* atb = rc.get("atb")) {
          for (const Json& pair : atb->items) {
            const std::string& price = pair.items.at(0).text;
            if (zero(pair.items.at(1).text)) {
              runner.atb.erase(e4(price));
            } else {
              runner.atb[e4(price)] = price;
            }
          }
        }
        if (const Json* batb = rc.get("batb")) {
          for (const Json& triple : batb->items) {
            const uint64_t level = std::stoull(triple.items.at(0).text);
            const std::string& price = triple.items.at(1).text;
            if (zero(triple.items.at(2).text)) {
              runner.batb.erase(level);
            } else {
              runner.batb[level] = {e4(price), price};
            }
          }
        }
        if (const Json* ltp = rc.get("ltp")) runner.ltp = {e4(ltp->text), ltp->text};
      }
    }
    for (const uint64_t runner_id : touched) {
      Runner& runner = runners[runner_id];
      const Price* now = runner.removed ? nullptr : best(runner);
      const uint32_t derived = now == nullptr ? 0 : now->price_e4;
      if (derived == runner.derived) continue;
      runner.derived = derived;
      expected.prices.emplace_back(market->canonical_market,
                                   market->selection(std::to_string(runner_id)), derived,
                                   now == nullptr ? std::string() : now->text);
    }
    if (definition != nullptr && definition->get("status")->text == "CLOSED" &&
        !settled_.contains(id)) {
      std::vector<uint64_t> winners;
      for (const Json& runner : definition->get("runners")->items) {
        if (runner.get("status")->text == "WINNER") {
          winners.push_back(market->selection(runner.get("id")->text));
        }
      }
      if (!winners.empty()) {
        std::sort(winners.begin(), winners.end());
        settled_.insert(id);
        expected.settles.emplace_back(market->canonical_market, winners);
      }
    }
  }

  const Mapping& mapping_;
  std::map<std::string, std::map<uint64_t, Runner>> markets_;
  std::map<std::string, std::string> status_;
  std::set<std::string> settled_;
};

std::string_view status_name(fb::MarketStatus status) {
  switch (status) {
    case fb::MarketStatus::Open:
      return "OPEN";
    case fb::MarketStatus::Suspended:
      return "SUSPENDED";
    case fb::MarketStatus::Closed:
      return "CLOSED";
    default:
      return "?";
  }
}

struct CaptureResult {
  size_t messages = 0;
  size_t price_events = 0;
  std::vector<uint64_t> settled_winners;
  std::string final_status;
  std::vector<uint64_t> winners_in_last_definition;
};

// Feeds a real capture through the adapter and the reference side by side.
CaptureResult check_capture(const std::string& file, uint64_t canonical_market) {
  CaptureResult result;
  const auto lines = read_lines(shared_data(file));
  if (!lines) {
    ADD_FAILURE() << "cannot read " << shared_data(file);
    return result;
  }
  const Mapping mapping = must_load(test_data("captures_mapping.toml"));
  const ProviderMarketMapping* market = mapping.find("bf", file);
  if (market == nullptr) {
    ADD_FAILURE() << "captures_mapping.toml does not map " << file;
    return result;
  }
  StreamAdapter adapter(mapping, "bf");
  Reference reference(mapping);
  std::vector<Event> events;
  for (size_t n = 0; n < lines->size(); ++n) {
    const std::string& line = (*lines)[n];
    const std::optional<Json> message = JsonText::parse(line);
    if (!message) {
      ADD_FAILURE() << file << ":" << n + 1 << ": the reference cannot read this line";
      return result;
    }
    const Reference::Expected expected = reference.apply(*message);
    if (::testing::Test::HasFatalFailure()) return result;

    events.clear();
    auto parsed = adapter.parse(line, events);
    if (!parsed) {
      ADD_FAILURE() << file << ":" << n + 1 << ": rejected: " << parsed.error().detail;
      return result;
    }
    Reference::Expected actual;
    const uint64_t pt_ns = std::stoull(message->get("pt")->text) * 1'000'000;
    for (const Event& event : events) {
      EXPECT_EQ(event.source, "bf");
      EXPECT_EQ(event.source_ns, pt_ns);
      if (event.type != EventType::kHeartbeat) {
        EXPECT_EQ(event.market, canonical_market);
      }
      switch (event.type) {
        case EventType::kPrice:
          if (event.odds_text.empty()) {
            EXPECT_EQ(event.odds.price_e4, 0u);  // withdrawn
          } else {
            EXPECT_EQ(parse_decimal_odds(event.odds_text)->price_e4, event.odds.price_e4);
          }
          actual.prices.emplace_back(event.market, event.selection, event.odds.price_e4,
                                     event.odds_text);
          break;
        case EventType::kStatus:
          actual.statuses.emplace_back(event.market, std::string(status_name(event.status)));
          result.final_status = status_name(event.status);
          break;
        case EventType::kSettle:
          actual.settles.emplace_back(event.market, event.winners);
          result.settled_winners = event.winners;
          break;
        case EventType::kHeartbeat:
          EXPECT_EQ(events.size(), 1u) << "a heartbeat only for a message with nothing else";
          break;
        default:
          ADD_FAILURE() << file << ":" << n + 1 << ": unexpected event type";
      }
    }
    std::sort(actual.prices.begin(), actual.prices.end());
    if (actual.prices != expected.prices || actual.statuses != expected.statuses ||
        actual.settles != expected.settles) {
      ADD_FAILURE() << file << ":" << n + 1 << ": the adapter and the reference disagree ("
                    << actual.prices.size() << " vs " << expected.prices.size() << " prices, "
                    << actual.statuses.size() << " vs " << expected.statuses.size() << " statuses, "
                    << actual.settles.size() << " vs " << expected.settles.size() << " settles)";
      return result;
    }
    result.price_events += actual.prices.size();
    if (const Json* changes = message->get("mc")) {
      for (const Json& change : changes->items) {
        if (const Json* definition = change.get("marketDefinition")) {
          result.winners_in_last_definition.clear();
          for (const Json& runner : definition->get("runners")->items) {
            if (runner.get("status")->text == "WINNER") {
              result.winners_in_last_definition.push_back(
                  market->selection(runner.get("id")->text));
            }
          }
          std::sort(result.winners_in_last_definition.begin(),
                    result.winners_in_last_definition.end());
        }
      }
    }
    ++result.messages;
  }
  EXPECT_EQ(adapter.counters().messages, lines->size());
  EXPECT_EQ(adapter.counters().rejected, 0u);
  EXPECT_EQ(adapter.counters().unknown_markets, 0u);
  EXPECT_EQ(adapter.counters().unknown_selections, 0u);
  EXPECT_EQ(adapter.stream_counters().ladder_overflows, 0u);
  EXPECT_EQ(reference.status().at(file), "CLOSED");
  EXPECT_FALSE(adapter.clk().empty());
  return result;
}

bool have_shared_data() { return std::filesystem::exists(shared_data("1.200806927")); }

TEST(StreamAdapterRealCapture, TennisMatchOddsAgreesWithTheReferenceThroughout) {
  if (!have_shared_data()) {
    GTEST_SKIP() << "shared data not found at " << ODDSBUS_SHARED_DATA_DIR
                 << " (the real Betfair captures live in shared/data/betfair beside the repo)";
  }
  const CaptureResult result = check_capture("1.200806927", 200806927);
  EXPECT_EQ(result.messages, 18529u);
  EXPECT_GT(result.price_events, 1000u);  // the comparison saw real price movement
  EXPECT_EQ(result.final_status, "CLOSED");
  EXPECT_EQ(result.winners_in_last_definition, (std::vector<uint64_t>{1}));  // runner 228749
  EXPECT_EQ(result.settled_winners, result.winners_in_last_definition);
}

TEST(StreamAdapterRealCapture, GreyhoundWinAgreesWithTheReferenceThroughout) {
  if (!have_shared_data()) {
    GTEST_SKIP() << "shared data not found at " << ODDSBUS_SHARED_DATA_DIR
                 << " (the real Betfair captures live in shared/data/betfair beside the repo)";
  }
  const CaptureResult result = check_capture("1.197931750", 197931750);
  EXPECT_EQ(result.messages, 166u);
  EXPECT_GT(result.price_events, 100u);
  EXPECT_EQ(result.final_status, "CLOSED");
  EXPECT_EQ(result.winners_in_last_definition, (std::vector<uint64_t>{2}));  // runner 37947503
  EXPECT_EQ(result.settled_winners, result.winners_in_last_definition);
}

}  // namespace
}  // namespace oddsbus::feeds::betfair
