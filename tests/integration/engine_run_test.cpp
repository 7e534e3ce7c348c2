// Multi-process: a real `odds-engine run` fed over TCP by the test (the test is the feed server),
// with a ZeroMQ subscriber in the test, then `odds-replay` over the journal the node wrote.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <zmq.hpp>

#include <gtest/gtest.h>

#include "edge/frame_stream.h"
#include "schemas/state_digest.h"
#include "tests/integration/child_process.h"
#include "tests/integration/loopback.h"

namespace oddsbus {
namespace {

using namespace std::chrono_literals;
using testing::accept_within;
using testing::bin_dir;
using testing::ChildProcess;
using testing::free_port;
using testing::listen_loopback;
using testing::send_all;

class EngineRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::path(::testing::TempDir()) / ("engine_run_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    listener_ = listen_loopback(feed_port_);
    ASSERT_GE(listener_, 0);
    pub_url_ = "tcp://127.0.0.1:" + std::to_string(free_port());
  }
  void TearDown() override {
    if (feed_ >= 0) ::close(feed_);
    if (listener_ >= 0) ::close(listener_);
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<ChildProcess> start_engine(const std::string& log_name) {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{
            bin_dir() + "/odds-engine", "run", "--journal", (dir_ / "journal").string(), "--node",
            "1", "--pub", pub_url_, "--feed",
            "a=oddsjson@tcp://127.0.0.1:" + std::to_string(feed_port_), "--heartbeat-ms", "20"},
        (dir_ / log_name).string());
  }

  // Receives batches into the stream until it reaches `seq` or the timeout passes.
  bool receive_until(zmq::socket_t& sub, edge::FrameStream& stream, uint64_t seq,
                     std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (stream.last_seq() < seq && std::chrono::steady_clock::now() < deadline) {
      zmq::message_t msg;
      if (sub.recv(msg, zmq::recv_flags::none)) {
        stream.on_batch({static_cast<const uint8_t*>(msg.data()), msg.size()});
      }
    }
    return stream.last_seq() >= seq;
  }

  // Waits until the subscription is live: a heartbeat (or any batch) arrives.
  bool await_publisher(zmq::socket_t& sub, edge::FrameStream& stream) {
    const uint64_t heartbeats = stream.counters().heartbeats;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (stream.counters().heartbeats == heartbeats &&
           std::chrono::steady_clock::now() < deadline) {
      zmq::message_t msg;
      if (sub.recv(msg, zmq::recv_flags::none)) {
        stream.on_batch({static_cast<const uint8_t*>(msg.data()), msg.size()});
      }
    }
    return stream.counters().heartbeats > heartbeats;
  }

  std::filesystem::path dir_;
  int listener_ = -1;
  int feed_ = -1;
  uint16_t feed_port_ = 0;
  std::string pub_url_;
};

std::string market_line(int market) {
  return R"({"type":"market","market":)" + std::to_string(market) + R"(,"event":77,"name":"M)" +
         std::to_string(market) +
         R"(","selections":[{"id":1,"name":"Home"},{"id":2,"name":"Away"}]})" + "\r\n";
}

std::string price_line(int market, int selection, int i) {
  static const char* kOdds[] = {"2.50", "5/2", "+150", "-110", "evens", "1.01", "100/1", "3.3"};
  return R"({"type":"price","market":)" + std::to_string(market) + R"(,"selection":)" +
         std::to_string(selection) + R"(,"odds":")" + kOdds[i % 8] + R"(","pseq":)" +
         std::to_string(i) + "}\n";
}

