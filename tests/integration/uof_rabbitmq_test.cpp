// A UOF session against a real RabbitMQ (issue 16): odds-engine run with
// `--feed sr=uof-xml@amqp://...` and `--feed-auth`, a broker started by the test
// (rabbitmq_broker.h, one for all the cases of this binary), UOF messages published on the
// `unifiedfeed` topic exchange with the documented routing keys, and the recovery API served by the
// test.
//  - The journal ends where `odds-feed normalize` of the same messages ends.
//  - A producer that goes quiet, or says subscribed="0", has its markets suspended; it is asked
//    for a recovery (after= its last alive, request_id, node_id from the credentials file), and
//    its markets open again only with that request's snapshot_complete.
// What only a live Sportradar account can show is listed in the README ("Sportradar UOF").
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tests/integration/child_process.h"
#include "tests/integration/loopback.h"
#include "tests/integration/rabbitmq_broker.h"

namespace oddsbus {
namespace {

using namespace std::chrono_literals;
using testing::bin_dir;
using testing::ChildProcess;

const std::string kToken = "uof-test-access-token";
const std::string kPublisher = "oddsbus-test-publisher";
const std::string kExchange = "unifiedfeed";
// UOF routing keys ("AMQP topic filtering"): system messages start "-.-.-"; an event message names
// its type and the sport event's URN in words 4, 6 and 7.
const std::string kAliveKey = "-.-.-.alive.-.-.-.-";
const std::string kSnapshotKey = "-.-.-.snapshot_complete.-.-.-";

struct RecoveryCall {
  std::string path;
  std::map<std::string, std::string> query;
  std::string token;
};

// What every case shares: one broker, the HTTP server (broker authentication and recovery API),
// one publisher.
struct Shared {
  std::mutex mutex;
  std::vector<RecoveryCall> calls;
  std::filesystem::path dir;
  std::unique_ptr<testing::HttpServer> http;
  std::unique_ptr<testing::RabbitMqBroker> broker;
  std::unique_ptr<testing::AmqpPublisher> publisher;
};
Shared* g_shared = nullptr;

testing::HttpReply serve(const testing::HttpRequest& request) {
  if (request.path.starts_with("/auth/")) {
    // The broker asks who may log in: the access token (the session) and the test's publisher.
    if (request.path == "/auth/user") {
      const auto user = request.query.find("username");
      const bool known =
          user != request.query.end() && (user->second == kToken || user->second == kPublisher);
      return {200, known ? "allow" : "deny"};
    }
    return {200, "allow"};
  }
  if (request.method == "POST" && request.path.ends_with("/recovery/initiate_request")) {
    const auto token = request.headers.find("x-access-token");
    RecoveryCall call{request.path, request.query,
                      token == request.headers.end() ? "" : token->second};
    std::lock_guard lock(g_shared->mutex);
    g_shared->calls.push_back(call);
    if (call.token != kToken) return {403, "<response response_code=\"FORBIDDEN\"/>"};
    return {202, "<response response_code=\"ACCEPTED\"/>"};
  }
  return {404, ""};
}

class BrokerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_shared = new Shared;
    g_shared->dir = std::filesystem::path(::testing::TempDir()) /
                    ("uof_rabbitmq_" + std::to_string(::getpid()));
    std::filesystem::remove_all(g_shared->dir);
    std::filesystem::create_directories(g_shared->dir);
    g_shared->http = std::make_unique<testing::HttpServer>(serve);
    // A CA and a server certificate for localhost signed by it (the amqps listener), and another
    // CA that vouches for nothing here.
    const std::string tls = (g_shared->dir / "tls").string();
    std::filesystem::create_directories(tls);
    const std::string make_certificates =
        "(cd " + tls +
        " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2"
        " -subj /CN=oddsbus-test-ca"
        " && openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2"
        " -subj /CN=oddsbus-other-ca"
        " && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr"
        " -subj /CN=localhost"
        " && echo subjectAltName=DNS:localhost,IP:127.0.0.1 > san.ext"
        " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
        " -out server.pem -days 2 -extfile san.ext) > " +
        tls + "/openssl.log 2>&1";
    ASSERT_EQ(std::system(make_certificates.c_str()), 0)
        << "openssl could not make the test certificates: see " << tls << "/openssl.log";
    g_shared->broker = std::make_unique<testing::RabbitMqBroker>(
        g_shared->dir / "broker", g_shared->http->port(),
        testing::RabbitMqBroker::Tls{tls + "/ca.pem", tls + "/server.pem", tls + "/server.key"});
    const auto started_at = std::chrono::steady_clock::now();
    const std::string failed = g_shared->broker->start();
    ASSERT_EQ(failed, "") << failed;
    ASSERT_TRUE(g_shared->broker->wait_ready(kPublisher, 180s))
        << "rabbitmq-server did not come up:\n"
        << g_shared->broker->log_tail();
    // The broker's start-up is this test's fixed cost: show it.
    std::printf(
        "[ broker   ] rabbitmq-server ready on 127.0.0.1:%u in %.1f s\n",
        g_shared->broker->amqp_port(),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count());
    g_shared->publisher = std::make_unique<testing::AmqpPublisher>();
    std::string why;
    ASSERT_TRUE(g_shared->publisher->open(g_shared->broker->amqp_port(), kPublisher, "x", why))
        << why;
    ASSERT_TRUE(g_shared->publisher->declare_topic_exchange(kExchange));
  }
  void TearDown() override {
    if (g_shared == nullptr) return;
    g_shared->publisher.reset();
    g_shared->broker.reset();
    g_shared->http.reset();
    std::filesystem::remove_all(g_shared->dir);
    delete g_shared;
    g_shared = nullptr;
  }
};
[[maybe_unused]] const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new BrokerEnvironment);

