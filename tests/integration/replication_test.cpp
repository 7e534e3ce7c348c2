// Multi-process replication and takeover (DESIGN section 4), over loopback: odds-feedsim feeds a
// primary and a secondary `odds-engine run`; a subscriber in the test (edge::Subscriber: both PUB
// sockets, both recovery services) checks that it sees every seq once, in order, through
//  - kill -9 of the primary (async): one epoch change, digest == the new primary's journal; then
//    the old primary restarts, rejoins as secondary, and its journal converges;
//  - kill -9 of the primary in sync replication: no frame the subscriber saw is lost;
//  - a partition (SIGSTOP the primary until the secondary took over, then SIGCONT): the old
//    primary fences itself and every digest agrees with the new primary's;
//  - an oddsjson feed without a mapping, played by the test: what it says between the kill -9 of
//    the primary and the takeover, and never repeats, still reaches the new primary's journal,
//    which ends equal to `odds-engine ingest` of the same lines (issue 10, defect 2).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <zmq.hpp>

#include <gtest/gtest.h>

#include "edge/subscriber.h"
#include "engine/replica.h"
#include "schemas/market_state.h"
#include "schemas/state_digest.h"
#include "tests/integration/child_process.h"
#include "tests/integration/loopback.h"
#include "tests/integration/oddsjson_source.h"

namespace oddsbus {
namespace {

using namespace std::chrono_literals;
using testing::bin_dir;
using testing::ChildProcess;
using testing::free_port;
using testing::url;
using testing::wait_until;

constexpr int kMarkets = 5;

// The test's subscriber, on its own thread: delivered frames are checked for continuity and
// folded into a state (installed from a snapshot at start).
class TestSubscriber {
 public:
  TestSubscriber(std::vector<std::string> pubs, std::vector<std::string> recoveries) {
    edge::SubscriberConfig config;
    config.publisher_urls = std::move(pubs);
    config.recovery_urls = std::move(recoveries);
    config.arbiter.mode = edge::ResyncMode::kSnapshot;
    config.arbiter.gap_timeout_ns = 50'000'000;
    config.arbiter.request_timeout_ns = 500'000'000;
    subscriber_ = std::make_unique<edge::Subscriber>(context_, config);
    thread_ = std::thread([this] { run(); });
  }
  ~TestSubscriber() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t last_seq() const { return last_seq_.load(); }
  uint32_t epoch() const { return epoch_.load(); }

  // After stop(): what the subscriber saw.
  const MarketState& state() const { return state_; }
  uint64_t start_seq = 0;      // the snapshot it started from
  uint64_t out_of_order = 0;   // frames not at last + 1 (must stay 0)
  uint64_t snapshots = 0;      // snapshots installed (1: the start)
  uint64_t epoch_changes = 0;  // EpochChange frames delivered
  uint64_t divergences = 0;

 private:
  void run() {
    edge::ArbiterOutput out;
    while (!stop_) {
      out.clear();
      subscriber_->poll(10, out);
      if (auto image = subscriber_->take_snapshot()) {
        ++snapshots;
        if (snapshots == 1) start_seq = image->seq;
        state_ = std::move(image->state);
        last_seq_ = image->seq;
        epoch_ = image->epoch;
      }
      for (const fb::Frame* frame : out.frames) {
        if (frame->seq() != last_seq_ + 1) ++out_of_order;
        if (frame->payload_type() == fb::Payload::EpochChange) ++epoch_changes;
        state_.apply(*frame);
        last_seq_ = frame->seq();
        epoch_ = std::max(epoch_.load(), frame->epoch());
      }
      divergences = subscriber_->arbiter().counters().divergences;
    }
  }

