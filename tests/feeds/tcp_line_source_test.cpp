#include "feeds/tcp_line_source.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace oddsbus::feeds {
namespace {

using namespace std::chrono_literals;

constexpr auto kWaitLimit = 5s;  // generous: only a broken connector takes this long

// A loopback listening socket on a free port.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    socklen_t length = sizeof(address);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
  }
  ~Listener() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  uint16_t port() const { return port_; }

  // Accepts one connection, or returns -1 after kWaitLimit.
  int accept() {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(std::chrono::milliseconds(kWaitLimit).count())) != 1) {
      return -1;
    }
    return ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// What the connector reported, safe to wait on from the test thread.
struct Collector {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> lines;
  std::vector<bool> connections;

  static void on_line(void* ctx, std::string_view line) {
    auto* self = static_cast<Collector*>(ctx);
    std::lock_guard lock(self->mutex);
    self->lines.emplace_back(line);
    self->changed.notify_all();
  }
  static void on_connection(void* ctx, bool connected) {
    auto* self = static_cast<Collector*>(ctx);
    std::lock_guard lock(self->mutex);
    self->connections.push_back(connected);
    self->changed.notify_all();
  }
  bool wait_for_lines(size_t count) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, kWaitLimit, [&] { return lines.size() >= count; });
  }
  bool wait_for_connection_events(size_t count) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, kWaitLimit, [&] { return connections.size() >= count; });
  }
  std::vector<std::string> lines_so_far() {
    std::lock_guard lock(mutex);
    return lines;
  }
};

// Runs a TcpLineSource on its own thread; stops and joins it on destruction.
class Running {
 public:
  explicit Running(TcpLineSourceConfig config) : source_(std::move(config)) {
    std::promise<void> done;
    done_ = done.get_future();
    thread_ = std::thread([this, done = std::move(done)]() mutable {
      source_.run(stop_, &Collector::on_line, &Collector::on_connection, &collector_);
      done.set_value();
    });
  }
  ~Running() { stop(); }

  // Sets `stop` and returns how long run() took to return. A connector that ignores `stop` fails
  // the test loudly instead of hanging it.
  std::chrono::steady_clock::duration stop() {
    if (!thread_.joinable()) return {};
    const auto start = std::chrono::steady_clock::now();
    stop_.store(true);
    if (done_.wait_for(kWaitLimit) != std::future_status::ready) {
      std::fprintf(stderr, "TcpLineSource::run ignored stop for %lld s\n",
                   static_cast<long long>(std::chrono::seconds(kWaitLimit).count()));
      std::abort();
    }
    const auto took = std::chrono::steady_clock::now() - start;
    thread_.join();
    return took;
  }

  Collector& collector() { return collector_; }
  const TcpLineSourceCounters& counters() const { return source_.counters(); }

 private:
  TcpLineSource source_;
  Collector collector_;
  std::atomic<bool> stop_{false};
  std::future<void> done_;
  std::thread thread_;
};

TcpLineSourceConfig config_for(uint16_t port) {
  TcpLineSourceConfig config;
  config.endpoint = TcpEndpoint{"127.0.0.1", port};
  config.initial_backoff = 10ms;
  config.max_backoff = 100ms;
  config.poll_interval = 10ms;
  return config;
}

using Lines = std::vector<std::string>;

TEST(TcpLineSource, DeliversLinesInOrderWhetherEndedByCrlfOrLf) {
  Listener listener;
  Running running(config_for(listener.port()));
  const int connection = listener.accept();
  ASSERT_GE(connection, 0) << "the connector never connected";
  send_all(connection, "first\r\nsecond\nthird\r\n\n{\"type\":\"heartbeat\"}\n");
  ASSERT_TRUE(running.collector().wait_for_lines(4)) << "lines did not arrive";
  EXPECT_EQ(running.collector().lines_so_far(),
            (Lines{"first", "second", "third", R"({"type":"heartbeat"})"}));
  EXPECT_EQ(running.counters().lines.load(), 4u);
  EXPECT_EQ(running.counters().connects.load(), 1u);
  ::close(connection);
}

TEST(TcpLineSource, JoinsALineSplitAcrossWrites) {
  Listener listener;
  Running running(config_for(listener.port()));
  const int connection = listener.accept();
  ASSERT_GE(connection, 0) << "the connector never connected";
  send_all(connection, "{\"type\":\"pri");
  std::this_thread::sleep_for(20ms);  // let the first part arrive on its own
  send_all(connection, "ce\"}\r");
  std::this_thread::sleep_for(20ms);
  send_all(connection, "\nnext\n");
  ASSERT_TRUE(running.collector().wait_for_lines(2)) << "lines did not arrive";
  EXPECT_EQ(running.collector().lines_so_far(), (Lines{R"({"type":"price"})", "next"}));
  ::close(connection);
}

