// CURVE on every ZeroMQ link (issue 14), on the real binaries: a publisher without the right key
// gets nothing into an edge; a subscriber, recovery client or desk whose key is not on the
// engine's allow list receives nothing, and the engine counts it; an allowed edge follows a
// CURVE engine end to end; a secret key file open to others stops a binary at start-up.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#include <zmq.hpp>

#include <gtest/gtest.h>

#include "schemas/curve_link.h"
#include "tests/integration/child_process.h"
#include "tests/integration/loopback.h"

namespace oddsbus::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string bin(const std::string& name) { return bin_dir() + "/" + name; }

// odds-keys generate --out DIR/NAME; the pair as the files hold it.
curve::KeyPair make_keys(const fs::path& dir, const std::string& name) {
  auto [code, log] =
      run_to_completion({bin("odds-keys"), "generate", "--out", (dir / name).string()},
                        (dir / (name + "-keys.log")).string(), 30s);
  EXPECT_EQ(code, 0) << log;
  auto pair = curve::load_key_pair((dir / (name + ".key")).string());
  EXPECT_TRUE(pair) << (pair ? "" : pair.error().message);
  return pair.value_or(curve::KeyPair{});
}

void write_allow(const fs::path& path, const std::vector<curve::KeyPair>& keys) {
  std::ofstream out(path);
  out << "# allowed clients\n";
  for (const auto& k : keys) out << curve::z85(k.public_key) << "\n";
}

// The value of a counter or gauge without labels in a /metrics body (-1: absent).
double metric(const std::string& body, std::string_view name) {
  size_t at = 0;
  while ((at = body.find(name, at)) != std::string::npos) {
    const bool line_start = at == 0 || body[at - 1] == '\n';
    const size_t after = at + name.size();
    if (line_start && after < body.size() && body[after] == ' ') {
      return std::stod(body.substr(after + 1, body.find('\n', after) - after - 1));
    }
    at = after;
  }
  return -1;
}

double metric_at(uint16_t port, std::string_view name) {
  const cluster::HttpReply reply = cluster::http_get(port, "/metrics", 2000ms);
  return reply.status == 200 ? metric(reply.body, name) : -1;
}

bool serves_metrics(uint16_t port) {
  return cluster::http_get(port, "/metrics", 1000ms).status == 200;
}

class CurveLinks : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_test_dir("curve_links");
    engine_ = make_keys(dir_, "engine");
    edge_ = make_keys(dir_, "edge");
    desk_ = make_keys(dir_, "desk");
    stranger_ = make_keys(dir_, "stranger");
    write_allow(dir_ / "allow", {edge_, desk_});
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // An engine with CURVE on; no feed (it publishes heartbeats), unless `feed` names one.
  std::unique_ptr<ChildProcess> start_engine(const std::string& feed = "") {
    for (uint16_t* p : {&pub_, &rec_, &desk_port_, &engine_http_}) *p = free_port();
    std::vector<std::string> argv{bin("odds-engine"),
                                  "run",
                                  "--journal",
                                  path("journal"),
                                  "--node",
                                  "1",
                                  "--pub",
                                  url(pub_),
                                  "--recovery",
                                  url(rec_),
                                  "--desk",
                                  url(desk_port_),
                                  "--http",
                                  "127.0.0.1:" + std::to_string(engine_http_),
                                  "--heartbeat-ms",
                                  "20",
                                  "--curve-key",
                                  path("engine.key"),
                                  "--curve-allow",
                                  path("allow")};
    if (!feed.empty()) argv.insert(argv.end(), {"--feed", feed});
    auto engine = std::make_unique<ChildProcess>(argv, path("engine.log"));
    EXPECT_TRUE(wait_until([&] { return serves_metrics(engine_http_); }, 20s)) << engine->log();
    return engine;
  }

  std::unique_ptr<ChildProcess> start_edge(uint16_t pub, uint16_t rec) {
    edge_http_ = free_port();
    auto edge = std::make_unique<ChildProcess>(
        std::vector<std::string>{bin("odds-edge"), "--sub", url(pub), "--recovery", url(rec),
                                 "--http", "127.0.0.1:" + std::to_string(edge_http_), "--curve-key",
                                 path("edge.key"), "--curve-server-key", path("engine.pub")},
        path("edge.log"));
    EXPECT_TRUE(wait_until([&] { return serves_metrics(edge_http_); }, 20s)) << edge->log();
    return edge;
  }

  fs::path dir_;
  curve::KeyPair engine_, edge_, desk_, stranger_;
  uint16_t pub_ = 0, rec_ = 0, desk_port_ = 0, engine_http_ = 0, edge_http_ = 0;
};

