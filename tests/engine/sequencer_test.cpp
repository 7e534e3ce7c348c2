#include "engine/sequencer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "schemas/state_digest.h"
#include "schemas/state_json.h"
#include "tests/engine/engine_test_support.h"

namespace oddsbus::engine {
namespace {

using feeds::RejectReason;
using namespace testing_support;

constexpr uint64_t kNow = 1'800'000'000'000'000'000ull;

std::string json_of(const MarketState& state) {
  std::string out;
  append_state_json(out, state);
  return out;
}

// A sequencer at some seq with market 1001 (selections 1..3) defined and priced.
class SequencerTest : public ::testing::Test {
 protected:
  SequencerTest() : sequencer_(config()) {
    sequencer_.begin_batch(batch_);
    EXPECT_TRUE(
        sequencer_.sequence(market_event(1001, 501, "Match Odds", home_draw_away()), kNow, batch_));
    EXPECT_TRUE(sequencer_.sequence(price_event(1001, 1, "2.50"), kNow, batch_));
  }

  static SequencerConfig config() {
    SequencerConfig c;
    c.channel = 7;
    c.node = 3;
    c.epoch = 2;
    c.last_seq = 41;
    return c;
  }

  // Checks that `event` is rejected for `reason` and changes nothing at all.
  void expect_rejected_without_effect(const feeds::Event& event, RejectReason reason) {
    const uint64_t last_seq = sequencer_.last_seq();
    const uint32_t count = batch_.count();
    const size_t size = batch_.size();
    const std::string state = json_of(sequencer_.state());
    const uint64_t digest = state_digest(sequencer_.state());

    auto result = sequencer_.sequence(event, kNow + 1, batch_);
    ASSERT_FALSE(result) << "accepted as seq " << *result;
    EXPECT_EQ(result.error(), reason) << feeds::to_string(result.error());
    EXPECT_EQ(sequencer_.last_seq(), last_seq);
    EXPECT_EQ(batch_.count(), count);
    EXPECT_EQ(batch_.size(), size);
    EXPECT_EQ(json_of(sequencer_.state()), state);
    EXPECT_EQ(state_digest(sequencer_.state()), digest);

    // The next accepted event still gets the next seq: no hole was left.
    auto next = sequencer_.sequence(price_event(1001, 2, "3.00"), kNow, batch_);
    ASSERT_TRUE(next);
    EXPECT_EQ(*next, last_seq + 1);
  }

  Sequencer sequencer_;
  BatchWriter batch_{4096};
};

TEST_F(SequencerTest, SeqIsGapFreeFromLastSeqPlusOne) {
  EXPECT_EQ(batch_.first_seq(), 42u);
  EXPECT_EQ(sequencer_.last_seq(), 43u);
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 10; ++i) {
    auto seq =
        sequencer_.sequence(price_event(1001, 1 + i % 3, "2.0" + std::to_string(i)), kNow, batch_);
    ASSERT_TRUE(seq);
    seqs.push_back(*seq);
  }
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], 44 + i);
  EXPECT_EQ(batch_.count(), 12u);

  BatchReader reader;
  ASSERT_TRUE(reader.open(batch_.bytes()));
  for (size_t i = 0; i < reader.frames().size(); ++i) EXPECT_EQ(reader.frames()[i]->seq(), 42 + i);

  // A new batch continues where the last one ended.
  sequencer_.begin_batch(batch_);
  EXPECT_EQ(batch_.first_seq(), 54u);
  EXPECT_EQ(*sequencer_.sequence(price_event(1001, 1, "9.0"), kNow, batch_), 54u);
}

TEST_F(SequencerTest, RejectsPriceForUnknownMarket) {
  expect_rejected_without_effect(price_event(9999, 1, "2.0"), RejectReason::kUnknownMarket);
}

TEST_F(SequencerTest, RejectsStatusAndSettleForUnknownMarket) {
  expect_rejected_without_effect(status_event(9999, fb::MarketStatus::Suspended),
                                 RejectReason::kUnknownMarket);
  expect_rejected_without_effect(settle_event(9999, {1}), RejectReason::kUnknownMarket);
}

TEST_F(SequencerTest, RejectsPriceForUnknownSelection) {
  expect_rejected_without_effect(price_event(1001, 4, "2.0"), RejectReason::kUnknownSelection);
}

TEST_F(SequencerTest, RejectsSettleWithUnknownWinner) {
  expect_rejected_without_effect(settle_event(1001, {1, 7}), RejectReason::kUnknownSelection);
  EXPECT_EQ(sequencer_.state().find(1001)->status, fb::MarketStatus::Open);
}

