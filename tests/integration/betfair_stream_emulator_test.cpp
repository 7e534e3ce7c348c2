// Multi-process: a real `odds-engine run` with a betfair-stream feed over TLS, against a Betfair
// Exchange Stream emulator in the test. The emulator follows Betfair's public description
// ("Exchange Stream API", https://betfair-developer-docs.atlassian.net/wiki/x/BRAp, and
// ESASwaggerSchema.json in github.com/betfair/stream-api-sample-code): a TLS socket of CRLF JSON;
// it sends `connection`, checks `authentication` (appKey, session), answers `status` per request
// id, serves a real capture (/work/shared/data/betfair) as `mcm` messages after the
// `marketSubscription` (the first as SUB_IMAGE with initialClk), drops the connection at seeded
// random points, and on a resubscription with initialClk and clk sends one RESUB_DELTA that
// patches the client from its clk to the present (the changes "published" while it was away),
// then the rest. Its certificate is made by the test with the openssl command.
//
// Checks: the client resubscribes with the initialClk of its image and the clk of the last change
// it received; the server never sends a second image; the journal ends in the state of
// `odds-engine ingest` (the same adapter `odds-feed normalize` runs) of the capture; and bad
// credentials stop the session without retries.
#include <poll.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include "tests/integration/child_process.h"
#include "tests/integration/loopback.h"

namespace oddsbus {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using testing::bin_dir;
using testing::ChildProcess;
using testing::free_port;
using testing::fresh_test_dir;
using testing::run_to_completion;
using testing::wait_until;

constexpr const char* kMarket = "1.197931750";
constexpr const char* kAppKey = "emulator-app-key";
constexpr const char* kSession = "emulator-session-token";

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// A capture line's "pt" value and "mc" array text.
std::string field_text(const std::string& line, const std::string& key) {
  const size_t at = line.find("\"" + key + "\":");
  if (at == std::string::npos) return {};
  const size_t begin = at + key.size() + 3;
  if (key == "mc") return line.substr(begin, line.rfind(']') + 1 - begin);
  return line.substr(begin, line.find_first_of(",}", begin) - begin);
}

// The value of "key":"VALUE" in a request, or "" when absent.
std::string string_field(const std::string& text, const std::string& key) {
  const size_t at = text.find("\"" + key + "\":\"");
  if (at == std::string::npos) return {};
  const size_t begin = at + key.size() + 4;
  return text.substr(begin, text.find('"', begin) - begin);
}

struct Subscription {
  std::string initial_clk;
  std::string clk;
  size_t last_sent = 0;  // the last change served on the connection before (0: none)
};

// The exchange's clock, shared by the emulators of redundant lines: change i is published
// kPeriod * i after the first subscription, whoever is connected.
class Timeline {
 public:
  static constexpr auto kPeriod = 3ms;
  size_t present(size_t changes) {
    const auto now = std::chrono::steady_clock::now();
    std::call_once(started_, [&] { start_ = now; });
    return std::min<size_t>(changes - 1, (now - start_) / kPeriod);
  }

 private:
  std::once_flag started_;
  std::chrono::steady_clock::time_point start_;
};

class StreamEmulator {
 public:
  StreamEmulator(const std::filesystem::path& dir, std::vector<std::string> capture, uint64_t seed,
                 std::shared_ptr<Timeline> timeline = std::make_shared<Timeline>())
      : capture_(std::move(capture)), rng_(seed), timeline_(std::move(timeline)) {
    tls_.use_certificate_chain_file((dir / "cert.pem").string());
    tls_.use_private_key_file((dir / "key.pem").string(), ssl::context::pem);
    acceptor_.open(tcp::v4());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    acceptor_.listen();
    thread_ = std::thread([this] { serve(); });
  }
  ~StreamEmulator() {
    stop_ = true;
    thread_.join();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  bool finished() const { return finished_; }
  int connections() const { return connections_; }
  int images() const { return images_; }
  std::vector<Subscription> subscriptions() {
    std::lock_guard lock(mutex_);
    return subscriptions_;
  }
  std::vector<std::string> failures() {
    std::lock_guard lock(mutex_);
    return failures_;
  }

 private:
  void fail(std::string what) {
    std::lock_guard lock(mutex_);
    failures_.push_back(std::move(what));
  }

  std::string change(size_t i, const std::string& extra = "") const {
    return R"({"op":"mcm","id":2,"clk":")" + std::to_string(i) + "\"" + extra + R"(,"pt":)" +
           field_text(capture_[i], "pt") + R"(,"mc":)" + field_text(capture_[i], "mc") + "}\r\n";
  }

