// Edge security (issue 14): hostile clients against a real odds-edge fed by a real publisher
// (odds-feedsim -> odds-engine -> odds-edge), while a well-behaved WebSocket client of "all" must
// keep receiving every delta (seqs strictly increasing, every market's market_seq without a
// gap, never conflated, its folded state the edge's):
//  - slowloris: requests whose headers trickle in a byte at a time are closed within
//    --header-timeout-ms of their first byte, and counted; a connection that sends nothing
//    is governed by the idle timeout instead;
//  - an oversized WebSocket message (closed 1009) and oversized requests (431, 413), counted;
//  - a WebSocket client flooding messages is closed (1008) and counted, the edge unharmed;
//  - a thousand idle connections: admitted up to --max-connections, the next refused (503),
//    and places freed as they close.
#include <boost/asio/connect.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/raw_connection.h"
#include "tests/security/edge_fixture.h"

namespace oddsbus {
namespace {

using namespace std::chrono_literals;
using testing::http_get;
using testing::http_request;
using testing::metric_in;
using testing::RawConnection;
using testing::wait_until;

using EdgeAttacksTest = testing::EdgeSecurityTest;
using Clock = std::chrono::steady_clock;

std::string dropped(const char* reason) {
  return std::string("oddsbus_edge_clients_dropped_total{reason=\"") + reason + "\"}";
}

TEST_F(EdgeAttacksTest, SlowlorisIsClosedWithinTheHeaderTimeout) {
  constexpr int kTricklers = 20;
  constexpr auto kHeaderTimeout = 1000ms;
  ASSERT_NO_FATAL_FAILURE(
      start_with_good_client(400, {"--header-timeout-ms", "1000", "--idle-timeout-ms", "60000"}));
  const uint64_t before = good_->last_seq();

  RawConnection silent(http());  // sends nothing: the idle timeout's, not the header timeout's
  std::vector<std::unique_ptr<RawConnection>> tricklers;
  std::vector<Clock::time_point> first_byte(kTricklers);
  std::vector<std::optional<Clock::duration>> closed_after(kTricklers);
  const std::string request = "GET /v1/markets HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < kTricklers; ++i) {
    tricklers.push_back(std::make_unique<RawConnection>(http()));
    ASSERT_TRUE(tricklers.back()->connected());
    ASSERT_TRUE(tricklers.back()->send_bytes(request));
    first_byte[i] = Clock::now();
  }
  // A header line a byte every 100 ms: each byte would reset a per-read timeout.
  const std::string trickle = "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  const auto give_up = Clock::now() + kHeaderTimeout + 10s;
  size_t at = 0, open = kTricklers;
  while (open > 0 && Clock::now() < give_up) {
    for (int i = 0; i < kTricklers; ++i) {
      if (closed_after[i]) continue;
      if (tricklers[i]->read_until_closed(0ms).closed ||
          !tricklers[i]->send_bytes(trickle.substr(at % trickle.size(), 1))) {
        closed_after[i] = Clock::now() - first_byte[i];
        --open;
      }
    }
    ++at;
    std::this_thread::sleep_for(100ms);
  }
  for (int i = 0; i < kTricklers; ++i) {
    ASSERT_TRUE(closed_after[i]) << "trickler " << i << " was never closed";
    // Closed at the timeout, not before it (plus the poll and a loaded machine's slack).
    EXPECT_GE(*closed_after[i], kHeaderTimeout - 100ms) << "trickler " << i;
    EXPECT_LE(*closed_after[i], kHeaderTimeout + 3s) << "trickler " << i;
  }
  EXPECT_FALSE(silent.read_until_closed(0ms).closed)
      << "a connection that sent nothing was closed by the header timeout";
  EXPECT_TRUE(wait_until([&] { return metric(dropped("header_timeout")) == kTricklers; }, 5s))
      << metric(dropped("header_timeout")).value_or(-1);
  EXPECT_EQ(metric(dropped("idle")), 0);
  EXPECT_TRUE(good_client_advances(before, 100));
  expect_good_client_got_every_delta();
}

TEST_F(EdgeAttacksTest, OversizedMessagesAndRequestsAreClosedAndCounted) {
  ASSERT_NO_FATAL_FAILURE(start_with_good_client(400, {"--max-message-bytes", "4096"}));
  const uint64_t before = good_->last_seq();

  // A WebSocket message past --max-message-bytes: closed 1009 (message too big).
  testing::StreamClient big(
      http(), R"({"op": "subscribe", "markets": "all", "x": ")" + std::string(8192, 'x') + "\"}");
  ASSERT_TRUE(wait_until([&] { return big.summary().closed.has_value(); }, 5s));
  EXPECT_EQ(big.summary().close_code, 1009);
  EXPECT_EQ(big.summary().images, 0u);