struct MarketView {
  std::string status = "suspended";     // a mapped market before any news
  std::map<uint64_t, uint64_t> prices;  // selection -> price_e4 (0 : none)
  bool operator==(const MarketView&) const = default;
};
using State = std::map<uint64_t, MarketView>;

std::string describe(const State& state) {
  std::string s;
  for (const auto& [market, view] : state) {
    s += std::to_string(market) + " " + view.status + " {";
    for (const auto& [selection, price] : view.prices) {
      s += " " + std::to_string(selection) + ":" + std::to_string(price);
    }
    s += " }\n";
  }
  return s;
}

uint64_t wall_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

class UofRabbitMqTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(g_shared, nullptr);
    ASSERT_NE(g_shared->publisher, nullptr) << "no broker";
    dir_ = testing::fresh_test_dir("uof_rabbitmq");
    {
      std::lock_guard lock(g_shared->mutex);
      first_call_ = g_shared->calls.size();
    }
  }
  void TearDown() override {
    if (engine_ && engine_->running()) {
      engine_->signal(SIGTERM);
      engine_->wait_for(20s);
    }
  }

  // amqps with `ca_file` when given (a file of the shared tls directory), else amqp.
  void start_engine(const std::string& ca_file = "") {
    const std::string credentials = (dir_ / "sr.toml").string();
    std::ofstream(credentials) << "access_token = \"" << kToken << "\"\n"
                               << "api_url = \"http://127.0.0.1:" << g_shared->http->port()
                               << "/v1\"\nnode_id = 3\n";
    if (!ca_file.empty()) {
      std::ofstream(credentials, std::ios::app)
          << "ca_file = \"" << (g_shared->dir / "tls" / ca_file).string() << "\"\n";
    }
    ::chmod(credentials.c_str(), 0600);
    // Short producer limits so the case takes seconds: silent 1.5 s is down; requests at most
    // every 1 s (well above the ~0.2 s this test takes to see a request and stop the alives that
    // would otherwise ask again).
    // amqps names the broker as its certificate does.
    const std::string feed =
        "sr=uof-xml@" +
        (ca_file.empty() ? "amqp://127.0.0.1:" + std::to_string(g_shared->broker->amqp_port())
                         : "amqps://localhost:" + std::to_string(g_shared->broker->amqps_port())) +
        "/?inactivity_ms=1500&min_recovery_interval_ms=1000&heartbeat=5";
    journal_ = (dir_ / "journal").string();
    engine_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{bin_dir() + "/odds-engine", "run", "--journal", journal_, "--node",
                                 "1", "--pub", testing::url(testing::free_port()), "--feed", feed,
                                 "--feed-auth", "sr=" + credentials, "--mapping",
                                 std::string(ODDSBUS_TEST_DATA_DIR) + "/uof/mapping.toml"},
        (dir_ / "engine.log").string());
  }

  void publish(const std::string& key, const std::string& body) {
    ASSERT_TRUE(g_shared->publisher->publish(kExchange, key, body));
    published_.push_back(body);
  }
  void alive(int subscribed) {
    const uint64_t now = wall_ms();
    if (subscribed) last_alive_ = now;
    publish(kAliveKey, "<alive product=\"1\" timestamp=\"" + std::to_string(now) +
                           "\" subscribed=\"" + std::to_string(subscribed) + "\"/>");
  }
  // Keeps the producer's alive going every 200 ms until `done` or `timeout`.
  template <typename F>
  bool alive_until(int subscribed, F&& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      alive(subscribed);
      for (int i = 0; i < 10; ++i) {
        if (done()) return true;
        std::this_thread::sleep_for(20ms);
      }
    }
    return done();
  }
  // The recovery calls made since this case started.
  std::vector<RecoveryCall> calls() {
    std::lock_guard lock(g_shared->mutex);
    return {g_shared->calls.begin() + static_cast<std::ptrdiff_t>(first_call_),
            g_shared->calls.end()};
  }
  // Publishes alive (as `subscribed`) until recovery call number `n` (0-based) arrives.
  RecoveryCall await_recovery(size_t n, int subscribed) {
    const bool arrived = alive_until(
        subscribed, [&] { return calls().size() > n; }, 60s);
    EXPECT_TRUE(arrived) << "no recovery request #" << n << "\n" << engine_->log();
    return arrived ? calls()[n] : RecoveryCall{};
  }
  // Keeps the alives going (subscribed) until market 1001 is open in the journal.
  bool alive_until_open() {
    const bool open = alive_until(
        1, [&] { return market_status_is(1001, "open"); }, 30s);
    EXPECT_TRUE(open) << engine_->log();
    return open;
  }
  // Answers the session's first recovery (its producer is down from the start) with a price and
  // the snapshot_complete, and waits for the market to open. Returns the request (with no
  // request_id when any of it failed).
  RecoveryCall first_recovery() {
    const RecoveryCall first = await_recovery(0, 0);
    if (!first.query.contains("request_id")) return first;
    publish(kOddsKey, odds_change("2.5", wall_ms(), first.query.at("request_id")));
    snapshot_complete(first.query.at("request_id"));
    if (!alive_until_open()) return {};
    return first;
  }
  void stop_engine() {
    engine_->signal(SIGTERM);
    ASSERT_EQ(engine_->wait_for(20s), std::optional<int>(0)) << engine_->log();
  }
  void snapshot_complete(const std::string& request_id) {
    publish(kSnapshotKey, "<snapshot_complete product=\"1\" request_id=\"" + request_id +
                              "\" timestamp=\"" + std::to_string(wall_ms()) + "\"/>");
  }
  std::string odds_change(const std::string& home, uint64_t timestamp,
                          const std::string& request_id = "") {
    return "<odds_change product=\"1\" event_id=\"sr:match:12345\" timestamp=\"" +
           std::to_string(timestamp) + "\"" +
           (request_id.empty() ? "" : " request_id=\"" + request_id + "\"") +
           "><odds><market id=\"1\" status=\"1\"><outcome id=\"1\" odds=\"" + home +
           "\" active=\"1\"/><outcome id=\"2\" odds=\"3.4\" active=\"1\"/><outcome id=\"3\" "
           "odds=\"2.9\" active=\"1\"/></market></odds></odds_change>";
  }
  static constexpr const char* kOddsKey = "hi.-.live.odds_change.1.sr:match.12345.-";

  // The journal's state of the mapped markets (odds-replay state --json), read while the engine
  // runs (LMDB readers do not block its writer).
  State journal_state() {
    auto [code, out] = testing::run_to_completion(
        {bin_dir() + "/odds-replay", "state", "--journal", journal_, "--json"},
        (dir_ / "state.log").string(), 30s);
    State state;
    if (code != 0) return state;
    const size_t brace = out.find('{');
    if (brace == std::string::npos) return state;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(out.substr(brace)).get(doc)) return state;
    for (simdjson::dom::element market : doc["markets"].get_array()) {
      MarketView& view = state[uint64_t(market["market"].get_uint64())];
      view.status = std::string(std::string_view(market["status"].get_string()));
      for (simdjson::dom::element s : market["selections"].get_array()) {
        const uint64_t price = s["price_e4"].get_uint64();
        if (price != 0) view.prices[uint64_t(s["selection"].get_uint64())] = price;
      }
    }
    return state;
  }
  bool market_status_is(uint64_t market, const std::string& status) {
    const State state = journal_state();
    const auto it = state.find(market);
    return it != state.end() && it->second.status == status;
  }

  // What `odds-feed normalize` makes of every message published in this case, folded.
  State normalized() {
    const std::string file = (dir_ / "published.xml").string();
    {
      std::ofstream out(file);
      for (const std::string& body : published_) out << body << "\n";
    }
    auto [code, out] = testing::run_to_completion(
        {bin_dir() + "/odds-feed", "normalize", "--format", "uof-xml", "--mapping",
         std::string(ODDSBUS_TEST_DATA_DIR) + "/uof/mapping.toml", "--feed-name", "sr", file},
        (dir_ / "normalize.log").string(), 30s);
    EXPECT_EQ(code, 0) << out;
    State state;
    simdjson::dom::parser parser;
    size_t start = 0;
    while (start < out.size()) {
      const size_t end = out.find('\n', start);
      const std::string line = out.substr(start, end - start);
      start = end == std::string::npos ? out.size() : end + 1;
      simdjson::dom::element e;
      if (line.empty() || line[0] != '{' || parser.parse(line).get(e)) continue;
      const std::string_view type = e["type"].get_string();
      const uint64_t market = e["market"].get_uint64();
      if (type == "price") {
        const uint64_t price = e["price_e4"].get_uint64();
        const uint64_t selection = e["selection"].get_uint64();
        if (price == 0) {
          state[market].prices.erase(selection);
        } else {
          state[market].prices[selection] = price;
        }
      } else if (type == "status" && market != 0) {
        state[market].status = std::string(std::string_view(e["status"].get_string()));
      }
    }
    return state;
  }

  std::filesystem::path dir_;
  std::string journal_;
  std::unique_ptr<ChildProcess> engine_;
  std::vector<std::string> published_;
  uint64_t last_alive_ = 0;
  size_t first_call_ = 0;
};

