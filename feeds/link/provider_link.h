// The connector for one provider reached over several redundant TCP lines (DESIGN section 3,
// "Redundancy": the first copy of each provider message wins; copies are matched by occurrence).
//
// One thread serves every line: non-blocking connects, one poll() over all sockets, a LineSplitter
// per line, and one MessageDedup for the provider. Each complete line (one provider message) is
// keyed by message_key(format, message) and admitted by the MessageDedup: a message that is new on
// its line (for a byte key: its line's n-th arrival of those bytes, when fewer than n were
// delivered) is handed to on_message, a copy of one already delivered is counted as a duplicate of
// the line it came on. So a single stateful adapter sees each provider message once per time the
// provider sent it, in order of first arrival, a repeat (A, B, A) included; and losing a line loses
// nothing while another line is up (message_dedup.h states the promise and its bounds).
// A line that reconnects keeps its occurrence counts: what the provider sends on it after the
// reconnect is matched with what the other lines carried meanwhile (message_dedup.h says what a
// provider's replay does).
//
// Each line reconnects on its own with capped exponential backoff and full jitter (the backoff
// restarts from initial_backoff after a connection that carried data), and has its own
// CircuitBreaker: a line that keeps failing to connect, or keeps being dropped right after
// connecting, is left alone for a growing open period.
//
// Thread safety: run() blocks its calling thread (the provider's link thread) until `stop` is set,
// and notices `stop` within poll_interval, also during backoff and during a connect. All callbacks
// run on that thread, never concurrently. counters() and line_counters() may be read from any
// thread at any time (relaxed atomics: each value is exact, a set of values is not a snapshot). One
// run() at a time per ProviderLink.
// Never blocks on a peer: connects are non-blocking with connect_timeout, reads are non-blocking.
// Host names are resolved (getaddrinfo, which may block) at a line's first attempt and again only
// after a resolution failure; numeric hosts never block.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/link/circuit_breaker.h"
#include "feeds/link/message_dedup.h"
#include "feeds/tcp_line_source.h"

namespace oddsbus::feeds::link {

struct ProviderLinkConfig {
  std::string feed;                // the feed (source) name, for logs
  std::string format;              // "oddsjson", "betfair-stream", "uof-xml": chooses message_key
  std::vector<TcpEndpoint> lines;  // 1..N redundant lines to the same provider
  size_t max_line = 1 << 20;       // longest message; longer ones are dropped and counted
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds poll_interval{50};
  std::chrono::milliseconds connect_timeout{3000};
  CircuitBreakerConfig breaker;
  MessageDedupConfig dedup;
  uint64_t jitter_seed = 1;
};

// Per line; written only by the link thread.
struct LineCounters {
  std::atomic<uint64_t> connects{0};
  std::atomic<uint64_t> connect_failures{0};  // includes resolution failures and timeouts
  std::atomic<uint64_t> disconnects{0};
  std::atomic<uint64_t> messages{0};    // arrivals this line delivered (first copies)
  std::atomic<uint64_t> duplicates{0};  // copies another line delivered first
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> lines_too_long{0};
  std::atomic<uint64_t> breaker_trips{0};
  std::atomic<bool> connected{false};
};

// Provider totals; written only by the link thread.
struct ProviderLinkCounters {
  std::atomic<uint64_t> messages{0};         // delivered to on_message (each occurrence once)
  std::atomic<uint64_t> duplicates{0};       // copies dropped, all lines
  std::atomic<uint64_t> lost_copies{0};      // MessageDedupCounters::lost_copies
  std::atomic<uint64_t> dedup_evictions{0};  // MessageDedupCounters evictions + expirations
  std::atomic<uint64_t> connects{0};
  std::atomic<uint64_t> disconnects{0};
  std::atomic<uint64_t> breaker_trips{0};
  std::atomic<uint64_t> health_changes{0};  // on_health calls
  std::atomic<uint32_t> lines_connected{0};
};

class ProviderLink {
 public:
  struct Callbacks {
    // One provider message (a line without its terminator), first copy of each occurrence only.
    // `line` is the index into config.lines it arrived on. The view is valid only during the call.
    // Required.
    void (*on_message)(void* ctx, size_t line, std::string_view message) = nullptr;
    // up = true when the provider goes from no line connected to one; up = false when the last
    // connected line goes (including at the end of run()). Initially down, without a call.
    // Optional.
    void (*on_health)(void* ctx, bool up) = nullptr;
    // After each connect (true) and disconnect (false) of one line, for logs. Optional.
    void (*on_line_state)(void* ctx, size_t line, bool connected) = nullptr;
    void* ctx = nullptr;
  };

  // config.lines must not be empty (asserted).
  explicit ProviderLink(ProviderLinkConfig config);
  ~ProviderLink();
  ProviderLink(const ProviderLink&) = delete;
  ProviderLink& operator=(const ProviderLink&) = delete;

  // Serves every line until `stop` is set, then closes them all (reporting each closed line and the
  // provider going down) and returns.
  void run(const std::atomic<bool>& stop, const Callbacks& callbacks);

  const ProviderLinkConfig& config() const { return config_; }
  const ProviderLinkCounters& counters() const { return counters_; }
  const LineCounters& line_counters(size_t line) const { return line_counters_[line]; }
  size_t line_count() const { return config_.lines.size(); }

 private:
  ProviderLinkConfig config_;
  ProviderLinkCounters counters_;
  std::unique_ptr<LineCounters[]> line_counters_;
};

}  // namespace oddsbus::feeds::link
