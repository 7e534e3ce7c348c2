// Bounded live state across processes (issue 15): odds-feedsim serves unmapped oddsjson markets
// that settle and are replaced by new ones; a primary and a secondary `odds-engine run
// --evict-after 1s` sequence them; an odds-edge subscribes to both and a WebSocket client follows
// every market. The primary evicts, is killed (kill -9), and the secondary takes over and evicts
// too. Asserted: evictions in both epochs; the edge's digest equals `odds-replay digest` of the
// survivor's journal at the same seq; the client folded exactly the edge's state (evicted markets
// as removed); `odds-replay state` before an eviction shows the market and after it does not;
// the edge holds far fewer markets than ever started.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>
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

struct Eviction {
  uint64_t seq = 0;
  uint64_t epoch = 0;
  uint64_t market = 0;
};

uint64_t number_after(const std::string& line, const std::string& key) {
  const size_t at = line.find("\"" + key + "\": ");
  return at == std::string::npos ? 0 : std::stoull(line.substr(at + key.size() + 4));
}

class EvictionClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("eviction_cluster_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    for (uint16_t& p : ports_) p = free_port();
    // Ten live markets at a time, each settling after about ten updates and replaced by a new one.
    feed_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{bin_dir() + "/odds-feedsim", "--format", "oddsjson", "--listen",
                                 url(ports_[0]), "--markets", "10", "--rate",
                                 std::to_string(300 / testing::sanitizer_slowdown()),
                                 "--settle-after", "10", "--total-markets", "100000",
                                 "--heartbeat-ms", "50", "--seed", "11"},
        (dir_ / "feedsim.log").string());
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  // Without a mapping: every market is unmapped, so every finished one may be evicted.
  std::unique_ptr<ChildProcess> start_node(int node, bool secondary) {
    std::vector<std::string> argv =
        testing::pair_node_argv(dir_, ports_, node, secondary, {"--evict-after", "1s"});
    const auto mapping = std::find(argv.begin(), argv.end(), "--mapping");
    argv.erase(mapping, mapping + 2);
    return std::make_unique<ChildProcess>(
        argv, (dir_ / ("node" + std::to_string(node) + ".log")).string());
  }
  std::string journal(int node) const { return (dir_ / ("node" + std::to_string(node))).string(); }
  std::string replay(const std::vector<std::string>& args) {
    std::vector<std::string> argv{bin_dir() + "/odds-replay"};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::run_to_completion(argv, (dir_ / "replay.log").string()).second;
  }
  // The evictions a journal holds, how many markets it ever defined, and how many it defined
  // again after evicting them (the simulator never reuses a market id: a resurrection).
  std::vector<Eviction> evictions(int node, size_t* defined = nullptr,
                                  size_t* redefined = nullptr) {
    std::istringstream lines(replay({"events", "--journal", journal(node)}));
    std::vector<Eviction> found;
    std::set<uint64_t> markets;
    std::set<uint64_t> gone;
    size_t again = 0;
    for (std::string line; std::getline(lines, line);) {
      const uint64_t market = number_after(line, "market");
      if (line.find("\"type\": \"MarketEviction\"") != std::string::npos) {
        found.push_back({number_after(line, "seq"), number_after(line, "epoch"), market});
        gone.insert(market);
      } else if (line.find("\"type\": \"MarketDefinition\"") != std::string::npos) {
        markets.insert(market);
        again += gone.contains(market) ? 1 : 0;
      }
    }
    if (defined != nullptr) *defined = markets.size();
    if (redefined != nullptr) *redefined = again;
    return found;
  }
  uint64_t journaled_seq(int node) {
    return number_after(replay({"digest", "--journal", journal(node)}), "seq");
  }

  std::filesystem::path dir_;
  uint16_t ports_[6] = {};
  std::unique_ptr<ChildProcess> feed_;
};

