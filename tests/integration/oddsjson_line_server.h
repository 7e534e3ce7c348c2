// Test support: serves a fixed list of oddsjson lines as a provider would, over one or more
// redundant TCP lines (DESIGN section 3), to every client that connects to any of them: each
// client of each line gets every stream line once, in order, paced, with the line's skew.
//
// The test controls how far the stream may go: release(n) lets lines [0, n) go out, paced from
// the moment of the release (`interval` apart); n only grows. A connection with nothing released
// left to send sends a heartbeat of its own ({"type":"heartbeat","ts":T}, a fresh T each time, so
// it is never taken for a copy of a stream line) when it has been quiet for `heartbeat`, so a
// consumer never sees the provider go stale while the test holds the stream or after it ended.
// Heartbeats change no state: they do not make the served state differ from the stream's.
//
// Skew: the stream is cut into segments of `segment` lines; in each segment one line (chosen by
// seed, changing from segment to segment) sends every line of it late by a seeded delay between a
// quarter of `max_lag` and `max_lag`. So copies arrive first on one line, then on the other, and
// the lagging line's copies of a repeated message may arrive after the leading line's next
// occurrence of it.
//
// A client that connects after the first release starts where its line's furthest connection is
// (a provider serves the present, not its history). A connection whose peer is gone (a killed
// engine) stops at the first failed write.
//
// Thread safety: the public functions may be called from the test's thread while the server's
// threads (one accepting per line, one per connection) run. Construction binds every line on a
// free loopback port; ok() says whether that worked. The destructor stops and joins everything.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/loopback.h"

namespace oddsbus::testing {

struct LineServerConfig {
  size_t lines = 1;
  std::chrono::microseconds interval{1000};  // between consecutive stream lines
  std::chrono::milliseconds max_lag{0};      // the lagging line's delay in a segment, at most
  size_t segment = 64;                       // stream lines per skew segment
  uint64_t seed = 1;
  std::chrono::milliseconds heartbeat{50};
};

class OddsJsonLineServer {
 public:
  using Clock = std::chrono::steady_clock;

  OddsJsonLineServer(std::vector<std::string> stream, const LineServerConfig& config)
      : stream_(std::move(stream)), config_(config), due_(stream_.size()) {
    for (size_t line = 0; line < config_.lines; ++line) {
      uint16_t port = 0;
      const int fd = listen_loopback(port);
      if (fd < 0) {
        ok_ = false;
        break;
      }
      listeners_.push_back(fd);
      ports_.push_back(port);
    }
    for (size_t line = 0; line < listeners_.size(); ++line) {
      threads_.emplace_back([this, line] { accept_loop(line); });
    }
  }
  ~OddsJsonLineServer() {
    stop_.store(true);
    {
      std::lock_guard lock(mutex_);
      for (Connection& c : connections_) ::shutdown(c.fd, SHUT_RDWR);
    }
    for (std::thread& t : threads_) t.join();
    std::lock_guard lock(mutex_);
    for (std::thread& t : connection_threads_) t.join();
    for (Connection& c : connections_) ::close(c.fd);
    for (int fd : listeners_) ::close(fd);
  }
  OddsJsonLineServer(const OddsJsonLineServer&) = delete;
  OddsJsonLineServer& operator=(const OddsJsonLineServer&) = delete;

  bool ok() const { return ok_; }
  size_t size() const { return stream_.size(); }

  // "tcp://127.0.0.1:P1,tcp://127.0.0.1:P2": the lines, for --feed NAME=oddsjson@URLS.
  std::string urls() const {
    std::string out;
    for (uint16_t port : ports_) out += (out.empty() ? "" : ",") + url(port);
    return out;
  }

  // Lets stream lines [0, n) go out (n is capped at size()), paced from now.
  void release(size_t n) {
    std::lock_guard lock(mutex_);
    n = std::min(n, stream_.size());
    const size_t from = released_.load();
    const Clock::time_point now = Clock::now();
    for (size_t i = from; i < n; ++i) {
      due_[i] = now + config_.interval * static_cast<int64_t>(i - from);
    }
    if (n > from) released_.store(n, std::memory_order_release);
  }
  size_t released() const { return released_.load(); }