TEST_F(SequencerTest, RejectsPriceAfterSettle) {
  ASSERT_TRUE(sequencer_.sequence(settle_event(1001, {1}), kNow, batch_));
  EXPECT_EQ(sequencer_.state().find(1001)->status, fb::MarketStatus::Settled);
  const uint64_t last_seq = sequencer_.last_seq();
  const std::string state = json_of(sequencer_.state());
  auto result = sequencer_.sequence(price_event(1001, 2, "3.0"), kNow, batch_);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), RejectReason::kMarketSettled);
  EXPECT_EQ(sequencer_.last_seq(), last_seq);
  EXPECT_EQ(json_of(sequencer_.state()), state);
}

TEST_F(SequencerTest, RedefinedSelectionSetRulesLaterPrices) {
  ASSERT_TRUE(sequencer_.sequence(
      market_event(1001, 501, "Match Odds", {{1, "Home"}, {2, "Draw"}, {4, "New"}}), kNow, batch_));
  expect_rejected_without_effect(price_event(1001, 3, "2.0"), RejectReason::kUnknownSelection);
  EXPECT_TRUE(sequencer_.sequence(price_event(1001, 4, "2.0"), kNow, batch_));
  EXPECT_EQ(sequencer_.state().find(1001)->find_selection(1)->price_e4, 25000u);
}

TEST_F(SequencerTest, SettlementRollbackReopensTheMarketToPrices) {
  ASSERT_TRUE(sequencer_.sequence(settle_event(1001, {1}), kNow, batch_));
  feeds::Event rollback;
  rollback.type = feeds::EventType::kSettlementRollback;
  rollback.market = 1001;
  auto seq = sequencer_.sequence(rollback, kNow, batch_);
  ASSERT_TRUE(seq);
  EXPECT_EQ(*seq, sequencer_.last_seq());
  EXPECT_EQ(sequencer_.state().find(1001)->status, fb::MarketStatus::Suspended);
  EXPECT_TRUE(sequencer_.sequence(price_event(1001, 2, "3.0"), kNow, batch_));
  rollback.market = 9999;
  expect_rejected_without_effect(rollback, RejectReason::kUnknownMarket);
}

TEST_F(SequencerTest, SourceStatusEventMakesNoFrame) {
  feeds::Event e;
  e.type = feeds::EventType::kSourceStatus;
  e.source = "bf";
  e.source_up = false;
  const uint64_t last_seq = sequencer_.last_seq();
  auto result = sequencer_.sequence(e, kNow, batch_);
  ASSERT_TRUE(result);
  EXPECT_EQ(*result, 0u);
  EXPECT_EQ(sequencer_.last_seq(), last_seq);
  EXPECT_EQ(batch_.count(), 2u);
}

TEST_F(SequencerTest, HeartbeatEventMakesNoFrame) {
  const uint64_t last_seq = sequencer_.last_seq();
  const uint32_t count = batch_.count();
  auto result = sequencer_.sequence(heartbeat_event(), kNow, batch_);
  ASSERT_TRUE(result);
  EXPECT_EQ(*result, 0u);
  EXPECT_EQ(sequencer_.last_seq(), last_seq);
  EXPECT_EQ(batch_.count(), count);
}

TEST_F(SequencerTest, FramesCarryEpochChannelNodeTimesAndMarketSeq) {
  ASSERT_TRUE(
      sequencer_.sequence(market_event(1002, 501, "Total Goals", {{1, "Over"}}), kNow + 5, batch_));
  ASSERT_TRUE(sequencer_.sequence(price_event(1001, 3, "+150", 1'700'000'000'000'000'000ull),
                                  kNow + 6, batch_));
  ASSERT_TRUE(
      sequencer_.sequence(status_event(1001, fb::MarketStatus::Suspended), kNow + 7, batch_));

  BatchReader reader;
  ASSERT_TRUE(reader.open(batch_.bytes()));
  EXPECT_EQ(reader.header().channel, 7u);
  ASSERT_EQ(reader.frames().size(), 5u);
  const uint64_t expected_market_seq[] = {1, 2, 1, 3, 4};
  for (size_t i = 0; i < 5; ++i) {
    const fb::Frame& f = *reader.frames()[i];
    EXPECT_EQ(f.epoch(), 2u);
    EXPECT_EQ(f.channel(), 7u);
    EXPECT_EQ(f.publisher(), 3u);
    EXPECT_EQ(f.market_seq(), expected_market_seq[i]) << "frame " << i;
  }
  EXPECT_EQ(reader.frames()[2]->sequenced_ns(), kNow + 5);
  EXPECT_EQ(reader.frames()[3]->sequenced_ns(), kNow + 6);
  EXPECT_EQ(reader.frames()[3]->source_ns(), 1'700'000'000'000'000'000ull);
  EXPECT_EQ(reader.frames()[2]->source_ns(), 0u);
  const auto* price = reader.frames()[3]->payload_as_PriceUpdate()->prices()->Get(0);
  EXPECT_EQ(price->price_e4(), 25000u);
  EXPECT_EQ(price->format(), fb::OddsFormat::American);
  EXPECT_EQ(price->original()->str(), "+150");
  EXPECT_EQ(sequencer_.state().find(1001)->market_seq, 4u);
  EXPECT_EQ(sequencer_.epoch(), 2u);
}