TEST_F(CurveLinks, ARoguePublisherWithoutTheKeyGetsNothingIntoTheEdge) {
  // The rogue serves a real journal (odds-replay republish), with its own key, then in the clear.
  {
    std::ofstream feed(dir_ / "rogue.jsonl");
    feed
        << R"({"type":"market","market":1001,"event":501,"name":"Rogue","selections":[{"id":1,"name":"A"}]})"
        << "\n"
        << R"({"type":"price","market":1001,"selection":1,"odds":"99.0"})"
        << "\n";
  }
  auto [ingested, ingest_log] = run_to_completion(
      {bin("odds-engine"), "ingest", "--journal", path("rogue-journal"), path("rogue.jsonl")},
      path("ingest.log"));
  ASSERT_EQ(ingested, 0) << ingest_log;
  write_allow(dir_ / "rogue-allow", {edge_});

  for (const bool with_key : {true, false}) {
    SCOPED_TRACE(with_key ? "rogue CURVE key" : "rogue in the clear");
    const uint16_t pub = free_port();
    const uint16_t rec = free_port();
    std::vector<std::string> argv{bin("odds-replay"),
                                  "republish",
                                  "--journal",
                                  path("rogue-journal"),
                                  "--pub",
                                  url(pub),
                                  "--recovery",
                                  url(rec),
                                  "--speed",
                                  "max"};
    if (with_key) {
      make_keys(dir_, "rogue");
      argv.insert(argv.end(),
                  {"--curve-key", path("rogue.key"), "--curve-allow", path("rogue-allow")});
    }
    ChildProcess rogue(argv, path(with_key ? "rogue-key.log" : "rogue-clear.log"));
    auto edge = start_edge(pub, rec);
    ASSERT_TRUE(wait_until(
        [&] { return metric_at(edge_http_, "oddsbus_edge_curve_handshake_failures_total") >= 2; },
        20s))
        << edge->log() << rogue.log();
    EXPECT_TRUE(rogue.running()) << rogue.log();
    EXPECT_EQ(metric_at(edge_http_, "oddsbus_edge_batches_received_total"), 0);
    EXPECT_EQ(metric_at(edge_http_, "oddsbus_edge_recovery_replies_total"), 0);
    EXPECT_EQ(metric_at(edge_http_, "oddsbus_edge_frames_applied_total"), 0);
    EXPECT_EQ(metric_at(edge_http_, "oddsbus_edge_seq"), 0);
    const cluster::HttpReply markets = cluster::http_get(edge_http_, "/v1/markets", 2000ms);
    EXPECT_EQ(markets.body.find("Rogue"), std::string::npos) << markets.body;
    EXPECT_NE(edge->log().find("CURVE handshake"), std::string::npos) << edge->log();
    edge->signal(SIGTERM);
    EXPECT_EQ(edge->wait_for(10s), 0);
    rogue.signal(SIGTERM);
    rogue.wait_for(10s);
  }
}

TEST_F(CurveLinks, StrangersReceiveNothingAndAreCounted) {
  auto engine = start_engine();
  EXPECT_NE(engine->log().find("CURVE on"), std::string::npos) << engine->log();
  zmq::context_t context;
  auto client = [&](const curve::KeyPair& own) {
    curve::CurveClient c;
    c.own = own;
    c.servers = {{url(pub_), engine_.public_key}, {url(rec_), engine_.public_key}};
    return c;
  };
  const curve::CurveClient allowed = client(edge_);
  const curve::CurveClient stranger = client(stranger_);
  auto sub = [&](const curve::CurveClient* curve) {
    zmq::socket_t s(context, zmq::socket_type::sub);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::subscribe, "");
    curve::secure_client(s, curve, url(pub_));
    s.connect(url(pub_));
    return s;
  };
  zmq::socket_t allowed_sub = sub(&allowed);
  zmq::socket_t stranger_sub = sub(&stranger);
  zmq::socket_t clear_sub = sub(nullptr);
  zmq::socket_t stranger_recovery(context, zmq::socket_type::dealer);
  stranger_recovery.set(zmq::sockopt::linger, 0);
  stranger.secure(stranger_recovery, url(rec_));
  stranger_recovery.connect(url(rec_));
  (void)stranger_recovery.send(zmq::str_buffer("status"), zmq::send_flags::dontwait);

  // The allowed subscriber receives heartbeats while the strangers are refused.
  size_t allowed_received = 0;
  auto drain = [](zmq::socket_t& s) {
    size_t n = 0;
    zmq::message_t m;
    while (s.recv(m, zmq::recv_flags::dontwait)) ++n;
    return n;
  };
  ASSERT_TRUE(wait_until(
      [&] {
        allowed_received += drain(allowed_sub);
        return allowed_received >= 5 &&
               metric_at(engine_http_, "oddsbus_engine_curve_refusals_total") >= 2;
      },
      20s))
      << engine->log();
  EXPECT_EQ(drain(stranger_sub), 0u);
  EXPECT_EQ(drain(clear_sub), 0u);
  EXPECT_EQ(drain(stranger_recovery), 0u);
  EXPECT_NE(engine->log().find("CURVE: refused a connection"), std::string::npos);

  // The desk: a stranger's request is never answered; an allowed desk's is.
  const double refused_before = metric_at(engine_http_, "oddsbus_engine_curve_refusals_total");
  auto desk = [&](const std::string& key) {
    return run_to_completion(
        {bin("odds-desk"), "--desk", url(desk_port_), "--timeout-ms", "500", "--attempts", "1",
         "--curve-key", path(key), "--curve-server-key", path("engine.pub"), "suspend", "1001"},
        path("desk-" + key + ".log"), 30s);
  };
  auto [stranger_code, stranger_log] = desk("stranger.key");
  EXPECT_EQ(stranger_code, 3) << stranger_log;  // no reply
  EXPECT_GT(metric_at(engine_http_, "oddsbus_engine_curve_refusals_total"), refused_before);
  EXPECT_EQ(metric_at(engine_http_, "oddsbus_engine_desk_requests_total"), 0) << engine->log();
  auto [allowed_code, allowed_log] = desk("desk.key");
  EXPECT_NE(allowed_code, 3) << allowed_log;  // answered (applied or rejected)
  EXPECT_EQ(metric_at(engine_http_, "oddsbus_engine_desk_requests_total"), 1);

  engine->signal(SIGTERM);
  EXPECT_EQ(engine->wait_for(20s), 0) << engine->log();
}

