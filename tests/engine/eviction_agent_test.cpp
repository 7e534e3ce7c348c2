// Bounded live state through the sequencer agent (issue 15), one thread, injected clocks: a
// settled market untouched for evict_after leaves the state through a journaled MarketEviction
// frame, the source selector forgets it, a restart from the journal agrees, and a market a desk
// holds is kept.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/desk_overrides.h"
#include "engine/desk_service.h"
#include "engine/ingest_queues.h"
#include "engine/journal.h"
#include "engine/journal_scan.h"
#include "engine/restore.h"
#include "engine/sequencer.h"
#include "engine/sequencer_agent.h"
#include "feeds/mapping.h"
#include "feeds/source_selector.h"
#include "schemas/state_digest.h"
#include "tests/engine/desk_test_support.h"
#include "tests/engine/engine_test_support.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;

constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kMinute = 60 * kSecond;
constexpr uint64_t kWall = 1'800'000'000 * kSecond;

class EvictionAgent : public ::testing::Test {
 protected:
  void SetUp() override {
    journal_ = open_test_journal(dir_.sub("journal"));
    ASSERT_NE(journal_, nullptr);
    SequencerAgentConfig config;
    config.evict_after_ns = 10 * kMinute;
    agent_ = std::make_unique<SequencerAgent>(sequencer_, *journal_, queues_, nullptr, config,
                                              &selector_);
    agent_->set_desk(&overrides_, &acks_);
  }

  static feeds::Event feed(feeds::Event e) {
    e.source = "oj";
    return e;
  }
  void push(size_t producer, const feeds::Event& e) {
    ASSERT_EQ(queues_.push(producer, e, stop_), PushResult::kPushed);
  }
  void work(uint64_t elapsed_ns) {
    auto done = agent_->do_work(Clocks{kSecond + elapsed_ns, kWall + elapsed_ns});
    ASSERT_TRUE(done) << done.error();
    acks_.drain([](const DeskAck&) {});
  }
  // The payload type of every journaled frame, in seq order.
  std::vector<fb::Payload> journaled_types() const {
    std::vector<fb::Payload> types;
    auto scanned = scan_frames(*journal_, 1, journal_->last_seq(), [&](const fb::Frame& f) {
      types.push_back(f.payload_type());
      return true;
    });
    EXPECT_TRUE(scanned);
    return types;
  }

  TempDir dir_;
  std::unique_ptr<Journal> journal_;
  Sequencer sequencer_{SequencerConfig{}};
  feeds::Mapping mapping_;
  feeds::SourceSelector selector_{mapping_, feeds::SourceSelectorConfig{}};
  IngestQueues queues_{2, 64};
  DeskOverrides overrides_;
  DeskAckQueue acks_{64};
  std::unique_ptr<SequencerAgent> agent_;
  std::atomic<bool> stop_{false};
};

TEST_F(EvictionAgent, ASettledMarketLeavesThroughAJournaledFrameAfterItsTime) {
  push(0, feed(market_event(1001, 501, "Match Odds", home_draw_away())));
  push(0, feed(market_event(1002, 501, "Over/Under", home_draw_away())));
  push(0, feed(price_event(1001, 1, "2.50")));
  push(0, feed(settle_event(1001, {1})));
  work(0);
  ASSERT_NE(sequencer_.state().find(1001), nullptr);
  EXPECT_EQ(selector_.active_source(1001), "oj");

  work(10 * kMinute - 1);
  EXPECT_NE(sequencer_.state().find(1001), nullptr) << "not before its time";
  EXPECT_EQ(agent_->counters().evictions.load(), 0u);

  work(10 * kMinute);
  EXPECT_EQ(sequencer_.state().find(1001), nullptr);
  EXPECT_NE(sequencer_.state().find(1002), nullptr) << "an open market stays";
  EXPECT_EQ(agent_->counters().evictions.load(), 1u);
  EXPECT_EQ(agent_->counters().live_markets.load(), 1u);
  EXPECT_EQ(journaled_types().back(), fb::Payload::MarketEviction);
  EXPECT_EQ(selector_.active_source(1001), "") << "the selector forgot it";

  // A restart from the journal holds what the running node holds.
  auto restarted = restore_sequencer(*journal_);
  ASSERT_TRUE(restarted) << restarted.error();
  EXPECT_EQ(state_digest((*restarted)->state()), state_digest(sequencer_.state()));
  EXPECT_EQ((*restarted)->state().find(1001), nullptr);

  // A feed's later word on it is about an unknown market: nothing is sequenced for it.
  const uint64_t last = journal_->last_seq();
  push(0, feed(price_event(1001, 1, "2.60")));
  work(11 * kMinute);
  EXPECT_EQ(journal_->last_seq(), last);
}

TEST_F(EvictionAgent, AMarketADeskHoldsIsKept) {
  push(0, feed(market_event(1001, 501, "Match Odds", home_draw_away())));
  work(0);
  push(1, desk_event(status_event(1001, fb::MarketStatus::Closed), 7));
  work(kSecond);
  ASSERT_EQ(sequencer_.state().find(1001)->status, fb::MarketStatus::Closed);
  ASSERT_TRUE(overrides_.holds(1001));
  work(30 * kMinute);
  EXPECT_NE(sequencer_.state().find(1001), nullptr);
  EXPECT_EQ(agent_->counters().evictions.load(), 0u);
}

}  // namespace
}  // namespace oddsbus::engine