  // Changes first..last folded into one message (their market changes in order): an image from
  // change 0, or a RESUB_DELTA.
  std::string fold(size_t first, size_t last) const {
    std::string mc;
    for (size_t i = first; i <= last; ++i) {
      const std::string part = field_text(capture_[i], "mc");
      mc += (mc.empty() ? "" : ",") + part.substr(1, part.size() - 2);
    }
    return std::string(R"({"op":"mcm","id":2,"ct":")") +
           (first == 0 ? R"(SUB_IMAGE","initialClk":"I0)" : "RESUB_DELTA") + R"(","clk":")" +
           std::to_string(last) + R"(","pt":)" + field_text(capture_[last], "pt") + R"(,"mc":[)" +
           mc + "]}\r\n";
  }

  void serve() {
    while (!stop_) {
      pollfd p{acceptor_.native_handle(), POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      ssl::stream<tcp::socket> stream(io_, tls_);
      boost::system::error_code error;
      acceptor_.accept(stream.lowest_layer(), error);
      if (error) continue;
      ++connections_;
      const timeval timeout{5, 0};
      ::setsockopt(stream.lowest_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                   sizeof timeout);
      stream.handshake(ssl::stream_base::server, error);
      if (error) continue;
      session(stream);
      stream.lowest_layer().close(error);  // abrupt: no close_notify, as a dropped line
    }
  }

  bool read_request(ssl::stream<tcp::socket>& stream, asio::streambuf& buffer, std::string& out) {
    boost::system::error_code error;
    const size_t n = asio::read_until(stream, buffer, "\r\n", error);
    if (error) return false;
    out.assign(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + n);
    buffer.consume(n);
    return true;
  }

  void session(ssl::stream<tcp::socket>& stream) {
    boost::system::error_code error;
    asio::write(stream,
                asio::buffer(std::string(R"({"op":"connection","connectionId":"emulator-)" +
                                         std::to_string(connections_) + "\"}\r\n")),
                error);
    asio::streambuf buffer;
    std::string request;
    if (!read_request(stream, buffer, request)) return;
    if (string_field(request, "op") != "authentication" ||
        string_field(request, "appKey") != kAppKey ||
        string_field(request, "session") != kSession) {
      asio::write(
          stream,
          asio::buffer(std::string(
              R"({"op":"status","id":1,"statusCode":"FAILURE","errorCode":"NOT_AUTHORIZED",)"
              R"("errorMessage":"AppKey is not configured for service","connectionClosed":true})"
              "\r\n")),
          error);
      return;
    }
    asio::write(stream,
                asio::buffer(std::string(
                    R"({"op":"status","id":1,"statusCode":"SUCCESS","connectionClosed":false})"
                    "\r\n")),
                error);
    if (!read_request(stream, buffer, request)) return;
    if (string_field(request, "op") != "marketSubscription" ||
        request.find(std::string("\"marketIds\":[\"") + kMarket + "\"]") == std::string::npos ||
        request.find("EX_BEST_OFFERS") == std::string::npos ||
        request.find("EX_MARKET_DEF") == std::string::npos) {
      fail("unexpected subscription: " + request);
      return;
    }
    asio::write(stream,
                asio::buffer(std::string(
                    R"({"op":"status","id":2,"statusCode":"SUCCESS","connectionClosed":false})"
                    "\r\n")),
                error);
    Subscription sub{string_field(request, "initialClk"), string_field(request, "clk"), sent_};
    {
      std::lock_guard lock(mutex_);
      subscriptions_.push_back(sub);
    }
    // The first message: the image, or the patch from the client's clk to the present (the
    // changes published meanwhile, folded).
    const size_t present = timeline_->present(capture_.size());
    std::string first;
    size_t covered = present;  // the last change the first message brings the client to
    if (sub.clk.empty()) {
      ++images_;
      first = fold(0, present);
    } else {
      if (sub.initial_clk != "I0") fail("resubscription with initialClk " + sub.initial_clk);
      const size_t from = std::stoul(sub.clk) + 1;
      if (from <= present) {
        first = fold(from, present);
      } else {
        first = R"({"op":"mcm","id":2,"ct":"RESUB_DELTA","clk":")" + sub.clk +
                R"(","mc":[]})"
                "\r\n";
        covered = from - 1;
      }
    }
    asio::write(stream, asio::buffer(first), error);
    if (error) return;
    sent_ = covered;
    size_t next = covered + 1;
    const size_t drop_at = next + 10 + rng_() % 40;
    for (; next < capture_.size() && next < drop_at && !stop_; ++next) {
      while (timeline_->present(capture_.size()) < next && !stop_) {
        std::this_thread::sleep_for(1ms);
      }
      asio::write(stream, asio::buffer(change(next)), error);
      if (error) return;
      sent_ = next;
    }
    if (next < capture_.size()) return;  // a drop
    finished_ = true;
    while (!stop_) {  // the end of the capture: heartbeats until the test is done
      std::this_thread::sleep_for(200ms);
      const std::string heartbeat = R"({"op":"mcm","id":2,"ct":"HEARTBEAT","clk":")" +
                                    std::to_string(sent_) +
                                    R"(","pt":1650394000000})"
                                    "\r\n";
      asio::write(stream, asio::buffer(heartbeat), error);
      if (error) return;
    }
  }

  std::vector<std::string> capture_;
  std::mt19937_64 rng_;
  std::shared_ptr<Timeline> timeline_;
  asio::io_context io_;
  ssl::context tls_{ssl::context::tls_server};
  tcp::acceptor acceptor_{io_};
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> images_{0};
  std::atomic<size_t> sent_{0};
  std::mutex mutex_;
  std::vector<Subscription> subscriptions_;
  std::vector<std::string> failures_;
};

class BetfairStreamEmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_test_dir("betfair_emulator");
    capture_path_ = std::string(ODDSBUS_SHARED_DATA_DIR) + "/betfair/" + kMarket;
    if (!std::filesystem::exists(capture_path_)) GTEST_SKIP() << "no capture " << capture_path_;
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
        (dir_ / "key.pem").string() + " -out " + (dir_ / "cert.pem").string() + " >" +
        (dir_ / "openssl.log").string() + " 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << "openssl could not make a certificate";
    std::ofstream(dir_ / "mapping.toml")
        << "[[market]]\nid = 1001\nevent = 501\nname = \"Sheffield OR 280m\"\nsources = "
           "[\"bf\"]\nselections = [{ id = 1, name = \"T1\" }, { id = 2, name = \"T2\" }, { id "
           "= 3, name = \"T3\" }, { id = 4, name = \"T4\" }, { id = 5, name = \"T5\" }, { id = "
           "6, name = \"T6\" }]\n\n[market.provider.bf]\nmarket = \"1.197931750\"\nselections = "
           "{ \"44331354\" = 1, \"37947503\" = 2, \"36276560\" = 3, \"42930960\" = 4, "
           "\"40095374\" = 5, \"39823721\" = 6 }\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write_credentials(const std::string& app_key) {
    const std::string path = (dir_ / ("bf-" + app_key + ".toml")).string();
    std::ofstream(path) << "app_key = \"" << app_key << "\"\nsession_token = \"" << kSession
                        << "\"\nca_file = \"" << (dir_ / "cert.pem").string() << "\"\n";
    ::chmod(path.c_str(), 0600);
    return path;
  }

  std::unique_ptr<ChildProcess> start_engine(uint16_t port, const std::string& credentials,
                                             const std::string& journal) {
    return start_engine("tls://127.0.0.1:" + std::to_string(port), credentials, journal);
  }
  std::unique_ptr<ChildProcess> start_engine(const std::string& urls,
                                             const std::string& credentials,
                                             const std::string& journal) {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{bin_dir() + "/odds-engine", "run", "--journal",
                                 (dir_ / journal).string(), "--node", "1", "--pub",
                                 "tcp://127.0.0.1:" + std::to_string(free_port()), "--feed",
                                 "bf=betfair-stream@" + urls, "--feed-auth", "bf=" + credentials,
                                 "--mapping", (dir_ / "mapping.toml").string()},
        (dir_ / (journal + ".log")).string());
  }

  std::string digest(const std::string& journal) {
    auto [code, output] = run_to_completion(
        {bin_dir() + "/odds-replay", "digest", "--journal", (dir_ / journal).string()},
        (dir_ / "digest.log").string(), 20s);
    if (code != 0) return "error: " + output;
    const size_t at = output.find("\"digest\"");
    return at == std::string::npos ? output : output.substr(at);
  }

  // The state the capture ends in, through the same adapter as `odds-feed normalize`.
  std::string expected_digest() {
    auto [ingested, ingest_log] =
        run_to_completion({bin_dir() + "/odds-engine", "ingest", "--journal",
                           (dir_ / "expected").string(), "--format", "betfair-stream", "--mapping",
                           (dir_ / "mapping.toml").string(), "--feed-name", "bf", capture_path_},
                          (dir_ / "ingest.log").string());
    EXPECT_EQ(ingested, 0) << ingest_log;
    return digest("expected");
  }

  std::filesystem::path dir_;
  std::string capture_path_;
};