TEST_F(CurveLinks, AnAllowedEdgeFollowsACurveEngineEndToEnd) {
  const uint16_t feed_port = free_port();
  ChildProcess feed({bin("odds-feedsim"), "--format", "oddsjson", "--listen", url(feed_port),
                     "--markets", "3", "--rate", "50", "--seed", "7", "--settle-after", "0"},
                    path("feed.log"));
  ASSERT_TRUE(wait_until([&] { return cluster::accepts_connections(feed_port); }, 20s))
      << feed.log();
  auto engine = start_engine("oj=oddsjson@" + url(feed_port));
  auto edge = start_edge(pub_, rec_);
  ASSERT_TRUE(wait_until(
      [&] {
        return metric_at(edge_http_, "oddsbus_edge_frames_applied_total") > 10 &&
               cluster::edge_healthy(edge_http_);
      },
      30s))
      << edge->log() << engine->log();
  const cluster::HttpReply markets = cluster::http_get(edge_http_, "/v1/markets", 2000ms);
  EXPECT_NE(markets.body.find("\"market\""), std::string::npos) << markets.body;
  EXPECT_EQ(metric_at(edge_http_, "oddsbus_edge_curve_handshake_failures_total"), 0);
  EXPECT_GE(metric_at(engine_http_, "oddsbus_engine_curve_accepted_total"), 2);  // SUB, DEALER
  EXPECT_EQ(metric_at(engine_http_, "oddsbus_engine_curve_refusals_total"), 0);
  edge->signal(SIGTERM);
  EXPECT_EQ(edge->wait_for(10s), 0);
  engine->signal(SIGTERM);
  EXPECT_EQ(engine->wait_for(20s), 0) << engine->log();
}

TEST_F(CurveLinks, ASecretKeyFileOpenToOthersStopsTheBinariesAtStartUp) {
  ASSERT_EQ(::chmod(path("engine.key").c_str(), 0644), 0);
  ASSERT_EQ(::chmod(path("edge.key").c_str(), 0640), 0);
  auto [engine_code, engine_log] = run_to_completion(
      {bin("odds-engine"), "run", "--journal", path("journal"), "--node", "1", "--pub",
       url(free_port()), "--curve-key", path("engine.key"), "--curve-allow", path("allow")},
      path("engine-open.log"), 30s);
  EXPECT_EQ(engine_code, 1) << engine_log;
  EXPECT_NE(engine_log.find(path("engine.key") + ": secret key file is open to group or others"),
            std::string::npos)
      << engine_log;
  EXPECT_NE(engine_log.find("chmod 600"), std::string::npos) << engine_log;
  auto [edge_code, edge_log] =
      run_to_completion({bin("odds-edge"), "--sub", url(free_port()), "--recovery",
                         url(free_port()), "--http", "127.0.0.1:" + std::to_string(free_port()),
                         "--curve-key", path("edge.key"), "--curve-server-key", path("engine.pub")},
                        path("edge-open.log"), 30s);
  EXPECT_EQ(edge_code, 1) << edge_log;
  EXPECT_NE(edge_log.find("chmod 600 " + path("edge.key")), std::string::npos) << edge_log;
}

TEST_F(CurveLinks, OddsKeysWritesTheSecretOwnerOnlyAndNeverOverwrites) {
  struct stat st {};
  ASSERT_EQ(::stat(path("engine.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto [code, log] = run_to_completion({bin("odds-keys"), "generate", "--out", path("engine")},
                                       path("again.log"), 30s);
  EXPECT_EQ(code, 1) << log;
  EXPECT_NE(log.find("exists already"), std::string::npos) << log;
  auto pair = curve::load_key_pair(path("engine.key"));
  ASSERT_TRUE(pair);
  EXPECT_EQ(pair->public_key, engine_.public_key);
}

}  // namespace
}  // namespace oddsbus::testing