TEST_F(SequencerTest, PriceFrameNamesItsSource) {
  feeds::Event e = price_event(1001, 2, "3.0");
  e.provider = "acme";
  ASSERT_TRUE(sequencer_.sequence(e, kNow, batch_));
  e.source = "bf";
  ASSERT_TRUE(sequencer_.sequence(e, kNow, batch_));
  BatchReader reader;
  ASSERT_TRUE(reader.open(batch_.bytes()));
  EXPECT_EQ(reader.frames()[2]->payload_as_PriceUpdate()->source()->str(), "acme");
  EXPECT_EQ(reader.frames()[3]->payload_as_PriceUpdate()->source()->str(), "bf");
}

TEST_F(SequencerTest, StateEqualsFoldingItsFramesFromScratch) {
  ASSERT_TRUE(sequencer_.sequence(market_event(1002, 502, "Total Goals", {{1, "Over"}, {2, "U"}}),
                                  kNow, batch_));
  ASSERT_TRUE(sequencer_.sequence(price_event(1002, 2, "1/3"), kNow, batch_));
  ASSERT_TRUE(sequencer_.sequence(price_event(1001, 2, "-110"), kNow, batch_));
  ASSERT_FALSE(sequencer_.sequence(price_event(1003, 2, "2.0"), kNow, batch_));
  ASSERT_TRUE(sequencer_.sequence(status_event(1001, fb::MarketStatus::Suspended), kNow, batch_));
  ASSERT_TRUE(sequencer_.sequence(settle_event(1002, {2}), kNow, batch_));
  ASSERT_TRUE(sequencer_.sequence(market_event(1001, 501, "Match Odds", {{2, "D"}, {5, "E"}}), kNow,
                                  batch_));

  BatchReader reader;
  ASSERT_TRUE(reader.open(batch_.bytes()));
  MarketState folded;
  for (const fb::Frame* frame : reader.frames()) folded.apply(*frame);
  EXPECT_EQ(json_of(folded), json_of(sequencer_.state()));
  EXPECT_EQ(state_digest(folded), state_digest(sequencer_.state()));
  EXPECT_EQ(folded.seq(), sequencer_.last_seq());
}

TEST_F(SequencerTest, HeartbeatBatchCarriesLastSeqAndDoesNotAdvanceIt) {
  const uint64_t last_seq = sequencer_.last_seq();
  BatchWriter heartbeat(256);
  sequencer_.heartbeat(kNow + 9, heartbeat);
  EXPECT_EQ(sequencer_.last_seq(), last_seq);
  BatchReader reader;
  ASSERT_TRUE(reader.open(heartbeat.bytes()));
  EXPECT_TRUE(reader.heartbeat());
  EXPECT_EQ(reader.header().first_seq, last_seq);
  ASSERT_EQ(reader.frames().size(), 1u);
  EXPECT_EQ(reader.frames()[0]->payload_type(), fb::Payload::Heartbeat);
  EXPECT_EQ(reader.frames()[0]->payload_as_Heartbeat()->last_seq(), last_seq);
  EXPECT_EQ(reader.frames()[0]->sequenced_ns(), kNow + 9);
  EXPECT_EQ(reader.frames()[0]->epoch(), 2u);
  auto next = sequencer_.sequence(price_event(1001, 1, "2.2"), kNow, batch_);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, last_seq + 1);
}

