// Issue 10, defect 3: the wall clock stamps frames and drives nothing else. The sequencer agent
// (source staleness, desk override expiry) and the node's roles (failover) run on injected
// clocks; stepping the wall clock back or forward by an hour must cause no feed-stale
// suspension, no override expiry and no takeover, while the frames carry the stepped wall time.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <vector>

#include "engine/clocks.h"
#include "engine/desk_overrides.h"
#include "engine/desk_service.h"
#include "engine/ingest_queues.h"
#include "engine/journal.h"
#include "engine/node_roles.h"
#include "engine/sequencer.h"
#include "engine/sequencer_agent.h"
#include "engine/sync_gate.h"
#include "feeds/mapping.h"
#include "feeds/source_selector.h"
#include "schemas/batch.h"
#include "tests/engine/desk_test_support.h"
#include "tests/engine/engine_test_support.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;

constexpr size_t kFeed = 0;
constexpr size_t kDesk = 1;
constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kHour = 3600 * kSecond;
constexpr uint64_t kWall = 1'800'000'000'000'000'000ull;  // 2027-01-15

// Keeps what was published, to read the frames' stamps.
class CapturingSink final : public BatchSink {
 public:
  void publish(std::span<const uint8_t> batch) override {
    batches.emplace_back(batch.begin(), batch.end());
  }
  // (payload type, sequenced_ns) of every frame published so far.
  std::vector<std::pair<fb::Payload, uint64_t>> frames() const {
    std::vector<std::pair<fb::Payload, uint64_t>> out;
    for (const auto& bytes : batches) {
      BatchReader reader;
      EXPECT_TRUE(reader.open(bytes));
      for (const fb::Frame* f : reader.frames())
        out.emplace_back(f->payload_type(), f->sequenced_ns());
    }
    return out;
  }
  std::vector<std::vector<uint8_t>> batches;
};

feeds::Event from_feed(feeds::Event e) {
  e.source = "oj";
  return e;
}

class NodeClocks : public ::testing::Test {
 protected:
  void SetUp() override {
    journal_ = open_test_journal(dir_.sub("journal"));
    ASSERT_NE(journal_, nullptr);
    feeds::SourceSelectorConfig selector_config;
    selector_config.stale_after_ns = 3 * kSecond;
    selector_config.stale_unmapped = true;  // the feed-stale clock is the one under test
    selector_ = std::make_unique<feeds::SourceSelector>(mapping_, selector_config);
    agent_ = std::make_unique<SequencerAgent>(sequencer_, *journal_, queues_, &gate_,
                                              SequencerAgentConfig{}, selector_.get());
    agent_->set_desk(&overrides_, &acks_);
  }

  void push(size_t producer, const feeds::Event& e) {
    ASSERT_EQ(queues_.push(producer, e, stop_), PushResult::kPushed);
  }
  void work(const Clocks& clocks) {
    auto done = agent_->do_work(clocks);
    ASSERT_TRUE(done) << done.error();
    acks_.drain([](const DeskAck&) {});
  }
  // Market 1001 open from the feed, market 1002 taken by the desk for 30 s, at `clocks`.
  void start(const Clocks& clocks) {
    push(kFeed, from_feed(market_event(1001, 501, "Match Odds", home_draw_away())));
    push(kFeed, from_feed(price_event(1001, 1, "2.0")));
    push(kFeed, from_feed(market_event(1002, 502, "Other", home_draw_away())));
    work(clocks);
    push(kDesk, desk_event(price_event(1002, 1, "5.0"), 1, 30 * kSecond));
    work(clocks);
    ASSERT_TRUE(overrides_.holds(1002));
  }
  fb::MarketStatus status(uint64_t market) const { return sequencer_.state().find(market)->status; }