TEST_F(BetfairStreamEmulatorTest, ResumesFromClkAfterRandomDropsAndEndsWhereTheCaptureEnds) {
  const std::string expected = expected_digest();
  ASSERT_EQ(expected.rfind("\"digest\"", 0), 0u) << expected;

  for (uint64_t seed : {1, 2}) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " (replay with this seed)");
    const std::string journal = "journal" + std::to_string(seed);
    StreamEmulator emulator(dir_, read_lines(capture_path_), seed);
    auto engine = start_engine(emulator.port(), write_credentials(kAppKey), journal);
    ASSERT_TRUE(wait_until([&] { return emulator.finished(); }, 30s))
        << "the emulator did not serve the whole capture\n"
        << engine->log();
    ASSERT_TRUE(wait_until([&] { return digest(journal) == expected; }, 15s))
        << "journal " << digest(journal) << ", capture " << expected << "\n"
        << engine->log();
    engine->signal(SIGTERM);
    EXPECT_EQ(engine->wait_for(20s), 0) << engine->log();

    EXPECT_TRUE(emulator.failures().empty()) << emulator.failures().front();
    const std::vector<Subscription> subs = emulator.subscriptions();
    ASSERT_GE(subs.size(), 3u) << "the emulator drops the connection several times";
    EXPECT_TRUE(subs[0].clk.empty() && subs[0].initial_clk.empty());
    for (size_t i = 1; i < subs.size(); ++i) {
      EXPECT_EQ(subs[i].initial_clk, "I0") << "resubscription " << i;
      EXPECT_EQ(subs[i].clk, std::to_string(subs[i].last_sent))
          << "resubscription " << i << " does not resume after the last change received";
    }
    EXPECT_EQ(emulator.images(), 1) << "a dropped session resumed with a new image";
    const std::string log = engine->log();
    EXPECT_NE(log.find("resumed from clk"), std::string::npos) << log;
    EXPECT_EQ(log.find("image instead of a resume"), std::string::npos) << log;
  }
}

