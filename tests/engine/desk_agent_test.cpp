// The sequencer agent's desk path on one thread with injected time: desk requests are sequenced
// and acked (seq and epoch of a journaled frame, or a reason), feed events for markets the desk
// holds are held back until a release or an expiry hands the market back with the feed's view.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/desk_overrides.h"
#include "engine/desk_service.h"
#include "engine/ingest_queues.h"
#include "engine/journal.h"
#include "engine/sequencer.h"
#include "engine/sequencer_agent.h"
#include "tests/engine/desk_test_support.h"
#include "tests/engine/engine_test_support.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;

constexpr size_t kFeed = 0;
constexpr size_t kDesk = 1;
constexpr uint64_t kSecond = 1'000'000'000;

class DeskAgent : public ::testing::Test {
 protected:
  void SetUp() override {
    journal_ = open_test_journal(dir_.sub("journal"));
    ASSERT_NE(journal_, nullptr);
    agent_ = std::make_unique<SequencerAgent>(sequencer_, *journal_, queues_, nullptr,
                                              SequencerAgentConfig{});
    agent_->set_desk(&overrides_, &acks_);
    // Market 1001 open with the feed's prices Home 2.0, Draw 3.0 (seq 1..3).
    auto ok = agent_->sequence_now(
        {market_event(1001, 501, "Match Odds", home_draw_away()), feed(1, "2.0"), feed(2, "3.0")},
        Clocks{now_, now_});
    ASSERT_TRUE(ok) << ok.error();
  }

  static feeds::Event feed(uint64_t selection, std::string_view odds, uint64_t market = 1001) {
    feeds::Event e = price_event(market, selection, odds);
    e.source = "bf";
    return e;
  }

  void push(size_t producer, const feeds::Event& e) {
    ASSERT_EQ(queues_.push(producer, e, stop_), PushResult::kPushed);
  }

  // One round of the agent at the current time; returns the acks it handed back.
  std::vector<DeskAck> work() {
    auto done = agent_->do_work(Clocks{now_, now_});
    EXPECT_TRUE(done) << done.error();
    std::vector<DeskAck> acks;
    acks_.drain([&](const DeskAck& a) { acks.push_back(a); });
    return acks;
  }

  TempDir dir_;
  std::unique_ptr<Journal> journal_;
  Sequencer sequencer_{SequencerConfig{}};
  IngestQueues queues_{2, 64};
  DeskOverrides overrides_;
  DeskAckQueue acks_{64};
  std::unique_ptr<SequencerAgent> agent_;
  std::atomic<bool> stop_{false};
  uint64_t now_ = 100 * kSecond;
};

TEST_F(DeskAgent, AcksADeskPriceWithTheSeqAndEpochOfItsJournaledFrame) {
  push(kDesk, desk_event(price_event(1001, 1, "5/2"), 7));
  const auto acks = work();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].token, 7u);
  ASSERT_TRUE(acks[0].ok);
  EXPECT_EQ(acks[0].seq, 4u);
  EXPECT_EQ(acks[0].epoch, 1u);
  EXPECT_EQ(journal_->last_seq(), 4u) << "acked only once journaled";
  const auto frames = journaled_frames(*journal_, 4);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].type, fb::Payload::PriceUpdate);
  EXPECT_EQ(frames[0].price_e4, 35000u);
  EXPECT_EQ(frames[0].source, "desk");
  EXPECT_TRUE(overrides_.holds(1001));
}

TEST_F(DeskAgent, ADeskSuspensionIsATraderStatusFrame) {
  feeds::Event suspend = status_event(1001, fb::MarketStatus::Suspended, fb::StatusReason::Trader);
  push(kDesk, desk_event(suspend, 1));
  const auto acks = work();
  ASSERT_EQ(acks.size(), 1u);
  ASSERT_TRUE(acks[0].ok);
  const auto frames = journaled_frames(*journal_, acks[0].seq);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].type, fb::Payload::MarketStatusUpdate);
  EXPECT_EQ(frames[0].status, fb::MarketStatus::Suspended);
  EXPECT_EQ(frames[0].reason, fb::StatusReason::Trader);
}

