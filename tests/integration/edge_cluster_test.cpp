// Multi-process edge test (DESIGN section 5), over loopback: odds-feedsim feeds a primary and a
// secondary `odds-engine run`; two `odds-edge` subscribe to both; WebSocket clients in the test
// fold what the edges stream. The primary is killed (kill -9) and one edge is stopped (SIGSTOP)
// long enough to overflow its receive buffers, then resumed; a client reconnects with
// resume_from. Asserted: every client's delta seqs strictly increase and no market_seq is
// skipped (except where it was told it got a fresh image), the folded state of every client
// equals its edge's /v1/snapshot, and every edge's digest equals `odds-replay digest` of the
// surviving journal at the same seq.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/integration/child_process.h"
#include "tests/integration/loopback.h"
#include "tests/integration/oddsjson_source.h"
#include "tests/integration/ws_test_client.h"

namespace oddsbus {
namespace {

using namespace std::chrono_literals;
using testing::bin_dir;
using testing::ChildProcess;
using testing::free_port;
using testing::http_get;
using testing::StreamClient;
using testing::url;
using testing::wait_until;

constexpr int kMarkets = 20;
const std::string kSubscribeAll = R"({"op": "subscribe", "markets": "all"})";

// seq, epoch and digest of an edge's /v1/snapshot, and its markets.
struct EdgeSnapshot {
  uint64_t seq = 0;
  uint64_t epoch = 0;
  std::string digest;
  testing::FoldedState state;
};

std::optional<EdgeSnapshot> snapshot_of(uint16_t http) {
  auto [status, body] = http_get(http, "/v1/snapshot");
  if (status != 200) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) return std::nullopt;
  return EdgeSnapshot{uint64_t(doc["seq"]), uint64_t(doc["epoch"]),
                      std::string(std::string_view(doc["digest"])),
                      testing::fold_markets(doc["markets"])};
}

class EdgeClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("edge_cluster_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    for (uint16_t& p : ports_) p = free_port();
    testing::start_oddsjson_source(dir_, ports_[0], kMarkets, 400 / testing::sanitizer_slowdown(),
                                   5, feed_);
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  // Node 1: pub ports_[1], recovery ports_[2]; node 2: pub ports_[3], recovery ports_[4]. Small
  // publisher buffers, so a stopped edge overflows them.
  std::unique_ptr<ChildProcess> start_node(int node, bool secondary) {
    return std::make_unique<ChildProcess>(
        testing::pair_node_argv(dir_, ports_, node, secondary,
                                {"--pub-hwm", "50", "--pub-sndbuf", "16384"}),
        (dir_ / ("node" + std::to_string(node) + ".log")).string());
  }
  // Edge i serves HTTP on ports_[5 + i].
  std::unique_ptr<ChildProcess> start_edge(int i, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{bin_dir() + "/odds-edge",
                                  "--sub",
                                  url(ports_[1]) + "," + url(ports_[3]),
                                  "--recovery",
                                  url(ports_[2]) + "," + url(ports_[4]),
                                  "--http",
                                  "127.0.0.1:" + std::to_string(ports_[5 + i]),
                                  "--stale-after-ms",
                                  "3000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(argv,
                                          (dir_ / ("edge" + std::to_string(i) + ".log")).string());
  }
  std::string journal(int node) const { return (dir_ / ("node" + std::to_string(node))).string(); }
  // The last seq node's journal holds, by odds-replay digest on the live journal (0: unreadable).
  uint64_t journaled_seq(int node) {
    auto [code, out] = testing::run_to_completion(
        {bin_dir() + "/odds-replay", "digest", "--journal", journal(node)},
        (dir_ / "replay.log").string());
    const size_t at = out.find("\"seq\": ");
    return code == 0 && at != std::string::npos ? std::stoull(out.substr(at + 7)) : 0;
  }
  std::string replay_digest(int node, uint64_t seq) {
    auto [code, out] =
        testing::run_to_completion({bin_dir() + "/odds-replay", "digest", "--journal",
                                    journal(node), "--at-seq", std::to_string(seq)},
                                   (dir_ / "replay.log").string());
    return std::to_string(code) + " " + out;
  }

  std::filesystem::path dir_;
  uint16_t ports_[7] = {};
  std::unique_ptr<ChildProcess> feed_;
};

TEST_F(EdgeClusterTest, ClientsSeeEveryChangeThroughFailoverAnEdgeStallAndAReconnect) {
  // A sanitizer build runs every process several times slower: it is fed less (SetUp) and waited
  // for longer.
  const unsigned slow = testing::sanitizer_slowdown();
  auto primary = start_node(1, false);
  auto secondary = start_node(2, true);
  auto edge_a = start_edge(0);
  // Every buffer between the publishers and edge B is small (the engines' --pub-hwm and
  // --pub-sndbuf too), so stopping edge B makes ZeroMQ drop frames for it: gaps to recover.
  auto edge_b = start_edge(1, {"--receive-hwm", "5", "--receive-buffer-bytes", "8192"});
  const uint16_t http_a = ports_[5], http_b = ports_[6];
  auto healthy = [](uint16_t http) { return http_get(http, "/healthz").first == 200; };
  ASSERT_TRUE(wait_until([&] { return healthy(http_a) && healthy(http_b); }, slow * 20s))
      << edge_a->log() << edge_b->log() << primary->log();

  StreamClient a1(http_a, kSubscribeAll);
  auto a2 = std::make_unique<StreamClient>(http_a, kSubscribeAll);
  StreamClient b1(http_b, kSubscribeAll);
  StreamClient b2(http_b, R"({"op": "subscribe", "markets": [1001, 1002], "event": 503})");
  ASSERT_TRUE(wait_until([&] { return a1.last_seq() > 300 / slow && b1.last_seq() > 300 / slow; },
                         slow * 20s))
      << "a1 at " << a1.last_seq() << ", b1 at " << b1.last_seq() << "\n"
      << edge_a->log() << edge_b->log() << primary->log() << secondary->log();

  // Replication is async: a primary killed before its secondary journaled anything takes
  // everything with it (the secondary then rightly starts epoch 2 from seq 1). The feed's first
  // burst gets the clients past 300 within ~100 ms of the primary starting, sooner than the
  // secondary's first reconnect; so wait for the secondary to hold what the clients hold.
  const uint64_t clients_at = a1.last_seq();
  ASSERT_TRUE(wait_until([&] { return journaled_seq(2) >= clients_at; }, slow * 20s))
      << secondary->log();
  primary->signal(SIGKILL);
  ASSERT_TRUE(wait_until(
      [&] {
        auto a = snapshot_of(http_a), b = snapshot_of(http_b);
        return a && b && a->epoch == 2 && b->epoch == 2;
      },
      slow * 15s))
      << secondary->log() << edge_a->log() << edge_b->log();

  // A client reconnects and resumes from the last seq it folded: no new image, nothing missed.
  a2->stop();
  const StreamClient::Summary before = a2->summary();
  std::this_thread::sleep_for(300ms);
  a2 = std::make_unique<StreamClient>(
      http_a,
      R"({"op": "subscribe", "markets": "all", "resume_from": )" +
          std::to_string(before.last_delta_seq) +
          ", \"resume_epoch\": " + std::to_string(before.last_epoch) + "}",
      before);

  edge_b->signal(SIGSTOP);
  std::this_thread::sleep_for(slow == 1 ? 3s : 6s);  // long enough to overflow at its rate
  edge_b->signal(SIGCONT);
  const uint64_t resumed_at = a1.last_seq();
  ASSERT_TRUE(wait_until([&] { return b1.last_seq() > resumed_at + 200 / slow; }, slow * 20s))
      << "b1 at " << b1.last_seq() << ", a1 resumed at " << resumed_at << "\n"
      << edge_b->log() << secondary->log();

  // Quiesce: stop the feed, then the engine; the edges keep serving what they have.
  feed_->signal(SIGKILL);
  std::this_thread::sleep_for(500ms);
  secondary->signal(SIGINT);
  ASSERT_EQ(secondary->wait_for(slow * 15s), 0) << secondary->log();
  auto final_seq = [](uint16_t http) {
    auto s = snapshot_of(http);
    return s ? s->seq : 0;
  };
  const std::string journal_digest = [&] {
    auto [code, out] =
        testing::run_to_completion({bin_dir() + "/odds-replay", "digest", "--journal", journal(2)},
                                   (dir_ / "replay.log").string());
    return out;
  }();
  const uint64_t journal_seq = std::stoull(journal_digest.substr(journal_digest.find(':') + 1));
  EXPECT_TRUE(wait_until(
      [&] { return final_seq(http_a) == journal_seq && final_seq(http_b) == journal_seq; },
      slow * 10s))
      << "edges at " << final_seq(http_a) << " and " << final_seq(http_b) << ", journal at "
      << journal_seq;

  for (uint16_t http : {http_a, http_b}) {
    auto snap = snapshot_of(http);
    ASSERT_TRUE(snap);
    EXPECT_EQ(replay_digest(2, snap->seq), "0 {\"seq\": " + std::to_string(snap->seq) +
                                               ", \"digest\": \"" + snap->digest + "\"}\n")
        << "edge on port " << http;
  }

  // Every client has folded up to its edge's seq (deltas, or a heartbeat saying so).
  auto caught_up = [&](const StreamClient& c, uint16_t http) {
    return c.last_seq() == final_seq(http);
  };
  EXPECT_TRUE(wait_until(
      [&] {
        return caught_up(a1, http_a) && caught_up(*a2, http_a) && caught_up(b1, http_b) &&
               caught_up(b2, http_b);
      },
      slow * 10s));
  const auto snap_a = snapshot_of(http_a);
  const auto snap_b = snapshot_of(http_b);
  ASSERT_TRUE(snap_a && snap_b);
  struct Case {
    const char* name;
    StreamClient* client;
    const EdgeSnapshot* edge;
    bool all;
  };
  for (const Case& c : {Case{"a1", &a1, &*snap_a, true}, Case{"a2", a2.get(), &*snap_a, true},
                        Case{"b1", &b1, &*snap_b, true}, Case{"b2", &b2, &*snap_b, false}}) {
    c.client->stop();
    const StreamClient::Summary s = c.client->summary();
    EXPECT_TRUE(s.violations.empty()) << c.name << ": " << s.violations.front();
    EXPECT_FALSE(s.closed) << c.name << " was closed: " << s.closed.value_or("");
    EXPECT_GT(s.deltas, 100u / slow)
        << c.name << ": " << s.images << " images, " << s.heartbeats << " heartbeats, last seq "
        << s.last_seq << ", " << s.state.size() << " markets";
    testing::FoldedState expected = c.edge->state;
    if (!c.all) std::erase_if(expected, [](const auto& m) { return m.first > 1003; });
    EXPECT_EQ(s.state, expected) << c.name << " folded a state other than its edge's";
    // Fresh images after the first are allowed only as resyncs, which the client is told of:
    // an async takeover may lose frames an edge had applied (DESIGN 4), and then the edge
    // reloads a snapshot of the new history.
    for (size_t i = 1; i < s.image_reasons.size(); ++i) {
      EXPECT_EQ(s.image_reasons[i], "resync") << c.name << " image " << i;
    }
  }
  const StreamClient::Summary resumed = a2->summary();
  for (const std::string& reason : resumed.image_reasons) {
    EXPECT_EQ(reason, "resync") << "resume_from within the window must not send a new image";
  }
  // Edge B lost frames while stopped and recovered them without dropping its clients.
  const std::string metrics_b = http_get(http_b, "/metrics").second;
  EXPECT_EQ(metrics_b.find("\noddsbus_edge_gaps_total 0\n"), std::string::npos) << metrics_b;
  std::printf(
      "images a1 %zu, b1 %zu (resyncs after a lossy takeover beyond the first); b1 "
      "conflated deltas %llu\n",
      a1.summary().image_reasons.size(), b1.summary().image_reasons.size(),
      static_cast<unsigned long long>(b1.summary().conflated));
}

}  // namespace
}  // namespace oddsbus