// The first recovery of a session: the producer is down from the start until it completes.
TEST_F(UofRabbitMqTest, TheJournalEndsWhereNormalizeOfTheSameMessagesEnds) {
  start_engine();
  // Until the first recovery is asked for, the producer says it is not subscribed.
  const RecoveryCall first = await_recovery(0, 0);
  EXPECT_EQ(first.path, "/v1/liveodds/recovery/initiate_request");
  EXPECT_EQ(first.token, kToken);
  EXPECT_FALSE(first.query.contains("after")) << "the first recovery of a session is a full one";
  EXPECT_EQ(first.query.at("node_id"), "3");
  ASSERT_TRUE(first.query.contains("request_id"));
  snapshot_complete(first.query.at("request_id"));
  alive(1);
  // The event messages of the sample capture, each with its routing key.
  std::ifstream in(std::string(ODDSBUS_TEST_DATA_DIR) + "/uof/sample_feed.txt");
  std::string line;
  size_t events = 0;
  while (std::getline(in, line)) {
    for (const char* type :
         {"odds_change", "bet_stop", "bet_cancel", "rollback_bet_cancel", "fixture_change"}) {
      if (line.find(std::string("><") + type + " ") == std::string::npos) continue;
      const bool pre = line.find("product=\"3\"") != std::string::npos;
      const std::string event =
          line.find("sr:match:67890") != std::string::npos ? "67890" : "12345";
      publish(
          std::string("hi.") + (pre ? "pre.-." : "-.live.") + type + ".1.sr:match." + event + ".-",
          line);
      ++events;
    }
  }
  ASSERT_GE(events, 5u);
  State expected = normalized();
  State got;
  const bool same = alive_until(
      1,
      [&] {
        got = journal_state();
        // A mapped market no message speaks of is defined, suspended and unpriced, in both.
        for (const auto& [market, view] : got) expected.try_emplace(market);
        return !got.empty() && got == expected;
      },
      30s);
  EXPECT_TRUE(same) << "journal:\n"
                    << describe(got) << "normalize:\n"
                    << describe(expected) << engine_->log();
  EXPECT_EQ(expected.at(1001).status, "open");  // the comparison is of something
  EXPECT_FALSE(expected.at(1001).prices.empty());
  stop_engine();
}

