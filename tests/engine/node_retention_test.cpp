// A node with journal snapshots and retention (issues 13 and 15), assembled as odds-engine run
// assembles it: the journal stays bounded while it sequences, its recovery service answers a
// pruned range `gone` and still serves a snapshot, verify and state work on what is left, and the
// node restarts on the pruned journal from its snapshot and carries on.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "engine/journal_snapshot.h"
#include "engine/node_assembly.h"
#include "engine/replay.h"
#include "schemas/recovery_protocol.h"
#include "schemas/state_digest.h"
#include "tests/engine/engine_test_support.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;
using namespace std::chrono_literals;

template <typename F>
bool eventually(F done, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

constexpr uint64_t kRetain = 1000;
constexpr uint64_t kEvery = 200;
constexpr uint64_t kBatch = 50;

NodeConfig retaining_config(const TempDir& dir) {
  NodeConfig config;
  config.journal_dir = dir.sub("journal");
  config.pub_url = "tcp://127.0.0.1:*";
  config.recovery_url = "tcp://127.0.0.1:*";
  config.snapshot_every_frames = kEvery;
  config.snapshot_every_seconds = 0;
  config.retain_frames = kRetain;
  // Snapshots fall on record ends: small records keep the journal near the retention.
  config.max_batch_frames = kBatch;
  return config;
}

feeds::Event from_local(feeds::Event e) {
  e.source = "local";
  return e;
}

// Sequences `prices` price events for market 1001 (defined first when `define`).
void feed(Node& node, bool define, int prices) {
  std::atomic<bool> stop{false};
  feeds::Event up;
  up.type = feeds::EventType::kSourceStatus;
  up.source = "local";
  up.source_up = true;
  ASSERT_EQ(node.push(0, up, stop), PushResult::kPushed);
  if (define) {
    ASSERT_EQ(
        node.push(0, from_local(market_event(1001, 501, "Match Odds", home_draw_away())), stop),
        PushResult::kPushed);
  }
  const char* odds[] = {"2.50", "2.60", "2.70", "2.80"};
  for (int i = 0; i < prices; ++i) {
    ASSERT_EQ(node.push(0, from_local(price_event(1001, 1 + i % 3, odds[i % 4])), stop),
              PushResult::kPushed);
  }
}

// Asks the recovery service at `url` one request; the reply's header.
recovery::ReplyHeader ask(zmq::context_t& context, const std::string& url,
                          const std::string& request) {
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(url);
  dealer.send(zmq::buffer(request));
  zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, 5s) == 0) {
    ADD_FAILURE() << "no reply to '" << request << "' within 5 s";
    return {};
  }
  std::vector<zmq::message_t> parts;
  (void)zmq::recv_multipart(dealer, std::back_inserter(parts));
  auto header = recovery::parse_reply_header(parts.at(0).to_string());
  EXPECT_TRUE(header) << parts.at(0).to_string();
  return header.value_or(recovery::ReplyHeader{});
}

TEST(NodeRetention, KeepsTheJournalBoundedAnswersPrunedRangesGoneAndRestartsFromASnapshot) {
  TempDir dir;
  zmq::context_t context;
  NodeOptions options;
  options.local_producers = 1;
  uint64_t first_seq = 0;
  {
    Node node(retaining_config(dir), options);
    auto started = node.start();
    ASSERT_TRUE(started) << started.error();
    ASSERT_NE(node.snapshots(), nullptr);
    feed(node, true, 6000);
    ASSERT_TRUE(eventually([&] { return node.last_seq() == 6001; })) << node.last_seq();
    // The writer catches up, snapshots and prunes to within the retention.
    ASSERT_TRUE(eventually([&] {
      return node.snapshots()->counters().pruned_through.load() + kRetain + kEvery + kBatch >= 6001;
    })) << "pruned through "
        << node.snapshots()->counters().pruned_through.load();
    auto first = log_first_seq(node.journal());
    ASSERT_TRUE(first);
    first_seq = *first;
    EXPECT_GT(first_seq, 1u);
    EXPECT_LE(6001 - first_seq + 1, kRetain + kEvery + kBatch);
    EXPECT_GE(6001 - first_seq + 1, kRetain);

    ASSERT_TRUE(node.stop());
  }
  auto journal = open_test_journal(dir.sub("journal"));
  ASSERT_TRUE(journal);
  const VerifyReport report = verify_journal(*journal);
  EXPECT_TRUE(report.ok) << report.fault.seq << ": " << report.fault.problem;
  EXPECT_GT(report.first_seq, 1u);
  auto before = state_at(*journal, {});
  ASSERT_TRUE(before) << before.error();
  EXPECT_EQ(before->seq(), 6001u);
  journal.reset();

  // A restart on the pruned journal: from its snapshot, then on, and its recovery service (which
  // starts at the snapshot the log begins after) serves the same state.
  Node node(retaining_config(dir), options);
  auto started = node.start();
  ASSERT_TRUE(started) << started.error();
  EXPECT_EQ(node.last_seq(), 6001u);
  feed(node, false, 500);
  ASSERT_TRUE(eventually([&] { return node.last_seq() == 6501; })) << node.last_seq();
  ASSERT_TRUE(eventually([&] { return node.recovery()->last_seq() == 6501; }));
  const recovery::ReplyHeader snapshot = ask(context, node.recovery_endpoint(), "snapshot");
  ASSERT_EQ(snapshot.kind, recovery::ReplyKind::kSnapshot);
  EXPECT_EQ(snapshot.seq, 6501u);
  // Pruned before the restart, so not in the service's ring of recent batches either (a running
  // node may still serve a pruned range from that ring).
  const recovery::ReplyHeader gone = ask(context, node.recovery_endpoint(), "range 1 10");
  EXPECT_EQ(gone.kind, recovery::ReplyKind::kGone);
  EXPECT_EQ(gone.from, 1u);
  EXPECT_GE(gone.oldest, first_seq);
  EXPECT_EQ(node.recovery()->counters().gone.load(), 1u);
  ASSERT_TRUE(node.stop());
  auto after = open_test_journal(dir.sub("journal"));
  ASSERT_TRUE(after);
  const VerifyReport again = verify_journal(*after);
  EXPECT_TRUE(again.ok) << again.fault.seq << ": " << again.fault.problem;
  auto state = state_at(*after, {});
  ASSERT_TRUE(state);
  EXPECT_EQ(state->seq(), 6501u);
  EXPECT_EQ(snapshot.digest, state_digest(*state));
}

}  // namespace
}  // namespace oddsbus::engine
