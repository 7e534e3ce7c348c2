// The betfair-stream adapter's events keep the source selector's view of the source's health true:
// every message from the stream says the source is alive, and a stream that says its data is late
// (status 503) is not healthy until it says otherwise. Driven through a real SourceSelector, as the
// engine wires them (feeds/source_selector.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/betfair/stream_adapter.h"
#include "feeds/mapping.h"
#include "feeds/source_selector.h"

namespace oddsbus::feeds::betfair {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kMarket = 9001;

constexpr const char* kMapping = R"toml(
[[market]]
id = 9001
event = 901
name = "Match Odds"
sources = ["bf"]
selections = [{ id = 1, name = "Home" }, { id = 2, name = "Away" }]

[market.provider.bf]
market = "1.100000001"
selections = { "1001" = 1, "1002" = 2 }
)toml";

// An mcm for market 1.100000001 with `fields` (a leading comma included) and market change `body`.
std::string mcm(uint64_t pt_ms, std::string_view body, std::string_view fields = "") {
  return R"({"op":"mcm","id":2,"clk":"C","pt":)" + std::to_string(pt_ms) + std::string(fields) +
         R"(,"mc":[{"id":"1.100000001",)" + std::string(body) + "}]}";
}

const std::string kImage =
    R"("img":true,"marketDefinition":{"status":"OPEN","runners":[]},)"
    R"("rc":[{"atb":[[2.5,10],[2.4,5]],"id":1001},{"atb":[[3,1]],"id":1002}])";
// A change below the best back price: news on the stream, no change to any price oddsbus shows.
const std::string kBelowTheBest = R"("rc":[{"atb":[[2.4,7]],"id":1001}])";

Mapping must_parse(const char* text) {
  auto mapping = Mapping::parse(text);
  if (!mapping) {
    ADD_FAILURE() << mapping.error();
    return Mapping{};
  }
  return std::move(*mapping);
}

SourceSelectorConfig three_seconds_stale() {
  SourceSelectorConfig config;
  config.stale_after_ns = 3 * kSecond;
  return config;
}

class BetfairSourceHealthTest : public ::testing::Test {
 protected:
  // Feeds one message to the adapter and its events to the selector at `now`, then ticks; returns
  // the adapter's events.
  std::vector<Event> deliver(std::string_view message, uint64_t now) {
    std::vector<Event> events;
    EXPECT_TRUE(adapter_.parse(message, events)) << message;
    for (const Event& event : events) selector_.on_event(event, now, published_);
    selector_.on_tick(now, published_);
    return events;
  }

  // The statuses the selector published for the market, in order.
  std::vector<std::pair<fb::MarketStatus, fb::StatusReason>> statuses() const {
    std::vector<std::pair<fb::MarketStatus, fb::StatusReason>> out;
    for (const Event& e : published_) {
      if (e.type == EventType::kStatus && e.market == kMarket) out.emplace_back(e.status, e.reason);
    }
    return out;
  }

  Mapping mapping_ = must_parse(kMapping);
  SourceSelectorConfig config_ = three_seconds_stale();
  StreamAdapter adapter_{mapping_, "bf"};
  SourceSelector selector_{mapping_, config_};
  std::vector<Event> published_;
};

