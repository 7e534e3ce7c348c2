// Test support for the edge security tests (issue 14): one odds-feedsim feeding one `odds-engine
// run`, an odds-edge subscribed to it (the flags each test gives), and a well-behaved WebSocket
// client of "all" that must keep receiving every change while the test attacks the edge. Ports
// come from the port picker; children die with the test (tests/integration/child_process.h).
#pragma once

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/child_process.h"
#include "tests/integration/loopback.h"
#include "tests/integration/oddsjson_source.h"
#include "tests/integration/ws_test_client.h"

namespace oddsbus::testing {

// The value of one series of /metrics text, e.g. `oddsbus_edge_clients`; nullopt when absent.
inline std::optional<double> metric_in(const std::string& metrics, const std::string& series) {
  const std::string key = "\n" + series + " ";
  const size_t at = metrics.find(key);
  if (at == std::string::npos) return std::nullopt;
  return std::stod(metrics.substr(at + key.size()));
}

class EdgeSecurityTest : public ::testing::Test {
 protected:
  static constexpr int kMarkets = 20;

  void SetUp() override {
    dir_ = fresh_test_dir("edge_security");
    for (uint16_t& p : ports_) p = free_port();
  }
  void TearDown() override {
    good_.reset();
    edge_.reset();
    engine_.reset();
    feed_.reset();
    if (HasFailure()) {
      std::printf("logs kept in %s\n", dir_.c_str());
    } else {
      std::filesystem::remove_all(dir_);
    }
  }

  uint16_t http() const { return ports_[3]; }

  // odds-feedsim at `rate` updates a second into odds-engine (pub ports_[1], recovery ports_[2]).
  void start_source(int rate) {
    rate = std::max(1, rate / sanitizer_slowdown());
    start_oddsjson_source(dir_, ports_[0], kMarkets, rate, 11, feed_);
    if (!feed_) return;
    engine_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{bin_dir() + "/odds-engine", "run", "--journal",
                                 (dir_ / "journal").string(), "--node", "1", "--pub",
                                 url(ports_[1]), "--recovery", url(ports_[2]), "--feed",
                                 "oj=oddsjson@" + url(ports_[0]), "--mapping",
                                 (dir_ / "mapping.toml").string(), "--heartbeat-ms", "20"},
        (dir_ / "engine.log").string());
  }

  // Stops the feed, then the engine: the edge keeps what it has.
  void stop_source() {
    feed_->signal(SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    engine_->signal(SIGINT);
    EXPECT_EQ(engine_->wait_for(std::chrono::seconds(15)), 0) << engine_->log();
  }

  std::vector<std::string> edge_argv(const std::vector<std::string>& extra) const {
    std::vector<std::string> argv{bin_dir() + "/odds-edge",
                                  "--sub",
                                  url(ports_[1]),
                                  "--recovery",
                                  url(ports_[2]),
                                  "--http",
                                  "127.0.0.1:" + std::to_string(http())};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  ChildProcess& start_edge(const std::vector<std::string>& extra) {
    edge_ = std::make_unique<ChildProcess>(edge_argv(extra), (dir_ / "edge.log").string());
    return *edge_;
  }

  bool healthy() {
    return wait_until([&] { return http_get(http(), "/healthz").first == 200; },
                      std::chrono::seconds(20));
  }
  std::optional<double> metric(const std::string& series) {
    auto [status, body] = http_get(http(), "/metrics");
    if (status != 200) return std::nullopt;
    return metric_in(body, series);
  }

  // Source, plain edge with `extra` flags, and the well-behaved client. Its queue bounds are
  // generous, so that it is never conflated: every delta it gets is one frame's.
  void start_with_good_client(int rate, std::vector<std::string> extra) {
    ASSERT_NO_FATAL_FAILURE(start_source(rate));
    extra.insert(extra.end(), {"--client-queue-bytes", "16777216", "--client-max-delay-ms", "30000",
                               "--slow-client-ms", "30000"});
    ChildProcess& edge = start_edge(extra);
    ASSERT_TRUE(healthy()) << edge.log() << engine_->log();
    good_ = std::make_unique<StreamClient>(http(), R"({"op": "subscribe", "markets": "all"})");
    ASSERT_TRUE(wait_until([&] { return good_->last_seq() > 0; }, std::chrono::seconds(10)));
  }

  // The good client moved on by `frames` frames since `from` (it is still being served).
  bool good_client_advances(uint64_t from, uint64_t frames = 20) {
    return wait_until([&] { return good_->last_seq() >= from + frames; }, std::chrono::seconds(10));
  }

  // After the attack: the source stops, and the well-behaved client must have every delta: seqs
  // strictly increasing, each market's market_seq one more than the last (no frame missed), none
  // conflated, its folded state the edge's, and never closed.
  void expect_good_client_got_every_delta() {
    ASSERT_TRUE(good_);
    stop_source();
    uint64_t settled = 0;
    ASSERT_TRUE(wait_until(
        [&] {
          auto [status, body] = http_get(http(), "/v1/snapshot");
          simdjson::dom::parser parser;
          simdjson::dom::element doc;
          if (status != 200 || parser.parse(body).get(doc) != simdjson::SUCCESS) return false;
          const uint64_t seq = uint64_t(doc["seq"]);
          if (seq != settled || good_->last_seq() != seq) {
            settled = seq;
            return false;
          }
          snapshot_ = fold_markets(doc["markets"]);
          return true;
        },
        std::chrono::seconds(15)))
        << "the good client did not catch up: at " << good_->last_seq() << ", edge at " << settled;
    good_->stop();
    const StreamSummary s = good_->summary();
    EXPECT_TRUE(s.violations.empty()) << s.violations.front();
    EXPECT_FALSE(s.closed) << "the good client was closed: " << *s.closed;
    EXPECT_EQ(s.conflated, 0u) << "the good client was conflated: it may have missed frames";
    EXPECT_EQ(s.images, 1u);
    EXPECT_GT(s.deltas, 50u);
    EXPECT_EQ(s.state, snapshot_) << "the good client folded a state other than the edge's";
    EXPECT_TRUE(edge_->running()) << edge_->log();
  }

  std::filesystem::path dir_;
  uint16_t ports_[4] = {};  // feed, engine pub, engine recovery, edge HTTP
  std::unique_ptr<ChildProcess> feed_;
  std::unique_ptr<ChildProcess> engine_;
  std::unique_ptr<ChildProcess> edge_;
  std::unique_ptr<StreamClient> good_;
  FoldedState snapshot_;
};

}  // namespace oddsbus::testing
