// A node's /metrics and /healthz (engine/node_http.h), in process: a Node with a local producer
// and its desk API, its HTTP endpoint on a free port. The body passes `promtool check metrics`,
// and the counters move when what they count happens: frames, a rejection, a desk request.
// /healthz's rule (engine/node_health.h) is checked on its own for each 503 reason.
#include "engine/node_http.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "engine/node_assembly.h"
#include "engine/node_health.h"
#include "tests/engine/engine_test_support.h"
#include "tests/integration/ws_test_client.h"
#include "tests/tools/promtool.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;
using namespace std::chrono_literals;

template <typename F>
bool eventually(F done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

feeds::Event local(feeds::Event e) {
  e.source = "local";
  return e;
}

class NodeMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NodeConfig config;
    config.journal_dir = dir_.sub("journal");
    config.pub_url = "tcp://127.0.0.1:*";
    config.recovery_url = "tcp://127.0.0.1:*";
    config.desk_url = "tcp://127.0.0.1:*";
    NodeOptions options;
    options.local_producers = 1;
    node_ = std::make_unique<Node>(config, options);
    auto started = node_->start();
    ASSERT_TRUE(started) << started.error();
    auto served = NodeHttpServer::start(*node_, NodeHttpConfig{"127.0.0.1", 0, 10});
    ASSERT_TRUE(served) << served.error();
    http_ = std::move(*served);
  }
  void TearDown() override {
    if (http_) http_->stop();
    if (node_) (void)node_->stop();
  }

  void push(const feeds::Event& e) {
    ASSERT_EQ(node_->push(0, local(e), stop_), PushResult::kPushed);
  }
  std::string metrics() {
    const auto [status, body] = testing::http_get(http_->port(), "/metrics");
    EXPECT_EQ(status, 200u) << body;
    return body;
  }
  double value(const std::string& series) {
    const auto v = testing::metric_sample(metrics(), series);
    EXPECT_TRUE(v.has_value()) << series << " is not in /metrics";
    return v.value_or(-1);
  }

  TempDir dir_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<Node> node_;
  std::unique_ptr<NodeHttpServer> http_;
};

TEST_F(NodeMetricsTest, MetricsPassPromtoolCheck) {
  push(market_event(1001, 501, "Match Odds", home_draw_away()));
  push(price_event(1001, 1, "2.5"));
  ASSERT_TRUE(eventually([&] { return node_->last_seq() == 2; }));
  const std::string body = metrics();
  const testing::PromtoolResult checked = testing::promtool_check_metrics(body);
  ASSERT_TRUE(checked.ran) << checked.output;
  EXPECT_EQ(checked.exit_code, 0) << "promtool check metrics:\n" << checked.output << "\n" << body;
  for (const char* family :
       {"oddsbus_engine_frames_total", "oddsbus_engine_commit_latency_seconds_bucket",
        "oddsbus_engine_ingest_queue_depth", "oddsbus_engine_ingest_backpressure_total",
        "oddsbus_engine_sequencer_rejections_total", "oddsbus_engine_replication_lag_frames",
        "oddsbus_engine_replication_lag_seconds", "oddsbus_engine_role", "oddsbus_engine_epoch",
        "oddsbus_engine_takeovers_total", "oddsbus_engine_fencings_total",
        "oddsbus_engine_recovery_requests_total", "oddsbus_engine_recovery_refusals_total",
        "oddsbus_engine_desk_replies_total", "oddsbus_engine_journal_file_bytes",
        "oddsbus_engine_journal_used_bytes", "oddsbus_engine_stale_suspensions_total"}) {
    EXPECT_NE(body.find(std::string("\n") + family), std::string::npos) << family;
  }
}