TEST_F(SequencerTest, RestoredSequencerContinuesWithTheSameState) {
  BatchReader reader;
  ASSERT_TRUE(reader.open(batch_.bytes()));
  Sequencer restored(config());
  for (const fb::Frame* frame : reader.frames()) restored.restore(*frame);
  EXPECT_EQ(restored.last_seq(), sequencer_.last_seq());
  EXPECT_EQ(json_of(restored.state()), json_of(sequencer_.state()));

  BatchWriter batch(1024);
  restored.begin_batch(batch);
  EXPECT_EQ(batch.first_seq(), sequencer_.last_seq() + 1);
  auto seq = restored.sequence(price_event(1001, 3, "4.0"), kNow, batch);
  ASSERT_TRUE(seq);
  EXPECT_EQ(*seq, sequencer_.last_seq() + 1);
  BatchReader again;
  ASSERT_TRUE(again.open(batch.bytes()));
  EXPECT_EQ(again.frames()[0]->market_seq(), 3u) << "market_seq continues after a restore";
}

// Issue 12: an EpochChange names the history it continues (the epoch of the frame before it and
// where that epoch began), and a node restored from its journal knows that history, even when it
// has heard of a higher epoch than the one its journal holds.
TEST(Sequencer, AnEpochChangeNamesTheHistoryItContinues) {
  Sequencer primary(SequencerConfig{});
  BatchWriter batch(4096);
  primary.begin_batch(batch);
  ASSERT_TRUE(primary.sequence(market_event(1, 1, "m", {{1, "a"}}), kNow, batch));
  ASSERT_TRUE(primary.sequence(price_event(1, 1, "2.0"), kNow, batch));
  EXPECT_EQ(primary.change_epoch(2, kNow, batch), 3u);
  ASSERT_TRUE(primary.sequence(price_event(1, 1, "2.5"), kNow, batch));
  EXPECT_EQ(primary.change_epoch(5, kNow, batch), 5u);
  const HistoryEpoch now = primary.history();
  EXPECT_EQ(now.epoch, 5u);
  EXPECT_EQ(now.start, 5u);
  EXPECT_EQ(now.previous_epoch, 2u);
  EXPECT_EQ(now.previous_start, 3u);

  BatchReader reader;
  ASSERT_TRUE(reader.open(batch.bytes()));
  const fb::EpochChange* second = reader.frames()[4]->payload_as_EpochChange();
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->previous_epoch(), 2u);
  EXPECT_EQ(second->previous_start(), 3u);
  const fb::EpochChange* first = reader.frames()[2]->payload_as_EpochChange();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->previous_epoch(), 1u);
  EXPECT_EQ(first->previous_start(), 1u);

  // A node whose journal meta says epoch 7 (heard of) but holds these frames through seq 4.
  SequencerConfig heard;
  heard.epoch = 7;
  Sequencer restored(heard);
  for (size_t i = 0; i < 4; ++i) restored.restore(*reader.frames()[i]);
  EXPECT_EQ(restored.epoch(), 7u);
  EXPECT_EQ(restored.history().epoch, 2u);
  EXPECT_EQ(restored.history().start, 3u);
  EXPECT_EQ(restored.history().previous_epoch, 1u);
  EXPECT_EQ(restored.history().previous_start, 1u);
  // Its own takeover continues the history it holds, not the epoch it heard of.
  BatchWriter next(1024);
  restored.begin_batch(next);
  EXPECT_EQ(restored.change_epoch(8, kNow, next), 5u);
  BatchReader again;
  ASSERT_TRUE(again.open(next.bytes()));
  EXPECT_EQ(again.frames()[0]->payload_as_EpochChange()->previous_epoch(), 2u);
  EXPECT_EQ(again.frames()[0]->payload_as_EpochChange()->previous_start(), 3u);
}

TEST(Sequencer, NewJournalStartsAtSeqOne) {
  Sequencer sequencer(SequencerConfig{});
  BatchWriter batch(1024);
  sequencer.begin_batch(batch);
  EXPECT_EQ(batch.first_seq(), 1u);
  auto seq = sequencer.sequence(market_event(1, 1, "m", {{1, "a"}}), kNow, batch);
  ASSERT_TRUE(seq);
  EXPECT_EQ(*seq, 1u);
  EXPECT_EQ(sequencer.state().seq(), 1u);
}

}  // namespace
}  // namespace oddsbus::engine