// "Heartbeat: ... the heartbeat rate (may differ from requested: bounds are 500 to 30000)" and a
// HEARTBEAT change is sent only when there is nothing else to send (MarketChangeMessage.ct and
// heartbeatMs, ESASwaggerSchema.json): a busy stream sends no heartbeats, so its other messages
// must count as signs of life even when they change no price.
TEST_F(BetfairSourceHealthTest, MessagesThatChangeNoPriceKeepTheSourceAlive) {
  using S = fb::MarketStatus;
  using R = fb::StatusReason;
  deliver(mcm(1'000, kImage, R"(,"ct":"SUB_IMAGE")"), 1 * kSecond);
  ASSERT_EQ(statuses().back(), std::make_pair(S::Open, R::Provider));
  for (uint64_t t = 2; t <= 20; ++t) {
    const auto events = deliver(mcm(t * 1'000, kBelowTheBest), t * kSecond);
    ASSERT_EQ(events.size(), 1u) << "at " << t << " s";
    EXPECT_EQ(events[0].type, EventType::kHeartbeat);
    EXPECT_EQ(events[0].source, "bf");
    EXPECT_EQ(events[0].source_ns, t * kSecond);
  }
  EXPECT_EQ(selector_.counters().stale_suspensions, 0u);
  EXPECT_EQ(statuses().back(), std::make_pair(S::Open, R::Provider));
  EXPECT_EQ(selector_.active_source(kMarket), "bf");
  // Silence is still silence.
  selector_.on_tick(24 * kSecond, published_);
  EXPECT_EQ(statuses().back(), std::make_pair(S::Suspended, R::FeedStale));
}

TEST_F(BetfairSourceHealthTest, EveryAcceptedMessageSaysTheSourceIsAlive) {
  for (const std::string& message :
       {std::string(R"({"op":"connection","connectionId":"002-1"})"),
        std::string(R"({"op":"status","id":1,"statusCode":"SUCCESS","connectionClosed":false})"),
        mcm(1, R"("rc":[{"atl":[[3,1]],"tv":5,"id":1001}])"),
        std::string(R"({"op":"mcm","id":2,"clk":"D","pt":2,"mc":[]})"),
        std::string(R"({"op":"mcm","id":2,"pt":3,"mc":[{"id":"1.999","rc":[]}]})")}) {
    std::vector<Event> events;
    ASSERT_TRUE(adapter_.parse(message, events)) << message;
    ASSERT_EQ(events.size(), 1u) << message;
    EXPECT_EQ(events[0].type, EventType::kHeartbeat) << message;
  }
  EXPECT_EQ(adapter_.counters().heartbeats, 0u) << "counts the stream's HEARTBEAT messages only";
  // A message with news needs no extra heartbeat: its events say the source is alive.
  std::vector<Event> events;
  ASSERT_TRUE(adapter_.parse(mcm(4, R"("rc":[{"atb":[[5,1]],"id":1002}])"), events));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, EventType::kPrice);
}

// "status: set to null if the exchange stream data is up to date and 503 if the downstream
// services are experiencing latencies" (MarketChangeMessage.status, ESASwaggerSchema.json); Betfair
// added it "in addition to the heartbeat mechanism which only gives an indication that the service
// is up" (Betfair Developer Program, Exchange Stream API release, 20th July 2017). Heartbeats that
// carry it do not make the source healthy.
TEST_F(BetfairSourceHealthTest, Status503MakesTheSourceUnhealthyUntilItClears) {
  using S = fb::MarketStatus;
  using R = fb::StatusReason;
  deliver(mcm(1'000, kImage, R"(,"ct":"SUB_IMAGE")"), 1 * kSecond);
  auto events =
      deliver(R"({"op":"mcm","id":2,"clk":"E","pt":2000,"status":503,"mc":[]})", 2 * kSecond);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, EventType::kSourceStatus);
  EXPECT_FALSE(events[0].source_up);
  EXPECT_EQ(events[0].source, "bf");
  EXPECT_EQ(statuses().back(), std::make_pair(S::Suspended, R::FeedStale));
  // Heartbeats and changes still marked 503: still down, and said once.
  for (uint64_t t = 3; t <= 8; ++t) {
    events =
        deliver(t % 2 == 0 ? R"({"op":"mcm","id":2,"clk":"F","pt":)" + std::to_string(t * 1000) +
                                 R"(,"ct":"HEARTBEAT","status":503})"
                           : mcm(t * 1'000, kBelowTheBest, R"(,"status":503)"),
                t * kSecond);
    for (const Event& e : events) EXPECT_NE(e.type, EventType::kSourceStatus) << "at " << t;
  }
  EXPECT_EQ(statuses().back(), std::make_pair(S::Suspended, R::FeedStale));
  EXPECT_FALSE(selector_.healthy("bf", 8 * kSecond));
  // The status clears: the source is up again and the market reopens with its prices.
  events = deliver(mcm(9'000, R"("rc":[{"atb":[[2.6,1]],"id":1001}])"), 9 * kSecond);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, EventType::kSourceStatus);
  EXPECT_TRUE(events[0].source_up);
  EXPECT_EQ(events[1].type, EventType::kPrice);
  EXPECT_TRUE(selector_.healthy("bf", 9 * kSecond));
  EXPECT_EQ(statuses().back(), std::make_pair(S::Open, R::Provider));
  EXPECT_EQ(adapter_.stream_counters().stale_notices, 7u);
}

}  // namespace
}  // namespace oddsbus::feeds::betfair
