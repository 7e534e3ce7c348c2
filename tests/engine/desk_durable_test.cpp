// Durable desk overrides (issue 15): an override is journaled, so a node restarted over the same
// journal still holds it (a feed price stays held back, `held` lists it, a retried request gets
// its original ack, a release restores the feed's view, the expiry fires at its journaled wall
// time), and a secondary that takes over holds it too (its warm feed view is held back, not
// reconciled over the desk's price).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "engine/desk_service.h"
#include "engine/journal_scan.h"
#include "engine/node_assembly.h"
#include "engine/node_roles.h"
#include "engine/restore.h"
#include "engine/sequencer_agent.h"
#include "engine/sync_gate.h"
#include "feeds/mapping.h"
#include "feeds/source_selector.h"
#include "tests/engine/desk_test_support.h"
#include "tests/engine/engine_test_support.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;
using namespace std::chrono_literals;

constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kWall = 1'800'000'000'000'000'000ull;

// The node's clocks, stepped by the test.
std::atomic<uint64_t> g_mono{100 * kSecond};
std::atomic<uint64_t> g_wall{kWall};
uint64_t test_mono() { return g_mono.load(); }
uint64_t test_wall() { return g_wall.load(); }

template <typename F>
bool eventually(F done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

feeds::Event local(feeds::Event e) {
  e.source = "local";
  return e;
}

feeds::Event source_up(const char* source) {
  feeds::Event up;
  up.type = feeds::EventType::kSourceStatus;
  up.source = source;
  up.source_up = true;
  return up;
}

// A journaled frame's desk marks.
struct Marked {
  uint64_t seq = 0;
  uint64_t sequenced_ns = 0;
  fb::Payload type = fb::Payload::NONE;
  uint64_t market = 0;
  uint32_t price_e4 = 0;
  std::string client;
  std::string request_id;
  fb::OverrideChange change = fb::OverrideChange::None;
};

std::vector<Marked> marked_frames(const Journal& journal, uint64_t from) {
  std::vector<Marked> out;
  auto scanned = scan_frames(journal, from, kNoLimit, [&](const fb::Frame& f) {
    Marked m;
    m.seq = f.seq();
    m.sequenced_ns = f.sequenced_ns();
    m.type = f.payload_type();
    if (const auto* p = f.payload_as_PriceUpdate()) {
      m.market = p->market();
      m.price_e4 = p->prices()->Get(0)->price_e4();
    } else if (const auto* s = f.payload_as_MarketStatusUpdate()) {
      m.market = s->market();
    }
    if (const auto* d = f.desk()) {
      m.client = d->client()->str();
      m.request_id = d->request_id()->str();
    }
    if (const auto* o = f.desk_override()) m.change = o->change();
    out.push_back(m);
    return true;
  });
  EXPECT_TRUE(scanned);
  return out;
}

class NodeRestart : public ::testing::Test {
 protected:
  void SetUp() override {
    g_mono = 100 * kSecond;
    g_wall = kWall;
    config_.journal_dir = dir_.sub("journal");
    config_.pub_url = "tcp://127.0.0.1:*";
    config_.desk_url = "tcp://127.0.0.1:*";
    options_.local_producers = 1;
    options_.clocks.monotonic_ns = test_mono;
    options_.clocks.wall_ns = test_wall;
  }
  std::unique_ptr<Node> start() {
    auto node = std::make_unique<Node>(config_, options_);
    auto started = node->start();
    EXPECT_TRUE(started) << started.error();
    return node;
  }
  void push(Node& node, const feeds::Event& e) {
    ASSERT_EQ(node.push(0, e, stop_), PushResult::kPushed);
  }
  const SelectionState* home(const Journal& journal, uint64_t market) {
    auto restored = restore_sequencer(journal);
    EXPECT_TRUE(restored);
    state_ = (*restored)->state();
    return state_.find(market)->find_selection(1);
  }

  TempDir dir_;
  NodeConfig config_;
  NodeOptions options_;
  std::atomic<bool> stop_{false};
  MarketState state_;
};

TEST_F(NodeRestart, AnOverrideSurvivesARestartOfTheNode) {
  uint64_t acked_seq = 0;
  {
    auto node = start();
    push(*node, source_up("local"));
    push(*node, local(market_event(1001, 501, "Match Odds", home_draw_away())));
    push(*node, local(price_event(1001, 1, "2.0")));
    push(*node, local(market_event(1002, 501, "Next Goal", home_draw_away())));
    push(*node, local(price_event(1002, 1, "4.0")));
    ASSERT_TRUE(eventually([&] { return node->last_seq() == 4; }));
    zmq::context_t context(1);
    DeskClient desk(context, node->desk_endpoint());
    const desk::Reply taken = desk.ask_reply("alice r1 set-price 1001 1 5.0 for=60000");
    ASSERT_TRUE(taken.ok);
    acked_seq = taken.seq;
    ASSERT_TRUE(desk.ask_reply("alice r2 suspend 1002").ok);
    push(*node, local(price_event(1001, 1, "2.2")));
    ASSERT_TRUE(eventually([&] { return node->sequencer_counters().desk_held.load() == 1; }));
    ASSERT_TRUE(node->stop());
  }
  ASSERT_EQ(acked_seq, 5u);

  // A new boot: the monotonic clock starts over, the wall clock went on by 10 s.
  g_mono = 5 * kSecond;
  g_wall = kWall + 10 * kSecond;
  auto node = start();
  ASSERT_EQ(node->last_seq(), 6u) << "a restart adds no frame";
  zmq::context_t context(1);
  DeskClient desk(context, node->desk_endpoint());

  const desk::Reply held = desk.ask_reply("bob q1 held");
  ASSERT_TRUE(held.ok && held.held_list);
  ASSERT_EQ(held.held.size(), 2u);
  EXPECT_EQ(held.held[0].market, 1001u);
  EXPECT_EQ(held.held[0].client, "alice");
  EXPECT_EQ(held.held[0].request_id, "r1");
  EXPECT_EQ(held.held[0].since_ns, kWall);
  EXPECT_EQ(held.held[0].expires_ns, kWall + 60 * kSecond);
  EXPECT_EQ(held.held[1].market, 1002u);
  EXPECT_EQ(held.held[1].expires_ns, 0u);

  const desk::Reply retry = desk.ask_reply("alice r1 set-price 1001 1 5.0 for=60000");
  ASSERT_TRUE(retry.ok) << "a retry after the restart gets the original ack";
  EXPECT_EQ(retry.seq, acked_seq);
  EXPECT_EQ(node->last_seq(), 6u) << "and is not applied again";
  const desk::Reply reuse = desk.ask_reply("alice r1 set-price 1001 1 6.0");
  EXPECT_FALSE(reuse.ok);
  EXPECT_EQ(reuse.reason, desk::RejectReason::kBadRequest);

  // The feeds speak again: both markets are still held.
  push(*node, source_up("local"));
  push(*node, local(price_event(1001, 1, "2.4")));
  push(*node, local(price_event(1002, 1, "4.5")));
  push(*node, local(status_event(1002, fb::MarketStatus::Open)));
  ASSERT_TRUE(eventually([&] { return node->sequencer_counters().desk_held.load() == 3; }));
  EXPECT_EQ(node->last_seq(), 6u) << "held back, not sequenced";

  // A release hands 1002 back with the feed's view as it is now.
  const desk::Reply released = desk.ask_reply("alice r3 release 1002");
  ASSERT_TRUE(released.ok);
  auto frames = marked_frames(node->journal(), 7);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].type, fb::Payload::PriceUpdate);
  EXPECT_EQ(frames[0].price_e4, 45000u);
  EXPECT_EQ(frames[1].type, fb::Payload::MarketStatusUpdate) << "open comes last";
  for (const Marked& m : frames) {
    EXPECT_EQ(m.change, fb::OverrideChange::Release);
    EXPECT_EQ(m.client, "alice");
    EXPECT_EQ(m.request_id, "r3");
  }
  EXPECT_EQ(released.seq, frames[1].seq);

  // The expiry of 1001 (60 s after kWall) fires at that wall time, on the new monotonic clock:
  // 49 s on it is still held (a frame for another market shows the node worked at that time).
  g_mono += 49 * kSecond;
  g_wall += 49 * kSecond;
  push(*node, local(market_event(1003, 502, "Other", home_draw_away())));
  ASSERT_TRUE(eventually([&] { return node->last_seq() == 9; }));
  EXPECT_EQ(marked_frames(node->journal(), 9).back().change, fb::OverrideChange::None);
  g_mono += 2 * kSecond;
  g_wall += 2 * kSecond;
  ASSERT_TRUE(eventually([&] { return node->last_seq() >= 10; }));
  ASSERT_TRUE(node->stop());
  frames = marked_frames(node->journal(), 10);
  ASSERT_FALSE(frames.empty());
  for (const Marked& m : frames) {
    EXPECT_EQ(m.change, fb::OverrideChange::Expire) << "the restore frames of an expiry say so";
    EXPECT_EQ(m.client, "") << "no desk asked for them";
    EXPECT_EQ(m.sequenced_ns, kWall + 61 * kSecond);
  }
  EXPECT_EQ(home(node->journal(), 1001)->price_e4, 24000u)
      << "the feed's price held back since the restart is restored";
}

