// Multi-process test of the edge's limits (DESIGN section 5, "Limits", and section 10's stream),
// over loopback: odds-feedsim feeds one `odds-engine run`, an `odds-edge` subscribes to it, and
// clients in the test misbehave:
//  - a client that never reads is conflated, then disconnected as too slow, while another client
//    of the same edge keeps receiving every change in order;
//  - a client that reads slowly is conflated but stays connected and ends with the edge's state;
//  - connections past --max-connections get 503, past the per-address burst 429, and are admitted
//    again once connections close or the bucket refills;
//  - a WebSocket message over --max-message-bytes is closed 1009, an HTTP body over it gets 413,
//    a malformed request gets an error message and leaves the connection usable;
//  - a connection that sends nothing is closed after --idle-timeout-ms; a quiet WebSocket client
//    that answers pings is not.
// Every refusal and drop is also checked in /metrics under its reason.
#include <errno.h>
#include <poll.h>
#include <signal.h>

#include <algorithm>
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
#include "tests/integration/raw_connection.h"
#include "tests/integration/ws_test_client.h"

namespace oddsbus {
namespace {

using namespace std::chrono_literals;
using testing::bin_dir;
using testing::ChildProcess;
using testing::free_port;
using testing::http_get;
using testing::RawConnection;
using testing::StreamClient;
using testing::StreamOptions;
using testing::url;
using testing::wait_until;

constexpr int kMarkets = 20;
constexpr int kFastRate = 8000;  // updates per second: the stuck clients' buffers fill in seconds
const std::string kSubscribeAll = R"({"op": "subscribe", "markets": "all"})";

// The value of one series of the edge's /metrics, e.g. `oddsbus_edge_clients` or
// `oddsbus_edge_clients_dropped_total{reason="slow"}`; nullopt when unavailable.
std::optional<double> metric_in(const std::string& metrics, const std::string& series) {
  const std::string key = "\n" + series + " ";
  const size_t at = metrics.find(key);
  if (at == std::string::npos) return std::nullopt;
  return std::stod(metrics.substr(at + key.size()));
}
std::optional<double> metric(uint16_t http, const std::string& series) {
  auto [status, body] = http_get(http, "/metrics");
  if (status != 200) return std::nullopt;
  return metric_in(body, series);
}

std::string dropped(const char* reason) {
  return std::string("oddsbus_edge_clients_dropped_total{reason=\"") + reason + "\"}";
}
std::string refused(const char* reason) {
  return std::string("oddsbus_edge_connections_refused_total{reason=\"") + reason + "\"}";
}

struct EdgeSnapshot {
  uint64_t seq = 0;
  testing::FoldedState state;
};

std::optional<EdgeSnapshot> snapshot_of(uint16_t http) {
  auto [status, body] = http_get(http, "/v1/snapshot");
  if (status != 200) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) return std::nullopt;
  return EdgeSnapshot{uint64_t(doc["seq"]), testing::fold_markets(doc["markets"])};
}

// Once the edge's seq has stopped moving and `client` has folded up to it: the edge's snapshot.
std::optional<EdgeSnapshot> settled_snapshot(uint16_t http, const StreamClient& client,
                                             std::chrono::milliseconds timeout) {
  std::optional<EdgeSnapshot> settled;
  uint64_t seq = 0;
  auto since = std::chrono::steady_clock::now();
  wait_until(
      [&] {
        settled = snapshot_of(http);
        if (!settled || settled->seq != seq) {
          seq = settled ? settled->seq : 0;
          since = std::chrono::steady_clock::now();
          return false;
        }
        return client.last_seq() == seq && std::chrono::steady_clock::now() - since > 500ms;
      },
      timeout);
  if (!settled || settled->seq != seq || client.last_seq() != seq) return std::nullopt;
  return settled;
}

class EdgeLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_test_dir("edge_limits");
    for (uint16_t& p : ports_) p = free_port();
  }
  void TearDown() override {
    edges_.clear();
    engine_.reset();
    feed_.reset();
    if (HasFailure()) {
      std::printf("logs kept in %s\n", dir_.c_str());
    } else {
      std::filesystem::remove_all(dir_);
    }
  }

  // odds-feedsim at `rate` updates per second into one odds-engine (pub ports_[1], recovery
  // ports_[2]).
  void start_source(int rate) {
    rate = std::max(1, rate / testing::sanitizer_slowdown());
    testing::start_oddsjson_source(dir_, ports_[0], kMarkets, rate, 7, feed_);
    if (!feed_) return;
    engine_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{bin_dir() + "/odds-engine", "run", "--journal",
                                 (dir_ / "journal").string(), "--node", "1", "--pub",
                                 url(ports_[1]), "--recovery", url(ports_[2]), "--feed",
                                 "oj=oddsjson@" + url(ports_[0]), "--mapping",
                                 (dir_ / "mapping.toml").string(), "--heartbeat-ms", "20"},
        (dir_ / "engine.log").string());
  }

  // Stops the feed, then the engine (so no frame follows): the edge keeps serving what it has.
  void stop_source() {
    feed_->signal(SIGKILL);
    std::this_thread::sleep_for(300ms);
    engine_->signal(SIGINT);
    EXPECT_EQ(engine_->wait_for(15s), 0) << engine_->log();
  }

  // An odds-edge on HTTP port `http`, subscribed to the engine (which may not be running).
  ChildProcess& start_edge(uint16_t http, const std::vector<std::string>& extra) {
    std::vector<std::string> argv{bin_dir() + "/odds-edge",
                                  "--sub",
                                  url(ports_[1]),
                                  "--recovery",
                                  url(ports_[2]),
                                  "--http",
                                  "127.0.0.1:" + std::to_string(http)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    edges_.push_back(std::make_unique<ChildProcess>(
        argv, (dir_ / ("edge_" + std::to_string(http) + ".log")).string()));
    return *edges_.back();
  }

  // Listening, without opening a connection (which the connection limits would count).
  static bool serving(ChildProcess& edge) {
    return wait_until([&] { return edge.log().find("edge: serving") != std::string::npos; }, 10s);
  }
  static bool healthy(uint16_t http) {
    return wait_until([&] { return http_get(http, "/healthz").first == 200; }, 20s);
  }

  std::filesystem::path dir_;
  uint16_t ports_[5] = {};  // feed, engine pub, engine recovery, two edge HTTP ports
  std::unique_ptr<ChildProcess> feed_;
  std::unique_ptr<ChildProcess> engine_;
  std::vector<std::unique_ptr<ChildProcess>> edges_;
};

