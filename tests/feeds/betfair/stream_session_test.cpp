// The Betfair stream session core, without sockets: handshake, status handling per request id,
// fatal and retryable errors, segments, clk resume, the 15-second rule, silence and backoff; then a
// seeded simulation of a server that drops the connection at random points, checked exactly.
#include "feeds/betfair/stream_session.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace oddsbus::feeds::betfair {
namespace {

constexpr uint64_t kMs = 1'000'000;

StreamSessionConfig test_config() {
  StreamSessionConfig config;
  config.app_key = "KEY";
  config.session_token = "TOKEN";
  config.market_ids = {"1.111", "1.222"};
  config.heartbeat_ms = 1000;
  config.conflate_ms = 50;
  return config;
}

std::string status_ok(int id) {
  return R"({"op":"status","id":)" + std::to_string(id) +
         R"(,"statusCode":"SUCCESS","connectionClosed":false})";
}

std::string status_failure(int id, std::string_view code, bool closed = true) {
  return R"({"op":"status","id":)" + std::to_string(id) +
         R"(,"statusCode":"FAILURE","errorCode":")" + std::string(code) +
         R"(","errorMessage":"nope","connectionClosed":)" + (closed ? "true" : "false") + "}";
}

std::string mcm(std::string_view clk, std::string_view extra = "") {
  return R"({"op":"mcm","id":2,"clk":")" + std::string(clk) + R"(","pt":1)" +
         (extra.empty() ? "" : ",") + std::string(extra) + R"(,"mc":[]})";
}

// A session driven up to streaming: connected, authenticated, subscribed.
struct Driven {
  StreamSession session{test_config()};
  SessionActions out;
  uint64_t now = 1000 * kMs;

  void connect() {
    out.clear();
    session.on_connected(now, out);
    message(R"({"op":"connection","connectionId":"002-1"})");
  }
  void message(const std::string& text) {
    out.clear();
    session.on_message(text, now, out);
  }
  std::string handshake() {  // returns the subscription sent
    connect();
    message(status_ok(1));
    return out.send;
  }
  void disconnect() {
    out.clear();
    session.on_disconnected(now, out);
  }
};

TEST(StreamSession, AuthenticatesOnTheConnectionMessageThenSubscribesToTheMappedMarkets) {
  StreamSession session(test_config());
  SessionActions out;
  session.on_connected(0, out);
  EXPECT_TRUE(out.send.empty()) << "nothing goes out before the server's connection message";
  EXPECT_EQ(session.state(), SessionState::kConnected);
  out.clear();
  session.on_message(R"({"op":"connection","connectionId":"002-051134157842-432409"})", kMs, out);
  EXPECT_EQ(out.send, R"({"op":"authentication","id":1,"appKey":"KEY","session":"TOKEN"})"
                      "\r\n");
  EXPECT_EQ(session.state(), SessionState::kAuthenticating);
  out.clear();
  session.on_message(status_ok(1), 2 * kMs, out);
  EXPECT_EQ(out.send,
            R"({"op":"marketSubscription","id":2,"marketFilter":{"marketIds":["1.111","1.222"]},)"
            R"("marketDataFilter":{"ladderLevels":3,"fields":["EX_BEST_OFFERS","EX_LTP",)"
            R"("EX_MARKET_DEF"]},"heartbeatMs":1000,"conflateMs":50,"segmentationEnabled":true})"
            "\r\n");
  EXPECT_EQ(session.state(), SessionState::kSubscribing);
  EXPECT_EQ(session.counters().authentications, 1u);
  out.clear();
  session.on_message(status_ok(2), 3 * kMs, out);
  EXPECT_TRUE(out.send.empty());
  EXPECT_EQ(out.action, ConnectionAction::kKeep);
}

TEST(StreamSession, EscapesCredentialsAndClampsHeartbeatAndConflation) {
  StreamSessionConfig config = test_config();
  config.app_key = "a\"b\\c";
  config.session_token = std::string("t\n\x01", 3);
  config.heartbeat_ms = 10;
  config.conflate_ms = 999999;
  StreamSession session(config);
  SessionActions out;
  session.on_connected(0, out);
  session.on_message(R"({"op":"connection"})", 0, out);
  EXPECT_EQ(out.send, R"({"op":"authentication","id":1,"appKey":"a\"b\\c","session":"t\n\u0001"})"
                      "\r\n");
  out.clear();
  session.on_message(status_ok(1), 0, out);
  EXPECT_NE(out.send.find(R"("heartbeatMs":500,"conflateMs":120000)"), std::string::npos)
      << out.send;
}

