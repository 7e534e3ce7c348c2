#include "feeds/link/provider_link.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <utility>

#include "feeds/backoff_jitter.h"
#include "feeds/line_splitter.h"

namespace oddsbus::feeds::link {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kReadBufferSize = 64 * 1024;

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = 0;
  int socktype = 0;
  int protocol = 0;
};

enum class Phase { kWaiting, kConnecting, kConnected };

struct Line {
  Line(const TcpEndpoint& endpoint, LineCounters& counters, size_t max_line,
       const CircuitBreakerConfig& breaker_config, milliseconds initial_backoff)
      : endpoint(endpoint),
        counters(counters),
        splitter(max_line),
        breaker(breaker_config),
        backoff(initial_backoff) {}

  const TcpEndpoint& endpoint;
  LineCounters& counters;
  LineSplitter splitter;
  CircuitBreaker breaker;
  std::vector<Address> addresses;  // resolved at the first attempt
  size_t next_address = 0;
  Phase phase = Phase::kWaiting;
  int fd = -1;
  Clock::time_point next_attempt{};  // earliest start of the next connect, while waiting
  Clock::time_point connect_deadline{};
  milliseconds backoff;
  bool delivered = false;  // the current connection carried data
  uint64_t trips_reported = 0;
};

// Resolves once; returns false (and leaves `out` empty) on failure.
bool resolve(const TcpEndpoint& endpoint, std::vector<Address>& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint.port);
  if (::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found) != 0) return false;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Address address;
    std::memcpy(&address.storage, a->ai_addr, a->ai_addrlen);
    address.length = a->ai_addrlen;
    address.family = a->ai_family;
    address.socktype = a->ai_socktype;
    address.protocol = a->ai_protocol;
    out.push_back(address);
  }
  ::freeaddrinfo(found);
  return !out.empty();
}

// The state of one run(): every line of the provider, the dedup window, the poll set.
class Loop {
 public:
  Loop(const ProviderLinkConfig& config, ProviderLinkCounters& counters,
       LineCounters* line_counters, const ProviderLink::Callbacks& callbacks)
      : config_(config),
        counters_(counters),
        callbacks_(callbacks),
        poll_interval_(std::max(config.poll_interval, milliseconds{1})),
        initial_backoff_(std::max(config.initial_backoff, milliseconds{1})),
        max_backoff_(std::max(config.max_backoff, initial_backoff_)),
        connect_timeout_(std::max(config.connect_timeout, milliseconds{1})),
        jitter_(config.jitter_seed),
        dedup_(config.lines.size(), config.dedup),
        buffer_(std::make_unique<char[]>(kReadBufferSize)) {
    lines_.reserve(config.lines.size());
    for (size_t i = 0; i < config.lines.size(); ++i) {
      lines_.emplace_back(config.lines[i], line_counters[i], config.max_line, config.breaker,
                          initial_backoff_);
    }
    poll_fds_.reserve(lines_.size());
    poll_lines_.reserve(lines_.size());
  }

  ~Loop() {
    for (Line& line : lines_) {
      if (line.fd >= 0) ::close(line.fd);
    }
  }

  void run(const std::atomic<bool>& stop) {
    while (!stop.load(std::memory_order_relaxed)) {
      now_ = Clock::now();
      start_due_attempts();
      poll_once();
      now_ = Clock::now();
      for (size_t i = 0; i < poll_fds_.size(); ++i) {
        if (poll_fds_[i].revents != 0) on_ready(lines_[poll_lines_[i]], poll_fds_[i].revents);
      }
      expire_connects();
    }
    now_ = Clock::now();
    for (size_t i = 0; i < lines_.size(); ++i) close_line(i, /*retry=*/false);
  }

 private:
  void start_due_attempts() {
    for (size_t i = 0; i < lines_.size(); ++i) {
      Line& line = lines_[i];
      if (line.phase != Phase::kWaiting || now_ < line.next_attempt) continue;
      if (!line.breaker.allow_attempt(now_)) {
        line.next_attempt = std::max(line.next_attempt, line.breaker.open_until());
        continue;
      }
      begin_connect(i);
    }
  }