TEST_F(DeskAgent, HoldsFeedEventsOfADeskMarketUntilReleasedThenRestoresTheFeedView) {
  push(kDesk, desk_event(price_event(1001, 1, "5.0"), 1));
  ASSERT_EQ(work().size(), 1u);
  const uint64_t after_desk = journal_->last_seq();

  // The feed moves Home and Draw meanwhile.
  push(kFeed, feed(1, "2.2"));
  push(kFeed, feed(2, "3.3"));
  EXPECT_TRUE(work().empty());
  EXPECT_EQ(journal_->last_seq(), after_desk) << "feed prices of a desk market are held back";
  EXPECT_EQ(agent_->counters().desk_held.load(), 2u);
  EXPECT_EQ(sequencer_.state().find(1001)->find_selection(1)->price_e4, 50000u);

  push(kDesk, desk_release(1001, 2));
  const auto acks = work();
  ASSERT_EQ(acks.size(), 1u);
  ASSERT_TRUE(acks[0].ok);
  EXPECT_EQ(acks[0].seq, journal_->last_seq()) << "the release is acked with its last frame";
  const auto frames = journaled_frames(*journal_, after_desk + 1);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].selection, 1u);
  EXPECT_EQ(frames[0].price_e4, 22000u);
  EXPECT_EQ(frames[0].source, "bf");
  EXPECT_EQ(frames[1].selection, 2u);
  EXPECT_EQ(frames[1].price_e4, 33000u);
  EXPECT_EQ(frames[2].type, fb::Payload::MarketStatusUpdate);
  EXPECT_EQ(frames[2].status, fb::MarketStatus::Open);
  EXPECT_FALSE(overrides_.holds(1001));

  push(kFeed, feed(1, "2.4"));
  EXPECT_TRUE(work().empty());
  EXPECT_EQ(sequencer_.state().find(1001)->find_selection(1)->price_e4, 24000u)
      << "feed prices flow again";
}

TEST_F(DeskAgent, RejectsUnknownMarketsSelectionsAndReleasesOfMarketsItDoesNotHold) {
  const uint64_t before = journal_->last_seq();
  push(kDesk, desk_event(price_event(4242, 1, "2.0"), 1));
  push(kDesk, desk_event(price_event(1001, 9, "2.0"), 2));
  push(kDesk, desk_release(1001, 3));
  const auto acks = work();
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_FALSE(acks[0].ok);
  EXPECT_EQ(acks[0].reason, desk::RejectReason::kUnknownMarket);
  EXPECT_FALSE(acks[1].ok);
  EXPECT_EQ(acks[1].reason, desk::RejectReason::kUnknownSelection);
  EXPECT_FALSE(acks[2].ok);
  EXPECT_EQ(acks[2].reason, desk::RejectReason::kNotOverridden);
  EXPECT_EQ(journal_->last_seq(), before);
  EXPECT_FALSE(overrides_.holds(1001)) << "a rejected request takes nothing";
}

TEST_F(DeskAgent, AnExpiredOverrideHandsTheMarketBackAtItsDeadline) {
  push(kDesk, desk_event(price_event(1001, 1, "5.0"), 1, 30 * kSecond));
  ASSERT_EQ(work().size(), 1u);
  push(kFeed, feed(1, "2.1"));
  now_ += 29 * kSecond;
  work();
  EXPECT_TRUE(overrides_.holds(1001));
  EXPECT_EQ(sequencer_.state().find(1001)->find_selection(1)->price_e4, 50000u);

  now_ += kSecond;
  EXPECT_TRUE(work().empty()) << "an expiry is not a request: nothing to ack";
  EXPECT_FALSE(overrides_.holds(1001));
  EXPECT_EQ(agent_->counters().desk_expiries.load(), 1u);
  EXPECT_EQ(sequencer_.state().find(1001)->find_selection(1)->price_e4, 21000u);
  const auto frames = journaled_frames(*journal_);
  EXPECT_EQ(frames.back().type, fb::Payload::MarketStatusUpdate) << "the release frame";
}

TEST_F(DeskAgent, ASettlementEndsDeskControl) {
  push(kDesk, desk_event(status_event(1001, fb::MarketStatus::Suspended), 1));
  push(kDesk, desk_event(settle_event(1001, {1}), 2));
  const auto acks = work();
  ASSERT_EQ(acks.size(), 2u);
  ASSERT_TRUE(acks[1].ok);
  EXPECT_EQ(sequencer_.state().find(1001)->status, fb::MarketStatus::Settled);
  EXPECT_FALSE(overrides_.holds(1001));
  push(kDesk, desk_event(status_event(1001, fb::MarketStatus::Open), 3));
  const auto late = work();
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].reason, desk::RejectReason::kMarketSettled);
}

TEST_F(DeskAgent, FeedEventsOfOtherMarketsPassWhileTheDeskHoldsOne) {
  ASSERT_TRUE(agent_->sequence_now({market_event(1002, 502, "Other", home_draw_away())},
                                   Clocks{now_, now_}));
  push(kDesk, desk_event(status_event(1001, fb::MarketStatus::Suspended), 1));
  push(kFeed, feed(1, "4.0", 1002));
  work();
  EXPECT_EQ(sequencer_.state().find(1002)->find_selection(1)->price_e4, 40000u);
  EXPECT_EQ(agent_->counters().desk_held.load(), 0u);
}

}  // namespace
}  // namespace oddsbus::engine