  // Headers past the 8 KiB limit: 431; a body past --max-message-bytes: 413. Both closed.
  {
    RawConnection huge_headers(http());
    ASSERT_TRUE(huge_headers.send_bytes(
        "GET /v1/markets HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(16384, 'h') + "\r\n\r\n"));
    const RawConnection::Received answer = huge_headers.read_until_closed(5s);
    EXPECT_EQ(answer.bytes.substr(0, 12), "HTTP/1.1 431") << answer.bytes.substr(0, 200);
    EXPECT_TRUE(answer.closed);
  }
  const auto body =
      http_request(http(), boost::beast::http::verb::post, "/v1/markets", std::string(10000, 'b'));
  EXPECT_EQ(body.first, 413u) << body.second;

  EXPECT_TRUE(wait_until([&] { return metric(dropped("oversize")) == 1; }, 5s));
  EXPECT_EQ(metric("oddsbus_edge_oversize_requests_total"), 2);
  EXPECT_TRUE(good_client_advances(before, 100));
  expect_good_client_got_every_delta();
}

TEST_F(EdgeAttacksTest, AWebSocketFloodIsClosedAndCountedWhileOthersAreServed) {
  ASSERT_NO_FATAL_FAILURE(start_with_good_client(400, {}));
  const uint64_t before = good_->last_seq();

  // Four times the default burst (500) back to back, without reading the answers: they fit in
  // the socket buffers, so the writes do not wait for the edge.
  boost::asio::io_context io;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> flood(io);
  flood.next_layer().connect(
      {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(http())});
  flood.handshake("127.0.0.1", "/v1/stream");
  boost::beast::error_code ec;
  const std::string ping = R"({"op": "ping"})";
  int sent = 0;
  for (; sent < 2000 && !ec; ++sent) flood.write(boost::asio::buffer(ping), ec);
  // Then it reads what it was sent: pongs, then the edge's close frame.
  boost::beast::flat_buffer buffer;
  int answers = 0;
  while (!ec) {
    flood.read(buffer, ec);
    answers += !ec;
    buffer.clear();
  }
  if (ec == boost::beast::websocket::error::closed) {
    EXPECT_EQ(flood.reason().code, 1008);
    EXPECT_NE(std::string(flood.reason().reason.c_str()).find("flood"), std::string::npos);
  }
  // The burst, what the rate refilled meanwhile, and the odd heartbeat: not 2000.
  EXPECT_LE(answers, 700) << "more answers than the message rate allows";

  EXPECT_TRUE(wait_until([&] { return metric(dropped("flood")) == 1; }, 5s))
      << metric(dropped("flood")).value_or(-1);
  EXPECT_EQ(http_get(http(), "/healthz").first, 200u);
  EXPECT_TRUE(good_client_advances(before, 100));
  expect_good_client_got_every_delta();
}

TEST_F(EdgeAttacksTest, AThousandIdleConnectionsAreHeldWithinTheLimits) {
  constexpr int kIdle = 1000;
  // The good client, the thousand, and one place for /metrics.
  ASSERT_NO_FATAL_FAILURE(
      start_with_good_client(400, {"--max-connections", std::to_string(kIdle + 2),
                                   "--connection-burst", "5000", "--max-connection-rate", "5000"}));
  const uint64_t before = good_->last_seq();

  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(std::make_unique<RawConnection>(http()));
    ASSERT_TRUE(idle.back()->connected()) << i;
  }
  EXPECT_TRUE(wait_until([&] { return metric("oddsbus_edge_connections") == kIdle + 2; }, 10s))
      << "the edge holds " << metric("oddsbus_edge_connections").value_or(-1);
  // Full but for the place the /metrics request just left (the edge frees it once it has seen
  // that connection close): at most one more is admitted, then the next is refused.
  std::vector<std::unique_ptr<RawConnection>> fillers;
  std::string refusal;
  while (refusal.empty() && fillers.size() <= 1) {
    auto extra = std::make_unique<RawConnection>(http());
    const RawConnection::Received answer = extra->read_until_closed(500ms);
    if (answer.closed) {
      refusal = answer.bytes;
    } else {
      fillers.push_back(std::move(extra));
    }
  }
  EXPECT_EQ(refusal.substr(0, 12), "HTTP/1.1 503") << refusal;
  EXPECT_LE(fillers.size(), 1u) << "more connections admitted than --max-connections";
  fillers.clear();
  int refused_open = 0;
  for (auto& c : idle) refused_open += c->read_until_closed(0ms).closed;
  EXPECT_EQ(refused_open, 0) << "admitted idle connections were closed";
  EXPECT_TRUE(good_client_advances(before, 100)) << "the good client stalled";

  idle.resize(kIdle / 2);
  EXPECT_TRUE(wait_until([&] { return metric("oddsbus_edge_connections") == kIdle / 2 + 2; }, 10s))
      << "closed connections did not free their places: "
      << metric("oddsbus_edge_connections").value_or(-1);
  EXPECT_GE(metric("oddsbus_edge_connections_refused_total{reason=\"max_connections\"}"), 1);
  idle.clear();
  expect_good_client_got_every_delta();
}

}  // namespace
}  // namespace oddsbus