TEST_F(EngineRunTest, PublishesEveryAcceptedLineInOrderAndReplayDigestAgrees) {
  auto engine = start_engine("engine1.log");
  zmq::context_t context(1);
  zmq::socket_t sub(context, zmq::socket_type::sub);
  sub.set(zmq::sockopt::rcvhwm, 1'000'000);
  sub.set(zmq::sockopt::rcvtimeo, 100);
  sub.set(zmq::sockopt::subscribe, "");
  sub.connect(pub_url_);
  edge::FrameStream stream;
  ASSERT_TRUE(await_publisher(sub, stream)) << "no heartbeat from the engine\n" << engine->log();

  feed_ = accept_within(listener_, 10s);
  ASSERT_GE(feed_, 0) << "engine did not connect to the feed\n" << engine->log();
  std::string lines;
  for (int m = 1; m <= 10; ++m) lines += market_line(m);
  for (int i = 0; i < 2000; ++i) lines += price_line(1 + i % 10, 1 + i % 2, i);
  lines += "this is not json\n";
  lines += R"({"type":"price","market":999,"selection":1,"odds":"2.0"})"
           "\n";
  lines += R"({"type":"heartbeat"})"
           "\n";
  send_all(feed_, lines);
  const uint64_t first_part = 10 + 2000;
  ASSERT_TRUE(receive_until(sub, stream, first_part, 20s))
      << "subscriber reached seq " << stream.last_seq() << "\n"
      << engine->log();

  // The feed drops; the engine reconnects (with backoff) and carries on.
  ::close(feed_);
  feed_ = accept_within(listener_, 10s);
  ASSERT_GE(feed_, 0) << "engine did not reconnect\n" << engine->log();
  lines.clear();
  for (int i = 0; i < 500; ++i) lines += price_line(1 + i % 10, 1 + i % 2, 2000 + i);
  lines += R"({"type":"status","market":3,"status":"suspended","reason":"trader"})"
           "\n";
  send_all(feed_, lines);
  const uint64_t total = first_part + 500 + 1;
  ASSERT_TRUE(receive_until(sub, stream, total, 20s))
      << "subscriber reached seq " << stream.last_seq() << "\n"
      << engine->log();

  EXPECT_EQ(stream.counters().frames_applied, total);
  EXPECT_EQ(stream.counters().duplicates, 0u);
  EXPECT_EQ(stream.counters().gaps, 0u);
  EXPECT_EQ(stream.counters().corrupt_batches, 0u);
  EXPECT_EQ(stream.state().find(3)->status, fb::MarketStatus::Suspended);

  engine->signal(SIGTERM);
  const auto code = engine->wait_for(10s);
  ASSERT_TRUE(code.has_value()) << "engine did not stop on SIGTERM\n" << engine->log();
  EXPECT_EQ(*code, 0) << engine->log();
  EXPECT_NE(engine->log().find("malformed_json"), std::string::npos) << engine->log();

  const std::string journal = (dir_ / "journal").string();
  auto [verify_code, verify_out] = testing::run_to_completion(
      {bin_dir() + "/odds-replay", "verify", "--journal", journal}, (dir_ / "verify.log").string());
  EXPECT_EQ(verify_code, 0) << verify_out;
  auto [digest_code, digest_out] = testing::run_to_completion(
      {bin_dir() + "/odds-replay", "digest", "--journal", journal}, (dir_ / "digest.log").string());
  EXPECT_EQ(digest_code, 0) << digest_out;
  const std::string expected = "{\"seq\": " + std::to_string(total) + ", \"digest\": \"" +
                               digest_hex(state_digest(stream.state())) + "\"}\n";
  EXPECT_EQ(digest_out, expected);

  // A restarted node continues the same journal at last seq + 1.
  ::close(feed_);
  feed_ = -1;
  // Heartbeats of the stopped engine may still be queued: drain them so that the wait below sees
  // the restarted engine's own.
  for (zmq::message_t stale; sub.recv(stale, zmq::recv_flags::dontwait);) {
  }
  auto restarted = start_engine("engine2.log");
  ASSERT_TRUE(await_publisher(sub, stream)) << restarted->log();
  feed_ = accept_within(listener_, 10s);
  ASSERT_GE(feed_, 0) << restarted->log();
  send_all(feed_, price_line(5, 2, 3));  // odds "-110"
  ASSERT_TRUE(receive_until(sub, stream, total + 1, 20s)) << restarted->log();
  EXPECT_EQ(stream.counters().gaps, 0u);
  EXPECT_EQ(stream.state().find(5)->find_selection(2)->odds, "-110");
  restarted->signal(SIGINT);
  EXPECT_EQ(restarted->wait_for(10s), std::optional<int>(0)) << restarted->log();
}

TEST(EngineCommandLine, RejectsBadArgumentsWithOneLine) {
  const std::string dir = ::testing::TempDir();
  auto [code, out] = testing::run_to_completion(
      {bin_dir() + "/odds-engine", "run", "--journal", dir + "/x", "--node", "1", "--pub",
       "tcp://127.0.0.1:1", "--feed", "nonsense"},
      dir + "/badargs.log");
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("NAME=FORMAT@URL"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

// Without a mapping every market has one source: a cross-feed check has nothing to compare, so
// its flags are refused by name instead of doing nothing (issue 10, defect 2).
TEST(EngineCommandLine, RefusesCrossFeedFlagsWithoutAMapping) {
  const std::string dir = ::testing::TempDir();
  for (const std::vector<std::string>& flag :
       std::vector<std::vector<std::string>>{{"--tolerance-bps", "50"},
                                             {"--disagree-after-ms", "100"},
                                             {"--suspend-on-disagreement"}}) {
    std::vector<std::string> argv{
        bin_dir() + "/odds-engine", "run", "--journal", dir + "/nomapping", "--node", "1", "--pub",
        "tcp://127.0.0.1:1"};
    argv.insert(argv.end(), flag.begin(), flag.end());
    auto [code, out] = testing::run_to_completion(argv, dir + "/nomapping.log");
    EXPECT_NE(code, 0) << flag[0];
    EXPECT_NE(out.find(flag[0] + " needs --mapping"), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
}

TEST(EngineCommandLine, RefusesADirectoryThatIsNotAJournal) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "not_a_journal";
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "precious.txt") << "keep me"; }
  const auto input = std::filesystem::path(::testing::TempDir()) / "one.jsonl";
  {
    std::ofstream(input) << R"({"type":"heartbeat"})"
                         << "\n";
  }
  auto [code, out] = testing::run_to_completion(
      {bin_dir() + "/odds-engine", "ingest", "--journal", dir.string(), "--format", "oddsjson",
       input.string()},
      (std::filesystem::path(::testing::TempDir()) / "notours.log").string());
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("refusing"), std::string::npos) << out;
  EXPECT_TRUE(std::filesystem::exists(dir / "precious.txt"));
  EXPECT_FALSE(std::filesystem::exists(dir / "data.mdb"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace oddsbus
