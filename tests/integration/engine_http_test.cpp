// Multi-process: a real `odds-engine run --http ... --log-format json`, fed over TCP by the test
// (the test is the feed server). /healthz says 503 "no feed healthy" until the feed is heard and
// again once it goes quiet; /metrics passes promtool and counts frames and the feed's rejections
// by feed and reason; every log line is a JSON object naming its component.
#include <simdjson.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/integration/child_process.h"
#include "tests/integration/loopback.h"
#include "tests/integration/oddsjson_source.h"
#include "tests/integration/ws_test_client.h"
#include "tests/tools/promtool.h"

namespace oddsbus {
namespace {

using namespace std::chrono_literals;
using testing::accept_within;
using testing::bin_dir;
using testing::ChildProcess;
using testing::free_port;
using testing::http_get;
using testing::listen_loopback;
using testing::send_all;
using testing::wait_until;

TEST(EngineHttp, HealthzFollowsTheFeedMetricsPassPromtoolAndLogsAreJson) {
  const std::filesystem::path dir = testing::fresh_test_dir("engine_http");
  uint16_t feed_port = 0;
  const int listener = listen_loopback(feed_port);
  ASSERT_GE(listener, 0);
  const uint16_t http_port = free_port();
  ChildProcess engine(
      {bin_dir() + "/odds-engine", "run", "--journal", (dir / "journal").string(), "--node", "1",
       "--pub", "tcp://127.0.0.1:" + std::to_string(free_port()), "--feed",
       "a=oddsjson@tcp://127.0.0.1:" + std::to_string(feed_port), "--stale-after-ms", "300",
       "--http", "127.0.0.1:" + std::to_string(http_port), "--log-format", "json"},
      (dir / "engine.log").string());

  // Up, but its one feed not heard yet.
  std::pair<unsigned, std::string> health;
  ASSERT_TRUE(wait_until(
      [&] {
        health = http_get(http_port, "/healthz");
        return health.first != 0;
      },
      10s))
      << engine.log();
  EXPECT_EQ(health.first, 503u) << health.second;
  EXPECT_NE(health.second.find("no feed healthy"), std::string::npos) << health.second;
  EXPECT_NE(health.second.find("\"role\": \"primary\""), std::string::npos) << health.second;

  const int feed = accept_within(listener, 10s);
  ASSERT_GE(feed, 0) << engine.log();
  std::string lines =
      R"({"type":"market","market":1,"event":77,"name":"M1","selections":[{"id":1,"name":"Home"},{"id":2,"name":"Away"}]})"
      "\n";
  lines += R"({"type":"price","market":1,"selection":1,"odds":"2.50"})"
           "\n";
  lines += "this is not json\n";
  send_all(feed, lines);
  // Heard: healthy while the feed keeps talking.
  ASSERT_TRUE(wait_until(
      [&] {
        send_all(feed, "{\"type\":\"heartbeat\"}\n");
        health = http_get(http_port, "/healthz");
        return health.first == 200;
      },
      10s))
      << health.second << "\n"
      << engine.log();
  EXPECT_NE(health.second.find("\"seq\": 2,"), std::string::npos) << health.second;

  std::string metrics;
  ASSERT_TRUE(wait_until(
      [&] {
        metrics = http_get(http_port, "/metrics").second;
        return testing::metric_sample(metrics, "oddsbus_engine_frames_total") == 2 &&
               testing::metric_sample(
                   metrics,
                   "oddsbus_engine_feed_rejections_total{feed=\"a\",reason=\"malformed_"
                   "json\"}") == 1;
      },
      10s))
      << metrics;
  EXPECT_EQ(testing::metric_sample(metrics, "oddsbus_engine_source_active_markets{source=\"a\"}"),
            1)
      << metrics;
  const testing::PromtoolResult checked = testing::promtool_check_metrics(metrics);
  ASSERT_TRUE(checked.ran) << checked.output;
  EXPECT_EQ(checked.exit_code, 0) << checked.output << "\n" << metrics;

  // The feed goes quiet: unhealthy again once --stale-after-ms passes.
  ASSERT_TRUE(wait_until(
      [&] {
        health = http_get(http_port, "/healthz");
        return health.first == 503;
      },
      10s))
      << health.second;
  EXPECT_NE(health.second.find("no feed healthy"), std::string::npos) << health.second;
  EXPECT_TRUE(wait_until(
      [&] {
        return testing::metric_sample(http_get(http_port, "/metrics").second,
                                      "oddsbus_engine_stale_suspensions_total") >= 1;
      },
      10s));

  engine.signal(SIGTERM);
  const auto code = engine.wait_for(10s);
  ASSERT_TRUE(code.has_value()) << engine.log();
  EXPECT_EQ(*code, 0) << engine.log();
  ::close(feed);
  ::close(listener);

  std::istringstream log(engine.log());
  simdjson::dom::parser parser;
  size_t lines_read = 0;
  bool saw_feed_thread = false;
  for (std::string line; std::getline(log, line);) {
    if (line.empty()) continue;
    ++lines_read;
    simdjson::dom::element object;
    ASSERT_EQ(parser.parse(line).get(object), simdjson::SUCCESS) << "not JSON: " << line;
    std::string_view component;
    ASSERT_EQ(object["component"].get(component), simdjson::SUCCESS) << line;
    EXPECT_EQ(component.substr(0, 6), "engine") << line;
    saw_feed_thread |= component == "engine/feed-a";
    std::string_view level, message;
    EXPECT_EQ(object["level"].get(level), simdjson::SUCCESS) << line;
    EXPECT_EQ(object["message"].get(message), simdjson::SUCCESS) << line;
  }
  EXPECT_GT(lines_read, 3u);
  EXPECT_TRUE(saw_feed_thread) << "the feed's rejection is logged by its thread\n" << engine.log();
  std::filesystem::remove_all(dir);
}

// A pair fed by odds-feedsim: the secondary's /healthz reports its role and lag; a paused primary
// is taken over (the secondary counts a takeover and becomes primary of epoch 2), and on resuming
// it fences itself (it counts a fencing and becomes secondary).
TEST(EngineHttp, TakeoverAndFencingAreCounted) {
  const std::filesystem::path dir = testing::fresh_test_dir("engine_http_pair");
  uint16_t ports[5];
  for (uint16_t& p : ports) p = free_port();
  std::unique_ptr<ChildProcess> feed;
  testing::start_oddsjson_source(dir, ports[0], 20, 200, 5, feed);
  const uint16_t http1 = free_port(), http2 = free_port();
  ChildProcess primary(testing::pair_node_argv(dir, ports, 1, false,
                                               {"--http", "127.0.0.1:" + std::to_string(http1)}),
                       (dir / "node1.log").string());
  ChildProcess secondary(testing::pair_node_argv(dir, ports, 2, true,
                                                 {"--http", "127.0.0.1:" + std::to_string(http2)}),
                         (dir / "node2.log").string());
  const auto value = [](uint16_t port, const std::string& series) {
    return testing::metric_sample(http_get(port, "/metrics").second, series);
  };
  ASSERT_TRUE(wait_until(
      [&] { return value(http2, "oddsbus_engine_replicated_frames_total").value_or(0) > 100; },
      20s))
      << primary.log() << secondary.log();
  const auto health = http_get(http2, "/healthz");
  EXPECT_EQ(health.first, 200u) << health.second;
  EXPECT_NE(health.second.find("\"role\": \"secondary\""), std::string::npos) << health.second;
  EXPECT_EQ(value(http2, "oddsbus_engine_takeovers_total"), 0);

  primary.signal(SIGSTOP);
  EXPECT_TRUE(wait_until(
      [&] {
        return value(http2, "oddsbus_engine_takeovers_total") == 1 &&
               value(http2, "oddsbus_engine_role{role=\"primary\"}") == 1 &&
               value(http2, "oddsbus_engine_epoch") == 2;
      },
      15s))
      << http_get(http2, "/metrics").second << secondary.log();
  primary.signal(SIGCONT);
  EXPECT_TRUE(wait_until(
      [&] {
        return value(http1, "oddsbus_engine_fencings_total") == 1 &&
               value(http1, "oddsbus_engine_role{role=\"secondary\"}") == 1;
      },
      15s))
      << http_get(http1, "/metrics").second << primary.log();
  primary.signal(SIGTERM);
  secondary.signal(SIGTERM);
  EXPECT_EQ(primary.wait_for(10s), 0) << primary.log();
  EXPECT_EQ(secondary.wait_for(10s), 0) << secondary.log();
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace oddsbus
