// engine::Node, the one assembly of a node: what an embedding (odds-engine run, a test, the bench)
// relies on. Endpoints bound on wildcard ports and reported, in-process producers, injected clocks,
// committed batches reaching the recovery service over the committed queue, start-up errors as one
// line, and a stop that drains.
#include "engine/node_assembly.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "engine/journal_scan.h"
#include "tests/engine/engine_test_support.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;
using namespace std::chrono_literals;

constexpr uint64_t kStampedWall = 1'234'567'890'000'000'000;
uint64_t stamped_wall_ns() { return kStampedWall; }

template <typename F>
bool eventually(F done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

NodeConfig loopback_config(const TempDir& dir) {
  NodeConfig config;
  config.journal_dir = dir.sub("journal");
  config.pub_url = "tcp://127.0.0.1:*";
  config.recovery_url = "tcp://127.0.0.1:*";
  config.desk_url = "tcp://127.0.0.1:*";
  return config;
}

feeds::Event from_source(feeds::Event e) {
  e.source = "local";
  return e;
}

// As a feed connector does before its data: its source is up.
feeds::Event source_up() {
  feeds::Event up;
  up.type = feeds::EventType::kSourceStatus;
  up.source = "local";
  up.source_up = true;
  return up;
}

TEST(NodeAssembly, BindsWildcardPortsSequencesLocalEventsAndStopsDrained) {
  TempDir dir;
  NodeOptions options;
  options.local_producers = 1;
  options.clocks.wall_ns = stamped_wall_ns;
  Node node(loopback_config(dir), options);
  auto started = node.start();
  ASSERT_TRUE(started) << started.error();
  for (const std::string* endpoint :
       {&node.pub_endpoint(), &node.recovery_endpoint(), &node.desk_endpoint()}) {
    EXPECT_EQ(endpoint->rfind("tcp://127.0.0.1:", 0), 0u) << *endpoint;
    EXPECT_EQ(endpoint->find('*'), std::string::npos) << *endpoint << ": the port is resolved";
  }
  EXPECT_EQ(node.role(), NodeRole::kPrimary);

  std::atomic<bool> stop{false};
  ASSERT_EQ(node.push(0, source_up(), stop), PushResult::kPushed);
  ASSERT_EQ(
      node.push(0, from_source(market_event(1001, 501, "Match Odds", home_draw_away())), stop),
      PushResult::kPushed);
  ASSERT_EQ(node.push(0, from_source(price_event(1001, 1, "2.5")), stop), PushResult::kPushed);
  ASSERT_TRUE(eventually([&] { return node.last_seq() == 2; })) << "at " << node.last_seq();
  ASSERT_TRUE(eventually([&] { return node.recovery()->last_seq() == 2; }))
      << "the recovery service followed to " << node.recovery()->last_seq();
  // The recovery thread read what was journaled before it ran from the journal; what comes after,
  // it takes from the committed queue.
  ASSERT_EQ(node.push(0, from_source(price_event(1001, 2, "3.5")), stop), PushResult::kPushed);
  ASSERT_TRUE(eventually([&] { return node.recovery()->last_seq() == 3; }))
      << "the recovery service followed to " << node.recovery()->last_seq();
  EXPECT_GT(node.recovery()->server_counters().queue_batches.load(), 0u)
      << "committed batches come over the committed queue";

  // Queued, then stopped at once: stop() sequences what was queued before it returns.
  ASSERT_EQ(node.push(0, from_source(price_event(1001, 3, "4.5")), stop), PushResult::kPushed);
  auto stopped = node.stop();
  ASSERT_TRUE(stopped) << stopped.error();
  EXPECT_TRUE(node.stop()) << "stop() is idempotent";
  EXPECT_EQ(node.last_seq(), 4u);
  EXPECT_EQ(node.sequencer_counters().frames.load(), 4u);

  uint64_t frames = 0;
  auto scanned = scan_frames(node.journal(), 1, kNoLimit, [&](const fb::Frame& frame) {
    EXPECT_EQ(frame.sequenced_ns(), kStampedWall) << "frames carry the injected wall clock";
    ++frames;
    return true;
  });
  ASSERT_TRUE(scanned) << scanned.error().problem;
  EXPECT_EQ(frames, 4u);
}

TEST(NodeAssembly, AStartUpFailureIsOneLineAndLeavesNothingRunning) {
  TempDir dir;
  NodeConfig config = loopback_config(dir);
  config.recovery_url = "nonsense://x";
  Node node(config);
  auto started = node.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().rfind("cannot bind --recovery nonsense://x: ", 0), 0u)
      << started.error();
  EXPECT_EQ(started.error().find('\n'), std::string::npos);
  EXPECT_TRUE(node.stop());
}

TEST(NodeAssembly, ARestartedNodeGoesOnFromItsJournal) {
  TempDir dir;
  NodeOptions options;
  options.local_producers = 1;
  std::atomic<bool> stop{false};
  for (uint64_t round = 1; round <= 2; ++round) {
    Node node(loopback_config(dir), options);
    auto started = node.start();
    ASSERT_TRUE(started) << started.error();
    EXPECT_EQ(node.last_seq(), round == 1 ? 0u : 1u);
    const uint64_t market = 1000 + round;
    ASSERT_EQ(node.push(0, source_up(), stop), PushResult::kPushed);
    ASSERT_EQ(node.push(0, from_source(market_event(market, 500, "M", home_draw_away())), stop),
              PushResult::kPushed);
    auto stopped = node.stop();
    ASSERT_TRUE(stopped) << stopped.error();
    EXPECT_EQ(node.last_seq(), round);
  }
}

}  // namespace
}  // namespace oddsbus::engine