TEST_F(EdgeLimitsTest, NeverReadingClientIsDroppedWhileAnotherKeepsGettingChanges) {
  ASSERT_NO_FATAL_FAILURE(start_source(kFastRate));
  const uint16_t http = ports_[3];
  // Bounds a client that reads never reaches (even if the edge hiccups); the stuck one does.
  // A sanitizer build feeds fewer changes a second (start_source), so the stuck client's queue
  // fills later: give it as many times longer before it counts as too slow.
  const std::string slow_ms = std::to_string(1000 * testing::sanitizer_slowdown());
  ChildProcess& edge = start_edge(http, {"--client-queue-bytes", "262144", "--client-max-delay-ms",
                                         "5000", "--slow-client-ms", slow_ms});
  ASSERT_TRUE(healthy(http)) << edge.log() << engine_->log();

  StreamClient reader(http, kSubscribeAll);
  StreamClient stuck(http, kSubscribeAll, {},
                     StreamOptions{.receive_buffer_bytes = 4096, .read = false});
  ASSERT_TRUE(wait_until([&] { return metric(http, "oddsbus_edge_clients") == 2; }, 5s));

  ASSERT_TRUE(wait_until([&] { return metric(http, "oddsbus_edge_conflations_total") >= 1; }, 20s))
      << "the client that never reads was never conflated\n"
      << edge.log();
  const uint64_t reader_at_conflation = reader.last_seq();
  ASSERT_TRUE(wait_until([&] { return metric(http, dropped("slow")) >= 1; }, 20s)) << edge.log();
  ASSERT_TRUE(wait_until([&] { return metric(http, "oddsbus_edge_clients") == 1; }, 10s))
      << "the slow client was counted as dropped but is still connected\n"
      << edge.log();
  // Its connection is released too: the reader and the /metrics request are what is open.
  EXPECT_TRUE(wait_until([&] { return metric(http, "oddsbus_edge_connections") == 2; }, 5s))
      << metric(http, "oddsbus_edge_connections").value_or(-1);
  EXPECT_GT(reader.last_seq(), reader_at_conflation + 100)
      << "the reading client stalled while the other one was stuck";

  stop_source();
  const std::optional<EdgeSnapshot> snap = settled_snapshot(http, reader, 10s);
  ASSERT_TRUE(snap) << "the reading client did not catch up with the edge: it is at "
                    << reader.last_seq();
  reader.stop();
  const StreamClient::Summary s = reader.summary();
  EXPECT_TRUE(s.violations.empty()) << s.violations.front();
  EXPECT_FALSE(s.closed) << "the reading client was closed: " << *s.closed;
  EXPECT_EQ(s.images, 1u);
  // Not asserted: that it was never conflated. On a loaded machine (a sanitizer build, ctest -j2)
  // the reader itself may fall behind for a moment, and conflating it then is right.
  EXPECT_GT(s.deltas, 1000u) << s.conflated << " conflated";
  EXPECT_EQ(s.state, snap->state) << "the reading client folded a state other than the edge's";
  EXPECT_EQ(metric(http, dropped("slow")), 1);
  std::printf("reader: %llu deltas up to seq %llu\n", static_cast<unsigned long long>(s.deltas),
              static_cast<unsigned long long>(snap->seq));
}

