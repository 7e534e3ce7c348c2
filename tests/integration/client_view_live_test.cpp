// What a client saw (issue 13), end to end over loopback: a feed in the test serves oddsjson lines
// to a real `odds-engine run`; a real `odds-edge --audit-log` serves WebSocket clients in the
// test, which fold what they receive. At quiet points T (nothing in flight to any client) the test
// records each client's folded state; afterwards `odds-replay client-view` for that session at T
// must print exactly that state: for a client of two markets, a client of "all", a slow client the
// edge conflated, the same client while disconnected, and after it resumed with resume_from.
#include <simdjson.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/child_process.h"
#include "tests/integration/loopback.h"
#include "tests/integration/oddsjson_line_server.h"
#include "tests/integration/ws_test_client.h"

namespace oddsbus {
namespace {

using namespace std::chrono_literals;
using testing::bin_dir;
using testing::ChildProcess;
using testing::FoldedState;
using testing::free_port;
using testing::http_get;
using testing::StreamClient;
using testing::url;
using testing::wait_until;

const std::string kTwoMarkets = R"({"op": "subscribe", "markets": [1001, 1003]})";
const std::string kAll = R"({"op": "subscribe", "markets": "all"})";

// Three markets, then `prices` price lines (and now and then a suspension and a reopening).
std::vector<std::string> stream_lines(int prices) {
  std::vector<std::string> lines{
      R"({"type":"market","market":1001,"event":501,"name":"Match Odds","selections":[{"id":1,"name":"Home"},{"id":2,"name":"Draw"},{"id":3,"name":"Away"}]})",
      R"({"type":"market","market":1002,"event":501,"name":"Total Goals","selections":[{"id":1,"name":"Over"},{"id":2,"name":"Under"}]})",
      R"({"type":"market","market":1003,"event":502,"name":"Winner","selections":[{"id":1,"name":"A"},{"id":2,"name":"B"}]})"};
  const char* odds[] = {"1.50", "2.10", "2.75", "3.40", "5/2", "+150", "-110", "4.20", "1.91"};
  const int selections[] = {3, 2, 2};
  for (int i = 0; i < prices; ++i) {
    const int m = i % 3;
    const uint64_t market = 1001 + m;
    if (i % 17 == 16) {
      lines.push_back(
          R"({"type":"status","market":)" + std::to_string(market) +
          (i % 34 == 16 ? R"(,"status":"suspended","reason":"trader"})" : R"(,"status":"open"})"));
      continue;
    }
    lines.push_back(R"({"type":"price","market":)" + std::to_string(market) + R"(,"selection":)" +
                    std::to_string(1 + (i / 3) % selections[m]) + R"(,"odds":")" +
                    odds[(i * 7) % 9] + R"("})");
  }
  return lines;
}

// Now, in whole ms, as the ISO 8601 text --at-time takes.
std::string now_iso8601() {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  const time_t seconds = static_cast<time_t>(ms / 1000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000));
  return text;
}

FoldedState only(const FoldedState& state, const std::vector<uint64_t>& markets) {
  FoldedState kept;
  for (uint64_t id : markets) {
    if (auto it = state.find(id); it != state.end()) kept[id] = it->second;
  }
  return kept;
}

std::string describe(const FoldedState& state) {
  std::string out;
  for (const auto& [id, market] : state) {
    out += std::to_string(id) + " " + market.status + ":";
    for (const auto& [selection, price] : market.prices) {
      out += " " + std::to_string(selection) + "=" + std::to_string(price);
    }
    out += "; ";
  }
  return out;
}

// A quiet point: a time and what each client had folded by then.
struct Seen {
  std::string at;
  std::string session;
  FoldedState state;
  std::string what;
};

class ClientViewLiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_test_dir("client_view_live");
    for (uint16_t& p : ports_) p = free_port();
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::optional<FoldedState> edge_state(uint64_t* seq = nullptr) {
    auto [status, body] = http_get(ports_[2], "/v1/snapshot");
    if (status != 200) return std::nullopt;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(body).get(doc) != simdjson::SUCCESS) return std::nullopt;
    if (seq != nullptr) *seq = uint64_t(doc["seq"]);
    return testing::fold_markets(doc["markets"]);
  }

  // Waits until the edge has applied everything released (its seq still for a while) and every
  // client holds its markets of the edge's state.
  bool settled(const std::vector<std::pair<StreamClient*, std::vector<uint64_t>>>& clients) {
    uint64_t last = UINT64_MAX;
    int same = 0;
    return wait_until(
        [&] {
          uint64_t seq = 0;
          auto state = edge_state(&seq);
          if (!state || seq != last) {
            last = state ? seq : UINT64_MAX;
            same = 0;
            return false;
          }
          for (const auto& [client, markets] : clients) {
            const FoldedState held = client->summary().state;
            if (held != (markets.empty() ? *state : only(*state, markets))) return false;
          }
          return ++same >= 5;
        },
        20s * testing::sanitizer_slowdown());
  }

  // Records, at a time when nothing is in flight, what `client` holds.
  void record(std::vector<Seen>& seen, const std::string& session, const FoldedState& state,
              const std::string& what) {
    std::this_thread::sleep_for(150ms);
    seen.push_back(Seen{now_iso8601(), session, state, what});
    std::this_thread::sleep_for(150ms);
  }

  std::vector<std::string> sessions_in_log() {
    std::vector<std::string> ids;
    std::ifstream in(dir_ / "audit.jsonl");
    simdjson::dom::parser parser;
    for (std::string line; std::getline(in, line);) {
      simdjson::dom::element record;
      if (parser.parse(line).get(record) != simdjson::SUCCESS) continue;
      if (std::string_view(record["type"]) == "connect") {
        ids.emplace_back(std::string_view(record["session"]));
      }
    }
    return ids;
  }

  std::filesystem::path dir_;
  uint16_t ports_[3] = {};  // node PUB, node recovery, edge HTTP
};

