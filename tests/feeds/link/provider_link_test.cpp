#include "feeds/link/provider_link.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace oddsbus::feeds::link {
namespace {

using namespace std::chrono_literals;

constexpr auto kWaitLimit = 5s;  // generous: only a broken link takes this long

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
    EXPECT_EQ(::listen(fd_, 8), 0);
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
  TcpEndpoint endpoint() const { return TcpEndpoint{"127.0.0.1", port_}; }

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

// The provider's end of one line.
class Peer {
 public:
  explicit Peer(int fd) : fd_(fd) { EXPECT_GE(fd_, 0); }
  ~Peer() { close(); }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      ASSERT_GT(n, 0);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Waits for `done`, checking every millisecond; false after kWaitLimit.
bool eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// What the link reported, safe to read from the test thread.
struct Recorder {
  std::mutex mutex;
  std::vector<std::string> messages;
  std::vector<size_t> message_lines;
  std::vector<bool> health;
  std::vector<std::pair<size_t, bool>> line_states;
  int lines_up = 0;
  bool health_consistent = true;  // on_health(up) came exactly when the count of lines up said so

  static void on_message(void* ctx, size_t line, std::string_view message) {
    auto* self = static_cast<Recorder*>(ctx);
    std::lock_guard lock(self->mutex);
    self->messages.emplace_back(message);
    self->message_lines.push_back(line);
  }
  static void on_health(void* ctx, bool up) {
    auto* self = static_cast<Recorder*>(ctx);
    std::lock_guard lock(self->mutex);
    self->health.push_back(up);
    if (self->lines_up != (up ? 1 : 0)) self->health_consistent = false;
  }
  static void on_line_state(void* ctx, size_t line, bool connected) {
    auto* self = static_cast<Recorder*>(ctx);
    std::lock_guard lock(self->mutex);
    self->line_states.emplace_back(line, connected);
    self->lines_up += connected ? 1 : -1;
  }

  size_t message_count() {
    std::lock_guard lock(mutex);
    return messages.size();
  }
  std::vector<std::string> messages_so_far() {
    std::lock_guard lock(mutex);
    return messages;
  }
  std::vector<bool> health_so_far() {
    std::lock_guard lock(mutex);
    return health;
  }
  bool line_went(size_t line, bool connected, size_t times = 1) {
    std::lock_guard lock(mutex);
    return static_cast<size_t>(std::count(line_states.begin(), line_states.end(),
                                          std::pair{line, connected})) >= times;
  }
};

// Runs a ProviderLink on its own thread; stops and joins it on destruction.
class Running {
 public:
  explicit Running(ProviderLinkConfig config) : link_(std::move(config)) {
    callbacks_.on_message = &Recorder::on_message;
    callbacks_.on_health = &Recorder::on_health;
    callbacks_.on_line_state = &Recorder::on_line_state;
    callbacks_.ctx = &recorder_;
    std::promise<void> done;
    done_ = done.get_future();
    thread_ = std::thread([this, done = std::move(done)]() mutable {
      link_.run(stop_, callbacks_);
      done.set_value();
    });
  }
  ~Running() { stop(); }

  // Sets `stop` and returns how long run() took to return. A link that ignores `stop` fails the
  // test loudly instead of hanging it.
  std::chrono::steady_clock::duration stop() {
    if (!thread_.joinable()) return {};
    const auto start = std::chrono::steady_clock::now();
    stop_.store(true);
    if (done_.wait_for(kWaitLimit) != std::future_status::ready) {
      std::fprintf(stderr, "ProviderLink::run ignored stop\n");
      std::abort();
    }
    const auto took = std::chrono::steady_clock::now() - start;
    thread_.join();
    return took;
  }

  Recorder& recorder() { return recorder_; }
  const ProviderLink& link() const { return link_; }
  const LineCounters& line(size_t index) const { return link_.line_counters(index); }