TEST_F(NodeMetricsTest, CountersMoveWithFramesRejectionsAndDeskRequests) {
  EXPECT_EQ(value("oddsbus_engine_frames_total"), 0);
  EXPECT_EQ(value("oddsbus_engine_role{role=\"primary\"}"), 1);
  push(market_event(1001, 501, "Match Odds", home_draw_away()));
  push(price_event(1001, 1, "2.5"));
  ASSERT_TRUE(eventually([&] { return node_->last_seq() == 2; }));
  EXPECT_EQ(value("oddsbus_engine_frames_total"), 2);
  EXPECT_EQ(value("oddsbus_engine_seq"), 2);
  EXPECT_GE(value("oddsbus_engine_commit_latency_seconds_count"), 1);

  // A price for a market never defined: the sequencer refuses it.
  EXPECT_EQ(value("oddsbus_engine_sequencer_rejections_total{reason=\"unknown_market\"}"), 0);
  push(price_event(4242, 1, "2.5"));
  EXPECT_TRUE(eventually([&] {
    return testing::metric_sample(
               metrics(), "oddsbus_engine_sequencer_rejections_total{reason=\"unknown_market\"}") ==
           1;
  }));

  // A desk request, applied; one rejected.
  zmq::context_t context(1);
  zmq::socket_t desk(context, zmq::socket_type::dealer);
  desk.set(zmq::sockopt::linger, 0);
  desk.connect(node_->desk_endpoint());
  const auto ask = [&](const std::string& request) {
    desk.send(zmq::buffer(request));
    zmq::pollitem_t item{desk.handle(), 0, ZMQ_POLLIN, 0};
    zmq::message_t reply;
    if (zmq::poll(&item, 1, 10s) == 0 || !desk.recv(reply)) return std::string("<timeout>");
    return reply.to_string();
  };
  EXPECT_EQ(ask("trader r1 set-price 1001 1 5/2").rfind("ack r1 ", 0), 0u);
  EXPECT_EQ(ask("trader r2 set-price 4242 1 2.5"), "reject r2 unknown-market");
  EXPECT_EQ(value("oddsbus_engine_desk_requests_total"), 2);
  EXPECT_EQ(value("oddsbus_engine_desk_replies_total{outcome=\"applied\"}"), 1);
  EXPECT_EQ(value("oddsbus_engine_desk_replies_total{outcome=\"rejected\"}"), 1);
  EXPECT_EQ(value("oddsbus_engine_desk_rejections_total{reason=\"unknown-market\"}"), 1);
  EXPECT_EQ(value("oddsbus_engine_frames_total"), 3);
}

TEST_F(NodeMetricsTest, HealthzAnswersJsonAndOtherPathsAreRefused) {
  push(market_event(1001, 501, "Match Odds", home_draw_away()));
  ASSERT_TRUE(eventually([&] { return node_->last_seq() == 1; }));
  const auto [status, body] = testing::http_get(http_->port(), "/healthz");
  EXPECT_EQ(status, 200u) << body;
  EXPECT_NE(body.find("\"role\": \"primary\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"seq\": 1,"), std::string::npos) << body;
  EXPECT_NE(body.find("\"reason\": \"ok\""), std::string::npos) << body;
  EXPECT_EQ(testing::http_get(http_->port(), "/v1/markets").first, 404u);
}

TEST(NodeHealth, EachUnhealthyReasonIs503WithItsReason) {
  NodeHealthInput healthy;
  healthy.role = NodeRole::kSecondary;
  healthy.epoch = 3;
  healthy.seq = 42;
  healthy.feeds = 2;
  healthy.feeds_healthy = 1;
  healthy.lag_frames = 5;
  healthy.max_lag_frames = 10;
  const NodeHealth ok = assess_node_health(healthy);
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.json,
            "{\"status\": \"ok\", \"role\": \"secondary\", \"epoch\": 3, \"seq\": 42, "
            "\"lag_frames\": 5, \"lag_seconds\": 0.000, \"reason\": \"ok\"}\n");

  NodeHealthInput failed = healthy;
  failed.journal_failed = true;
  failed.journal_failure = "MDB_MAP_FULL";
  EXPECT_FALSE(assess_node_health(failed).ok);
  EXPECT_EQ(assess_node_health(failed).reason, "journal unwritable: MDB_MAP_FULL");

  NodeHealthInput read_only = healthy;
  read_only.journal_writable = false;
  EXPECT_EQ(assess_node_health(read_only).reason.rfind("journal unwritable", 0), 0u);

  NodeHealthInput no_feed = healthy;
  no_feed.feeds_healthy = 0;
  EXPECT_EQ(assess_node_health(no_feed).reason.rfind("no feed healthy", 0), 0u);

  NodeHealthInput behind = healthy;
  behind.lag_frames = 11;
  EXPECT_EQ(assess_node_health(behind).reason.rfind("secondary too far behind", 0), 0u);
  EXPECT_NE(assess_node_health(behind).json.find("\"status\": \"unhealthy\""), std::string::npos);
  behind.role = NodeRole::kPrimary;
  EXPECT_TRUE(assess_node_health(behind).ok) << "a primary's lag is its secondary's, not its own";
}

}  // namespace
}  // namespace oddsbus::engine
