#include "feeds/tcp_line_source.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <memory>
#include <thread>
#include <utility>

#include "feeds/backoff_jitter.h"
#include "feeds/line_splitter.h"

namespace oddsbus::feeds {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A connect that has not completed by then is a failure (a black-holed address would otherwise
// hold the line for the kernel's SYN retry time, minutes).
constexpr milliseconds kConnectTimeout{3000};
constexpr size_t kReadBufferSize = 64 * 1024;

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Sleeps up to `duration`, waking every poll_interval to notice `stop`.
void sleep_unless_stopped(milliseconds duration, milliseconds poll_interval,
                          const std::atomic<bool>& stop) {
  const auto deadline = Clock::now() + duration;
  const milliseconds slice = std::max(poll_interval, milliseconds{1});
  while (!stop.load(std::memory_order_relaxed)) {
    const auto now = Clock::now();
    if (now >= deadline) return;
    std::this_thread::sleep_for(std::min<Clock::duration>(slice, deadline - now));
  }
}

// Waits for a non-blocking connect to finish. Returns true when connected.
bool await_connect(int fd, milliseconds poll_interval, const std::atomic<bool>& stop) {
  const auto deadline = Clock::now() + kConnectTimeout;
  while (!stop.load(std::memory_order_relaxed) && Clock::now() < deadline) {
    pollfd pfd{fd, POLLOUT, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(poll_interval.count()));
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    int error = 0;
    socklen_t length = sizeof(error);
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return false;
    return error == 0;
  }
  return false;
}

// Tries each address of the endpoint in turn. Returns an invalid Socket on failure.
Socket connect_to(const TcpEndpoint& endpoint, milliseconds poll_interval,
                  const std::atomic<bool>& stop) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint.port);
  if (::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found) != 0) return Socket{};
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  for (const addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
    Socket socket(
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (!socket.valid()) continue;
    if (::connect(socket.fd(), a->ai_addr, a->ai_addrlen) == 0) return socket;
    if (errno == EINPROGRESS && await_connect(socket.fd(), poll_interval, stop)) return socket;
    if (stop.load(std::memory_order_relaxed)) break;
  }
  return Socket{};
}

struct LineSink {
  TcpLineSourceCounters& counters;
  TcpLineSource::LineCallback on_line;
  void* ctx;
  void operator()(std::string_view line, bool too_long) const {
    if (too_long) {
      counters.lines_too_long.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    counters.lines.fetch_add(1, std::memory_order_relaxed);
    on_line(ctx, line);
  }
};

}  // namespace

std::expected<TcpEndpoint, std::string> parse_tcp_url(std::string_view url) {
  constexpr std::string_view kScheme = "tcp://";
  const std::string quoted = "'" + std::string(url) + "'";
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return std::unexpected("missing scheme in " + quoted + ": expected tcp://HOST:PORT");
  }
  if (!url.starts_with(kScheme)) {
    return std::unexpected("unsupported scheme in " + quoted + ": expected tcp://HOST:PORT");
  }
  const std::string_view rest = url.substr(kScheme.size());
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    return std::unexpected("missing port in " + quoted + ": expected tcp://HOST:PORT");
  }
  const std::string_view host = rest.substr(0, colon);
  const std::string_view port_text = rest.substr(colon + 1);
  if (host.empty()) return std::unexpected("missing host in " + quoted);
  if (host.find_first_of(":/[]") != std::string_view::npos) {
    return std::unexpected("bad host in " + quoted + ": expected a name or IPv4 address");
  }
  if (port_text.empty()) {
    return std::unexpected("missing port in " + quoted + ": expected tcp://HOST:PORT");
  }
  uint64_t port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error == std::errc::result_out_of_range ||
      (error == std::errc{} && end == port_text.data() + port_text.size() &&
       (port == 0 || port > 65535))) {
    return std::unexpected("port out of range in " + quoted + ": expected 1 to 65535");
  }
  if (error != std::errc{} || end != port_text.data() + port_text.size()) {
    return std::unexpected("port is not a number in " + quoted);
  }
  return TcpEndpoint{std::string(host), static_cast<uint16_t>(port)};
}

TcpLineSource::TcpLineSource(TcpLineSourceConfig config) : config_(std::move(config)) {}

void TcpLineSource::run(const std::atomic<bool>& stop, LineCallback on_line,
                        ConnectionCallback on_connection, void* ctx) {
  const milliseconds poll_interval = std::max(config_.poll_interval, milliseconds{1});
  const milliseconds initial_backoff = std::max(config_.initial_backoff, milliseconds{1});
  const milliseconds max_backoff = std::max(config_.max_backoff, initial_backoff);
  BackoffJitter jitter(config_.jitter_seed);
  LineSplitter splitter(config_.max_line);
  const auto buffer = std::make_unique<char[]>(kReadBufferSize);
  const LineSink sink{counters_, on_line, ctx};
  milliseconds backoff = initial_backoff;

  while (!stop.load(std::memory_order_relaxed)) {
    Socket socket = connect_to(config_.endpoint, poll_interval, stop);
    if (!socket.valid()) {
      if (stop.load(std::memory_order_relaxed)) break;
      counters_.connect_failures.fetch_add(1, std::memory_order_relaxed);
    } else {
      counters_.connects.fetch_add(1, std::memory_order_relaxed);
      on_connection(ctx, true);
      bool delivered = false;
      while (!stop.load(std::memory_order_relaxed)) {
        pollfd pfd{socket.fd(), POLLIN, 0};
        const int ready = ::poll(&pfd, 1, static_cast<int>(poll_interval.count()));
        if (ready < 0 && errno != EINTR) break;
        if (ready <= 0) continue;
        const ssize_t n = ::recv(socket.fd(), buffer.get(), kReadBufferSize, 0);
        if (n == 0) break;  // orderly close by the source
        if (n < 0) {
          if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
          break;
        }
        delivered = true;
        counters_.bytes.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        splitter.feed(std::string_view(buffer.get(), static_cast<size_t>(n)), sink);
      }
      socket = Socket{};
      counters_.disconnects.fetch_add(1, std::memory_order_relaxed);
      splitter.reset();
      on_connection(ctx, false);
      // A connection that carried data was healthy: start the next round of retries afresh.
      if (delivered) backoff = initial_backoff;
    }
    if (stop.load(std::memory_order_relaxed)) break;
    sleep_unless_stopped(jitter.draw(backoff), poll_interval, stop);
    backoff = std::min(backoff * 2, max_backoff);
  }
}

}  // namespace oddsbus::feeds