 private:
  ProviderLink link_;
  Recorder recorder_;
  ProviderLink::Callbacks callbacks_;
  std::atomic<bool> stop_{false};
  std::future<void> done_;
  std::thread thread_;
};

ProviderLinkConfig config_for(std::vector<TcpEndpoint> lines, std::string format = "oddsjson") {
  ProviderLinkConfig config;
  config.feed = "test";
  config.format = std::move(format);
  config.lines = std::move(lines);
  config.max_line = 1024;
  config.initial_backoff = 5ms;
  config.max_backoff = 20ms;
  config.poll_interval = 10ms;
  config.connect_timeout = 1s;
  config.breaker.failure_threshold = 0;  // the breaker is tested on its own; keep retries quick
  config.breaker.disconnect_threshold = 0;
  return config;
}

std::string message(int i) {
  return R"({"type":"heartbeat","provider":"p","pseq":)" + std::to_string(i) + "}";
}

// Messages first..last (inclusive), one per line.
std::string stream(int first, int last) {
  std::string out;
  for (int i = first; i <= last; ++i) out += message(i) + "\n";
  return out;
}

std::vector<std::string> expected(int first, int last) {
  std::vector<std::string> out;
  for (int i = first; i <= last; ++i) out.push_back(message(i));
  return out;
}

TEST(ProviderLink, DeliversEachMessageOnceInOrderOfFirstArrival) {
  Listener a, b;
  Running running(config_for({a.endpoint(), b.endpoint()}));
  Peer peer_a(a.accept()), peer_b(b.accept());
  ASSERT_TRUE(eventually([&] { return running.link().counters().lines_connected.load() == 2; }));

  peer_b.send(stream(0, 49));  // line B is ahead for the first half
  ASSERT_TRUE(eventually([&] { return running.recorder().message_count() >= 50; }));
  peer_a.send(stream(0, 99));  // then line A
  ASSERT_TRUE(eventually([&] { return running.recorder().message_count() >= 100; }));
  peer_b.send(stream(50, 99));
  ASSERT_TRUE(eventually([&] { return running.link().counters().duplicates.load() >= 100; }));

  EXPECT_EQ(running.recorder().messages_so_far(), expected(0, 99));
  {
    Recorder& recorder = running.recorder();
    std::lock_guard lock(recorder.mutex);
    for (size_t i = 0; i < 100; ++i) EXPECT_EQ(recorder.message_lines[i], i < 50 ? 1u : 0u) << i;
  }
  EXPECT_EQ(running.line(0).messages.load(), 50u);
  EXPECT_EQ(running.line(0).duplicates.load(), 50u);
  EXPECT_EQ(running.line(1).messages.load(), 50u);
  EXPECT_EQ(running.line(1).duplicates.load(), 50u);
  EXPECT_EQ(running.link().counters().messages.load(), 100u);
  EXPECT_EQ(running.link().counters().duplicates.load(), 100u);
  EXPECT_EQ(running.recorder().health_so_far(), std::vector<bool>{true});
}

TEST(ProviderLink, DeliversTheUnionWhenEachLineMissesSomeMessages) {
  // betfair-stream: keyed by the bytes (each message has its own pt).
  Listener a, b;
  Running running(config_for({a.endpoint(), b.endpoint()}, "betfair-stream"));
  Peer peer_a(a.accept()), peer_b(b.accept());
  constexpr int kCount = 300;
  auto mcm = [](int i) {
    return R"({"op":"mcm","clk":"x","pt":)" + std::to_string(1000 + i) + "}";
  };
  std::string on_a, on_b;
  for (int i = 0; i < kCount; ++i) {
    if (i % 3 != 0) on_a += mcm(i) + "\r\n";  // A misses 0, 3, 6, ...
    if (i % 3 != 1) on_b += mcm(i) + "\r\n";  // B misses 1, 4, 7, ...
  }
  peer_a.send(on_a);
  peer_b.send(on_b);
  ASSERT_TRUE(eventually([&] {
    return running.recorder().message_count() >= kCount &&
           running.link().counters().duplicates.load() >= kCount / 3;
  }));

  const std::vector<std::string> delivered = running.recorder().messages_so_far();
  EXPECT_EQ(delivered.size(), static_cast<size_t>(kCount));
  std::set<std::string> unique(delivered.begin(), delivered.end());
  EXPECT_EQ(unique.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(unique.count(mcm(i)), 1u) << i;
  EXPECT_EQ(running.link().counters().duplicates.load(), static_cast<uint64_t>(kCount / 3));
}

TEST(ProviderLink, LosingALineLosesNothingAndItsReconnectedCopiesAreDuplicates) {
  Listener a, b;
  Running running(config_for({a.endpoint(), b.endpoint()}));
  auto peer_a = std::make_unique<Peer>(a.accept());
  Peer peer_b(b.accept());
  peer_a->send(stream(0, 9));
  ASSERT_TRUE(eventually([&] { return running.recorder().message_count() >= 10; }));
  peer_b.send(stream(0, 9));
  ASSERT_TRUE(eventually([&] { return running.link().counters().duplicates.load() >= 10; }));

  peer_a->close();  // line A drops mid-stream
  ASSERT_TRUE(eventually([&] { return running.recorder().line_went(0, false); }));
  peer_b.send(stream(10, 19));
  ASSERT_TRUE(eventually([&] { return running.recorder().message_count() >= 20; }));

  peer_a = std::make_unique<Peer>(a.accept());  // line A is back, after its backoff
  ASSERT_TRUE(eventually([&] { return running.line(0).connects.load() == 2; }));
  peer_a->send(stream(10, 29));  // 10..19 were delivered by B; 20..29 are new
  ASSERT_TRUE(eventually([&] { return running.recorder().message_count() >= 30; }));
  peer_b.send(stream(20, 29));
  ASSERT_TRUE(eventually([&] { return running.link().counters().duplicates.load() >= 30; }));

  EXPECT_EQ(running.recorder().messages_so_far(), expected(0, 29));
  EXPECT_EQ(running.line(0).duplicates.load(), 10u);  // 10..19, after reconnecting
  EXPECT_EQ(running.line(1).duplicates.load(), 20u);  // 0..9 and 20..29
  EXPECT_EQ(running.line(0).disconnects.load(), 1u);
  EXPECT_EQ(running.recorder().health_so_far(), std::vector<bool>{true});  // B never went
}

TEST(ProviderLink, HealthGoesDownOnlyWhenEveryLineIsDown) {
  Listener a, b;
  Running running(config_for({a.endpoint(), b.endpoint()}));
  Peer peer_a(a.accept());
  auto peer_b = std::make_unique<Peer>(b.accept());
  ASSERT_TRUE(eventually([&] { return running.link().counters().lines_connected.load() == 2; }));
  EXPECT_EQ(running.recorder().health_so_far(), std::vector<bool>{true});

  a.close();  // line A cannot come back
  peer_a.close();
  ASSERT_TRUE(eventually([&] { return running.recorder().line_went(0, false); }));
  ASSERT_TRUE(eventually([&] { return running.line(0).connect_failures.load() >= 1; }));
  EXPECT_EQ(running.recorder().health_so_far(), std::vector<bool>{true});  // B is still up

  peer_b->close();  // now both are down; B's listener takes it back
  ASSERT_TRUE(eventually([&] { return running.recorder().health_so_far().size() >= 3; }));
  EXPECT_EQ(running.recorder().health_so_far(), (std::vector<bool>{true, false, true}));
  peer_b = std::make_unique<Peer>(b.accept());
  peer_b->send(stream(0, 0));
  ASSERT_TRUE(eventually([&] { return running.recorder().message_count() >= 1; }));
  EXPECT_EQ(running.line(1).connects.load(), 2u);

  running.stop();  // closing the last line reports the provider down
  EXPECT_EQ(running.recorder().health_so_far(), (std::vector<bool>{true, false, true, false}));
  std::lock_guard lock(running.recorder().mutex);
  EXPECT_TRUE(running.recorder().health_consistent);
}

TEST(ProviderLink, StopsPromptlyWhileEveryPeerIsUnreachable) {
  uint16_t refused_port = 0;
  {
    Listener closed;  // a port nothing listens on any more: connects are refused
    refused_port = closed.port();
  }
  ProviderLinkConfig config =
      config_for({TcpEndpoint{"127.0.0.1", refused_port}, TcpEndpoint{"192.0.2.1", 9}});
  // Long backoff, a long connect timeout and a breaker that opens at once for a minute: the link
  // must still notice stop within poll_interval, whether in backoff, breaker-open or connecting
  // (192.0.2.1 is TEST-NET-1: either unreachable at once or black-holed).
  config.initial_backoff = 10s;
  config.max_backoff = 60s;
  config.connect_timeout = 60s;
  config.poll_interval = 20ms;
  config.breaker.failure_threshold = 1;
  config.breaker.open_for = 60s;
  config.breaker.max_open_for = 60s;
  Running running(config);
  ASSERT_TRUE(eventually([&] { return running.line(0).connect_failures.load() >= 1; }));
  EXPECT_EQ(running.line(0).breaker_trips.load(), 1u);
  const auto took = running.stop();
  EXPECT_LT(took, 2s);
  EXPECT_EQ(running.link().counters().connects.load(), 0u);
  EXPECT_TRUE(running.recorder().health_so_far().empty());
}

TEST(ProviderLink, AGarbageLineDoesNotStopTheOtherLine) {
  Listener a, b;
  Running running(config_for({a.endpoint(), b.endpoint()}));
  Peer peer_a(a.accept()), peer_b(b.accept());
  std::string garbage(5000, 'x');  // longer than max_line, no terminator yet
  garbage += "\n\x01\x02\xff\xfe{\"pseq\":\n";
  garbage += std::string("\0\0\0binary\r\n", 12);
  garbage += std::string(3000, '\xff');  // too long again, and never terminated
  peer_a.send(garbage);
  peer_b.send(stream(0, 49));
  ASSERT_TRUE(eventually([&] {
    const auto messages = running.recorder().messages_so_far();
    return std::count_if(messages.begin(), messages.end(),
                         [](const std::string& m) { return m.starts_with("{\"type\""); }) >= 50;
  }));
  peer_a.close();  // and then it hangs up
  ASSERT_TRUE(eventually([&] { return running.recorder().line_went(0, false); }));
  peer_b.send(stream(50, 59));
  ASSERT_TRUE(eventually([&] { return running.line(1).messages.load() >= 60; }));

  std::vector<std::string> real;
  for (const std::string& m : running.recorder().messages_so_far()) {
    if (m.starts_with("{\"type\"")) real.push_back(m);
  }
  EXPECT_EQ(real, expected(0, 59));
  EXPECT_GE(running.line(0).lines_too_long.load(), 1u);
  EXPECT_TRUE(running.line(1).connected.load());
  EXPECT_EQ(running.line(1).disconnects.load(), 0u);
}

TEST(ProviderLink, APeerThatKeepsDroppingTheLineTripsItsBreaker) {
  Listener a, b;
  ProviderLinkConfig config = config_for({a.endpoint(), b.endpoint()});
  config.breaker.disconnect_threshold = 2;
  config.breaker.disconnect_window = 10s;
  config.breaker.open_for = 200ms;
  config.breaker.max_open_for = 1s;
  Running running(config);
  Peer peer_b(b.accept());
  const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  while (running.line(0).breaker_trips.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    Peer dropped(a.accept());  // accept and hang up at once
  }
  EXPECT_GE(running.line(0).breaker_trips.load(), 1u);
  EXPECT_EQ(running.link().counters().breaker_trips.load(), running.line(0).breaker_trips.load());
  peer_b.send(stream(0, 4));
  ASSERT_TRUE(eventually([&] { return running.recorder().message_count() >= 5; }));
  EXPECT_EQ(running.line(1).disconnects.load(), 0u);
  EXPECT_EQ(running.line(1).breaker_trips.load(), 0u);
}

// Redundancy by occurrence (DESIGN section 3): messages without pseq are keyed by their bytes, and
// a provider may send the same bytes again (suspend, open, suspend).
const std::string kSuspend = R"({"type":"status","market":1,"status":"suspended"})";
const std::string kOpen = R"({"type":"status","market":1,"status":"open"})";

std::string price(int i) {
  return R"({"type":"price","market":1,"selection":1,"odds":")" + std::to_string(2 + i) + "\"}";
}

std::string lines_of(const std::vector<std::string>& messages) {
  std::string out;
  for (const std::string& m : messages) out += m + "\n";
  return out;
}

// Arrivals the link has handled on all lines, delivered or dropped.
uint64_t handled(const Running& running) {
  return running.link().counters().messages.load() + running.link().counters().duplicates.load();
}

TEST(ProviderLink, OneLineDeliversEveryRepeat) {
  Listener a;
  Running running(config_for({a.endpoint()}));
  Peer peer(a.accept());
  const std::vector<std::string> sent{kSuspend, kOpen, kSuspend, price(0), kSuspend};
  peer.send(lines_of(sent));
  ASSERT_TRUE(eventually([&] { return handled(running) >= sent.size(); }));
  EXPECT_EQ(running.recorder().messages_so_far(), sent);
  EXPECT_EQ(running.link().counters().duplicates.load(), 0u);
}

TEST(ProviderLink, TwoSkewedLinesDeliverEachOccurrenceOfARepeatOnce) {
  Listener a, b;
  Running running(config_for({a.endpoint(), b.endpoint()}));
  Peer peer_a(a.accept()), peer_b(b.accept());
  const std::vector<std::string> provider{kSuspend, kOpen, kSuspend, price(0)};
  peer_b.send(lines_of({kSuspend, kOpen}));  // B is ahead for the first two
  ASSERT_TRUE(eventually([&] { return handled(running) >= 2; }));
  peer_a.send(lines_of(provider));  // A overtakes
  ASSERT_TRUE(eventually([&] { return handled(running) >= 6; }));
  peer_b.send(lines_of({kSuspend, price(0)}));
  ASSERT_TRUE(eventually([&] { return handled(running) >= 8; }));

  EXPECT_EQ(running.recorder().messages_so_far(), provider);
  {
    Recorder& recorder = running.recorder();
    std::lock_guard lock(recorder.mutex);
    EXPECT_EQ(recorder.message_lines, (std::vector<size_t>{1, 1, 0, 0}));
  }
  EXPECT_EQ(running.line(0).duplicates.load(), 2u);
  EXPECT_EQ(running.line(1).duplicates.load(), 2u);
}

TEST(ProviderLink, ALineThatLostMessagesCarriesOnAloneWithoutLosingRepeats) {
  Listener a, b;
  ProviderLinkConfig config = config_for({a.endpoint(), b.endpoint()});
  config.dedup.window = 9;  // skew allowance (9 - 1) / 2 = 4 messages
  Running running(config);
  auto peer_a = std::make_unique<Peer>(a.accept());
  Peer peer_b(b.accept());
  peer_a->send(lines_of({kSuspend, kOpen, kSuspend, price(0), kSuspend}));
  ASSERT_TRUE(eventually([&] { return handled(running) >= 5; }));
  peer_b.send(lines_of({kOpen, price(0), kSuspend}));  // B lost the first two suspends
  ASSERT_TRUE(eventually([&] { return handled(running) >= 8; }));
  EXPECT_EQ(running.line(1).duplicates.load(), 3u);  // B's suspend is A's first one

  a.close();  // line A is gone for good; B carries on
  peer_a->close();
  ASSERT_TRUE(eventually([&] { return running.recorder().line_went(0, false); }));
  // More than the skew allowance since the last suspend was delivered: B's two missing suspends
  // were lost, not late, so its next suspends are new.
  std::vector<std::string> later;
  for (int i = 1; i <= 5; ++i) later.push_back(price(i));
  later.push_back(kSuspend);
  later.push_back(kOpen);
  later.push_back(kSuspend);
  peer_b.send(lines_of(later));
  ASSERT_TRUE(eventually([&] { return handled(running) >= 8 + later.size(); }));

  std::vector<std::string> provider{kSuspend, kOpen, kSuspend, price(0), kSuspend};
  provider.insert(provider.end(), later.begin(), later.end());
  // B's open here is the provider's second open: B owed none, so it is new at once.
  EXPECT_EQ(running.recorder().messages_so_far(), provider);
  EXPECT_EQ(running.link().counters().lost_copies.load(), 2u);
  EXPECT_EQ(running.link().counters().dedup_evictions.load(), 0u);
}

TEST(ProviderLink, ALineThatReconnectsAndCatchesUpHasItsCopiesDroppedOncePerOccurrence) {
  Listener a, b;
  Running running(config_for({a.endpoint(), b.endpoint()}));
  auto peer_a = std::make_unique<Peer>(a.accept());
  Peer peer_b(b.accept());
  peer_a->send(lines_of({kSuspend, kOpen}));
  ASSERT_TRUE(eventually([&] { return handled(running) >= 2; }));
  peer_b.send(lines_of({kSuspend, kOpen}));
  ASSERT_TRUE(eventually([&] { return handled(running) >= 4; }));

  peer_a->close();  // line A drops; B carries on
  ASSERT_TRUE(eventually([&] { return running.recorder().line_went(0, false); }));
  peer_b.send(lines_of({kSuspend, price(0)}));
  ASSERT_TRUE(eventually([&] { return handled(running) >= 6; }));

  // A is back and its provider resends what A missed, then goes on; its counts continued.
  peer_a = std::make_unique<Peer>(a.accept());
  ASSERT_TRUE(eventually([&] { return running.line(0).connects.load() == 2; }));
  peer_a->send(lines_of({kSuspend, price(0), kSuspend, kOpen}));
  ASSERT_TRUE(eventually([&] { return handled(running) >= 10; }));
  peer_b.send(lines_of({kSuspend, kOpen}));
  ASSERT_TRUE(eventually([&] { return handled(running) >= 12; }));

  EXPECT_EQ(running.recorder().messages_so_far(),
            (std::vector<std::string>{kSuspend, kOpen, kSuspend, price(0), kSuspend, kOpen}));
  EXPECT_EQ(running.line(0).duplicates.load(), 2u);  // what it missed
  EXPECT_EQ(running.line(1).duplicates.load(), 4u);
}

TEST(ProviderLink, OneLineThatReconnectsAndReplaysDeliversByteKeyedReplaysAndDropsPseqOnes) {
  Listener a;
  Running running(config_for({a.endpoint()}));
  auto peer = std::make_unique<Peer>(a.accept());
  peer->send(lines_of({kSuspend, kOpen, kSuspend, message(1), message(2)}));
  ASSERT_TRUE(eventually([&] { return handled(running) >= 5; }));
  peer->close();
  ASSERT_TRUE(eventually([&] { return running.recorder().line_went(0, false); }));
  peer = std::make_unique<Peer>(a.accept());
  ASSERT_TRUE(eventually([&] { return running.line(0).connects.load() == 2; }));
  // The provider replays its last messages, then goes on. On one line a replay without pseq cannot
  // be told from a repeat: it is delivered again, in order, and re-sets what it set. With pseq the
  // replayed messages are copies.
  peer->send(lines_of({kOpen, kSuspend, message(2), price(0), kSuspend, message(3)}));
  ASSERT_TRUE(eventually([&] { return handled(running) >= 11; }));

  EXPECT_EQ(running.recorder().messages_so_far(),
            (std::vector<std::string>{kSuspend, kOpen, kSuspend, message(1), message(2), kOpen,
                                      kSuspend, price(0), kSuspend, message(3)}));
  EXPECT_EQ(running.line(0).duplicates.load(), 1u);  // message(2)
}

TEST(ProviderLink, HeartbeatsAreNeverSuppressedOnOneLineAndKeylessOnesNeverAtAll) {
  Listener a, b;
  Running running(config_for({a.endpoint(), b.endpoint()}));
  Peer peer_a(a.accept()), peer_b(b.accept());
  const std::string keyless = R"({"type":"heartbeat"})";
  const std::string stamped = R"({"type":"heartbeat","ts":1735725602000})";
  // A quiet provider's heartbeats: the same stamped one twice (a repeat on one line) and keyless
  // ones, which every line delivers.
  peer_a.send(lines_of({keyless, stamped, keyless, stamped}));
  ASSERT_TRUE(eventually([&] { return handled(running) >= 4; }));
  peer_b.send(lines_of({keyless, stamped, keyless, stamped}));
  ASSERT_TRUE(eventually([&] { return handled(running) >= 8; }));

  EXPECT_EQ(running.recorder().messages_so_far(),
            (std::vector<std::string>{keyless, stamped, keyless, stamped, keyless, keyless}));
  EXPECT_EQ(running.line(1).duplicates.load(), 2u);  // B's stamped copies
}

}  // namespace
}  // namespace oddsbus::feeds::link