TEST_F(UofRabbitMqTest, AProducerDownPeriodSuspendsItsMarketsUntilItsRecoveryCompletes) {
  start_engine();
  const RecoveryCall first = first_recovery();
  ASSERT_TRUE(first.query.contains("request_id"));

  // 1. Silence: no alive for longer than the inactivity limit suspends the market.
  const uint64_t last_alive_while_up = last_alive_;
  ASSERT_TRUE(testing::wait_until([&] { return market_status_is(1001, "suspended"); }, 30s))
      << engine_->log();
  // Alive again: a recovery from the last alive received while up, with the node id.
  const RecoveryCall second = await_recovery(1, 1);
  EXPECT_EQ(second.query.at("after"), std::to_string(last_alive_while_up));
  EXPECT_EQ(second.query.at("node_id"), "3");
  EXPECT_NE(second.query.at("request_id"), first.query.at("request_id"));
  // The recovery's odds; a snapshot_complete of another request changes nothing...
  publish(kOddsKey, odds_change("2.6", wall_ms(), second.query.at("request_id")));
  snapshot_complete(first.query.at("request_id"));
  // ... the matching one brings the market back, with the recovered price.
  snapshot_complete(second.query.at("request_id"));
  ASSERT_TRUE(alive_until_open());
  EXPECT_EQ(journal_state().at(1001).prices.at(1), 26000u);

  // 2. subscribed="0": the producer says it lost us; suspended again, and recovered again.
  const uint64_t before_unsubscribed = last_alive_;
  alive(0);
  ASSERT_TRUE(testing::wait_until([&] { return market_status_is(1001, "suspended"); }, 30s))
      << engine_->log();
  const RecoveryCall third = await_recovery(2, 0);
  EXPECT_EQ(third.query.at("after"), std::to_string(before_unsubscribed));
  publish(kOddsKey, odds_change("2.7", wall_ms(), third.query.at("request_id")));
  snapshot_complete(third.query.at("request_id"));
  ASSERT_TRUE(alive_until_open());
  EXPECT_EQ(journal_state().at(1001).prices.at(1), 27000u);

  stop_engine();
  const std::string log = engine_->log();
  // The session's counters, in the node's stop summary.
  EXPECT_NE(log.find("3 recovery requests"), std::string::npos) << log;
  EXPECT_NE(log.find("1 snapshot_complete ignored"), std::string::npos) << log;
}

// amqps: the session verifies the broker's certificate against the credentials file's ca_file.
TEST_F(UofRabbitMqTest, AnAmqpsSessionTrustsTheBrokerItsCaFileVouchesFor) {
  start_engine("ca.pem");
  // A recovery request means the session logged in over TLS and consumes the alives.
  const RecoveryCall first = first_recovery();
  ASSERT_TRUE(first.query.contains("request_id"));
  stop_engine();
}

TEST_F(UofRabbitMqTest, AnAmqpsSessionRefusesABrokerItsCaFileDoesNotVouchFor) {
  start_engine("other.pem");
  ASSERT_TRUE(
      testing::wait_until([&] { return engine_->log().find("SSL") != std::string::npos; }, 60s))
      << engine_->log();
  EXPECT_TRUE(calls().empty()) << "the session reached the broker through an untrusted certificate";
  EXPECT_TRUE(engine_->running());  // it keeps trying, with backoff
}

}  // namespace
}  // namespace oddsbus