TEST(StreamSession, DeliversChangesAndKeepsTheLatestTokens) {
  Driven d;
  d.handshake();
  d.message(mcm("AAA", R"("initialClk":"III","ct":"SUB_IMAGE")"));
  ASSERT_EQ(d.out.deliver.size(), 1u);
  EXPECT_EQ(d.session.state(), SessionState::kStreaming);
  d.message(mcm("BBB"));
  ASSERT_EQ(d.out.deliver.size(), 1u);
  EXPECT_EQ(d.out.deliver[0], mcm("BBB"));
  d.message(mcm("CCC", R"("ct":"HEARTBEAT")"));
  EXPECT_EQ(d.out.deliver.size(), 1u) << "a heartbeat is a sign of life for the adapter";
  EXPECT_EQ(d.session.initial_clk(), "III");
  EXPECT_EQ(d.session.clk(), "CCC");
  EXPECT_EQ(d.session.counters().images, 1u);
  EXPECT_EQ(d.session.counters().heartbeats, 1u);
  EXPECT_EQ(d.session.counters().changes, 3u);
}

TEST(StreamSession, ResubscribesWithInitialClkAndClkAfterADropAndCountsTheResume) {
  Driven d;
  d.handshake();
  d.message(mcm("c1", R"("initialClk":"i1","ct":"SUB_IMAGE")"));
  d.message(mcm("c2"));
  d.disconnect();
  EXPECT_EQ(d.session.state(), SessionState::kDisconnected);
  const std::string subscription = d.handshake();
  EXPECT_NE(subscription.find(R"("initialClk":"i1","clk":"c2"})"), std::string::npos)
      << subscription;
  d.message(status_ok(2));
  ASSERT_FALSE(d.out.notices.empty());
  EXPECT_EQ(d.out.notices[0].detail, "resume");
  d.message(mcm("c3", R"("ct":"RESUB_DELTA")"));
  EXPECT_EQ(d.out.deliver.size(), 1u);
  EXPECT_EQ(d.session.counters().resumes, 1u);
  EXPECT_EQ(d.session.counters().resubscriptions, 1u);
  EXPECT_EQ(d.session.counters().images_instead_of_resume, 0u);
  EXPECT_EQ(d.session.clk(), "c3");
  EXPECT_EQ(d.session.initial_clk(), "i1") << "a resume keeps the initial token";

  // A server that cannot resume sends an image instead: applied, and counted as such.
  d.disconnect();
  d.handshake();
  d.message(mcm("d1", R"("initialClk":"i2","ct":"SUB_IMAGE")"));
  EXPECT_EQ(d.session.counters().images_instead_of_resume, 1u);
  EXPECT_EQ(d.session.initial_clk(), "i2");
}

TEST(StreamSession, MarksImagesAndResumesAsRestatementsOfTheState) {
  Driven d;
  d.handshake();
  d.message(mcm("c1", R"("initialClk":"i1","ct":"SUB_IMAGE")"));
  EXPECT_TRUE(d.out.restates);
  d.message(mcm("c2"));
  EXPECT_FALSE(d.out.restates);
  d.message(mcm("c3", R"("ct":"HEARTBEAT")"));
  EXPECT_FALSE(d.out.restates);
  d.disconnect();
  d.handshake();
  d.message(mcm("c4", R"("ct":"RESUB_DELTA")"));
  EXPECT_TRUE(d.out.restates);
  d.message(mcm("c5", R"("segmentType":"SEG_START","ct":"SUB_IMAGE")"));
  EXPECT_FALSE(d.out.restates) << "nothing delivered yet";
  d.message(mcm("c6", R"("segmentType":"SEG_END")"));
  EXPECT_EQ(d.out.deliver.size(), 2u);
  EXPECT_TRUE(d.out.restates) << "a segmented image, whole";
}

TEST(StreamSession, TheFirstSubscriptionWithoutTokensAsksForAnImage) {
  Driven d;
  const std::string subscription = d.handshake();
  EXPECT_EQ(subscription.find("clk"), std::string::npos) << subscription;
  d.disconnect();  // dropped before any change: still nothing to resume from
  EXPECT_EQ(d.handshake().find("clk"), std::string::npos);
  EXPECT_EQ(d.session.counters().resubscriptions, 0u);
}