namespace oddsbus::engine {
namespace {

constexpr uint64_t kMinute = 60'000'000'000ull;
constexpr uint64_t kEvictAfter = 10 * kMinute;

// Bounded live state (issue 15): markets finished at kNow and one still open; frames kept so
// that another fold (a replica, an edge, replay) can be checked against the sequencer's state.
class EvictionTest : public ::testing::Test {
 protected:
  EvictionTest() : sequencer_(SequencerConfig{}) {
    for (uint64_t market = 1; market <= 5; ++market) {
      run(market_event(market, 500 + market, "M", home_draw_away()), kNow);
    }
    run(settle_event(1, {1}), kNow);
    run(status_event(2, fb::MarketStatus::Closed, fb::StatusReason::Provider), kNow);
    run(settle_event(4, {2}), kNow);
  }

  uint64_t run(const feeds::Event& event, uint64_t now_ns) {
    sequencer_.begin_batch(batch_);
    auto seq = sequencer_.sequence(event, now_ns, batch_);
    EXPECT_TRUE(seq);
    keep();
    return seq ? *seq : 0;
  }
  std::optional<uint64_t> evict(uint64_t market, uint64_t now_ns) {
    sequencer_.begin_batch(batch_);
    auto seq = sequencer_.evict(market, now_ns, batch_);
    keep();
    return seq;
  }
  std::vector<uint64_t> due(uint64_t now_ns) {
    std::vector<uint64_t> markets;
    sequencer_.due_evictions(now_ns, kEvictAfter, 100, markets);
    return markets;
  }
  void keep() {
    if (!batch_.empty()) batches_.emplace_back(batch_.bytes().begin(), batch_.bytes().end());
  }
  static feeds::Event rollback_event(uint64_t market) {
    feeds::Event e;
    e.type = feeds::EventType::kSettlementRollback;
    e.market = market;
    return e;
  }
  MarketState fold() const {
    MarketState state;
    for (const auto& bytes : batches_) {
      BatchReader reader;
      EXPECT_TRUE(reader.open(bytes));
      for (const fb::Frame* frame : reader.frames()) state.apply(*frame);
    }
    return state;
  }
  Sequencer restored() const {
    Sequencer again(SequencerConfig{});
    for (const auto& bytes : batches_) {
      BatchReader reader;
      EXPECT_TRUE(reader.open(bytes));
      for (const fb::Frame* frame : reader.frames()) again.restore(*frame);
    }
    return again;
  }

