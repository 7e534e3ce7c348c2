// The ZAP decision (schemas/zap_decision.h, RFC 27): allowed CURVE keys are accepted with their
// Z85 key as user id, the request id is echoed, and everything else is refused. Then a ZAP
// handler in a real context: an allowed client talks to a CURVE server, a stranger receives
// nothing and is counted, and the server reads the allowed client's User-Id.
#include "schemas/zap_decision.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "schemas/curve_handshake_watch.h"
#include "schemas/curve_link.h"

namespace oddsbus::curve {
namespace {

std::string bytes(const Key& key) { return std::string(key.begin(), key.end()); }

std::vector<std::string_view> request(const std::string& key, std::string_view mechanism = "CURVE",
                                      std::string_view version = "1.0") {
  static std::vector<std::string> storage;
  storage = {std::string(version), "42", "oddsbus", "127.0.0.1", "", std::string(mechanism), key};
  return {storage.begin(), storage.end()};
}

TEST(ZapDecision, AcceptsAnAllowedKeyWithItsZ85AsUserId) {
  const KeyPair client = generate_key_pair();
  const ZapPolicy policy({generate_key_pair().public_key, client.public_key});
  const ZapDecision d = policy.decide(request(bytes(client.public_key)));
  EXPECT_EQ(d.outcome, ZapOutcome::kAccepted);
  EXPECT_EQ(d.status_code, "200");
  EXPECT_EQ(d.request_id, "42");
  EXPECT_EQ(d.user_id, z85(client.public_key));
  EXPECT_EQ(d.user_id.size(), 40u);
}

TEST(ZapDecision, RefusesAKeyNotOnTheAllowList) {
  const ZapPolicy policy({generate_key_pair().public_key});
  const Key stranger = generate_key_pair().public_key;
  const ZapDecision d = policy.decide(request(bytes(stranger)));
  EXPECT_EQ(d.outcome, ZapOutcome::kUnknownKey);
  EXPECT_EQ(d.status_code, "400");
  EXPECT_EQ(d.request_id, "42");
  EXPECT_TRUE(d.user_id.empty());
  EXPECT_EQ(d.client_key, z85(stranger));  // for the log line
  EXPECT_EQ(d.address, "127.0.0.1");
}

TEST(ZapDecision, RefusesAnotherMechanism) {
  const ZapPolicy policy({generate_key_pair().public_key});
  auto null_request = request("", "NULL");
  null_request.pop_back();  // NULL has no credentials
  EXPECT_EQ(policy.decide(null_request).outcome, ZapOutcome::kNotCurve);
  EXPECT_EQ(policy.decide(request("user", "PLAIN")).status_code, "400");
}

TEST(ZapDecision, AnswersAMalformedRequestWith500) {
  const KeyPair client = generate_key_pair();
  const ZapPolicy policy({client.public_key});
  EXPECT_EQ(policy.decide(request(bytes(client.public_key), "CURVE", "2.0")).status_code, "500");
  EXPECT_EQ(policy.decide(request(bytes(client.public_key).substr(0, 31))).outcome,
            ZapOutcome::kMalformed);
  auto truncated = request(bytes(client.public_key));
  truncated.resize(4);
  const ZapDecision d = policy.decide(truncated);
  EXPECT_EQ(d.outcome, ZapOutcome::kMalformed);
  EXPECT_EQ(d.request_id, "42");  // still echoed
  EXPECT_EQ(policy.decide({}).outcome, ZapOutcome::kMalformed);
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST(ZapHandler, LetsAnAllowedClientInWithItsUserIdAndCountsAStranger) {
  zmq::context_t context;
  const KeyPair server_keys = generate_key_pair();
  const KeyPair allowed = generate_key_pair();
  const KeyPair stranger = generate_key_pair();
  CurveServer server(context, server_keys, {allowed.public_key});
  zmq::socket_t router(context, zmq::socket_type::router);
  server.secure(router);
  router.set(zmq::sockopt::linger, 0);
  router.bind("tcp://127.0.0.1:*");
  const std::string url = router.get(zmq::sockopt::last_endpoint);

  auto client = [&](const KeyPair& own) {
    CurveClient c;
    c.own = own;
    c.servers = {{url, server_keys.public_key}};
    return c;
  };
  zmq::socket_t bad(context, zmq::socket_type::dealer);
  bad.set(zmq::sockopt::linger, 0);
  const CurveClient bad_client = client(stranger);
  bad_client.secure(bad, url);
  HandshakeWatch bad_watch(context, bad);
  bad.connect(url);
  (void)bad.send(zmq::str_buffer("from a stranger"), zmq::send_flags::dontwait);
  uint64_t bad_failures = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        bad_failures += bad_watch.drain();
        return server.refused() >= 1 && bad_failures >= 1;
      },
      std::chrono::seconds(5)));

  zmq::socket_t good(context, zmq::socket_type::dealer);
  good.set(zmq::sockopt::linger, 0);
  client(allowed).secure(good, url);
  good.connect(url);
  ASSERT_TRUE(good.send(zmq::str_buffer("hello"), zmq::send_flags::none));
  router.set(zmq::sockopt::rcvtimeo, 5000);
  zmq::message_t routing_id;
  zmq::message_t body;
  ASSERT_TRUE(router.recv(routing_id));
  ASSERT_TRUE(router.recv(body));
  EXPECT_EQ(body.to_string(), "hello");  // never the stranger's message
  const char* user_id = body.gets("User-Id");
  ASSERT_NE(user_id, nullptr);
  EXPECT_EQ(std::string(user_id), z85(allowed.public_key));
  EXPECT_EQ(server.accepted(), 1u);
  EXPECT_GE(server.refused(), 1u);
}

TEST(ZapHandler, AClientExpectingAnotherServerKeyNeverConnectsAndCountsIt) {
  zmq::context_t context;
  const KeyPair server_keys = generate_key_pair();
  const KeyPair allowed = generate_key_pair();
  CurveServer server(context, server_keys, {allowed.public_key});
  zmq::socket_t pub(context, zmq::socket_type::pub);
  server.secure(pub);
  pub.set(zmq::sockopt::linger, 0);
  pub.bind("tcp://127.0.0.1:*");
  const std::string url = pub.get(zmq::sockopt::last_endpoint);

  CurveClient client;
  client.own = allowed;
  client.servers = {{url, generate_key_pair().public_key}};  // not the server's key
  zmq::socket_t sub(context, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::subscribe, "");
  client.secure(sub, url);
  HandshakeWatch watch(context, sub);
  sub.connect(url);
  uint64_t failures = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        (void)pub.send(zmq::str_buffer("frame"), zmq::send_flags::dontwait);
        failures += watch.drain();
        return failures >= 1;
      },
      std::chrono::seconds(5)));
  zmq::message_t message;
  EXPECT_FALSE(sub.recv(message, zmq::recv_flags::dontwait));
  EXPECT_EQ(server.accepted(), 0u);
}

}  // namespace
}  // namespace oddsbus::curve
