// A feed connector: a TCP client that reads a line-oriented feed (oddsjson, betfair-stream,
// uof-xml) and hands each line to a callback, reconnecting with capped exponential backoff and
// full jitter whenever the connection fails or drops.
//
// Thread safety: run() blocks its calling thread (the feed's own thread) until `stop` is set; it
// notices `stop` within poll_interval. The callbacks run on that thread. counters() may be read from
// any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace oddsbus::feeds {

struct TcpEndpoint {
  std::string host;
  uint16_t port = 0;
};

// Parses "tcp://HOST:PORT" (HOST a name or IPv4 address). Returns a message saying what is wrong.
std::expected<TcpEndpoint, std::string> parse_tcp_url(std::string_view url);

struct TcpLineSourceConfig {
  TcpEndpoint endpoint;
  size_t max_line = 1 << 20;
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds poll_interval{50};
  uint64_t jitter_seed = 1;
};

struct TcpLineSourceCounters {
  std::atomic<uint64_t> connects{0};
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<uint64_t> disconnects{0};
  std::atomic<uint64_t> lines{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> lines_too_long{0};
};

class TcpLineSource {
 public:
  // on_line(ctx, line): one complete line without its terminator; the view is valid during the call.
  using LineCallback = void (*)(void* ctx, std::string_view line);
  // on_connection(ctx, connected): called after each connect (true) and disconnect (false).
  using ConnectionCallback = void (*)(void* ctx, bool connected);

  explicit TcpLineSource(TcpLineSourceConfig config);

  void run(const std::atomic<bool>& stop, LineCallback on_line, ConnectionCallback on_connection,
           void* ctx);

  const TcpLineSourceCounters& counters() const { return counters_; }

 private:
  TcpLineSourceConfig config_;
  TcpLineSourceCounters counters_;
};

}  // namespace oddsbus::feeds