// The secondary's side of a takeover, as node_clocks_test drives it: its journal holds the
// primary's history (a desk override of market 1001), its feeds are warm with a newer price.
TEST(DeskTakeover, ANewPrimaryHoldsTheOverrideAndHoldsBackTheFeedsReconciliation) {
  TempDir dir;
  auto journal = open_test_journal(dir.sub("journal"));
  ASSERT_NE(journal, nullptr);
  const auto from_feed = [](feeds::Event e) {
    e.source = "oj";
    return e;
  };
  {
    Sequencer primary{SequencerConfig{}};
    IngestQueues queues{2, 64};
    DeskOverrides overrides;
    DeskAckQueue acks{64};
    SequencerAgent agent(primary, *journal, queues, nullptr, SequencerAgentConfig{});
    agent.set_desk(&overrides, &acks);
    ASSERT_TRUE(
        agent.sequence_now({from_feed(market_event(1001, 501, "Match Odds", home_draw_away())),
                            from_feed(price_event(1001, 1, "2.0"))},
                           Clocks{kSecond, kWall}));
    std::atomic<bool> stop{false};
    ASSERT_EQ(queues.push(1,
                          desk_request(price_event(1001, 1, "5.0"), 1, desk::Command::kSetPrice,
                                       "alice", "r1"),
                          stop),
              PushResult::kPushed);
    ASSERT_TRUE(agent.do_work(Clocks{kSecond, kWall}));
    ASSERT_EQ(journal->last_seq(), 3u);
  }
  auto restored = restore_sequencer(*journal);
  ASSERT_TRUE(restored);
  Sequencer& sequencer = **restored;
  feeds::Mapping mapping;
  feeds::SourceSelector selector(mapping, feeds::SourceSelectorConfig{});
  IngestQueues queues{2, 64};
  DeskOverrides overrides;
  DeskAckQueue acks{64};
  DeskHeldBoard board;
  struct NullSink final : BatchSink {
    void publish(std::span<const uint8_t>) override {}
  } sink;
  std::atomic<uint64_t> acked{0};
  SyncGate gate{sink, acked, SyncGateConfig{}};
  SequencerAgent agent(sequencer, *journal, queues, &gate, SequencerAgentConfig{}, &selector);
  agent.set_desk(&overrides, &acks, nullptr, &board);
  NodeConfig config;
  config.node = 2;
  config.role = NodeRole::kSecondary;
  config.peer_pub = "inproc://desk-takeover-peer-pub";  // nobody there: the primary is silent
  config.peer_recovery = "inproc://desk-takeover-peer-recovery";
  config.failover_after_ns = 1500'000'000;
  zmq::context_t context(1);
  std::atomic<bool> primary{false};
  NodeRoleDeps deps{context, *journal,  sequencer, agent,   gate,   sink,
                    queues,  &selector, &primary,  nullptr, nullptr};
  uint64_t mono = 100 * kSecond;
  NodeRoles roles(deps, config, NodeRole::kSecondary, {mono, kWall});
  // Warm: the feed now says 2.6 for Home.
  std::atomic<bool> stop{false};
  for (const feeds::Event& e :
       {source_up("oj"), from_feed(market_event(1001, 501, "Match Odds", home_draw_away())),
        from_feed(price_event(1001, 1, "2.6"))}) {
    ASSERT_EQ(queues.push(0, e, stop), PushResult::kPushed);
  }
  for (int i = 0; i < 40 && roles.role() != NodeRole::kPrimary; ++i) {
    mono += 100'000'000;
    auto done = roles.do_work({mono, kWall + kSecond});
    ASSERT_TRUE(done) << done.error();
  }
  ASSERT_EQ(roles.role(), NodeRole::kPrimary);
  EXPECT_TRUE(overrides.holds(1001)) << "the new primary holds the desk's market";
  EXPECT_EQ(sequencer.state().find(1001)->find_selection(1)->price_e4, 50000u)
      << "the feeds' view was held back, not reconciled over the desk's price";
  const auto listed = board.get();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].client, "alice");

  // A release on the new primary restores the feeds' warm view.
  feeds::Event release = desk_request({}, 2, desk::Command::kRelease, "alice", "r2");
  release.market = 1001;
  ASSERT_EQ(queues.push(1, release, stop), PushResult::kPushed);
  mono += 1'000'000;
  auto done = roles.do_work({mono, kWall + kSecond});
  ASSERT_TRUE(done) << done.error();
  std::vector<DeskAck> answered;
  acks.drain([&](const DeskAck& a) { answered.push_back(a); });
  ASSERT_EQ(answered.size(), 1u);
  EXPECT_TRUE(answered[0].ok);
  EXPECT_EQ(answered[0].epoch, 2u) << "sequenced by the new primary";
  EXPECT_FALSE(overrides.holds(1001));
  EXPECT_EQ(sequencer.state().find(1001)->find_selection(1)->price_e4, 26000u);
}

}  // namespace
}  // namespace oddsbus::engine
