// The connector of a betfair-stream feed reached over TLS (`--feed NAME=betfair-stream@tls://..`):
// one Betfair Exchange Stream session (feeds/betfair/stream_session.h) per line, OpenSSL through
// Boost.Asio for the transport.
//
// Each line connects, verifies the server's certificate (the CA file from the credentials, else
// the system's; the line's host name checked against the certificate, and sent as SNI), and runs
// its StreamSession: authentication, one marketSubscription, and on every reconnect a
// resubscription with the line's latest initialClk and clk. Several lines are redundant lines of
// one provider (DESIGN section 3): each runs its own session, and the market change messages
// they deliver go through one MessageDedup (feeds/link/message_dedup.h, byte keys matched by
// occurrence; every session uses the same request ids, so copies are byte-identical), so the
// adapter sees each change once. An image or resume (SUB_IMAGE, RESUB_DELTA) on one line while
// another line is streaming is not delivered: it restates the state the streaming line delivered,
// in bytes no other line carries, so it would be applied again, possibly over newer changes. A
// line that resumes while another streams has missed what that line delivered; its later changes
// are matched with the other line's as message_dedup.h describes (a line with a gap).
// Known limitation: first arrival wins, so a line that resumed ahead of the other can hand the
// adapter a newer change before the other line's older ones; with one line the order is exact,
// with two the journal can end off the provider's state (reproduced by the disabled test
// TwoRedundantLinesEndWhereTheCaptureEndsWithoutASecondImage). Two lines need a leader/shadow
// order that is not built yet. Reconnects
// back off as the session says (exponential, full jitter); a fatal status (bad credentials, refused
// subscription) stops that line for good, logs why once, and counts it.
//
// Thread safety: run() blocks its calling thread (the feed's thread) until `stop` is set, noticing
// it within tick_interval; every callback runs on that thread, never concurrently. counters() and
// line_counters() may be read from any thread (relaxed atomics). One run() at a time.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/betfair/stream_session.h"
#include "feeds/link/message_dedup.h"
#include "feeds/link/provider_link.h"
#include "feeds/tcp_line_source.h"

namespace oddsbus::feeds::betfair {

// Parses "tls://HOST:PORT" (HOST a name or IPv4 address). Returns a message saying what is wrong.
std::expected<TcpEndpoint, std::string> parse_tls_url(std::string_view url);

struct TlsStreamLinkConfig {
  std::string feed;                // the feed name, for logs
  std::vector<TcpEndpoint> lines;  // 1..N redundant lines (from tls:// URLs)
  StreamSessionConfig session;     // credentials, markets, heartbeat; jitter_seed varied per line
  std::string ca_file;             // PEM; empty: the system's default verify paths
  size_t max_line = 1 << 22;       // longest message; a longer one closes the connection
  std::chrono::milliseconds tick_interval{100};
  std::chrono::milliseconds connect_timeout{5000};
  link::MessageDedupConfig dedup;
};

// Per line; written only by the link thread.
struct TlsLineCounters {
  std::atomic<uint8_t> state{0};  // a SessionState
  std::atomic<uint64_t> connects{0};
  std::atomic<uint64_t> connect_failures{0};  // resolution, TCP and TLS handshake failures
  std::atomic<uint64_t> disconnects{0};
  std::atomic<uint64_t> messages{0};    // changes this line delivered first
  std::atomic<uint64_t> duplicates{0};  // changes another line delivered first
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> lines_too_long{0};
  std::atomic<uint64_t> images{0};
  std::atomic<uint64_t> images_instead_of_resume{0};
  std::atomic<uint64_t> resumes{0};
  std::atomic<uint64_t> resubscriptions{0};
  std::atomic<uint64_t> segments_discarded{0};
  std::atomic<uint64_t> restatements_skipped{0};  // images and resumes while another line streamed
  std::atomic<uint64_t> silences{0};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(StreamErrorCode::kCount)> status_errors{};
};

class TlsStreamLink {
 public:
  // config.lines must not be empty (asserted).
  explicit TlsStreamLink(TlsStreamLinkConfig config);
  ~TlsStreamLink();
  TlsStreamLink(const TlsStreamLink&) = delete;
  TlsStreamLink& operator=(const TlsStreamLink&) = delete;

  // Serves every line until `stop` is set, then closes them (reporting each closed line and the
  // provider going down) and returns. Callbacks as for link::ProviderLink: on_message gets each
  // market change message once; on_health goes up when the first line streams, down when the
  // last streaming line goes.
  void run(const std::atomic<bool>& stop, const link::ProviderLink::Callbacks& callbacks);

  const TlsStreamLinkConfig& config() const { return config_; }
  const TlsLineCounters& line_counters(size_t line) const { return line_counters_[line]; }
  size_t line_count() const { return config_.lines.size(); }
  // Lines stopped by a fatal status; see also the log.
  uint32_t lines_stopped() const { return lines_stopped_.load(std::memory_order_relaxed); }

 private:
  struct Run;

  TlsStreamLinkConfig config_;
  std::unique_ptr<TlsLineCounters[]> line_counters_;
  std::atomic<uint32_t> lines_stopped_{0};
};

}  // namespace oddsbus::feeds::betfair
