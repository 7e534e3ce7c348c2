#include "schemas/market_state.h"

#include <gtest/gtest.h>

#include "schemas/frame_json.h"
#include "schemas/state_digest.h"
#include "schemas/state_json.h"
#include "tests/schemas/frame_script.h"

namespace oddsbus {
namespace {

using testing_support::FrameScript;

const std::vector<testing_support::Selection> kHomeDrawAway = {
    {1, "Home"}, {2, "Draw"}, {3, "Away"}};

std::string json_of(const MarketState& state) {
  std::string out;
  append_state_json(out, state);
  return out;
}

TEST(MarketState, DefinitionCreatesAMarketWithUnpricedSelections) {
  MarketState state;
  FrameScript script(state);
  script.define(1001, 501, "Match Odds", {{3, "Away"}, {1, "Home"}, {2, "Draw"}});
  const MarketRecord* market = state.find(1001);
  ASSERT_NE(market, nullptr);
  EXPECT_EQ(market->id, 1001u);
  EXPECT_EQ(market->event, 501u);
  EXPECT_EQ(market->name, "Match Odds");
  EXPECT_EQ(market->status, fb::MarketStatus::Open);
  ASSERT_EQ(market->selections.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(market->selections[i].id, i + 1) << "selections are kept ascending by id";
    EXPECT_EQ(market->selections[i].price_e4, 0u);
    EXPECT_EQ(market->selections[i].odds, "");
  }
  EXPECT_EQ(market->selections[0].name, "Home");
  EXPECT_EQ(state.seq(), 1u);
  EXPECT_EQ(state.find(1002), nullptr);
}

TEST(MarketState, PriceSetsPriceAndOriginalOdds) {
  MarketState state;
  FrameScript script(state);
  script.define(1001, 501, "Match Odds", kHomeDrawAway);
  script.price(1001, 1, "2.50");
  script.price(1001, 2, "5/2");
  script.price(1001, 3, "+150");
  script.price(1001, 1, "2.6");
  const MarketRecord& market = *state.find(1001);
  EXPECT_EQ(market.find_selection(1)->price_e4, 26000u);
  EXPECT_EQ(market.find_selection(1)->odds, "2.6");
  EXPECT_EQ(market.find_selection(2)->price_e4, 35000u);
  EXPECT_EQ(market.find_selection(2)->odds, "5/2");
  EXPECT_EQ(market.find_selection(3)->price_e4, 25000u);
  EXPECT_EQ(market.find_selection(3)->odds, "+150");
  EXPECT_EQ(market.find_selection(4), nullptr);
  EXPECT_EQ(state.seq(), 5u);
}

TEST(MarketState, RedefinitionKeepsPricesOfRemainingSelectionsAndDropsRemovedOnes) {
  MarketState state;
  FrameScript script(state);
  script.define(1001, 501, "Match Odds", kHomeDrawAway);
  script.price(1001, 1, "2.50");
  script.price(1001, 2, "3.10");
  script.price(1001, 3, "4.00");
  script.define(1001, 502, "Match Result", {{2, "Draw (renamed)"}, {3, "Away"}, {4, "Other"}});
  const MarketRecord& market = *state.find(1001);
  EXPECT_EQ(market.name, "Match Result");
  EXPECT_EQ(market.event, 502u);
  ASSERT_EQ(market.selections.size(), 3u);
  EXPECT_EQ(market.find_selection(1), nullptr) << "removed selection must go, with its price";
  EXPECT_EQ(market.find_selection(2)->price_e4, 31000u);
  EXPECT_EQ(market.find_selection(2)->odds, "3.10");
  EXPECT_EQ(market.find_selection(2)->name, "Draw (renamed)");
  EXPECT_EQ(market.find_selection(3)->price_e4, 40000u);
  EXPECT_EQ(market.find_selection(4)->price_e4, 0u);
  EXPECT_EQ(market.find_selection(4)->odds, "");

  // Re-adding the removed selection does not resurrect its old price.
  script.define(1001, 502, "Match Result", kHomeDrawAway);
  EXPECT_EQ(state.find(1001)->find_selection(1)->price_e4, 0u);
}

TEST(MarketState, ApplyingAFrameTwiceIsHarmless) {
  MarketState state;
  FrameScript script(state);
  script.define(1001, 501, "Match Odds", kHomeDrawAway);
  script.define(1002, 501, "Total Goals", {{1, "Over"}, {2, "Under"}});
  script.price(1001, 1, "2.50");
  script.status(1002, fb::MarketStatus::Suspended);
  script.price(1001, 2, "evens");
  const uint64_t digest = state_digest(state);
  const MarketRecord before = *state.find(1001);

  for (size_t i = 0; i < 5; ++i) {
    // Re-apply each frame right after itself: replaying a prefix twice reaches the same state.
    MarketState twice;
    for (size_t j = 0; j <= i; ++j) {
      twice.apply(script.frame(j));
      twice.apply(script.frame(j));
    }
    for (size_t j = i + 1; j < 5; ++j) twice.apply(script.frame(j));
    EXPECT_EQ(state_digest(twice), digest) << "frames 0.." << i << " applied twice";
    EXPECT_EQ(twice.seq(), state.seq());
  }

  state.apply(script.frame(4));
  EXPECT_EQ(state_digest(state), digest);
  EXPECT_EQ(state.find(1001)->find_selection(2)->odds, before.find_selection(2)->odds);
  EXPECT_EQ(state.find(1001)->status, before.status);
}

// market_seq is part of the state served to clients (state JSON, WebSocket deltas), and frames
// are state-setting, so a frame delivered twice must not count twice.
TEST(MarketState, ApplyingAFrameTwiceCountsItOnceInMarketSeq) {
  MarketState state;
  FrameScript script(state);
  script.define(1001, 501, "Match Odds", kHomeDrawAway);
  const fb::Frame& price = script.price(1001, 1, "2.50");
  const std::string once = json_of(state);
  state.apply(price);
  EXPECT_EQ(state.find(1001)->market_seq, 2u);
  EXPECT_EQ(json_of(state), once);
}

TEST(MarketState, StatusUpdateSetsStatusAndReason) {
  MarketState state;
  FrameScript script(state);
  script.define(1001, 501, "Match Odds", kHomeDrawAway);
  script.price(1001, 1, "2.50");
  script.status(1001, fb::MarketStatus::Suspended, fb::StatusReason::FeedStale);
  EXPECT_EQ(state.find(1001)->status, fb::MarketStatus::Suspended);
  EXPECT_EQ(state.find(1001)->reason, fb::StatusReason::FeedStale);
  EXPECT_EQ(state.find(1001)->find_selection(1)->price_e4, 25000u) << "status keeps prices";
  script.status(1001, fb::MarketStatus::Open, fb::StatusReason::Provider);
  EXPECT_EQ(state.find(1001)->status, fb::MarketStatus::Open);
  script.status(1001, fb::MarketStatus::Closed, fb::StatusReason::Provider);
  EXPECT_EQ(state.find(1001)->status, fb::MarketStatus::Closed);
  EXPECT_EQ(state.find(1001)->reason, fb::StatusReason::Provider);
}

TEST(MarketState, DefinitionStatusIsApplied) {
  MarketState state;
  FrameScript script(state);
  script.define(1001, 501, "Match Odds", kHomeDrawAway, fb::MarketStatus::Suspended);
  EXPECT_EQ(state.find(1001)->status, fb::MarketStatus::Suspended);
}

TEST(MarketState, SettlementSettlesAndRollbackSuspends) {
  MarketState state;
  FrameScript script(state);
  script.define(1001, 501, "Match Odds", kHomeDrawAway);
  script.price(1001, 1, "2.50");
  script.settle(1001, {1, 3});
  const MarketRecord* market = state.find(1001);
  EXPECT_EQ(market->status, fb::MarketStatus::Settled);
  EXPECT_EQ(market->reason, fb::StatusReason::Settlement);
  EXPECT_EQ(market->winners, (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(market->find_selection(1)->price_e4, 25000u);

  script.rollback(1001);
  EXPECT_EQ(state.find(1001)->status, fb::MarketStatus::Suspended);
  EXPECT_TRUE(state.find(1001)->winners.empty());
}

// UOF bet_settlement void_factor / dead_heat_factor (feeds/uof/uof_adapter.cpp cites the source):
// carried per selection; a market refunded in full is voided, still settled in the digest.
TEST(MarketState, SettlementCarriesFactorsAndAVoidedMarketSaysSo) {
  MarketState state;
  FrameScript script(state);
  script.define(1001, 501, "Match Odds", kHomeDrawAway);
  script.define(1002, 501, "Total", {{1, "Over"}, {2, "Under"}});
  MarketState plain;
  FrameScript plain_script(plain);
  plain_script.define(1001, 501, "Match Odds", kHomeDrawAway);
  plain_script.define(1002, 501, "Total", {{1, "Over"}, {2, "Under"}});

  script.settle(1001, {1}, {{1, 0, 5000}, {2, 5000, 0}});
  script.settle(1002, {}, {{1, 10000, 0}, {2, 10000, 0}}, true);
  plain_script.settle(1001, {1});
  plain_script.settle(1002, {});
  const MarketRecord& half = *state.find(1001);
  EXPECT_FALSE(half.voided);
  EXPECT_EQ(half.find_selection(1)->dead_heat_factor_e4, 5000u);
  EXPECT_EQ(half.find_selection(1)->void_factor_e4, 0u);
  EXPECT_EQ(half.find_selection(2)->void_factor_e4, 5000u);
  EXPECT_EQ(half.find_selection(3)->void_factor_e4, 0u);
  const MarketRecord& voided = *state.find(1002);
  EXPECT_EQ(voided.status, fb::MarketStatus::Settled);
  EXPECT_TRUE(voided.voided);
  EXPECT_TRUE(voided.winners.empty());

  // The digest encoding (DESIGN section 7) is unchanged: status and prices only.
  EXPECT_EQ(state_digest(state), state_digest(plain));
  const std::string json = json_of(state);
  EXPECT_NE(json.find(R"("status": "settled", "market_seq": 2, "selections": [{"selection": 1, )"
                      R"("name": "Over", "price_e4": 0, "odds": "", "void_factor_e4": 10000}, )"
                      R"({"selection": 2, "name": "Under", "price_e4": 0, "odds": "", )"
                      R"("void_factor_e4": 10000}], "voided": true})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("price_e4": 0, "odds": "", "dead_heat_factor_e4": 5000})"),
            std::string::npos)
      << json;
  EXPECT_EQ(json_of(plain).find("voided"), std::string::npos);

  // A rollback, or a settlement without factors, clears them.
  script.rollback(1002);
  EXPECT_FALSE(state.find(1002)->voided);
  EXPECT_EQ(state.find(1002)->find_selection(1)->void_factor_e4, 0u);
  script.settle(1001, {2});
  EXPECT_EQ(state.find(1001)->find_selection(1)->dead_heat_factor_e4, 0u);
}

TEST(MarketState, FrameJsonShowsSettlementFactorsOnlyWhenPresent) {
  MarketState state;
  FrameScript script(state);
  script.define(1001, 501, "Match Odds", kHomeDrawAway);
  std::string plain;
  append_frame_json(plain, script.settle(1001, {1}));
  EXPECT_EQ(plain.find("factors"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("voided"), std::string::npos) << plain;
  std::string factored;
  append_frame_json(factored, script.settle(1001, {}, {{2, 10000, 0}}, true));
  EXPECT_NE(factored.find(R"("winners": [], "factors": [{"selection": 2, "void_factor_e4": )"
                          R"(10000, "dead_heat_factor_e4": 0}], "voided": true)"),
            std::string::npos)
      << factored;
}

TEST(MarketState, EventSuspensionSuspendsOnlyThatEventsOpenMarkets) {
  MarketState state;
  FrameScript script(state);
  script.define(1, 501, "A", kHomeDrawAway);
  script.define(2, 501, "B", kHomeDrawAway);
  script.define(3, 501, "C", kHomeDrawAway);
  script.define(4, 502, "D", kHomeDrawAway);
  script.status(2, fb::MarketStatus::Closed, fb::StatusReason::Provider);
  script.settle(3, {1});
  const uint64_t seq_2 = state.find(2)->market_seq;
  const uint64_t seq_3 = state.find(3)->market_seq;
  const uint64_t seq_4 = state.find(4)->market_seq;

  script.suspend_event(501, fb::StatusReason::Provider);
  EXPECT_EQ(state.find(1)->status, fb::MarketStatus::Suspended);
  EXPECT_EQ(state.find(1)->reason, fb::StatusReason::Provider);
  EXPECT_EQ(state.find(1)->market_seq, 2u);
  EXPECT_EQ(state.find(1)->last_seq, script.seq());
  EXPECT_EQ(state.find(2)->status, fb::MarketStatus::Closed);
  EXPECT_EQ(state.find(3)->status, fb::MarketStatus::Settled);
  EXPECT_EQ(state.find(4)->status, fb::MarketStatus::Open) << "another event's market";
  EXPECT_EQ(state.find(2)->market_seq, seq_2);
  EXPECT_EQ(state.find(3)->market_seq, seq_3);
  EXPECT_EQ(state.find(4)->market_seq, seq_4);
  EXPECT_EQ(state.seq(), script.seq());
}

TEST(MarketState, MarketSeqCountsFramesThatTouchedEachMarket) {
  MarketState state;
  FrameScript script(state);
  script.define(1001, 501, "Match Odds", kHomeDrawAway);
  script.define(1002, 501, "Total Goals", {{1, "Over"}, {2, "Under"}});
  script.price(1001, 1, "2.50");
  script.price(1001, 2, "3.00");
  const fb::Frame& status = script.status(1002, fb::MarketStatus::Suspended);
  script.price(1001, 3, "4.00");
  const MarketRecord& a = *state.find(1001);
  const MarketRecord& b = *state.find(1002);
  EXPECT_EQ(a.market_seq, 4u);
  EXPECT_EQ(a.last_seq, 6u);
  EXPECT_EQ(a.updated_ns, 6'000'000'000ull);
  EXPECT_EQ(b.market_seq, 2u);
  EXPECT_EQ(b.last_seq, 5u);
  EXPECT_EQ(b.updated_ns, status.sequenced_ns());
  EXPECT_EQ(state.seq(), 6u);
}

TEST(MarketState, HeartbeatChangesNothing) {
  MarketState state;
  FrameScript script(state);
  script.define(1001, 501, "Match Odds", kHomeDrawAway);
  script.price(1001, 1, "2.50");
  const std::string before = json_of(state);
  script.heartbeat();
  EXPECT_EQ(json_of(state), before);
  EXPECT_EQ(state.seq(), 2u);
}

TEST(MarketState, FramesForUnknownMarketsOrSelectionsAreIgnored) {
  MarketState state;
  FrameScript script(state);
  script.define(1001, 501, "Match Odds", kHomeDrawAway);
  const uint64_t digest = state_digest(state);
  script.price(9999, 1, "2.50");
  script.price(1001, 9, "2.50");
  script.status(9999, fb::MarketStatus::Closed);
  script.settle(9999, {1});
  EXPECT_EQ(state_digest(state), digest);
  EXPECT_EQ(state.markets().size(), 1u);
  EXPECT_EQ(state.find(9999), nullptr);
}

TEST(MarketState, TracksEpochAndClears) {
  MarketState state;
  FrameScript script(state);
  script.set_epoch(3);
  script.define(1001, 501, "Match Odds", kHomeDrawAway);
  EXPECT_EQ(state.epoch(), 3u);
  state.clear();
  EXPECT_TRUE(state.markets().empty());
  EXPECT_EQ(state.seq(), 0u);
  EXPECT_EQ(state.epoch(), 0u);
}

TEST(MarketState, StatusAndReasonHaveNames) {
  EXPECT_EQ(to_string(fb::MarketStatus::Open), "open");
  EXPECT_EQ(to_string(fb::MarketStatus::Suspended), "suspended");
  EXPECT_EQ(to_string(fb::MarketStatus::Closed), "closed");
  EXPECT_EQ(to_string(fb::MarketStatus::Settled), "settled");
  EXPECT_EQ(to_string(fb::StatusReason::FeedStale), "feed-stale");
  EXPECT_EQ(to_string(fb::StatusReason::Trader), "trader");
}

}  // namespace
}  // namespace oddsbus