TEST(StreamSession, FatalErrorCodesStopTheSessionForGood) {
  for (const char* code :
       {"NO_APP_KEY", "INVALID_APP_KEY", "NO_SESSION", "INVALID_SESSION_INFORMATION",
        "NOT_AUTHORIZED", "INVALID_INPUT", "INVALID_REQUEST", "SUBSCRIPTION_LIMIT_EXCEEDED"}) {
    SCOPED_TRACE(code);
    Driven d;
    d.connect();
    d.message(status_failure(1, code));
    EXPECT_EQ(d.out.action, ConnectionAction::kStop);
    EXPECT_TRUE(d.session.stopped());
    EXPECT_NE(d.session.stop_reason().find(code), std::string::npos) << d.session.stop_reason();
    EXPECT_EQ(d.session.counters().status_errors[static_cast<size_t>(parse_error_code(code))], 1u);
    d.disconnect();
    EXPECT_EQ(d.out.action, ConnectionAction::kStop) << "no retry after a fatal error";
    d.out.clear();
    d.session.on_connected(d.now, d.out);
    EXPECT_EQ(d.out.action, ConnectionAction::kStop);
    EXPECT_EQ(d.session.counters().connects, 1u);
  }
}

TEST(StreamSession, RetryableErrorCodesCloseAndReconnect) {
  for (const char* code : {"TIMEOUT", "UNEXPECTED_ERROR", "CONNECTION_FAILED",
                           "MAX_CONNECTION_LIMIT_EXCEEDED", "TOO_MANY_REQUESTS", "SOMETHING_NEW"}) {
    SCOPED_TRACE(code);
    Driven d;
    d.handshake();
    d.message(mcm("c1", R"("initialClk":"i1","ct":"SUB_IMAGE")"));
    d.message(status_failure(2, code));
    EXPECT_EQ(d.out.action, ConnectionAction::kClose);
    EXPECT_FALSE(d.session.stopped());
    d.disconnect();
    EXPECT_EQ(d.out.action, ConnectionAction::kKeep);
    EXPECT_NE(d.handshake().find(R"("clk":"c1")"), std::string::npos) << "tokens survive";
  }
  Driven d;
  d.handshake();
  d.message(status_failure(2, "TIMEOUT", false));
  EXPECT_EQ(d.out.action, ConnectionAction::kClose)
      << "a failure that leaves the connection open still ends this connection";
  EXPECT_EQ(d.session.counters().status_errors[static_cast<size_t>(StreamErrorCode::kTimeout)], 1u);
}

TEST(StreamSession, InvalidClockForgetsTheTokensSoTheNextSubscriptionAsksForAnImage) {
  Driven d;
  d.handshake();
  d.message(mcm("c1", R"("initialClk":"i1","ct":"SUB_IMAGE")"));
  d.disconnect();
  d.handshake();
  d.message(status_failure(2, "INVALID_CLOCK"));
  EXPECT_EQ(d.out.action, ConnectionAction::kClose);
  d.disconnect();
  EXPECT_EQ(d.handshake().find("clk"), std::string::npos);
}

TEST(StreamSession, ASegmentedChangeIsDeliveredOnlyWholeWithItsLastToken) {
  Driven d;
  d.handshake();
  d.message(mcm("s1", R"("initialClk":"i1","ct":"SUB_IMAGE","segmentType":"SEG_START")"));
  EXPECT_TRUE(d.out.deliver.empty());
  d.message(mcm("s2", R"("segmentType":"SEG")"));
  EXPECT_TRUE(d.out.deliver.empty());
  EXPECT_TRUE(d.session.clk().empty()) << "no token from a change not yet whole";
  d.message(mcm("s3", R"("segmentType":"SEG_END")"));
  ASSERT_EQ(d.out.deliver.size(), 3u);
  EXPECT_EQ(d.out.deliver[0],
            mcm("s1", R"("initialClk":"i1","ct":"SUB_IMAGE","segmentType":"SEG_START")"));
  EXPECT_EQ(d.out.deliver[1], mcm("s2", R"("segmentType":"SEG")"));
  EXPECT_EQ(d.out.deliver[2], mcm("s3", R"("segmentType":"SEG_END")"));
  EXPECT_EQ(d.session.clk(), "s3");
  EXPECT_EQ(d.session.initial_clk(), "i1");
  EXPECT_EQ(d.session.counters().images, 1u);
  EXPECT_EQ(d.session.counters().changes, 1u);
}