TEST_F(ClientViewLiveTest, ClientViewAtATimeIsWhatTheClientHadFolded) {
  const unsigned slow = testing::sanitizer_slowdown();
  testing::LineServerConfig feed_config;
  testing::OddsJsonLineServer feed(stream_lines(420), feed_config);
  ASSERT_TRUE(feed.ok());
  const std::string journal = (dir_ / "node1").string();
  ChildProcess engine({bin_dir() + "/odds-engine", "run", "--journal", journal, "--node", "1",
                       "--pub", url(ports_[0]), "--recovery", url(ports_[1]), "--heartbeat-ms",
                       "20", "--feed", "oj=oddsjson@" + feed.urls()},
                      (dir_ / "node1.log").string());
  auto edge = std::make_unique<ChildProcess>(
      std::vector<std::string>{bin_dir() + "/odds-edge", "--sub", url(ports_[0]), "--recovery",
                               url(ports_[1]), "--http", "127.0.0.1:" + std::to_string(ports_[2]),
                               "--stale-after-ms", "5000", "--client-max-delay-ms", "50",
                               "--client-send-buffer-bytes", "4096", "--audit-log",
                               (dir_ / "audit.jsonl").string()},
      (dir_ / "edge.log").string());
  feed.release(23);  // the markets and 20 prices
  ASSERT_TRUE(wait_until([&] { return http_get(ports_[2], "/healthz").first == 200; }, slow * 20s))
      << edge->log() << engine.log();

  std::vector<Seen> seen;
  const std::vector<uint64_t> two{1001, 1003};
  // Session 1: two markets; session 2: all. Connected one after the other, so the log's
  // "connect" records name them in this order.
  // Session 1's small receive buffer lets the edge see it fall behind once it reads slowly.
  testing::StreamOptions small_buffer;
  small_buffer.receive_buffer_bytes = 2048;
  auto a =
      std::make_unique<StreamClient>(ports_[2], kTwoMarkets, StreamClient::Summary{}, small_buffer);
  ASSERT_TRUE(wait_until([&] { return a->summary().images == 1; }, slow * 10s));
  StreamClient b(ports_[2], kAll);
  ASSERT_TRUE(settled({{a.get(), two}, {&b, {}}})) << edge->log();
  record(seen, "a", a->summary().state, "after the images");

  feed.release(83);
  ASSERT_TRUE(settled({{a.get(), two}, {&b, {}}})) << edge->log();
  record(seen, "a", a->summary().state, "after deltas");
  record(seen, "b", b.summary().state, "after deltas, all markets");

  // A slow reader behind a small send buffer: the edge conflates its deltas.
  a->set_read_delay(10ms);
  feed.release(283);
  ASSERT_TRUE(settled({{a.get(), two}, {&b, {}}})) << edge->log();
  EXPECT_GT(a->summary().conflated, 0u) << "the slow client was never conflated";
  a->set_read_delay(0ms);
  record(seen, "a", a->summary().state, "after a conflation");
  record(seen, "b", b.summary().state, "all markets, never conflated");

  // Session 1 goes away and misses frames; session 3 is it again, resuming.
  const StreamClient::Summary before = a->summary();
  a.reset();
  feed.release(343);
  ASSERT_TRUE(settled({{&b, {}}})) << edge->log();
  record(seen, "a", before.state, "while disconnected");
  a = std::make_unique<StreamClient>(
      ports_[2],
      R"({"op": "subscribe", "markets": [1001, 1003], "resume_from": )" +
          std::to_string(before.last_delta_seq) + R"(, "resume_epoch": )" +
          std::to_string(before.last_epoch) + "}",
      before);
  ASSERT_TRUE(settled({{a.get(), two}, {&b, {}}})) << edge->log();
  ASSERT_EQ(a->summary().resumes, 1u) << "the reconnect was answered with an image instead";
  record(seen, "a2", a->summary().state, "after the resume");
  feed.release(420);
  ASSERT_TRUE(settled({{a.get(), two}, {&b, {}}})) << edge->log();
  record(seen, "a2", a->summary().state, "after the resume and more deltas");
  EXPECT_TRUE(a->summary().violations.empty()) << a->summary().violations.front();
  EXPECT_TRUE(b.summary().violations.empty()) << b.summary().violations.front();

  // Everything the edge wrote to the log is on disk once it has stopped.
  a.reset();
  edge->signal(SIGTERM);
  ASSERT_TRUE(edge->wait_for(slow * 10s)) << edge->log();
  const std::vector<std::string> sessions = sessions_in_log();
  ASSERT_EQ(sessions.size(), 3u) << edge->log();
  const std::map<std::string, std::string> session_of{
      {"a", sessions[0]}, {"b", sessions[1]}, {"a2", sessions[2]}};

  for (const Seen& point : seen) {
    SCOPED_TRACE(point.what + " at " + point.at);
    auto [code, out] = testing::run_to_completion(
        {bin_dir() + "/odds-replay", "client-view", "--edge-log", (dir_ / "audit.jsonl").string(),
         "--journal", journal, "--session", session_of.at(point.session), "--at-time", point.at,
         "--json"},
        (dir_ / "replay.log").string());
    ASSERT_EQ(code, 0) << out;
    simdjson::dom::parser parser;
    simdjson::dom::element view;
    ASSERT_EQ(parser.parse(out).get(view), simdjson::SUCCESS) << out;
    EXPECT_EQ(std::string_view(view["session"]), session_of.at(point.session));
    EXPECT_EQ(uint64_t(view["lost_lines"]), 0u);
    const FoldedState shown = testing::fold_markets(view["markets"]);
    EXPECT_EQ(shown, point.state) << "client-view: " << describe(shown)
                                  << "\nthe client held: " << describe(point.state) << "\n"
                                  << out;
  }
}

}  // namespace
}  // namespace oddsbus