  TempDir dir_;
  std::unique_ptr<Journal> journal_;
  Sequencer sequencer_{SequencerConfig{}};
  IngestQueues queues_{2, 64};
  CapturingSink sink_;
  std::atomic<uint64_t> acked_{0};
  SyncGate gate_{sink_, acked_, SyncGateConfig{}};
  feeds::Mapping mapping_;  // none: market 1001 is unmapped, its one source is "oj"
  std::unique_ptr<feeds::SourceSelector> selector_;
  std::unique_ptr<SequencerAgent> agent_;
  DeskOverrides overrides_;
  DeskAckQueue acks_{64};
  std::atomic<bool> stop_{false};
};

TEST_F(NodeClocks, AWallClockStepNeitherStalesASourceNorExpiresAnOverride) {
  uint64_t mono = 100 * kSecond;
  start({mono, kWall});
  for (const uint64_t wall : {kWall - kHour, kWall + kHour}) {
    mono += 100'000'000;
    work({mono, wall});  // a selector tick and an expiry check at the stepped wall time
    EXPECT_EQ(status(1001), fb::MarketStatus::Open) << "feed-stale after a wall step";
    EXPECT_TRUE(overrides_.holds(1002)) << "override expired after a wall step";
    const size_t before = sink_.frames().size();
    push(kFeed, from_feed(price_event(1001, 2, "3.0")));
    work({mono, wall});
    const auto frames = sink_.frames();
    ASSERT_EQ(frames.size(), before + 1);
    EXPECT_EQ(frames.back().second, wall) << "a frame carries the wall time, stepped or not";
  }
  // The monotonic clock still drives both: 30 s on, the override expires and the feed is stale.
  mono += 30 * kSecond;
  work({mono, kWall + kHour});
  EXPECT_FALSE(overrides_.holds(1002));
  EXPECT_EQ(status(1001), fb::MarketStatus::Suspended);
  EXPECT_EQ(sequencer_.state().find(1001)->reason, fb::StatusReason::FeedStale);
}

TEST_F(NodeClocks, AWallClockStepCausesNoTakeover) {
  NodeConfig config;
  config.node = 2;
  config.role = NodeRole::kSecondary;
  config.peer_pub = "inproc://node-clocks-peer-pub";  // nobody there: the primary is silent
  config.peer_recovery = "inproc://node-clocks-peer-recovery";
  config.failover_after_ns = 1500'000'000;
  zmq::context_t context(1);
  std::atomic<bool> primary{false};
  NodeRoleDeps deps{context, *journal_,       sequencer_, *agent_, gate_,  sink_,
                    queues_, selector_.get(), &primary,   nullptr, nullptr};
  const uint64_t mono = 100 * kSecond;
  NodeRoles roles(deps, config, NodeRole::kSecondary, {mono, kWall});
  uint64_t step = 0;
  for (const uint64_t wall : {kWall - kHour, kWall + kHour, kWall - kHour}) {
    auto done = roles.do_work({mono + ++step * 1'000'000, wall});
    ASSERT_TRUE(done) << done.error();
    EXPECT_EQ(roles.role(), NodeRole::kSecondary) << "took over after a wall step";
  }
  EXPECT_EQ(roles.counters().takeovers.load(), 0u);
  // 1.5 s of monotonic silence, ticked as a running node ticks (a single 1.6 s gap would be the
  // node's own pause, which restarts its failover clock): now it takes over, and the
  // EpochChange carries the wall time.
  for (uint64_t at = 100'000'000; at <= 1600'000'000 && roles.role() != NodeRole::kPrimary;
       at += 100'000'000) {
    auto done = roles.do_work({mono + at, kWall + kHour});
    ASSERT_TRUE(done) << done.error();
  }
  EXPECT_EQ(roles.role(), NodeRole::kPrimary);
  const auto frames = sink_.frames();
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().first, fb::Payload::EpochChange);
  EXPECT_EQ(frames.back().second, kWall + kHour);
}

}  // namespace
}  // namespace oddsbus::engine