TEST_F(EdgeLimitsTest, SlowReaderIsConflatedButStaysConnectedAndEndsWithTheEdgesState) {
  ASSERT_NO_FATAL_FAILURE(start_source(kFastRate));
  const uint16_t http = ports_[3];
  ChildProcess& edge =
      start_edge(http, {"--client-queue-bytes", "2048", "--slow-client-ms", "2000"});
  ASSERT_TRUE(healthy(http)) << edge.log() << engine_->log();

  // About 500 messages a second (125 kB/s) against 8000 changes a second, for five times
  // --slow-client-ms: it falls behind at once, and would have been dropped by now if it were
  // taken for a client that does not read.
  StreamClient slow(http, kSubscribeAll, {}, StreamOptions{.read_delay = 2ms});
  const auto slow_until = std::chrono::steady_clock::now() + 10s;
  wait_until(
      [&] {
        return std::chrono::steady_clock::now() > slow_until || metric(http, dropped("slow")) != 0;
      },
      10s);
  ASSERT_EQ(metric(http, dropped("slow")), 0)
      << "the slow reader was dropped as too slow although it kept reading (it had folded "
      << slow.summary().deltas << " deltas, up to seq " << slow.last_seq() << ", of "
      << snapshot_of(http).value_or(EdgeSnapshot{}).seq << ")\n"
      << edge.log();

  // The feed stops; the reader then takes what is still on its way at full speed.
  stop_source();
  slow.set_read_delay(0us);
  const std::optional<EdgeSnapshot> snap = settled_snapshot(http, slow, 10s);
  ASSERT_TRUE(snap) << "the slow reader did not catch up with the edge: it is at "
                    << slow.last_seq()
                    << "; clients dropped as slow: " << metric(http, dropped("slow")).value_or(-1);
  slow.stop();
  const StreamClient::Summary s = slow.summary();
  EXPECT_GT(s.conflated, 0u) << "the slow reader was never conflated";
  EXPECT_TRUE(s.violations.empty()) << s.violations.front();  // delta seqs strictly increase
  EXPECT_FALSE(s.closed) << "the slow reader was closed: " << *s.closed;
  EXPECT_EQ(s.images, 1u);
  EXPECT_EQ(s.state, snap->state) << "the slow reader folded a state other than the edge's";
  EXPECT_EQ(metric(http, dropped("slow")), 0);
  EXPECT_GE(metric(http, "oddsbus_edge_conflated_deltas_total"), s.conflated);
  std::printf("slow reader: %llu deltas, %llu conflated, up to seq %llu\n",
              static_cast<unsigned long long>(s.deltas),
              static_cast<unsigned long long>(s.conflated),
              static_cast<unsigned long long>(snap->seq));
}

TEST_F(EdgeLimitsTest, ConnectionsPastTheLimitsAreRefusedThenAdmittedAgain) {
  // No engine: connection limits do not depend on market data.
  const uint16_t full_http = ports_[3], rate_http = ports_[4];
  ChildProcess& full = start_edge(full_http, {"--max-connections", "3"});
  ChildProcess& rate =
      start_edge(rate_http, {"--connection-burst", "3", "--max-connection-rate", "1"});
  ASSERT_TRUE(serving(full)) << full.log();
  ASSERT_TRUE(serving(rate)) << rate.log();

  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawConnection>(full_http));
    ASSERT_TRUE(held.back()->connected());
  }
  {
    RawConnection extra(full_http);
    const RawConnection::Received answer = extra.read_until_closed(5s);
    EXPECT_EQ(answer.bytes.substr(0, 12), "HTTP/1.1 503") << answer.bytes;
    EXPECT_TRUE(answer.closed) << "the refused connection was left open";
  }
  for (const auto& c : held) {
    EXPECT_FALSE(c->read_until_closed(0ms).closed) << "an admitted connection was closed";
  }
  held.pop_back();
  // The closed connections free their places (once the edge has seen them close).
  int busy = 1;
  std::pair<unsigned, std::string> reply;
  ASSERT_TRUE(wait_until(
      [&] {
        reply = http_get(full_http, "/metrics");
        if (reply.first == 503) ++busy;
        return reply.first == 200;
      },
      5s))
      << reply.first << " " << reply.second;
  EXPECT_EQ(metric_in(reply.second, refused("max_connections")), busy);
  EXPECT_EQ(metric_in(reply.second, refused("rate")), 0);
  EXPECT_EQ(metric_in(reply.second, "oddsbus_edge_connections"), 3) << "2 held and this one";

  // Per address: a burst of 3, then 1 per second.
  std::vector<std::unique_ptr<RawConnection>> burst;
  for (int i = 0; i < 6; ++i) {
    burst.push_back(std::make_unique<RawConnection>(rate_http));
    ASSERT_TRUE(burst.back()->connected());
  }
  int admitted = 0, too_fast = 0;
  for (const auto& c : burst) {
    const RawConnection::Received answer = c->read_until_closed(300ms);
    if (answer.bytes.empty() && !answer.closed) {
      ++admitted;
    } else if (answer.closed && answer.bytes.substr(0, 12) == "HTTP/1.1 429") {
      ++too_fast;
    } else {
      ADD_FAILURE() << "unexpected answer: " << answer.bytes;
    }
  }
  EXPECT_EQ(admitted, 3);
  EXPECT_EQ(too_fast, 3);
  burst.clear();
  // The bucket refills: new connections are admitted again.
  int refills = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        reply = http_get(rate_http, "/metrics");
        if (reply.first == 429) ++refills;
        std::this_thread::sleep_for(100ms);
        return reply.first == 200;
      },
      5s))
      << reply.first << " " << reply.second;
  EXPECT_EQ(metric_in(reply.second, refused("rate")), too_fast + refills);
  EXPECT_EQ(metric_in(reply.second, refused("max_connections")), 0);
}