TEST_F(EvictionClusterTest, EveryNodeEdgeClientAndReplayEvictAtTheSameSeq) {
  const unsigned slow = testing::sanitizer_slowdown();
  auto primary = start_node(1, false);
  auto secondary = start_node(2, true);
  const uint16_t http = ports_[5];
  ChildProcess edge(
      {bin_dir() + "/odds-edge", "--sub", url(ports_[1]) + "," + url(ports_[3]), "--recovery",
       url(ports_[2]) + "," + url(ports_[4]), "--http", "127.0.0.1:" + std::to_string(http)},
      (dir_ / "edge.log").string());
  ASSERT_TRUE(wait_until([&] { return http_get(http, "/healthz").first == 200; }, slow * 20s))
      << edge.log() << primary->log();
  StreamClient client(http, R"({"op": "subscribe", "markets": "all"})");

  // The primary evicts; the secondary replicates its evictions.
  ASSERT_TRUE(wait_until([&] { return evictions(1).size() >= 5; }, slow * 30s)) << primary->log();
  const uint64_t primary_at = journaled_seq(1);
  ASSERT_TRUE(wait_until([&] { return journaled_seq(2) >= primary_at; }, slow * 20s))
      << secondary->log();
  primary->signal(SIGKILL);

  // The secondary takes over and evicts in its own epoch.
  auto evicted_in_epoch_2 = [&] {
    size_t n = 0;
    for (const Eviction& e : evictions(2)) n += e.epoch >= 2 ? 1 : 0;
    return n;
  };
  ASSERT_TRUE(wait_until([&] { return evicted_in_epoch_2() >= 5; }, slow * 30s))
      << secondary->log();

  // Quiesce: the feed stops; what settled last is evicted a second later; then the engine stops.
  feed_->signal(SIGKILL);
  std::this_thread::sleep_for(slow * 2500ms);
  secondary->signal(SIGINT);
  ASSERT_EQ(secondary->wait_for(slow * 15s), 0) << secondary->log();
  const uint64_t journal_seq = journaled_seq(2);
  auto snapshot = [&] {
    auto [status, body] = http_get(http, "/v1/snapshot");
    return status == 200 ? body : std::string();
  };
  ASSERT_TRUE(
      wait_until([&] { return number_after(snapshot(), "seq") == journal_seq; }, slow * 10s))
      << "edge at " << number_after(snapshot(), "seq") << ", journal at " << journal_seq;
  const std::string edge_state = snapshot();
  const size_t at = edge_state.find("\"digest\": \"");
  ASSERT_NE(at, std::string::npos) << edge_state;
  const std::string edge_digest = edge_state.substr(at + 11, 16);
  EXPECT_NE(replay({"digest", "--journal", journal(2), "--at-seq", std::to_string(journal_seq)})
                .find("\"digest\": \"" + edge_digest + "\""),
            std::string::npos)
      << "the edge's digest is not the journal's at seq " << journal_seq;

  // The client folded exactly the edge's state: evicted markets came as removed.
  ASSERT_TRUE(wait_until([&] { return client.last_seq() == journal_seq; }, slow * 10s));
  client.stop();
  const StreamClient::Summary s = client.summary();
  EXPECT_TRUE(s.violations.empty()) << s.violations.front();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(edge_state).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(s.state, testing::fold_markets(doc["markets"]));

  // Replay shows an evicted market before its eviction and not after; the edge holds few.
  size_t defined = 0;
  size_t redefined = 0;
  const std::vector<Eviction> all = evictions(2, &defined, &redefined);
  ASSERT_FALSE(all.empty());
  // The new primary's source selector had forgotten what the replicated history evicted: its
  // takeover reconciliation defined none of them again.
  EXPECT_EQ(redefined, 0u);
  const Eviction& first = all.front();
  const std::string market = "{\"market\": " + std::to_string(first.market) + ",";
  EXPECT_NE(replay({"state", "--journal", journal(2), "--at-seq", std::to_string(first.seq - 1),
                    "--json"})
                .find(market),
            std::string::npos);
  EXPECT_EQ(
      replay({"state", "--journal", journal(2), "--at-seq", std::to_string(first.seq), "--json"})
          .find(market),
      std::string::npos);
  EXPECT_LT(s.state.size() + all.size() / 2, defined)
      << s.state.size() << " markets held, " << defined << " defined, " << all.size()
      << " evictions";
  std::printf("%zu markets defined, %zu evictions, %zu held at the end (seq %llu)\n", defined,
              all.size(), s.state.size(), static_cast<unsigned long long>(journal_seq));
}

}  // namespace
}  // namespace oddsbus