  zmq::context_t context_{1};
  std::unique_ptr<edge::Subscriber> subscriber_;
  MarketState state_;
  std::atomic<uint64_t> last_seq_{0};
  std::atomic<uint32_t> epoch_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// An oddsjson provider played by the test on one loopback port: every line goes to every engine
// connected at the time (each engine is one line of the same provider), and a heartbeat every
// 50 ms keeps the source healthy. Connections that died are dropped quietly.
class LineServer {
 public:
  LineServer() : listener_(testing::listen_loopback(port_)) {
    thread_ = std::thread([this] { run(); });
  }
  ~LineServer() {
    stop_ = true;
    thread_.join();
    for (int fd : clients_) ::close(fd);
    ::close(listener_);
  }
  uint16_t port() const { return port_; }
  size_t clients() {
    std::lock_guard lock(mutex_);
    return clients_.size();
  }
  // Sends one line to every engine; the data lines sent make up the ingest file.
  void send(const std::string& line) {
    std::lock_guard lock(mutex_);
    broadcast(line + "\n");
    sent_ += line + "\n";
  }
  std::string sent() {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  // While paused the provider sends no heartbeats: it is connected but silent.
  void pause_heartbeats(bool paused) { paused_ = paused; }

 private:
  void run() {
    while (!stop_) {
      const int fd = testing::accept_within(listener_, 50ms);
      std::lock_guard lock(mutex_);
      if (fd >= 0) clients_.push_back(fd);
      if (!paused_) broadcast("{\"type\":\"heartbeat\"}\n");
    }
  }
  void broadcast(const std::string& bytes) {
    std::erase_if(clients_, [&](int fd) {
      size_t at = 0;
      while (at < bytes.size()) {
        const ssize_t n = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
        if (n <= 0) {
          ::close(fd);
          return true;
        }
        at += static_cast<size_t>(n);
      }
      return false;
    });
  }

  uint16_t port_ = 0;
  int listener_;
  std::mutex mutex_;
  std::vector<int> clients_;
  std::string sent_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};
  std::thread thread_;
};

class ReplicationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_test_dir("replication");
    for (uint16_t& p : ports_) p = free_port();
    testing::start_oddsjson_source(dir_, ports_[0], kMarkets, 200, 3, feed_);
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  // Node 1: pub ports_[1], recovery ports_[2]; node 2: pub ports_[3], recovery ports_[4].
  std::unique_ptr<ChildProcess> start_node(int node, bool secondary, const std::string& log,
                                           const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = testing::pair_node_argv(dir_, ports_, node, secondary, extra);
    return std::make_unique<ChildProcess>(argv, (dir_ / log).string());
  }
  std::string journal(int node) const { return (dir_ / ("node" + std::to_string(node))).string(); }
  std::unique_ptr<TestSubscriber> subscribe() {
    return std::make_unique<TestSubscriber>(
        std::vector<std::string>{url(ports_[1]), url(ports_[3])},
        std::vector<std::string>{url(ports_[2]), url(ports_[4])});
  }

  // The node's status from its recovery service.
  std::optional<recovery::ReplyHeader> status(int node) {
    zmq::context_t context(1);
    auto reply = engine::probe_status(context, url(ports_[node == 1 ? 2 : 4]), 500);
    if (!reply) return std::nullopt;
    return *reply;
  }