TEST_F(EdgeLimitsTest, OversizeAndMalformedMessagesAreRefused) {
  ASSERT_NO_FATAL_FAILURE(start_source(200));
  const uint16_t http = ports_[3];
  ChildProcess& edge = start_edge(http, {"--max-message-bytes", "1024"});
  ASSERT_TRUE(healthy(http)) << edge.log() << engine_->log();

  const std::string padding(2000, 'x');
  StreamClient oversize(http,
                        R"({"op": "subscribe", "markets": "all", "padding": ")" + padding + "\"}");
  ASSERT_TRUE(wait_until([&] { return oversize.summary().closed.has_value(); }, 5s))
      << "an oversize message did not close the connection: " << oversize.summary().ended;
  EXPECT_EQ(oversize.summary().close_code, 1009);
  EXPECT_EQ(oversize.summary().images, 0u);
  EXPECT_EQ(metric(http, dropped("oversize")), 1);

  auto [status, body] = testing::http_request(http, boost::beast::http::verb::post, "/v1/snapshot",
                                              "{\"padding\": \"" + padding + "\"}");
  EXPECT_EQ(status, 413) << body;
  EXPECT_EQ(http_get(http, "/healthz").first, 200) << "the edge stopped serving";

  StreamClient client(http, R"({"op": "subscribe", "markets": )");
  ASSERT_TRUE(wait_until([&] { return !client.summary().errors.empty(); }, 5s))
      << "a malformed subscribe was not answered";
  {
    simdjson::dom::parser parser;
    simdjson::dom::element error;
    const std::string text = client.summary().errors.front();
    ASSERT_EQ(parser.parse(text).get(error), simdjson::SUCCESS) << text;
    std::string_view message;
    EXPECT_EQ(error["error"].get(message), simdjson::SUCCESS) << "no reason given: " << text;
    EXPECT_FALSE(message.empty()) << text;
  }
  EXPECT_EQ(client.summary().images, 0u);
  client.send(kSubscribeAll);
  ASSERT_TRUE(wait_until([&] { return client.summary().deltas > 10; }, 5s))
      << "the connection was not usable after an error";
  const StreamClient::Summary s = client.summary();
  EXPECT_EQ(s.images, 1u);
  EXPECT_FALSE(s.closed);
  EXPECT_TRUE(s.violations.empty()) << s.violations.front();
  EXPECT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(metric(http, "oddsbus_edge_client_requests_refused_total"), 1);
  EXPECT_EQ(metric(http, dropped("oversize")), 1);
}

TEST_F(EdgeLimitsTest, ConnectionThatSendsNothingIsClosedAfterTheIdleTimeout) {
  const uint16_t http = ports_[3];
  ChildProcess& edge = start_edge(http, {"--idle-timeout-ms", "500"});
  ASSERT_TRUE(serving(edge)) << edge.log();

  // A quiet WebSocket client answers the edge's pings: it is not idle.
  StreamClient quiet(http, kSubscribeAll);
  RawConnection silent(http);
  ASSERT_TRUE(silent.connected());
  const auto start = std::chrono::steady_clock::now();
  const RawConnection::Received received = silent.read_until_closed(5s);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(received.closed) << "a connection that sent nothing was still open after 5 s";
  EXPECT_TRUE(received.bytes.empty()) << received.bytes;
  EXPECT_GE(waited, 400ms) << "closed before the idle timeout";

  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(quiet.summary().closed) << "a client that answers pings was closed as idle";
  EXPECT_EQ(metric(http, dropped("idle")), 1);
}

}  // namespace
}  // namespace oddsbus
