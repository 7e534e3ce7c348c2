// The TCP fault proxy (tools/faultproxy) with real sockets on loopback: a target the test listens
// on, a client the test connects, the proxy between them.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <zmq.hpp>

#include <gtest/gtest.h>

#include "tests/integration/loopback.h"
#include "tools/faultproxy/control_line.h"
#include "tools/faultproxy/fault_proxy.h"

namespace oddsbus::faultproxy {
namespace {

using namespace std::chrono_literals;
using testing::accept_within;
using testing::listen_loopback;
using testing::send_all;

int connect_to(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads until `n` bytes came, the peer closed, an error, or `timeout` passed.
std::string read_bytes(int fd, size_t n, std::chrono::milliseconds timeout) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[65536];
  while (out.size() < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) != 1) break;
    const ssize_t got = ::recv(fd, buffer, std::min(sizeof buffer, n - out.size()), 0);
    if (got <= 0) break;
    out.append(buffer, static_cast<size_t>(got));
  }
  return out;
}

// What recv says once the peer is gone: 0 (FIN), or -1 with ECONNRESET (RST). Waits up to 5 s.
int wait_closed(int fd, int& error) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) return 1;
  char c;
  const ssize_t got = ::recv(fd, &c, 1, 0);
  error = got < 0 ? errno : 0;
  return static_cast<int>(got);
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// A target listening on loopback, a proxy in front of it, and a client connected through it.
class FaultProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    listener_ = listen_loopback(target_port_);
    ASSERT_GE(listener_, 0);
    auto proxy = FaultProxy::start({"127.0.0.1", 0}, {"127.0.0.1", target_port_});
    ASSERT_TRUE(proxy) << proxy.error();
    proxy_ = std::move(*proxy);
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    ::close(listener_);
  }
  // Connects a client through the proxy and accepts it at the target: {client, target side}.
  std::pair<int, int> connect_pair() {
    const int client = connect_to(proxy_->port());
    const int server = accept_within(listener_, 5000ms);
    fds_.push_back(client);
    fds_.push_back(server);
    return {client, server};
  }

  int listener_ = -1;
  uint16_t target_port_ = 0;
  std::unique_ptr<FaultProxy> proxy_;
  std::vector<int> fds_;
};

TEST_F(FaultProxyTest, BytesPassUnchangedBothWays) {
  auto [client, server] = connect_pair();
  ASSERT_GE(client, 0);
  ASSERT_GE(server, 0);
  const std::string up = random_bytes(3 << 20, 1), down = random_bytes(1 << 20, 2);
  std::thread writer([&] { send_all(client, up); });
  EXPECT_TRUE(read_bytes(server, up.size(), 20s) == up);
  writer.join();
  send_all(server, down);
  EXPECT_TRUE(read_bytes(client, down.size(), 20s) == down);
  const ProxyStats stats = proxy_->stats();
  EXPECT_EQ(stats.bytes_to_target, up.size());
  EXPECT_EQ(stats.bytes_to_client, down.size());
  EXPECT_EQ(stats.connections, 1u);
  EXPECT_EQ(stats.open_connections, 1u);
}

TEST_F(FaultProxyTest, ACloseAfterSendingDeliversEverythingThenTheClose) {
  auto [client, server] = connect_pair();
  const std::string bytes = random_bytes(200000, 3);
  send_all(client, bytes);
  ::shutdown(client, SHUT_WR);
  EXPECT_TRUE(read_bytes(server, bytes.size() + 1, 10s) == bytes);  // then EOF
}

TEST_F(FaultProxyTest, DelayHoldsEveryChunkAtLeastThatLongInOrder) {
  auto [client, server] = connect_pair();
  proxy_->delay(400ms);
  const auto sent = std::chrono::steady_clock::now();
  send_all(client, "a");
  std::this_thread::sleep_for(50ms);
  send_all(client, "bc");
  EXPECT_EQ(read_bytes(server, 3, 10s), "abc");
  EXPECT_GE(std::chrono::steady_clock::now() - sent, 400ms);
  EXPECT_EQ(proxy_->stats().delay_ms, 400u);
  proxy_->delay(0ms);
  send_all(server, "back");
  EXPECT_EQ(read_bytes(client, 4, 10s), "back");
}