// Two lines to one exchange (one timeline), each dropped at its own seeded points: the adapter
// should get each change once and the journal end where the capture ends.
// DISABLED: a known limitation, kept as its reproduction. It fails in about 4 runs of 6: the
// journal ends with a runner priced from an `atb` level the capture had removed (1.4 instead of the
// last traded 85 at the close). Most likely (not yet proven) a cross-line reorder: after a line
// resumes (its RESUB_DELTA skipped because the other line streams), its next changes can reach the
// adapter before the other line's older ones (first arrival wins, message_dedup.h), so a level's
// removal is applied before its addition. Redundant Betfair lines need a leader/shadow order (a
// shadow line holds its new changes until the leader delivers them or drops), not yet built.
TEST_F(BetfairStreamEmulatorTest,
       DISABLED_TwoRedundantLinesEndWhereTheCaptureEndsWithoutASecondImage) {
  const std::string expected = expected_digest();
  ASSERT_EQ(expected.rfind("\"digest\"", 0), 0u) << expected;
  const uint64_t seed = 21;
  SCOPED_TRACE("seeds " + std::to_string(seed) + ", " + std::to_string(seed + 1));
  auto timeline = std::make_shared<Timeline>();
  StreamEmulator a(dir_, read_lines(capture_path_), seed, timeline);
  StreamEmulator b(dir_, read_lines(capture_path_), seed + 1, timeline);
  auto engine = start_engine("tls://127.0.0.1:" + std::to_string(a.port()) +
                                 ",tls://127.0.0.1:" + std::to_string(b.port()),
                             write_credentials(kAppKey), "journal");
  ASSERT_TRUE(wait_until([&] { return a.finished() && b.finished(); }, 30s))
      << "the emulators did not serve the whole capture\n"
      << engine->log();
  ASSERT_TRUE(wait_until([&] { return digest("journal") == expected; }, 15s))
      << "journal " << digest("journal") << ", capture " << expected << "\n"
      << engine->log();
  engine->signal(SIGTERM);
  EXPECT_EQ(engine->wait_for(20s), 0) << engine->log();
  for (StreamEmulator* emulator : {&a, &b}) {
    EXPECT_TRUE(emulator->failures().empty()) << emulator->failures().front();
    EXPECT_EQ(emulator->images(), 1) << "a dropped line resumed with a new image";
    const std::vector<Subscription> subs = emulator->subscriptions();
    for (size_t i = 1; i < subs.size(); ++i) {
      EXPECT_EQ(subs[i].clk, std::to_string(subs[i].last_sent)) << "resubscription " << i;
    }
  }
  EXPECT_GE(a.subscriptions().size() + b.subscriptions().size(), 4u);
  const std::string log = engine->log();
  EXPECT_EQ(log.find("image instead of a resume"), std::string::npos) << log;
}

TEST_F(BetfairStreamEmulatorTest, RefusedCredentialsStopTheSessionWithoutRetrying) {
  StreamEmulator emulator(dir_, read_lines(capture_path_), 7);
  auto engine = start_engine(emulator.port(), write_credentials("wrong-key"), "journal");
  ASSERT_TRUE(
      wait_until([&] { return engine->log().find("NOT_AUTHORIZED") != std::string::npos; }, 20s))
      << engine->log();
  std::this_thread::sleep_for(1s);  // a retry would come within the 100 ms first backoff
  EXPECT_EQ(emulator.connections(), 1);
  EXPECT_NE(engine->log().find("stopped"), std::string::npos) << engine->log();
  EXPECT_TRUE(engine->running()) << "the node keeps running; only the session stopped";
  engine->signal(SIGTERM);
  EXPECT_EQ(engine->wait_for(20s), 0) << engine->log();
}

TEST_F(BetfairStreamEmulatorTest, ACredentialsFileReadableByOthersIsRefusedAtStart) {
  const std::string credentials = write_credentials(kAppKey);
  ::chmod(credentials.c_str(), 0644);
  auto engine = start_engine(free_port(), credentials, "journal");
  const auto code = engine->wait_for(20s);
  ASSERT_TRUE(code.has_value()) << engine->log();
  EXPECT_NE(*code, 0);
  EXPECT_NE(engine->log().find(credentials), std::string::npos) << engine->log();
}

}  // namespace
}  // namespace oddsbus
