#include "feeds/betfair/tls_stream_link.h"

#include <openssl/ssl.h>

#include <cassert>
#include <cinttypes>
#include <optional>
#include <span>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "feeds/line_splitter.h"
#include "schemas/log.h"

namespace oddsbus::feeds::betfair {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {

uint64_t monotonic_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

void add(std::atomic<uint64_t>& counter, uint64_t value) {
  counter.store(value, std::memory_order_relaxed);
}

}  // namespace

// One run(): the io_context, the TLS context, and every line's connection and session.
struct TlsStreamLink::Run {
  struct Line {
    size_t index = 0;
    TcpEndpoint endpoint;
    StreamSession session;
    LineSplitter splitter;
    asio::steady_timer timer;  // reconnect delay, or the connect timeout
    std::unique_ptr<ssl::stream<tcp::socket>> stream;
    std::unique_ptr<tcp::resolver> resolver;
    std::array<char, 1 << 16> buffer{};
    std::string queued;    // to write after the write in flight
    std::string inflight;  // being written
    bool writing = false;
    bool open = false;           // a connection exists (connecting or connected)
    bool connected = false;      // the TLS handshake completed
    bool up = false;             // delivered a change on this connection
    bool done = false;           // stopped by a fatal status
    uint64_t generation = 0;     // bumped per connection; stale completions see a different one
    uint64_t last_heard_ns = 0;  // when the last message arrived
    SessionActions actions;
    LogLimiter log_limit{2'000'000'000};

    Line(asio::io_context& io, size_t i, TcpEndpoint e, StreamSessionConfig config, size_t max_line)
        : index(i),
          endpoint(std::move(e)),
          session(std::move(config)),
          splitter(max_line),
          timer(io) {}
  };

  TlsStreamLink& link;
  const std::atomic<bool>& stop;
  const link::ProviderLink::Callbacks& callbacks;
  asio::io_context io;
  ssl::context tls{ssl::context::tls_client};
  asio::steady_timer tick;
  link::MessageDedup dedup;
  std::vector<std::unique_ptr<Line>> lines;
  uint32_t lines_up = 0;
  bool stopping = false;

  Run(TlsStreamLink& l, const std::atomic<bool>& s, const link::ProviderLink::Callbacks& c)
      : link(l), stop(s), callbacks(c), tick(io), dedup(l.config_.lines.size(), l.config_.dedup) {
    const TlsStreamLinkConfig& config = link.config_;
    tls.set_verify_mode(ssl::verify_peer);
    boost::system::error_code error;
    if (config.ca_file.empty()) {
      tls.set_default_verify_paths(error);
    } else {
      tls.load_verify_file(config.ca_file, error);
    }
    if (error) {
      log(LogLevel::kError, "feed %s: cannot load the certificate authorities%s%s: %s",
          config.feed.c_str(), config.ca_file.empty() ? "" : " from ", config.ca_file.c_str(),
          error.message().c_str());
    }
    for (size_t i = 0; i < config.lines.size(); ++i) {
      StreamSessionConfig session = config.session;
      session.jitter_seed = config.session.jitter_seed * 31 + i;
      lines.push_back(
          std::make_unique<Line>(io, i, config.lines[i], std::move(session), config.max_line));
    }
  }

  void start() {
    for (auto& line : lines) connect(*line);
    schedule_tick();
  }

  void schedule_tick() {
    tick.expires_after(link.config_.tick_interval);
    tick.async_wait([this](boost::system::error_code error) {
      if (error) return;
      if (stop.load(std::memory_order_acquire)) {
        shutdown();
        return;
      }
      const uint64_t now = monotonic_ns();
      for (auto& line : lines) {
        if (!line->connected) continue;
        line->actions.clear();
        line->session.on_tick(now, line->actions);
        apply(*line);
      }
      schedule_tick();
    });
  }