TEST_F(FaultProxyTest, StallHoldsBytesAndHealReleasesThemOnTheSameConnection) {
  auto [client, server] = connect_pair();
  proxy_->stall();
  const std::string bytes = random_bytes(100000, 4);
  send_all(client, bytes);
  send_all(server, "pong");
  EXPECT_EQ(read_bytes(server, 1, 500ms), "");
  EXPECT_EQ(read_bytes(client, 1, 100ms), "");
  EXPECT_EQ(proxy_->stats().fault, FaultKind::kStall);
  proxy_->heal();
  const std::string released = read_bytes(server, bytes.size(), 10s);
  EXPECT_TRUE(released == bytes) << released.size() << " of " << bytes.size() << " bytes; "
                                 << format_stats(proxy_->stats());
  EXPECT_EQ(read_bytes(client, 4, 10s), "pong");
  EXPECT_EQ(proxy_->stats().resets, 0u);
}

TEST_F(FaultProxyTest, ResetClosesBothSidesAndNewConnectionsStillPass) {
  auto [client, server] = connect_pair();
  send_all(client, "x");
  ASSERT_EQ(read_bytes(server, 1, 5s), "x");
  proxy_->reset();
  int error = 0;
  EXPECT_LE(wait_closed(client, error), 0);
  EXPECT_EQ(error, ECONNRESET);
  EXPECT_LE(wait_closed(server, error), 0);
  EXPECT_EQ(error, ECONNRESET);
  EXPECT_EQ(proxy_->stats().resets, 1u);
  auto [client2, server2] = connect_pair();
  send_all(client2, "again");
  EXPECT_EQ(read_bytes(server2, 5, 5s), "again");
}

TEST_F(FaultProxyTest, BlackHoleDropsEverythingAndHealResetsTheStreamsThatLostBytes) {
  auto [client, server] = connect_pair();
  auto [quiet_client, quiet_server] = connect_pair();
  proxy_->black_hole();
  send_all(client, random_bytes(50000, 5));
  EXPECT_EQ(read_bytes(server, 1, 500ms), "");
  // A new connection is accepted but never reaches the target.
  const int newcomer = connect_to(proxy_->port());
  ASSERT_GE(newcomer, 0);
  fds_.push_back(newcomer);
  EXPECT_EQ(accept_within(listener_, 300ms), -1);
  EXPECT_TRUE(testing::wait_until([&] { return proxy_->stats().bytes_dropped == 50000; }, 5000ms));
  proxy_->heal();
  int error = 0;
  EXPECT_LE(wait_closed(client, error), 0);
  EXPECT_LE(wait_closed(newcomer, error), 0);
  // The connection that said nothing in the hole goes on.
  send_all(quiet_client, "still here");
  EXPECT_EQ(read_bytes(quiet_server, 10, 5s), "still here");
}

TEST_F(FaultProxyTest, AClientOfAnUnreachableTargetIsReset) {
  ::close(listener_);
  listener_ = listen_loopback(target_port_);  // a fresh port; the proxy's target is now closed
  const int client = connect_to(proxy_->port());
  fds_.push_back(client);
  int error = 0;
  EXPECT_LE(wait_closed(client, error), 0);
  EXPECT_EQ(proxy_->stats().failed_connects, 1u);
}

TEST_F(FaultProxyTest, ControlPortSpeaksTheLineProtocol) {
  auto control_port = proxy_->serve_control({"127.0.0.1", 0});
  ASSERT_TRUE(control_port) << control_port.error();
  auto [client, server] = connect_pair();
  const int control = connect_to(*control_port);
  ASSERT_GE(control, 0);
  fds_.push_back(control);
  auto ask = [&](const std::string& line) {
    send_all(control, line + "\n");
    std::string reply;
    while (reply.empty() || reply.back() != '\n') {
      const std::string got = read_bytes(control, 1, 5s);
      if (got.empty()) break;
      reply += got;
    }
    return reply;
  };
  EXPECT_EQ(ask("stall"), "ok stall\n");
  send_all(client, "held");
  EXPECT_EQ(read_bytes(server, 1, 300ms), "");
  EXPECT_EQ(ask("heal\r"), "ok heal\n");
  EXPECT_EQ(read_bytes(server, 4, 5s), "held");
  EXPECT_EQ(ask("delay 20"), "ok delay 20\n");
  EXPECT_EQ(ask("frobnicate").rfind("error unknown command 'frobnicate'", 0), 0u);
  EXPECT_EQ(ask("stats").rfind("ok connections=1 open=1 to_target=4 to_client=0", 0), 0u);
  EXPECT_EQ(ask("reset"), "ok reset 1\n");
}

