#include "tools/feed/event_json.h"

#include <gtest/gtest.h>

#include <string>

#include "feeds/mapping.h"
#include "tools/feed/normalize.h"

namespace oddsbus::feed_tool {
namespace {

std::string json_of(const feeds::Event& event) {
  std::string out;
  append_event_json(out, event);
  return out;
}

TEST(EventJson, WritesAPriceWithItsProvenance) {
  feeds::Event e;
  e.type = feeds::EventType::kPrice;
  e.market = 1001;
  e.selection = 2;
  e.odds = *parse_odds("5/2");
  e.odds_text = "5/2";
  e.provider = "desk \"A\"";
  e.has_pseq = true;
  e.pseq = 7;
  e.source = "bf";
  e.source_ns = 42;
  EXPECT_EQ(json_of(e),
            "{\"type\":\"price\",\"market\":1001,\"selection\":2,\"price_e4\":35000,"
            "\"odds\":\"5/2\",\"provider\":\"desk \\\"A\\\"\",\"pseq\":7,\"source\":\"bf\","
            "\"source_ns\":42}");
}

TEST(EventJson, WritesEveryEventType) {
  feeds::Event market;
  market.type = feeds::EventType::kMarket;
  market.market = 5;
  market.event = 9;
  market.name = "Match Odds";
  market.status = fb::MarketStatus::Suspended;
  market.selections = {{1, "Home"}, {2, "Away"}};
  EXPECT_EQ(json_of(market),
            "{\"type\":\"market\",\"market\":5,\"event\":9,\"name\":\"Match Odds\","
            "\"status\":\"suspended\",\"selections\":[{\"id\":1,\"name\":\"Home\"},"
            "{\"id\":2,\"name\":\"Away\"}]}");

  feeds::Event status;
  status.type = feeds::EventType::kStatus;
  status.market = 5;
  status.status = fb::MarketStatus::Closed;
  EXPECT_EQ(json_of(status), "{\"type\":\"status\",\"market\":5,\"status\":\"closed\"}");
  status.reason = fb::StatusReason::FeedStale;
  EXPECT_EQ(json_of(status),
            "{\"type\":\"status\",\"market\":5,\"status\":\"closed\",\"reason\":\"feed-stale\"}");

  feeds::Event settle;
  settle.type = feeds::EventType::kSettle;
  settle.market = 5;
  settle.winners = {1, 2};
  EXPECT_EQ(json_of(settle), "{\"type\":\"settle\",\"market\":5,\"winners\":[1,2]}");
  // Settlement factors and a voided market are appended only when present.
  settle.winners = {};
  settle.factors = {{1, 10000, 0}, {2, 5000, 2500}};
  settle.voided = true;
  EXPECT_EQ(json_of(settle),
            "{\"type\":\"settle\",\"market\":5,\"winners\":[],\"factors\":["
            "{\"selection\":1,\"void_factor_e4\":10000,\"dead_heat_factor_e4\":0},"
            "{\"selection\":2,\"void_factor_e4\":5000,\"dead_heat_factor_e4\":2500}],"
            "\"voided\":true}");

  feeds::Event rollback;
  rollback.type = feeds::EventType::kSettlementRollback;
  rollback.market = 5;
  EXPECT_EQ(json_of(rollback), "{\"type\":\"settlement_rollback\",\"market\":5}");

  feeds::Event heartbeat;
  EXPECT_EQ(json_of(heartbeat), "{\"type\":\"heartbeat\",\"market\":0}");

  feeds::Event down;
  down.type = feeds::EventType::kSourceStatus;
  down.source_up = false;
  EXPECT_EQ(json_of(down), "{\"type\":\"source_status\",\"market\":0,\"up\":false}");
}

TEST(ResolveFeedName, TakesTheOnlyNameOrRequiresAChoice) {
  auto one = feeds::Mapping::parse(R"(
[[market]]
id = 1
event = 1
name = "M"
sources = ["bf"]
selections = [{ id = 1, name = "A" }]
[market.provider.bf]
market = "1.1"
selections = { "10" = 1 }
)");
  ASSERT_TRUE(one) << one.error();
  EXPECT_EQ(resolve_feed_name(*one, ""), "bf");
  EXPECT_EQ(resolve_feed_name(*one, "bf"), "bf");
  ASSERT_FALSE(resolve_feed_name(*one, "sr"));
  EXPECT_NE(resolve_feed_name(*one, "sr").error().find("bf"), std::string::npos);

  auto two = feeds::Mapping::parse(R"(
[[market]]
id = 1
event = 1
name = "M"
sources = ["bf", "bf2"]
selections = [{ id = 1, name = "A" }]
[market.provider.bf]
market = "1.1"
selections = { "10" = 1 }
[market.provider.bf2]
market = "1.1"
selections = { "10" = 1 }
)");
  ASSERT_TRUE(two) << two.error();
  ASSERT_FALSE(resolve_feed_name(*two, ""));
  EXPECT_NE(resolve_feed_name(*two, "").error().find("--feed-name"), std::string::npos);
  EXPECT_EQ(resolve_feed_name(*two, "bf2"), "bf2");
}

}  // namespace
}  // namespace oddsbus::feed_tool