  void shutdown() {
    stopping = true;
    for (auto& line : lines) {
      line->timer.cancel();
      if (line->open) drop(*line, /*reconnect=*/false);
    }
  }

  void connect(Line& line) {
    if (stopping || line.done) return;
    const uint64_t generation = ++line.generation;
    line.open = true;
    line.connected = false;
    line.splitter.reset();
    line.queued.clear();
    line.inflight.clear();
    line.writing = false;
    line.stream = std::make_unique<ssl::stream<tcp::socket>>(io, tls);
    // SNI, and the certificate must name the host (or IP address) the line was given.
    SSL_set_tlsext_host_name(line.stream->native_handle(), line.endpoint.host.c_str());
    line.stream->set_verify_callback(ssl::host_name_verification(line.endpoint.host));
    line.resolver = std::make_unique<tcp::resolver>(io);
    line.timer.expires_after(link.config_.connect_timeout);
    line.timer.async_wait([this, &line, generation](boost::system::error_code error) {
      if (error || generation != line.generation || line.connected) return;
      connect_failed(line, "timed out");
    });
    line.resolver->async_resolve(
        line.endpoint.host, std::to_string(line.endpoint.port),
        [this, &line, generation](boost::system::error_code error,
                                  const tcp::resolver::results_type& results) {
          if (generation != line.generation) return;
          if (error) return connect_failed(line, "cannot resolve: " + error.message());
          asio::async_connect(
              line.stream->lowest_layer(), results,
              [this, &line, generation](boost::system::error_code error, const tcp::endpoint&) {
                if (generation != line.generation) return;
                if (error) return connect_failed(line, error.message());
                line.stream->lowest_layer().set_option(tcp::no_delay(true), error);
                line.stream->async_handshake(
                    ssl::stream_base::client,
                    [this, &line, generation](boost::system::error_code error) {
                      if (generation != line.generation) return;
                      if (error) return connect_failed(line, "TLS: " + error.message());
                      connected(line);
                    });
              });
        });
  }

  void connect_failed(Line& line, const std::string& why) {
    link.line_counters_[line.index].connect_failures.fetch_add(1, std::memory_order_relaxed);
    if (line.log_limit.allow(monotonic_ns())) {
      log(LogLevel::kWarn, "feed %s: line %zu cannot connect to %s:%u: %s",
          link.config_.feed.c_str(), line.index, line.endpoint.host.c_str(), line.endpoint.port,
          why.c_str());
    }
    drop(line, /*reconnect=*/true);
  }

  void connected(Line& line) {
    line.connected = true;
    line.timer.cancel();
    if (callbacks.on_line_state != nullptr)
      callbacks.on_line_state(callbacks.ctx, line.index, true);
    line.actions.clear();
    line.session.on_connected(monotonic_ns(), line.actions);
    apply(line);
    read(line);
  }

  void read(Line& line) {
    const uint64_t generation = line.generation;
    line.stream->async_read_some(asio::buffer(line.buffer), [this, &line, generation](
                                                                boost::system::error_code error,
                                                                size_t n) {
      if (generation != line.generation) return;
      if (error) {
        if (line.log_limit.allow(monotonic_ns())) {
          log(LogLevel::kWarn, "feed %s: line %zu lost: %s", link.config_.feed.c_str(), line.index,
              error.message().c_str());
        }
        drop(line, /*reconnect=*/true);
        return;
      }
      link.line_counters_[line.index].bytes.fetch_add(n, std::memory_order_relaxed);
      bool closed = false;
      line.splitter.feed(std::string_view(line.buffer.data(), n), [&](std::string_view message,
                                                                      bool too_long) {
        if (closed) return;
        if (too_long) {
          link.line_counters_[line.index].lines_too_long.fetch_add(1, std::memory_order_relaxed);
          log(LogLevel::kWarn,
              "feed %s: line %zu: a message longer than %zu bytes; "
              "reconnecting",
              link.config_.feed.c_str(), line.index, line.splitter.max_line());
          drop(line, /*reconnect=*/true);
          closed = true;
          return;
        }
        line.actions.clear();
        line.last_heard_ns = monotonic_ns();
        line.session.on_message(message, line.last_heard_ns, line.actions);
        closed = !apply(line);
      });
      if (!closed && generation == line.generation) read(line);
    });
  }