  std::string replay(const std::vector<std::string>& args) {
    std::vector<std::string> argv{bin_dir() + "/odds-replay"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto [code, out] = testing::run_to_completion(argv, (dir_ / "replay.log").string());
    return std::to_string(code) + " " + out;
  }
  std::string digest_line(uint64_t seq, const MarketState& state) {
    return "0 {\"seq\": " + std::to_string(seq) + ", \"digest\": \"" +
           digest_hex(state_digest(state)) + "\"}\n";
  }

  std::filesystem::path dir_;
  uint16_t ports_[5] = {};
  std::unique_ptr<ChildProcess> feed_;
};

TEST_F(ReplicationTest, KillPrimaryThenRestartItAsSecondary) {
  auto primary = start_node(1, false, "node1.log");
  auto secondary = start_node(2, true, "node2.log");
  auto sub = subscribe();
  ASSERT_TRUE(wait_until([&] { return sub->last_seq() > 200; }, 20s))
      << primary->log() << secondary->log();
  primary->signal(SIGKILL);
  ASSERT_TRUE(wait_until([&] { return sub->epoch() == 2; }, 10s)) << secondary->log();
  const uint64_t at_takeover = sub->last_seq();
  ASSERT_TRUE(wait_until([&] { return sub->last_seq() > at_takeover + 100; }, 10s));
  sub->stop();
  EXPECT_EQ(sub->out_of_order, 0u);
  EXPECT_EQ(sub->snapshots, 1u) << "one snapshot at start, none for the takeover";
  EXPECT_EQ(sub->epoch_changes, 1u);
  EXPECT_EQ(sub->divergences, 0u);
  const uint64_t seen = sub->last_seq();
  EXPECT_EQ(replay({"digest", "--journal", journal(2), "--at-seq", std::to_string(seen)}),
            digest_line(seen, sub->state()));

  // The old primary comes back: its peer is primary, so it joins as secondary and converges.
  auto restarted = start_node(1, false, "node1b.log");
  ASSERT_TRUE(wait_until(
      [&] {
        auto s1 = status(1);
        auto s2 = status(2);
        return s1 && s2 && !s1->primary && s2->primary && s1->epoch == 2 &&
               s1->last_seq >= seen + 50;
      },
      15s))
      << restarted->log();
  restarted->signal(SIGTERM);
  ASSERT_EQ(restarted->wait_for(10s), 0) << restarted->log();
  EXPECT_EQ(replay({"verify", "--journal", journal(1)}).substr(0, 2), "0 ");
  const std::string d1 = replay({"digest", "--journal", journal(1)});
  const uint64_t seq1 = std::stoull(d1.substr(d1.find(':') + 1));
  EXPECT_EQ(d1, replay({"digest", "--journal", journal(2), "--at-seq", std::to_string(seq1)}));
}

TEST_F(ReplicationTest, SyncReplicationLosesNoFrameASubscriberSaw) {
  auto primary = start_node(1, false, "node1.log", {"--replication", "sync"});
  auto secondary = start_node(2, true, "node2.log", {"--replication", "sync"});
  auto sub = subscribe();
  ASSERT_TRUE(wait_until([&] { return sub->last_seq() > 200; }, 20s))
      << primary->log() << secondary->log();
  primary->signal(SIGKILL);
  ASSERT_TRUE(wait_until([&] { return sub->epoch() == 2; }, 10s)) << secondary->log();
  const uint64_t at_takeover = sub->last_seq();
  ASSERT_TRUE(wait_until([&] { return sub->last_seq() > at_takeover + 50; }, 10s));
  sub->stop();
  EXPECT_EQ(sub->out_of_order, 0u);
  EXPECT_EQ(sub->snapshots, 1u);
  EXPECT_EQ(sub->divergences, 0u) << "a frame the subscriber saw was lost by the takeover";
  EXPECT_EQ(sub->epoch_changes, 1u);
  const uint64_t seen = sub->last_seq();
  EXPECT_EQ(replay({"digest", "--journal", journal(2), "--at-seq", std::to_string(seen)}),
            digest_line(seen, sub->state()));
  EXPECT_EQ(primary->log().find("SYNC REPLICATION SUSPENDED"), std::string::npos) << primary->log();
}

TEST_F(ReplicationTest, PartitionedPrimaryFencesItselfOnResume) {
  auto primary = start_node(1, false, "node1.log");
  auto secondary = start_node(2, true, "node2.log");
  auto sub = subscribe();
  ASSERT_TRUE(wait_until([&] { return sub->last_seq() > 200; }, 20s))
      << primary->log() << secondary->log();
  primary->signal(SIGSTOP);
  ASSERT_TRUE(wait_until([&] { return sub->epoch() == 2; }, 10s)) << secondary->log();
  primary->signal(SIGCONT);
  ASSERT_TRUE(wait_until(
      [&] {
        auto s1 = status(1);
        return s1 && !s1->primary && s1->epoch == 2;
      },
      10s))
      << primary->log();
  const uint64_t resumed_at = sub->last_seq();
  ASSERT_TRUE(wait_until([&] { return sub->last_seq() > resumed_at + 100; }, 10s));
  sub->stop();
  EXPECT_EQ(sub->out_of_order, 0u);
  const uint64_t seen = sub->last_seq();
  EXPECT_EQ(replay({"digest", "--journal", journal(2), "--at-seq", std::to_string(seen)}),
            digest_line(seen, sub->state()));
  EXPECT_NE(primary->log().find("FENCED"), std::string::npos) << primary->log();
  // The fenced node's journal converges on the new primary's history.
  primary->signal(SIGTERM);
  ASSERT_EQ(primary->wait_for(10s), 0) << primary->log();
  EXPECT_EQ(replay({"verify", "--journal", journal(1)}).substr(0, 2), "0 ");
  const std::string d1 = replay({"digest", "--journal", journal(1)});
  const uint64_t seq1 = std::stoull(d1.substr(d1.find(':') + 1));
  EXPECT_EQ(d1, replay({"digest", "--journal", journal(2), "--at-seq", std::to_string(seq1)}));
}

// Issue 10, defect 2: without a mapping the secondary used to keep no view of the markets, so
// whatever the feed said between the primary's death and the takeover was lost for good.
class UnmappedFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_test_dir("unmapped_takeover");
    ports_[0] = feed_.port();
    for (size_t i = 1; i < 5; ++i) ports_[i] = free_port();
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  // The pair's arguments fed by the test's provider, without --mapping.
  std::unique_ptr<ChildProcess> start_node(int node, bool secondary) {
    std::vector<std::string> argv = testing::pair_node_argv(dir_, ports_, node, secondary);
    auto mapping = std::find(argv.begin(), argv.end(), "--mapping");
    if (mapping != argv.end()) argv.erase(mapping, mapping + 2);
    return std::make_unique<ChildProcess>(
        argv, (dir_ / ("node" + std::to_string(node) + ".log")).string());
  }
  std::optional<recovery::ReplyHeader> status(int node) {
    zmq::context_t context(1);
    auto reply = engine::probe_status(context, url(ports_[node == 1 ? 2 : 4]), 500);
    if (!reply) return std::nullopt;
    return *reply;
  }
  // The "digest" of `odds-replay digest` for a journal.
  std::string digest(const std::string& journal) {
    auto [code, out] =
        testing::run_to_completion({bin_dir() + "/odds-replay", "digest", "--journal", journal},
                                   (dir_ / "replay.log").string());
    EXPECT_EQ(code, 0) << out;
    const size_t at = out.find("\"digest\"");
    return at == std::string::npos ? out : out.substr(at);
  }

