// NodeRoles carrying out the role core's decisions on a real journal, sequencer and gate, with
// injected clocks: a sync primary holds what is not acknowledged and drops it when a higher epoch
// fences it; a sync secondary that takes over starts alone, with everything visible.
#include "engine/node_roles.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "engine/ingest_queues.h"
#include "engine/journal.h"
#include "engine/sequencer.h"
#include "engine/sequencer_agent.h"
#include "engine/sync_gate.h"
#include "schemas/batch.h"
#include "tests/engine/engine_test_support.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kWall = 1'800'000'000'000'000'000ull;

// The last seq of each batch published (heartbeats: the seq they state).
class SeqSink final : public BatchSink {
 public:
  void publish(std::span<const uint8_t> batch) override {
    BatchHeader h;
    std::memcpy(&h, batch.data(), sizeof h);
    last_seqs.push_back((h.flags & kBatchHeartbeat) != 0 ? h.first_seq : h.first_seq + h.count - 1);
    data.push_back((h.flags & kBatchHeartbeat) == 0);
  }
  // The last seq of the last data batch published (0: none).
  uint64_t last_data() const {
    for (size_t i = last_seqs.size(); i > 0; --i) {
      if (data[i - 1]) return last_seqs[i - 1];
    }
    return 0;
  }
  std::vector<uint64_t> last_seqs;
  std::vector<bool> data;
};

class NodeRolesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    journal_ = open_test_journal(dir_.sub("journal"));
    ASSERT_NE(journal_, nullptr);
    SequencerAgentConfig agent_config;
    agent_config.heartbeat_interval_ns = 1000 * kMs;
    agent_ = std::make_unique<SequencerAgent>(sequencer_, *journal_, queues_, &gate_, agent_config);
    config_.node = 1;
    config_.peer_pub = "inproc://node-roles-peer-pub";
    config_.peer_recovery = "inproc://node-roles-peer-recovery";
    config_.sync_replication = true;
    config_.failover_after_ns = 1500 * kMs;
    config_.alone_after_ns = 2000 * kMs;
  }

  void start(NodeRole role) {
    NodeRoleDeps deps{context_, *journal_, sequencer_, *agent_, gate_,  sink_,
                      queues_,  nullptr,   &primary_,  nullptr, nullptr};
    roles_ = std::make_unique<NodeRoles>(deps, config_, role, Clocks{mono_, kWall});
  }
  void push(const feeds::Event& e) { ASSERT_EQ(queues_.push(0, e, stop_), PushResult::kPushed); }
  void work(uint64_t step_ns = kMs) {
    mono_ += step_ns;
    auto done = roles_->do_work({mono_, kWall});
    ASSERT_TRUE(done) << done.error();
  }

  TempDir dir_;
  std::unique_ptr<Journal> journal_;
  Sequencer sequencer_{SequencerConfig{}};
  IngestQueues queues_{1, 64};
  SeqSink sink_;
  std::atomic<uint64_t> acked_{0};
  SyncGate gate_{sink_, acked_, SyncGateConfig{true, 0}};
  std::unique_ptr<SequencerAgent> agent_;
  NodeConfig config_;
  zmq::context_t context_{1};
  std::atomic<bool> primary_{false};
  std::atomic<bool> stop_{false};
  uint64_t mono_ = 100'000 * kMs;
  std::unique_ptr<NodeRoles> roles_;
};

TEST_F(NodeRolesTest, ASyncPrimaryFencedByAHigherEpochDropsWhatTheSecondaryNeverAcknowledged) {
  zmq::socket_t peer(context_, zmq::socket_type::pub);
  peer.bind(config_.peer_pub);
  start(NodeRole::kPrimary);
  EXPECT_TRUE(primary_.load());

  push(market_event(1001, 501, "Match Odds", home_draw_away()));
  work();
  const uint64_t first = sequencer_.last_seq();
  ASSERT_GT(first, 0u);
  EXPECT_EQ(sink_.last_data(), 0u) << "published before the secondary acknowledged it";
  EXPECT_EQ(gate_.visible_seq().load(), 0u);
  acked_ = first;
  work();
  EXPECT_EQ(sink_.last_data(), first);
  EXPECT_EQ(gate_.visible_seq().load(), first);

  push(price_event(1001, 1, "2.0"));
  work();
  ASSERT_GT(sequencer_.last_seq(), first);
  ASSERT_EQ(gate_.held(), 1u);

  // The peer took over at epoch 2 and publishes: a batch holding its EpochChange. PUB/SUB
  // subscriptions take a moment to reach the publisher, so it is sent until the node hears it.
  Sequencer other{SequencerConfig{}};
  BatchWriter batch(4096);
  other.begin_batch(batch);
  other.change_epoch(2, kWall, batch);
  const std::vector<uint8_t> bytes(batch.bytes().begin(), batch.bytes().end());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (roles_->role() == NodeRole::kPrimary && std::chrono::steady_clock::now() < deadline) {
    peer.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    work();
  }
  ASSERT_EQ(roles_->role(), NodeRole::kSecondary) << "not fenced within 10 s";
  EXPECT_EQ(roles_->counters().fencings.load(), 1u);
  EXPECT_EQ(roles_->core().counters().fencings, 1u);
  EXPECT_FALSE(primary_.load());
  EXPECT_EQ(gate_.held(), 0u);
  EXPECT_EQ(gate_.counters().discarded_batches.load(), 1u);
  EXPECT_EQ(sink_.last_data(), first) << "an unacknowledged batch was published";
  EXPECT_EQ(gate_.visible_seq().load(), first);
  ASSERT_NE(roles_->replica(), nullptr);

  acked_ = sequencer_.last_seq();  // a late ack changes nothing now
  work();
  EXPECT_EQ(sink_.last_data(), first);
}

TEST_F(NodeRolesTest, ASyncSecondaryThatTakesOverStartsAloneWithEverythingVisible) {
  start(NodeRole::kSecondary);
  EXPECT_FALSE(primary_.load());
  // Its journal may hold batches it held unacknowledged as a primary before a restart (simulator
  // finding F3): nothing is served until it is known to be its primary's history.
  EXPECT_EQ(gate_.visible_seq().load(), 0u);
  work(1400 * kMs);
  EXPECT_EQ(roles_->role(), NodeRole::kSecondary);
  work(200 * kMs);  // 1.6 s without a word from the primary
  ASSERT_EQ(roles_->role(), NodeRole::kPrimary);
  EXPECT_TRUE(primary_.load());
  EXPECT_EQ(sequencer_.epoch(), 2u);
  EXPECT_EQ(sink_.last_data(), 1u) << "the EpochChange at seq 1, published at once";
  EXPECT_TRUE(gate_.counters().alone.load());
  EXPECT_EQ(gate_.visible_seq().load(), SyncGate::kNoLimit);

  push(market_event(1001, 501, "Match Odds", home_draw_away()));
  work();
  EXPECT_EQ(sink_.last_data(), sequencer_.last_seq()) << "alone: published without an ack";
  acked_ = sequencer_.last_seq();  // a new secondary caught up
  work();
  EXPECT_FALSE(gate_.counters().alone.load());
  EXPECT_EQ(gate_.visible_seq().load(), sequencer_.last_seq());
  push(price_event(1001, 1, "2.0"));
  work();
  EXPECT_LT(sink_.last_data(), sequencer_.last_seq()) << "waits for acks again";
}

}  // namespace
}  // namespace oddsbus::engine