TEST(TcpLineSource, CountsAndSkipsATooLongLineWithoutLosingTheNext) {
  Listener listener;
  TcpLineSourceConfig config = config_for(listener.port());
  config.max_line = 16;
  Running running(config);
  const int connection = listener.accept();
  ASSERT_GE(connection, 0) << "the connector never connected";
  send_all(connection, "short\n" + std::string(200'000, 'x') + "\nafter\n");
  ASSERT_TRUE(running.collector().wait_for_lines(2)) << "lines did not arrive";
  EXPECT_EQ(running.collector().lines_so_far(), (Lines{"short", "after"}));
  EXPECT_EQ(running.counters().lines_too_long.load(), 1u);
  EXPECT_EQ(running.counters().lines.load(), 2u);
  ::close(connection);
}

TEST(TcpLineSource, ReconnectsAfterTheSourceClosesAndDeliversTheNewConnectionsLines) {
  Listener listener;
  Running running(config_for(listener.port()));
  const int first = listener.accept();
  ASSERT_GE(first, 0) << "the connector never connected";
  // The partial line at the close must not be glued to the next connection's first line.
  send_all(first, "one\npartial");
  ASSERT_TRUE(running.collector().wait_for_lines(1));
  ::close(first);

  const int second = listener.accept();
  ASSERT_GE(second, 0) << "the connector did not reconnect";
  send_all(second, "two\n");
  ASSERT_TRUE(running.collector().wait_for_lines(2)) << "second connection's line did not arrive";
  EXPECT_EQ(running.collector().lines_so_far(), (Lines{"one", "two"}));
  ASSERT_TRUE(running.collector().wait_for_connection_events(3));
  {
    std::lock_guard lock(running.collector().mutex);
    EXPECT_EQ(running.collector().connections, (std::vector<bool>{true, false, true}));
  }
  EXPECT_EQ(running.counters().connects.load(), 2u);
  EXPECT_EQ(running.counters().disconnects.load(), 1u);
  ::close(second);
}

TEST(TcpLineSource, KeepsRetryingAndHonoursStopPromptlyWhenNothingListens) {
  uint16_t port = 0;
  {
    Listener listener;  // find a free port, then leave it with nobody listening
    port = listener.port();
  }
  TcpLineSourceConfig config = config_for(port);
  config.max_backoff = 10s;  // a long backoff must not delay stop
  config.poll_interval = 20ms;
  Running running(config);
  const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  while (running.counters().connect_failures.load() < 3) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "connector did not retry";
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_LT(running.stop(), 1s);
  EXPECT_EQ(running.counters().connects.load(), 0u);
  EXPECT_TRUE(running.collector().connections.empty());
}

TEST(TcpLineSource, HonoursStopWhileConnectedAndIdle) {
  Listener listener;
  Running running(config_for(listener.port()));
  const int connection = listener.accept();
  ASSERT_GE(connection, 0) << "the connector never connected";
  ASSERT_TRUE(running.collector().wait_for_connection_events(1));
  EXPECT_LT(running.stop(), 1s);
  EXPECT_EQ(running.collector().connections, (std::vector<bool>{true, false}));
  ::close(connection);
}

TEST(ParseTcpUrl, AcceptsHostAndPort) {
  auto endpoint = parse_tcp_url("tcp://127.0.0.1:7001");
  ASSERT_TRUE(endpoint.has_value()) << endpoint.error();
  EXPECT_EQ(endpoint->host, "127.0.0.1");
  EXPECT_EQ(endpoint->port, 7001);
  endpoint = parse_tcp_url("tcp://feeds.example.com:65535");
  ASSERT_TRUE(endpoint.has_value()) << endpoint.error();
  EXPECT_EQ(endpoint->host, "feeds.example.com");
  EXPECT_EQ(endpoint->port, 65535);
}

TEST(ParseTcpUrl, SaysWhatIsWrong) {
  struct Case {
    std::string_view url;
    std::string_view says;
  };
  const Case cases[] = {
      {"127.0.0.1:7001", "missing scheme"},
      {"udp://127.0.0.1:7001", "unsupported scheme"},
      {"tcp://127.0.0.1", "missing port"},
      {"tcp://127.0.0.1:", "missing port"},
      {"tcp://:7001", "missing host"},
      {"tcp://127.0.0.1:0", "port out of range"},
      {"tcp://host:65536", "port out of range"},
      {"tcp://host:99999999999999999999999", "port out of range"},
      {"tcp://host:7x", "not a number"},
      {"tcp://host:-1", "not a number"},
      {"tcp://[::1]:7001", "bad host"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.url));
    auto endpoint = parse_tcp_url(c.url);
    ASSERT_FALSE(endpoint.has_value());
    EXPECT_NE(endpoint.error().find(c.says), std::string::npos) << endpoint.error();
    EXPECT_NE(endpoint.error().find(c.url), std::string::npos) << endpoint.error();
  }
}

}  // namespace
}  // namespace oddsbus::feeds
