#include "feeds/sim/market_simulator.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "feeds/sim/tick_ladder.h"

namespace oddsbus::feeds::sim {
namespace {

std::vector<SimEvent> run(const SimConfig& config, uint64_t until_ns) {
  MarketSimulator simulator(config);
  std::vector<SimEvent> events;
  simulator.advance(until_ns, events);
  return events;
}

bool same(const SimEvent& a, const SimEvent& b) {
  return a.kind == b.kind && a.update == b.update && a.at_ns == b.at_ns &&
         a.selection == b.selection && a.market.id == b.market.id &&
         a.market.status == b.market.status && a.market.price_e4 == b.market.price_e4 &&
         a.market.size_e2 == b.market.size_e2 && a.market.winner == b.market.winner;
}

TEST(MarketSimulator, SameSeedGivesTheSameEvents) {
  SimConfig config{.seed = 42, .markets = 5, .rate = 1000};
  const auto a = run(config, 20'000'000'000);
  const auto b = run(config, 20'000'000'000);
  ASSERT_EQ(a.size(), 20'000u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_TRUE(same(a[i], b[i])) << "update " << i + 1;
}

TEST(MarketSimulator, DifferentSeedsGiveDifferentEvents) {
  const auto a = run({.seed = 1, .markets = 5, .rate = 1000}, 1'000'000'000);
  const auto b = run({.seed = 2, .markets = 5, .rate = 1000}, 1'000'000'000);
  ASSERT_EQ(a.size(), b.size());
  size_t differing = 0;
  for (size_t i = 0; i < a.size(); ++i) differing += same(a[i], b[i]) ? 0 : 1;
  EXPECT_GT(differing, a.size() / 2);
}

TEST(MarketSimulator, UpdatesFallAtFixedIntervalsOfTheRate) {
  MarketSimulator simulator({.seed = 3, .markets = 2, .rate = 4});
  std::vector<SimEvent> events;
  EXPECT_EQ(simulator.next_event_ns(), 250'000'000u);
  EXPECT_EQ(simulator.advance(249'999'999, events), 0u);
  EXPECT_EQ(simulator.advance(1'000'000'000, events), 4u);
  ASSERT_EQ(events.size(), 4u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].update, i + 1);
    EXPECT_EQ(events[i].at_ns, (i + 1) * 250'000'000);
  }
}

TEST(MarketSimulator, PricesStayOnTheTickLadder) {
  SimConfig config{.seed = 7, .markets = 20, .rate = 1000, .settle_after = 500};
  MarketSimulator simulator(config);
  for (const SimMarket& market : simulator.live()) {
    for (uint32_t price : market.price_e4) EXPECT_TRUE(on_ladder(price)) << price;
  }
  std::vector<SimEvent> events;
  simulator.advance(200'000'000'000, events);
  ASSERT_EQ(events.size(), 200'000u);
  size_t prices = 0;
  for (const SimEvent& event : events) {
    for (uint32_t price : event.market.price_e4) {
      ASSERT_TRUE(on_ladder(price)) << price;
      ASSERT_GE(price, kLadderMinE4);
      ASSERT_LE(price, kLadderMaxE4);
    }
    prices += event.kind == SimEventKind::kPrice ? 1 : 0;
  }
  EXPECT_GT(prices, events.size() * 9 / 10);
}

TEST(MarketSimulator, MarketsFollowTheirLifecycle) {
  SimConfig config{.seed = 11, .markets = 4, .rate = 1000, .settle_after = 30};
  MarketSimulator simulator(config);
  std::map<uint64_t, SimStatus> status;  // markets seen, by id
  for (const SimMarket& market : simulator.live()) status[market.id] = SimStatus::kOpen;
  std::vector<SimEvent> events;
  simulator.advance(10'000'000'000, events);
  uint64_t last_started = kFirstMarketId + config.markets - 1;
  size_t settled = 0;
  size_t reopened = 0;
  for (const SimEvent& event : events) {
    const uint64_t id = event.market.id;
    if (event.kind == SimEventKind::kMarketStart) {
      ASSERT_EQ(id, last_started + 1) << "new markets take the next id";
      ASSERT_EQ(event.market.event, kFirstEventId + (id - kFirstMarketId));
      ASSERT_EQ(event.market.status, SimStatus::kOpen);
      last_started = id;
      status[id] = SimStatus::kOpen;
      continue;
    }
    ASSERT_TRUE(status.contains(id)) << "event for a market never started: " << id;
    const SimStatus before = status[id];
    ASSERT_NE(before, SimStatus::kSettled) << "event after settlement for " << id;
    switch (event.kind) {
      case SimEventKind::kPrice:
        ASSERT_EQ(before, SimStatus::kOpen) << "price while suspended";
        ASSERT_GE(event.selection, 1u);
        ASSERT_LE(event.selection, kSelections);
        break;
      case SimEventKind::kStatus:
        ASSERT_NE(event.market.status, before) << "a status event changes the status";
        ASSERT_NE(event.market.status, SimStatus::kSettled);
        reopened += event.market.status == SimStatus::kOpen ? 1 : 0;
        break;
      case SimEventKind::kSettle:
        ASSERT_EQ(before, SimStatus::kSuspended) << "settles only from suspended";
        ASSERT_EQ(event.market.status, SimStatus::kSettled);
        ASSERT_GE(event.market.winner, 1u);
        ASSERT_LE(event.market.winner, kSelections);
        ++settled;
        break;
      case SimEventKind::kMarketStart:
        break;
    }
    status[id] = event.market.status;
  }
  EXPECT_GT(settled, 10u);
  EXPECT_GT(reopened, 10u);
  // A settled market is replaced at the next update.
  EXPECT_GE(simulator.live().size(), config.markets - 1u);
  EXPECT_LE(simulator.live().size(), config.markets);
  for (const SimMarket& market : simulator.live()) EXPECT_NE(market.status, SimStatus::kSettled);
}

TEST(MarketSimulator, StopsStartingMarketsAtTheTotal) {
  SimConfig config{.seed = 5, .markets = 3, .rate = 1000, .settle_after = 10, .total_markets = 5};
  MarketSimulator simulator(config);
  std::vector<SimEvent> events;
  simulator.advance(100'000'000'000, events);
  EXPECT_TRUE(simulator.exhausted());
  EXPECT_TRUE(simulator.finished());
  EXPECT_FALSE(simulator.count_reached());
  EXPECT_EQ(simulator.markets_started(), 5u);
  EXPECT_TRUE(simulator.live().empty());
  size_t settles = 0;
  for (const SimEvent& event : events) settles += event.kind == SimEventKind::kSettle ? 1 : 0;
  EXPECT_EQ(settles, 5u);
  EXPECT_EQ(simulator.next_event_ns(), UINT64_MAX);
}

TEST(MarketSimulator, StopsAtTheUpdateCount) {
  MarketSimulator simulator({.seed = 5, .markets = 3, .rate = 1000, .max_updates = 123});
  std::vector<SimEvent> events;
  simulator.advance(100'000'000'000, events);
  EXPECT_EQ(events.size(), 123u);
  EXPECT_TRUE(simulator.count_reached());
  EXPECT_EQ(simulator.advance(200'000'000'000, events), 0u);
}

TEST(MarketSimulator, MarketsNeverSettleWhenSettleAfterIsZero) {
  MarketSimulator simulator({.seed = 9, .markets = 3, .rate = 1000, .settle_after = 0});
  std::vector<SimEvent> events;
  simulator.advance(20'000'000'000, events);
  for (const SimEvent& event : events) ASSERT_NE(event.kind, SimEventKind::kSettle);
  EXPECT_EQ(simulator.live().size(), 3u);
}

}  // namespace
}  // namespace oddsbus::feeds::sim