  Sequencer sequencer_;
  BatchWriter batch_{4096};
  std::vector<std::vector<uint8_t>> batches_;  // one per run()/evict() that made a frame
};

TEST_F(EvictionTest, AFinishedMarketIsDueAfterItsTimeAndLeavesEveryFoldAtOneSeq) {
  EXPECT_TRUE(due(kNow + kEvictAfter - 1).empty());
  EXPECT_EQ(due(kNow + kEvictAfter), (std::vector<uint64_t>{1, 2, 4}));
  EXPECT_TRUE(due(kNow + kEvictAfter).empty()) << "taken once";

  const uint64_t before = sequencer_.last_seq();
  const auto seq = evict(1, kNow + kEvictAfter);
  ASSERT_TRUE(seq);
  EXPECT_EQ(*seq, before + 1);
  EXPECT_EQ(sequencer_.state().find(1), nullptr);
  EXPECT_NE(sequencer_.state().find(3), nullptr);
  // Another fold of the same frames (an edge, a replica, replay) holds exactly the same state.
  EXPECT_EQ(state_digest(fold()), state_digest(sequencer_.state()));
  EXPECT_EQ(fold().find(1), nullptr);

  // A feed's word on it now is a word on an unknown market; defining it again starts anew.
  sequencer_.begin_batch(batch_);
  auto price = sequencer_.sequence(price_event(1, 1, "2.50"), kNow + kEvictAfter, batch_);
  ASSERT_FALSE(price);
  EXPECT_EQ(price.error(), RejectReason::kUnknownMarket);
  run(market_event(1, 501, "M", home_draw_away()), kNow + kEvictAfter);
  EXPECT_EQ(sequencer_.state().find(1)->status, fb::MarketStatus::Open);
}

TEST_F(EvictionTest, OpenSuspendedOrUnknownMarketsAreNeverEvicted) {
  EXPECT_FALSE(evict(3, kNow + kEvictAfter)) << "open";
  run(status_event(5, fb::MarketStatus::Suspended), kNow);
  EXPECT_FALSE(evict(5, kNow + kEvictAfter)) << "suspended";
  EXPECT_FALSE(evict(99, kNow + kEvictAfter)) << "unknown";
  EXPECT_EQ(batches_.size(), 9u) << "no frame for a refused eviction";
}

TEST_F(EvictionTest, ARolledBackSettlementIsNotEvictedAndATouchCountsFromThen) {
  run(rollback_event(4), kNow + 5 * kMinute);  // back to suspended
  // Market 2 closed, then defined again (closed) five minutes later: counts from then.
  run(market_event(2, 502, "M", home_draw_away(), fb::MarketStatus::Closed), kNow + 5 * kMinute);
  EXPECT_EQ(due(kNow + kEvictAfter), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(due(kNow + 14 * kMinute).empty());
  EXPECT_EQ(due(kNow + 15 * kMinute), (std::vector<uint64_t>{2}));
  // Settled again: due ten minutes after that settlement.
  run(settle_event(4, {1}), kNow + 20 * kMinute);
  EXPECT_TRUE(due(kNow + 29 * kMinute).empty());
  EXPECT_EQ(due(kNow + 30 * kMinute), (std::vector<uint64_t>{4}));
}

TEST_F(EvictionTest, ARestartedOrTakingOverNodeKeepsTheSameSchedule) {
  ASSERT_TRUE(evict(1, kNow + kEvictAfter));
  // From the journal's frames (restart, or a secondary that replicated them).
  Sequencer again = restored();
  std::vector<uint64_t> markets;
  again.due_evictions(kNow + kEvictAfter, kEvictAfter, 100, markets);
  EXPECT_EQ(markets, (std::vector<uint64_t>{2, 4}));
  // From a journal snapshot of the state.
  Sequencer from_snapshot(SequencerConfig{});
  from_snapshot.restore_snapshot(sequencer_.state(), 1);
  markets.clear();
  from_snapshot.due_evictions(kNow + kEvictAfter - 1, kEvictAfter, 100, markets);
  EXPECT_TRUE(markets.empty());
  from_snapshot.due_evictions(kNow + kEvictAfter, kEvictAfter, 100, markets);
  EXPECT_EQ(markets, (std::vector<uint64_t>{2, 4}));
}

TEST_F(EvictionTest, AtMostMaxAreTakenAndTheRestWait) {
  std::vector<uint64_t> markets;
  EXPECT_EQ(sequencer_.due_evictions(kNow + kEvictAfter, kEvictAfter, 2, markets), 2u);
  EXPECT_EQ(markets, (std::vector<uint64_t>{1, 2}));
  markets.clear();
  EXPECT_EQ(sequencer_.due_evictions(kNow + kEvictAfter, kEvictAfter, 2, markets), 1u);
  EXPECT_EQ(markets, (std::vector<uint64_t>{4}));
}

}  // namespace
}  // namespace oddsbus::engine

namespace oddsbus::engine {
namespace {

// A secondary applies its primary's evictions (restore()) and never takes its own queue's
// entries: the queue stays within bounds anyway while 20,000 markets come and go.
TEST(EvictionQueue, AReplicaThatNeverEvictsKeepsItsQueueBounded) {
  Sequencer primary(SequencerConfig{});
  Sequencer replica(SequencerConfig{});
  BatchWriter batch(1 << 16);
  BatchReader reader;
  std::vector<uint64_t> due;
  size_t most = 0;
  for (uint64_t i = 0; i < 20'000; ++i) {
    const uint64_t now = kNow + i * 1'000'000;
    primary.begin_batch(batch);
    ASSERT_TRUE(primary.sequence(market_event(100'000 + i, 1, "M", home_draw_away()), now, batch));
    ASSERT_TRUE(primary.sequence(settle_event(100'000 + i, {1}), now, batch));
    due.clear();
    primary.due_evictions(now, 100'000'000, 64, due);  // 100 ms: about 100 markets live
    for (const uint64_t market : due) ASSERT_TRUE(primary.evict(market, now, batch));
    ASSERT_TRUE(reader.open(batch.bytes()));
    for (const fb::Frame* frame : reader.frames()) replica.restore(*frame);
    most = std::max(most, replica.finished_waiting());
  }
  EXPECT_EQ(state_digest(replica.state()), state_digest(primary.state()));
  EXPECT_LT(replica.state().markets().size(), 200u);
  EXPECT_LE(most, 2 * 200 + 1024 + 1u) << "the replica's queue grew with every market";
  std::vector<uint64_t> evicted;
  replica.take_evicted(evicted);
  EXPECT_EQ(evicted.size(), 20'000 - replica.state().markets().size())
      << "every eviction recorded for the selector";
}

}  // namespace
}  // namespace oddsbus::engine