  void begin_connect(size_t index) {
    Line& line = lines_[index];
    if (line.addresses.empty() && !resolve(line.endpoint, line.addresses)) {
      connect_failed(index);
      return;
    }
    const Address& address = line.addresses[line.next_address % line.addresses.size()];
    const int fd =
        ::socket(address.family, address.socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, address.protocol);
    if (fd < 0) {
      connect_failed(index);
      return;
    }
    line.fd = fd;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) == 0) {
      connected(index);
    } else if (errno == EINPROGRESS) {
      line.phase = Phase::kConnecting;
      line.connect_deadline = now_ + connect_timeout_;
    } else {
      connect_failed(index);
    }
  }

  void poll_once() {
    poll_fds_.clear();
    poll_lines_.clear();
    Clock::duration wait = poll_interval_;
    for (size_t i = 0; i < lines_.size(); ++i) {
      const Line& line = lines_[i];
      switch (line.phase) {
        case Phase::kWaiting:
          wait = std::min<Clock::duration>(wait, line.next_attempt - now_);
          break;
        case Phase::kConnecting:
          wait = std::min<Clock::duration>(wait, line.connect_deadline - now_);
          poll_fds_.push_back(pollfd{line.fd, POLLOUT, 0});
          poll_lines_.push_back(i);
          break;
        case Phase::kConnected:
          poll_fds_.push_back(pollfd{line.fd, POLLIN, 0});
          poll_lines_.push_back(i);
          break;
      }
    }
    // Round up, so a wait for a deadline does not spin through sub-millisecond polls.
    const auto wait_ms = std::chrono::ceil<milliseconds>(std::max<Clock::duration>(wait, {}));
    const int ready = ::poll(poll_fds_.data(), poll_fds_.size(), static_cast<int>(wait_ms.count()));
    if (ready <= 0) {
      for (pollfd& p : poll_fds_) p.revents = 0;  // EINTR or timeout: nothing to handle
    }
  }

  void on_ready(Line& line, short revents) {
    const size_t index = static_cast<size_t>(&line - lines_.data());
    if (line.phase == Phase::kConnecting) {
      int error = 0;
      socklen_t length = sizeof(error);
      if (::getsockopt(line.fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
      if (error == 0 && (revents & POLLOUT) != 0) {
        connected(index);
      } else {
        connect_failed(index);
      }
      return;
    }
    if (line.phase != Phase::kConnected) return;
    const ssize_t n = ::recv(line.fd, buffer_.get(), kReadBufferSize, 0);
    if (n == 0) {  // orderly close by the provider
      close_line(index, /*retry=*/true);
      return;
    }
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return;
      close_line(index, /*retry=*/true);
      return;
    }
    line.delivered = true;
    line.counters.bytes.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    line.splitter.feed(std::string_view(buffer_.get(), static_cast<size_t>(n)),
                       [&](std::string_view message, bool too_long) {
                         if (too_long) {
                           line.counters.lines_too_long.fetch_add(1, std::memory_order_relaxed);
                         } else {
                           deliver(index, message);
                         }
                       });
  }

  void deliver(size_t index, std::string_view message) {
    LineCounters& counters = lines_[index].counters;
    const bool fresh = dedup_.admit(index, message_key(config_.format, message), now_);
    const MessageDedupCounters& dedup = dedup_.counters();
    counters_.lost_copies.store(dedup.lost_copies, std::memory_order_relaxed);
    counters_.dedup_evictions.store(dedup.evictions + dedup.expirations, std::memory_order_relaxed);
    if (fresh) {
      counters.messages.fetch_add(1, std::memory_order_relaxed);
      counters_.messages.fetch_add(1, std::memory_order_relaxed);
      callbacks_.on_message(callbacks_.ctx, index, message);
    } else {
      counters.duplicates.fetch_add(1, std::memory_order_relaxed);
      counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void expire_connects() {
    for (size_t i = 0; i < lines_.size(); ++i) {
      if (lines_[i].phase == Phase::kConnecting && now_ >= lines_[i].connect_deadline) {
        connect_failed(i);
      }
    }
  }

  void connected(size_t index) {
    Line& line = lines_[index];
    line.phase = Phase::kConnected;
    line.delivered = false;
    line.breaker.on_connected(now_);
    line.counters.connects.fetch_add(1, std::memory_order_relaxed);
    line.counters.connected.store(true, std::memory_order_relaxed);
    counters_.connects.fetch_add(1, std::memory_order_relaxed);
    if (callbacks_.on_line_state != nullptr) callbacks_.on_line_state(callbacks_.ctx, index, true);
    counters_.lines_connected.store(++connected_count_, std::memory_order_relaxed);
    if (connected_count_ == 1) set_health(true);
  }

  void connect_failed(size_t index) {
    Line& line = lines_[index];
    if (line.fd >= 0) ::close(line.fd);
    line.fd = -1;
    line.phase = Phase::kWaiting;
    // The next attempt tries the next address of a multi-address name.
    ++line.next_address;
    line.counters.connect_failures.fetch_add(1, std::memory_order_relaxed);
    line.breaker.on_connect_failure(now_);
    schedule_retry(line);
  }

  // Closes a connected line (retry = false: run() is ending) and forgets a connecting one.
  void close_line(size_t index, bool retry) {
    Line& line = lines_[index];
    const bool was_connected = line.phase == Phase::kConnected;
    if (line.fd >= 0) ::close(line.fd);
    line.fd = -1;
    line.phase = Phase::kWaiting;
    if (!was_connected) return;
    line.splitter.reset();
    line.counters.disconnects.fetch_add(1, std::memory_order_relaxed);
    line.counters.connected.store(false, std::memory_order_relaxed);
    counters_.disconnects.fetch_add(1, std::memory_order_relaxed);
    if (retry) {
      line.breaker.on_disconnect(now_);
      // A connection that carried data was healthy: start the next round of retries afresh.
      if (line.delivered) line.backoff = initial_backoff_;
      schedule_retry(line);
    }
    if (callbacks_.on_line_state != nullptr) callbacks_.on_line_state(callbacks_.ctx, index, false);
    counters_.lines_connected.store(--connected_count_, std::memory_order_relaxed);
    if (connected_count_ == 0) set_health(false);
  }

  void schedule_retry(Line& line) {
    line.next_attempt = now_ + jitter_.draw(line.backoff);
    line.backoff = std::min(line.backoff * 2, max_backoff_);
    const uint64_t trips = line.breaker.trips();
    if (trips != line.trips_reported) {
      line.counters.breaker_trips.fetch_add(trips - line.trips_reported, std::memory_order_relaxed);
      counters_.breaker_trips.fetch_add(trips - line.trips_reported, std::memory_order_relaxed);
      line.trips_reported = trips;
    }
    if (line.breaker.state() == CircuitBreaker::State::kOpen) {
      line.next_attempt = std::max(line.next_attempt, line.breaker.open_until());
    }
  }

  void set_health(bool up) {
    counters_.health_changes.fetch_add(1, std::memory_order_relaxed);
    if (callbacks_.on_health != nullptr) callbacks_.on_health(callbacks_.ctx, up);
  }

  const ProviderLinkConfig& config_;
  ProviderLinkCounters& counters_;
  const ProviderLink::Callbacks& callbacks_;
  const milliseconds poll_interval_;
  const milliseconds initial_backoff_;
  const milliseconds max_backoff_;
  const milliseconds connect_timeout_;
  BackoffJitter jitter_;
  MessageDedup dedup_;
  std::unique_ptr<char[]> buffer_;
  std::vector<Line> lines_;
  std::vector<pollfd> poll_fds_;
  std::vector<size_t> poll_lines_;  // poll_fds_[i] belongs to lines_[poll_lines_[i]]
  uint32_t connected_count_ = 0;
  Clock::time_point now_{};
};

}  // namespace

ProviderLink::ProviderLink(ProviderLinkConfig config)
    : config_(std::move(config)),
      line_counters_(std::make_unique<LineCounters[]>(config_.lines.size())) {
  assert(!config_.lines.empty());
}

ProviderLink::~ProviderLink() = default;

void ProviderLink::run(const std::atomic<bool>& stop, const Callbacks& callbacks) {
  assert(callbacks.on_message != nullptr);
  Loop loop(config_, counters_, line_counters_.get(), callbacks);
  loop.run(stop);
}

}  // namespace oddsbus::feeds::link
