// The simulator's output read back through the project's own adapters (feeds/adapter.h) with the
// mapping it writes: what the adapters make of the messages is the simulator's market state.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <vector>

#include "feeds/adapter.h"
#include "feeds/mapping.h"
#include "feeds/sim/feed_stream.h"
#include "feeds/sim/mapping_writer.h"

namespace oddsbus::feeds::sim {
namespace {

struct Folded {
  fb::MarketStatus status = fb::MarketStatus::Open;
  std::array<uint32_t, kSelections> price_e4{};
  bool defined = false;
};

void round_trip(Format format) {
  FeedStreamConfig config;
  config.format = format;
  config.provider = std::string(default_feed_name(format));
  config.epoch_ms = 1'700'000'000'000;
  config.sim = {.seed = 23, .markets = 6, .rate = 10, .max_updates = 3'000, .settle_after = 40};
  config.heartbeat_ns = 50'000'000;
  FeedStream stream(config);
  std::vector<SimMessage> messages;
  stream.image(0, messages);
  stream.advance(UINT64_MAX / 2, messages);
  ASSERT_TRUE(stream.over());

  auto mapping = Mapping::parse(
      write_mapping(planned_markets(config.sim), {{config.provider, format}}), "sim");
  ASSERT_TRUE(mapping.has_value()) << mapping.error();
  auto adapter = make_adapter(to_string(format), config.provider, &*mapping);
  ASSERT_TRUE(adapter.has_value()) << adapter.error();

  std::map<uint64_t, Folded> state;
  size_t heartbeats = 0;
  std::vector<Event> events;
  for (const SimMessage& message : messages) {
    std::string_view line(message.bytes);
    while (line.ends_with('\n') || line.ends_with('\r')) line.remove_suffix(1);
    events.clear();
    const auto parsed = (*adapter)->parse(line, events);
    ASSERT_TRUE(parsed.has_value()) << line << ": " << parsed.error().detail;
    for (const Event& event : events) {
      EXPECT_EQ(event.source, config.provider);
      Folded& market = state[event.market];
      switch (event.type) {
        case EventType::kMarket:
          market.defined = true;
          market.status = event.status;
          break;
        case EventType::kPrice:
          ASSERT_GE(event.selection, 1u);
          ASSERT_LE(event.selection, kSelections);
          market.price_e4[event.selection - 1] = event.odds.price_e4;
          break;
        case EventType::kStatus:
          market.status = event.status;
          break;
        case EventType::kSettle:
          market.status = fb::MarketStatus::Settled;
          break;
        case EventType::kHeartbeat:
          ++heartbeats;
          break;
        default:
          break;
      }
    }
  }
  EXPECT_EQ((*adapter)->counters().unknown_markets, 0u);
  EXPECT_EQ((*adapter)->counters().unknown_selections, 0u);
  EXPECT_GT(heartbeats, 0u);
  for (const SimMarket& live : stream.simulator().live()) {
    const Folded& market = state[live.id];
    EXPECT_EQ(market.price_e4, live.price_e4) << "market " << live.id;
    EXPECT_EQ(market.status, live.status == SimStatus::kOpen ? fb::MarketStatus::Open
                                                             : fb::MarketStatus::Suspended)
        << "market " << live.id;
  }
  size_t finished = 0;
  for (const auto& [id, market] : state) {
    if (id == 0) continue;  // heartbeats
    const bool live =
        std::any_of(stream.simulator().live().begin(), stream.simulator().live().end(),
                    [&](const SimMarket& m) { return m.id == id; });
    if (live) continue;
    ++finished;
    EXPECT_TRUE(market.status == fb::MarketStatus::Settled ||
                market.status == fb::MarketStatus::Closed)
        << "market " << id;
  }
  EXPECT_GT(finished, 10u);
}

TEST(AdapterRoundTrip, OddsJsonReadsBackTheSimulatedState) { round_trip(Format::kOddsJson); }
TEST(AdapterRoundTrip, BetfairStreamReadsBackTheSimulatedState) {
  round_trip(Format::kBetfairStream);
}
TEST(AdapterRoundTrip, UofXmlReadsBackTheSimulatedState) { round_trip(Format::kUofXml); }

}  // namespace
}  // namespace oddsbus::feeds::sim