TEST(StreamSession, ASegmentedChangeCutByADropIsDiscardedAndResumedFromTheLastWholeChange) {
  Driven d;
  d.handshake();
  d.message(mcm("c1", R"("initialClk":"i1","ct":"SUB_IMAGE")"));
  d.message(mcm("c2", R"("segmentType":"SEG_START")"));
  d.message(mcm("c3", R"("segmentType":"SEG")"));
  d.disconnect();
  EXPECT_EQ(d.session.counters().segments_discarded, 1u);
  EXPECT_NE(d.handshake().find(R"("initialClk":"i1","clk":"c1")"), std::string::npos);
  d.message(mcm("c4", R"("segmentType":"SEG_END")"));
  EXPECT_TRUE(d.out.deliver.empty()) << "the end of a segment the session never began";
  EXPECT_EQ(d.out.action, ConnectionAction::kClose);
}

TEST(StreamSession, ASegmentOutOfOrderClosesTheConnection) {
  Driven d;
  d.handshake();
  d.message(mcm("c1", R"("segmentType":"SEG_START")"));
  d.message(mcm("c2", R"("segmentType":"SEG_START")"));
  EXPECT_EQ(d.out.action, ConnectionAction::kClose);
  EXPECT_TRUE(d.out.deliver.empty());
  Driven e;
  e.handshake();
  e.message(mcm("c1", R"("segmentType":"SEG_START")"));
  e.message(mcm("c2"));
  EXPECT_EQ(e.out.action, ConnectionAction::kClose);
  EXPECT_TRUE(e.out.deliver.empty());
  Driven f;
  f.handshake();
  f.message(mcm("c1", R"("segmentType":"SEG")"));
  EXPECT_EQ(f.out.action, ConnectionAction::kClose);
  EXPECT_EQ(f.session.counters().segments_discarded, 1u);
}