  LineServer feed_;
  std::filesystem::path dir_;
  uint16_t ports_[5] = {};
};

TEST_F(UnmappedFeedTest, WhatTheFeedSaidBeforeTheTakeoverIsJournaledByTheNewPrimary) {
  auto primary = start_node(1, false);
  auto secondary = start_node(2, true);
  ASSERT_TRUE(wait_until([&] { return feed_.clients() == 2; }, 10s))
      << primary->log() << secondary->log();
  for (int m = 1001; m <= 1003; ++m) {
    const std::string id = std::to_string(m);
    feed_.send(R"({"type":"market","market":)" + id + R"(,"event":501,"name":"Match Odds",)" +
               R"("selections":[{"id":1,"name":"Home"},{"id":2,"name":"Away"}]})");
    feed_.send(R"({"type":"price","market":)" + id + R"(,"selection":1,"odds":"2.50"})");
    feed_.send(R"({"type":"price","market":)" + id + R"(,"selection":2,"odds":"3/2"})");
  }
  // Both nodes journaled all nine frames (the secondary by replication).
  ASSERT_TRUE(wait_until(
      [&] {
        auto s1 = status(1);
        auto s2 = status(2);
        return s1 && s2 && s1->last_seq == 9 && s2->last_seq == 9;
      },
      10s))
      << primary->log() << secondary->log();

  primary->signal(SIGKILL);
  ASSERT_TRUE(primary->wait_for(5s).has_value());
  // The window: said once, never again. A trader suspension, a price, a new market.
  feed_.send(R"({"type":"status","market":1001,"status":"suspended","reason":"trader"})");
  feed_.send(R"({"type":"price","market":1002,"selection":2,"odds":"+200"})");
  feed_.send(R"({"type":"market","market":1004,"event":502,"name":"Winner",)"
             R"("selections":[{"id":7,"name":"Yes"}]})");
  feed_.send(R"({"type":"price","market":1004,"selection":7,"odds":"1.80"})");
  ASSERT_TRUE(wait_until(
      [&] {
        auto s2 = status(2);
        return s2 && s2->primary && s2->epoch == 2;
      },
      10s))
      << secondary->log();
  secondary->signal(SIGTERM);
  ASSERT_EQ(secondary->wait_for(10s), 0) << secondary->log();

  const std::filesystem::path input = dir_ / "feed.jsonl";
  std::ofstream(input) << feed_.sent();
  auto [code, out] = testing::run_to_completion({bin_dir() + "/odds-engine", "ingest", "--journal",
                                                 (dir_ / "ingest").string(), input.string()},
                                                (dir_ / "ingest.log").string());
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(digest((dir_ / "node2").string()), digest((dir_ / "ingest").string()))
      << secondary->log();
}

// Without a mapping, --stale-after-ms suspends a market feed-stale when its one feed falls
// silent, and the feed's next word reopens it with fresh prices.
TEST_F(UnmappedFeedTest, StaleAfterSuspendsAMarketWhoseFeedFallsSilentAndReopensIt) {
  const std::string journal = (dir_ / "node1").string();
  ChildProcess node({bin_dir() + "/odds-engine", "run", "--journal", journal, "--node", "1",
                     "--pub", url(ports_[1]), "--feed", "oj=oddsjson@" + url(ports_[0]),
                     "--stale-after-ms", "300", "--heartbeat-ms", "20"},
                    (dir_ / "node1.log").string());
  ASSERT_TRUE(wait_until([&] { return feed_.clients() == 1; }, 10s)) << node.log();
  const auto market = [&] {
    auto [code, out] = testing::run_to_completion(
        {bin_dir() + "/odds-replay", "state", "--journal", journal, "--market", "1001", "--json"},
        (dir_ / "state.log").string());
    return out;
  };
  const auto shows = [&](const std::string& status, const std::string& price) {
    const std::string m = market();
    return m.find("\"status\": \"" + status + "\"") != std::string::npos &&
           m.find("\"price_e4\": " + price) != std::string::npos;
  };
  feed_.send(R"({"type":"market","market":1001,"event":501,"name":"Match Odds",)"
             R"("selections":[{"id":1,"name":"Home"}]})");
  feed_.send(R"({"type":"price","market":1001,"selection":1,"odds":"2.50"})");
  ASSERT_TRUE(wait_until([&] { return shows("open", "25000"); }, 10s)) << market() << node.log();
  feed_.pause_heartbeats(true);
  ASSERT_TRUE(wait_until([&] { return shows("suspended", "25000"); }, 10s))
      << market() << node.log();
  feed_.pause_heartbeats(false);
  feed_.send(R"({"type":"price","market":1001,"selection":1,"odds":"3.00"})");
  ASSERT_TRUE(wait_until([&] { return shows("open", "30000"); }, 10s)) << market() << node.log();
  node.signal(SIGTERM);
  EXPECT_EQ(node.wait_for(10s), 0) << node.log();
}

}  // namespace
}  // namespace oddsbus