TEST(FaultProxy, RefusesAnythingButLoopback) {
  auto listen = FaultProxy::start({"0.0.0.0", 0}, {"127.0.0.1", 1});
  ASSERT_FALSE(listen);
  EXPECT_NE(listen.error().find("not a loopback address"), std::string::npos);
  EXPECT_FALSE(FaultProxy::start({"127.0.0.1", 0}, {"10.0.0.1", 80}));
  EXPECT_TRUE(is_loopback("127.0.0.2"));
  EXPECT_TRUE(is_loopback("::1"));
  EXPECT_FALSE(is_loopback("example.com"));
}

TEST(ControlLine, ParsesCommandsAndRejectsTheRest) {
  auto delay = parse_control_line(" delay 250 \r");
  ASSERT_TRUE(delay);
  EXPECT_EQ(delay->op, ControlOp::kDelay);
  EXPECT_EQ(delay->delay_ms, 250u);
  EXPECT_EQ(parse_control_line("black-hole")->op, ControlOp::kBlackHole);
  EXPECT_EQ(parse_control_line("blackhole")->op, ControlOp::kBlackHole);
  EXPECT_FALSE(parse_control_line("delay"));
  EXPECT_FALSE(parse_control_line("delay -5"));
  EXPECT_FALSE(parse_control_line("delay 5ms"));
  EXPECT_FALSE(parse_control_line("stall now"));
  EXPECT_FALSE(parse_control_line(""));
  auto endpoint = parse_endpoint("[::1]:8080");
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->host, "::1");
  EXPECT_EQ(endpoint->port, 8080);
  EXPECT_FALSE(parse_endpoint("127.0.0.1"));
  EXPECT_FALSE(parse_endpoint("127.0.0.1:70000"));
}

// ZeroMQ over tcp:// through the proxy: PUB binds the target, SUB connects to the proxy. After a
// reset ZeroMQ reconnects by itself and messages pass again.
TEST(FaultProxyZeroMq, PubSubPassesThroughAndRecoversFromAReset) {
  zmq::context_t context;
  zmq::socket_t pub(context, zmq::socket_type::pub);
  pub.set(zmq::sockopt::linger, 0);
  pub.bind("tcp://127.0.0.1:*");
  const std::string bound = pub.get(zmq::sockopt::last_endpoint);
  const uint16_t pub_port = static_cast<uint16_t>(std::stoi(bound.substr(bound.rfind(':') + 1)));
  auto proxy = FaultProxy::start({"127.0.0.1", 0}, {"127.0.0.1", pub_port});
  ASSERT_TRUE(proxy) << proxy.error();
  zmq::socket_t sub(context, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::subscribe, "");
  sub.set(zmq::sockopt::rcvtimeo, 100);
  sub.set(zmq::sockopt::reconnect_ivl, 50);
  sub.connect("tcp://127.0.0.1:" + std::to_string((*proxy)->port()));

  // Publishes numbered messages until the subscriber has seen `want` of them in a row; a slow
  // joiner misses the first ones, which is PUB/SUB's nature, not the proxy's.
  auto stream = [&](int want) {
    int in_a_row = 0, last = -1;
    for (int i = 0; i < 2000 && in_a_row < want; ++i) {
      const std::string text = "m" + std::to_string(i) + std::string(500, 'x');
      pub.send(zmq::buffer(text), zmq::send_flags::none);
      zmq::message_t message;
      while (sub.recv(message, zmq::recv_flags::dontwait)) {
        const std::string got = message.to_string();
        EXPECT_EQ(got.substr(got.find('x')), std::string(500, 'x'));
        const int n = std::stoi(got.substr(1));
        in_a_row = (last >= 0 && n == last + 1) ? in_a_row + 1 : 1;
        last = n;
      }
      std::this_thread::sleep_for(5ms);
    }
    return in_a_row;
  };
  EXPECT_GE(stream(50), 50);
  (*proxy)->reset();
  EXPECT_GE(stream(50), 50);
  EXPECT_GE((*proxy)->stats().connections, 2u);
}

}  // namespace
}  // namespace oddsbus::faultproxy