  // Carries out a session's actions. False when the connection was closed.
  bool apply(Line& line) {
    SessionActions& out = line.actions;
    TlsLineCounters& c = link.line_counters_[line.index];
    for (const SessionNotice& notice : out.notices) log_notice(line, notice);
    // An image or resume restates what a streaming line has delivered already; its bytes match
    // nothing that line carried, so de-duplication would apply it again, possibly over newer
    // changes from the streaming line. Only a line that is alone delivers it.
    const bool skip = out.restates && another_line_live(line);
    if (skip) c.restatements_skipped.fetch_add(1, std::memory_order_relaxed);
    for (std::string_view message : skip ? std::span<const std::string_view>{} : out.deliver) {
      if (dedup.admit(line.index, link::message_key("betfair-stream", message))) {
        c.messages.fetch_add(1, std::memory_order_relaxed);
        callbacks.on_message(callbacks.ctx, line.index, message);
      } else {
        c.duplicates.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (!out.deliver.empty() && !line.up) {
      line.up = true;
      if (lines_up++ == 0 && callbacks.on_health != nullptr)
        callbacks.on_health(callbacks.ctx, true);
    }
    if (!out.send.empty()) {
      line.queued += out.send;
      write(line);
    }
    publish_counters(line);
    if (out.action == ConnectionAction::kKeep) return true;
    if (out.action == ConnectionAction::kStop) {
      line.done = true;
      link.lines_stopped_.fetch_add(1, std::memory_order_relaxed);
      log(LogLevel::kError, "feed %s: line %zu stopped: %s", link.config_.feed.c_str(), line.index,
          line.session.stop_reason().c_str());
    }
    drop(line, /*reconnect=*/!line.done);
    return false;
  }

  // Whether a line other than `line` streams and has heard from the server within two heartbeat
  // intervals (Betfair sends a HEARTBEAT every heartbeatMs when it has nothing else): one that went
  // quiet may have stalled, and its state cannot stand in for an image or resume.
  bool another_line_live(const Line& line) const {
    const uint64_t now = monotonic_ns();
    const uint64_t window = 2ULL * line.session.config().heartbeat_ms * 1'000'000;
    for (const auto& other : lines) {
      if (other.get() != &line && other->up && now - other->last_heard_ns <= window) return true;
    }
    return false;
  }

  void write(Line& line) {
    if (line.writing || line.queued.empty() || !line.connected) return;
    line.writing = true;
    std::swap(line.inflight, line.queued);
    line.queued.clear();
    const uint64_t generation = line.generation;
    asio::async_write(*line.stream, asio::buffer(line.inflight),
                      [this, &line, generation](boost::system::error_code error, size_t) {
                        if (generation != line.generation) return;
                        line.writing = false;
                        line.inflight.clear();
                        if (error) {
                          drop(line, /*reconnect=*/true);
                          return;
                        }
                        write(line);
                      });
  }

  // Closes the line's connection (if any), tells the session, and schedules the reconnect.
  void drop(Line& line, bool reconnect) {
    if (!line.open) return;
    line.open = false;
    ++line.generation;  // every pending completion of this connection is now stale
    boost::system::error_code ignored;
    if (line.resolver) line.resolver->cancel();
    if (line.stream) line.stream->lowest_layer().close(ignored);
    line.timer.cancel();
    if (line.connected) {
      line.connected = false;
      link.line_counters_[line.index].disconnects.fetch_add(1, std::memory_order_relaxed);
      if (callbacks.on_line_state != nullptr) {
        callbacks.on_line_state(callbacks.ctx, line.index, false);
      }
    }
    if (line.up) {
      line.up = false;
      if (--lines_up == 0 && callbacks.on_health != nullptr)
        callbacks.on_health(callbacks.ctx, false);
    }
    line.actions.clear();
    line.session.on_disconnected(monotonic_ns(), line.actions);
    for (const SessionNotice& notice : line.actions.notices) log_notice(line, notice);
    publish_counters(line);
    if (!reconnect || stopping || line.session.stopped()) return;
    line.timer.expires_after(std::chrono::nanoseconds(line.actions.retry_after_ns));
    const uint64_t generation = line.generation;
    line.timer.async_wait([this, &line, generation](boost::system::error_code error) {
      if (error || generation != line.generation) return;
      connect(line);
    });
  }

  void log_notice(Line& line, const SessionNotice& notice) {
    using Kind = SessionNotice::Kind;
    const char* feed = link.config_.feed.c_str();
    switch (notice.kind) {
      case Kind::kSubscribed:
        log(LogLevel::kInfo, "feed %s: line %zu subscribed (%s)", feed, line.index,
            notice.detail.c_str());
        return;
      case Kind::kImage:
        log(notice.detail == "expected" ? LogLevel::kInfo : LogLevel::kWarn,
            "feed %s: line %zu: image %s", feed, line.index, notice.detail.c_str());
        return;
      case Kind::kResumed:
        log(LogLevel::kInfo, "feed %s: line %zu resumed from clk", feed, line.index);
        return;
      case Kind::kFatal:
        return;  // apply() logs the stop once
      case Kind::kConnected:
      case Kind::kAuthenticated:
        return;  // on_line_state and kSubscribed say enough
      default:
        if (line.log_limit.allow(monotonic_ns())) {
          log(LogLevel::kWarn, "feed %s: line %zu: %s", feed, line.index, notice.detail.c_str());
        }
    }
  }

  void publish_counters(Line& line) {
    TlsLineCounters& c = link.line_counters_[line.index];
    const StreamSessionCounters& s = line.session.counters();
    c.state.store(static_cast<uint8_t>(line.session.state()), std::memory_order_relaxed);
    add(c.connects, s.connects);
    add(c.images, s.images);
    add(c.images_instead_of_resume, s.images_instead_of_resume);
    add(c.resumes, s.resumes);
    add(c.resubscriptions, s.resubscriptions);
    add(c.segments_discarded, s.segments_discarded);
    add(c.silences, s.silences);
    for (size_t i = 0; i < s.status_errors.size(); ++i) add(c.status_errors[i], s.status_errors[i]);
  }
};

std::expected<TcpEndpoint, std::string> parse_tls_url(std::string_view url) {
  constexpr std::string_view kScheme = "tls://";
  if (!url.starts_with(kScheme)) {
    return std::unexpected("unsupported scheme in '" + std::string(url) +
                           "': expected tls://HOST:PORT");
  }
  auto endpoint = parse_tcp_url("tcp://" + std::string(url.substr(kScheme.size())));
  if (!endpoint) {
    std::string message = endpoint.error();
    for (size_t at = message.find("tcp://"); at != std::string::npos;
         at = message.find("tcp://", at)) {
      message.replace(at, 6, "tls://");
    }
    return std::unexpected(message);
  }
  return endpoint;
}

TlsStreamLink::TlsStreamLink(TlsStreamLinkConfig config)
    : config_(std::move(config)),
      line_counters_(std::make_unique<TlsLineCounters[]>(config_.lines.size())) {
  assert(!config_.lines.empty());
}

TlsStreamLink::~TlsStreamLink() = default;

void TlsStreamLink::run(const std::atomic<bool>& stop,
                        const link::ProviderLink::Callbacks& callbacks) {
  Run run(*this, stop, callbacks);
  run.start();
  run.io.run();
}

}  // namespace oddsbus::feeds::betfair