  // Live connections on `line`.
  size_t connections(size_t line) const {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const Connection& c : connections_) n += c.line == line && c.alive.load() ? 1 : 0;
    return n;
  }

  // True when every live connection has written its first n stream lines.
  bool delivered(size_t n) const {
    std::lock_guard lock(mutex_);
    for (const Connection& c : connections_) {
      if (c.alive.load() && c.sent.load() < n) return false;
    }
    return true;
  }

  // The most stream lines any connection has written.
  size_t furthest() const {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const Connection& c : connections_) n = std::max(n, c.sent.load());
    return n;
  }

 private:
  struct Connection {
    int fd = -1;
    size_t line = 0;
    std::atomic<size_t> sent{0};
    std::atomic<bool> alive{true};
  };

  static uint64_t mix(uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }

  // How late `line` sends stream line i.
  Clock::duration lag(size_t line, size_t i) const {
    if (config_.lines < 2 || config_.max_lag.count() == 0) return Clock::duration::zero();
    const uint64_t segment = i / std::max<size_t>(config_.segment, 1);
    const uint64_t h = mix(config_.seed * 0x9e3779b97f4a7c15ULL + segment);
    if (h % config_.lines != line) return Clock::duration::zero();
    const int64_t max_us = std::chrono::microseconds(config_.max_lag).count();
    const int64_t min_us = max_us / 4;
    return std::chrono::microseconds(
        min_us + static_cast<int64_t>((h >> 8) % uint64_t(max_us - min_us + 1)));
  }

  void accept_loop(size_t line) {
    while (!stop_.load()) {
      const int fd = accept_within(listeners_[line], std::chrono::milliseconds(20));
      if (fd < 0) continue;
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::lock_guard lock(mutex_);
      Connection& c = connections_.emplace_back();
      c.fd = fd;
      c.line = line;
      size_t start = 0;
      if (released_.load() > 0) {
        for (const Connection& other : connections_) {
          if (other.line == line && other.alive.load()) start = std::max(start, other.sent.load());
        }
      }
      c.sent.store(start);
      connection_threads_.emplace_back([this, &c] { serve(c); });
    }
  }

  bool write_all(int fd, const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  void serve(Connection& c) {
    size_t next = c.sent.load();
    Clock::time_point last_write = Clock::now();
    uint64_t heartbeats = 0;
    std::string out;
    while (!stop_.load()) {
      const size_t released = released_.load(std::memory_order_acquire);
      const Clock::time_point now = Clock::now();
      out.clear();
      size_t upto = next;
      Clock::time_point wake = last_write + config_.heartbeat;
      while (upto < released && upto - next < 64) {
        const Clock::time_point due = due_[upto] + lag(c.line, upto);
        if (due > now) {
          wake = std::min(wake, due);
          break;
        }
        out += stream_[upto];
        out += '\n';
        ++upto;
      }
      if (out.empty() && now >= last_write + config_.heartbeat) {
        out = "{\"type\":\"heartbeat\",\"ts\":" +
              std::to_string(1'600'000'000'000ULL + ++heartbeats) + "}\n";
      }
      if (!out.empty()) {
        if (!write_all(c.fd, out)) break;
        next = upto;
        c.sent.store(next);
        last_write = now;
        continue;
      }
      // Pacing, not synchronisation: nothing is due before `wake`.
      std::this_thread::sleep_for(
          std::min<Clock::duration>(wake - now, std::chrono::milliseconds(5)));
    }
    c.alive.store(false);
  }

  const std::vector<std::string> stream_;
  const LineServerConfig config_;
  std::vector<Clock::time_point> due_;  // written before released_ covers them
  std::atomic<size_t> released_{0};
  std::atomic<bool> stop_{false};
  bool ok_ = true;
  std::vector<int> listeners_;
  std::vector<uint16_t> ports_;
  std::vector<std::thread> threads_;
  mutable std::mutex mutex_;
  std::list<Connection> connections_;  // stable addresses for the connection threads
  std::vector<std::thread> connection_threads_;
};

}  // namespace oddsbus::testing