TEST(StreamSession, SendsWithinFifteenSecondsOfConnectingEvenWithoutAConnectionMessage) {
  StreamSession session(test_config());
  SessionActions out;
  session.on_connected(0, out);
  session.on_tick(9'999 * kMs, out);
  EXPECT_TRUE(out.send.empty());
  session.on_tick(10'000 * kMs, out);
  EXPECT_EQ(out.send.rfind(R"({"op":"authentication")", 0), 0u) << out.send;
  EXPECT_EQ(session.state(), SessionState::kAuthenticating);
}

TEST(StreamSession, ASilentConnectionIsClosedAndAHeartbeatKeepsItOpen) {
  Driven d;  // heartbeat 1000 ms: silence limit 3 heartbeats + 5 s = 8 s
  d.handshake();
  d.message(mcm("c1", R"("initialClk":"i1","ct":"SUB_IMAGE")"));
  d.now += 7'000 * kMs;
  d.message(mcm("c2", R"("ct":"HEARTBEAT")"));
  d.now += 7'999 * kMs;
  d.out.clear();
  d.session.on_tick(d.now, d.out);
  EXPECT_EQ(d.out.action, ConnectionAction::kKeep);
  d.now += kMs;
  d.session.on_tick(d.now, d.out);
  EXPECT_EQ(d.out.action, ConnectionAction::kClose);
  EXPECT_EQ(d.session.counters().silences, 1u);

  Driven quiet;  // a server that never answers the authentication
  quiet.connect();
  quiet.out.clear();
  quiet.session.on_tick(quiet.now + 8'000 * kMs, quiet.out);
  EXPECT_EQ(quiet.out.action, ConnectionAction::kClose);
}

TEST(StreamSession, BacksOffExponentiallyWithJitterAndRestartsAfterStreaming) {
  StreamSessionConfig config = test_config();
  config.initial_backoff_ns = 100 * kMs;
  config.max_backoff_ns = 1600 * kMs;
  StreamSession session(config);
  SessionActions out;
  uint64_t bound = 100 * kMs;
  uint64_t largest = 0;
  for (int attempt = 0; attempt < 12; ++attempt) {
    out.clear();
    session.on_connected(0, out);
    session.on_disconnected(0, out);
    EXPECT_LE(out.retry_after_ns, bound) << "attempt " << attempt;
    largest = std::max(largest, out.retry_after_ns);
    bound = std::min<uint64_t>(bound * 2, 1600 * kMs);
  }
  EXPECT_GT(largest, 100 * kMs) << "the backoff grows";
  // A connection that streamed restarts the backoff.
  out.clear();
  session.on_connected(0, out);
  session.on_message(R"({"op":"connection"})", 0, out);
  session.on_message(status_ok(1), 0, out);
  session.on_message(mcm("c1"), 0, out);
  out.clear();
  session.on_disconnected(0, out);
  EXPECT_LE(out.retry_after_ns, 100 * kMs);
}

TEST(StreamSession, DropsMessagesOutOfPlaceAndCountsThem) {
  Driven d;
  d.connect();
  d.message(mcm("c1"));
  EXPECT_TRUE(d.out.deliver.empty()) << "no change before a subscription";
  d.message("not json");
  d.message(R"({"op":"ocm","id":2})");
  EXPECT_EQ(d.session.counters().unexpected, 3u);
  EXPECT_TRUE(d.session.clk().empty());
  EXPECT_EQ(d.out.action, ConnectionAction::kKeep);
}

TEST(StreamSession, KnowsEveryDocumentedErrorCode) {
  for (size_t i = 0; i + 1 < static_cast<size_t>(StreamErrorCode::kCount); ++i) {
    const auto code = static_cast<StreamErrorCode>(i);
    EXPECT_EQ(parse_error_code(to_string(code)), code);
  }
  EXPECT_EQ(parse_error_code("NEW_CODE"), StreamErrorCode::kOther);
  EXPECT_FALSE(is_fatal(StreamErrorCode::kOther));
  EXPECT_FALSE(is_fatal(StreamErrorCode::kInvalidClock));
}

// A server that numbers its changes 0..n-1 (clk = the number; some changes are segmented) and
// drops the connection at seeded random points, also inside segments and handshakes. It resumes a
// subscription that carries clk K from change K+1, the first of them marked RESUB_DELTA. The
// session must hand the adapter every change exactly once, in order, whole.
TEST(StreamSession, ResumesExactlyAcrossRandomDropsWithoutLossOrRepeat) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    const int n = 200;
    std::vector<int> parts(n);  // 1: a plain change, k > 1: a change in k segments
    for (int& p : parts) p = rng() % 5 == 0 ? 2 + static_cast<int>(rng() % 3) : 1;
    StreamSessionConfig config = test_config();
    config.jitter_seed = seed;
    StreamSession session(config);
    SessionActions out;
    std::vector<int> applied;  // change numbers, from whole deliveries
    int next = 0;              // the server's next change for this connection
    int drops = 0;
    uint64_t now = 0;
    auto deliver = [&] {
      for (std::string_view m : out.deliver) {
        if (m.find("SEG\"") != std::string_view::npos ||
            m.find("SEG_START") != std::string_view::npos) {
          continue;  // count a segmented change once, by its end
        }
        const size_t at = m.find("\"clk\":\"") + 7;
        applied.push_back(std::stoi(std::string(m.substr(at, m.find('"', at) - at))));
      }
    };
    while (next < n && drops < 1000) {
      out.clear();
      session.on_connected(now, out);
      session.on_message(R"({"op":"connection"})", now, out);
      if (rng() % 10 == 0) goto drop;
      session.on_message(status_ok(1), now, out);
      {
        const std::string& sub = out.send;
        const size_t at = sub.find(R"("clk":")");
        next = at == std::string::npos ? 0 : std::stoi(sub.substr(at + 7)) + 1;
        if (at == std::string::npos) {
          EXPECT_TRUE(applied.empty()) << "asked for an image after changes were applied";
        }
      }
      session.on_message(status_ok(2), now, out);
      for (bool first = true; next < n; first = false, ++next) {
        const std::string clk = std::to_string(next);
        const std::string ct =
            first ? (next == 0 ? R"("ct":"SUB_IMAGE","initialClk":"i")" : R"("ct":"RESUB_DELTA")")
                  : "";
        bool cut = false;
        for (int k = 0; k < parts[next]; ++k) {
          std::string extra = ct;
          if (parts[next] > 1) {
            extra += std::string(extra.empty() ? "" : ",") + R"("segmentType":")" +
                     (k == 0                 ? "SEG_START"
                      : k + 1 == parts[next] ? "SEG_END"
                                             : "SEG") +
                     "\"";
          }
          out.clear();
          session.on_message(mcm(clk, extra), ++now, out);
          EXPECT_EQ(out.action, ConnectionAction::kKeep);
          deliver();
          if (rng() % 40 == 0) {
            cut = true;
            break;
          }
        }
        if (cut) break;
      }
    drop:
      ++drops;
      out.clear();
      session.on_disconnected(now, out);
      ASSERT_EQ(out.action, ConnectionAction::kKeep);
      now += out.retry_after_ns;
    }
    ASSERT_EQ(static_cast<int>(applied.size()), n);
    for (int i = 0; i < n; ++i) ASSERT_EQ(applied[i], i) << "at " << i;
    EXPECT_EQ(session.counters().images, 1u);
    EXPECT_GE(session.counters().resumes, 1u);
  }
}

}  // namespace
}  // namespace oddsbus::feeds::betfair
