#include "feeds/uof/amqp_session.h"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <charconv>
#include <thread>

#include "feeds/backoff_jitter.h"
#include "schemas/log.h"

namespace oddsbus::feeds::uof {
namespace {

using Clock = std::chrono::steady_clock;

SessionClock now_clock() {
  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  const auto mono = Clock::now().time_since_epoch();
  return {
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(wall).count()),
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(mono).count())};
}

timeval to_timeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

std::string reply_text(const amqp_rpc_reply_t& reply) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "ok";
    case AMQP_RESPONSE_NONE:
      return "no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return amqp_error_string2(reply.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
        return "server closed the connection: " + std::to_string(m->reply_code) + " " +
               std::string(static_cast<const char*>(m->reply_text.bytes), m->reply_text.len);
      }
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
        return "server closed the channel: " + std::to_string(m->reply_code) + " " +
               std::string(static_cast<const char*>(m->reply_text.bytes), m->reply_text.len);
      }
      return "server exception";
  }
  return "?";
}

// One AMQP connection with its channel 1 consuming the session's queue.
class Connection {
 public:
  Connection() : state_(amqp_new_connection()) {}
  ~Connection() {
    if (open_) {
      amqp_channel_close(state_, 1, AMQP_REPLY_SUCCESS);
      amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(state_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects, logs in, declares the queue, binds and starts consuming. An error says which step.
  std::expected<void, std::string> open(const AmqpSessionConfig& config) {
    const AmqpUrl& url = config.url;
    amqp_socket_t* socket = url.tls ? amqp_ssl_socket_new(state_) : amqp_tcp_socket_new(state_);
    if (socket == nullptr) return std::unexpected("cannot create a socket");
    if (url.tls) {
      amqp_ssl_socket_set_verify_peer(socket, 1);
      amqp_ssl_socket_set_verify_hostname(socket, 1);
      if (!config.ca_file.empty()) {
        if (amqp_ssl_socket_set_cacert(socket, config.ca_file.c_str()) != AMQP_STATUS_OK) {
          return std::unexpected("cannot load ca_file " + config.ca_file);
        }
      } else {
        auto* context = static_cast<SSL_CTX*>(amqp_ssl_socket_get_context(socket));
        if (context == nullptr || SSL_CTX_set_default_verify_paths(context) != 1) {
          return std::unexpected("cannot load the system's CA store");
        }
      }
    }
    timeval timeout = to_timeval(config.connect_timeout);
    amqp_set_handshake_timeout(state_, &timeout);
    amqp_set_rpc_timeout(state_, &timeout);
    if (const int status = amqp_socket_open_noblock(socket, url.host.c_str(), url.port, &timeout);
        status != AMQP_STATUS_OK) {
      return std::unexpected(std::string("connect: ") + amqp_error_string2(status));
    }
    // "Username: <your_security_access_token>, Password: <blank>" (UOF "Messages").
    const amqp_rpc_reply_t login =
        amqp_login(state_, url.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, config.heartbeat_seconds,
                   AMQP_SASL_METHOD_PLAIN, config.access_token.c_str(), "");
    if (login.reply_type != AMQP_RESPONSE_NORMAL)
      return std::unexpected("login: " + reply_text(login));
    amqp_channel_open(state_, 1);
    if (auto r = amqp_get_rpc_reply(state_); r.reply_type != AMQP_RESPONSE_NORMAL) {
      return std::unexpected("channel: " + reply_text(r));
    }
    open_ = true;
    // "request a server-named queue (empty queue name in the request) ... Exclusive,
    // Non-durable" (UOF "Messages"); auto-delete so that nothing is left behind on the broker.
    amqp_queue_declare_ok_t* declared =
        amqp_queue_declare(state_, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    if (auto r = amqp_get_rpc_reply(state_); r.reply_type != AMQP_RESPONSE_NORMAL || !declared) {
      return std::unexpected("queue: " + reply_text(r));
    }
    const amqp_bytes_t queue = amqp_bytes_malloc_dup(declared->queue);
    for (const std::string& key : config.binding_keys) {
      amqp_queue_bind(state_, 1, queue, amqp_cstring_bytes(config.exchange.c_str()),
                      amqp_cstring_bytes(key.c_str()), amqp_empty_table);
      if (auto r = amqp_get_rpc_reply(state_); r.reply_type != AMQP_RESPONSE_NORMAL) {
        amqp_bytes_free(queue);
        return std::unexpected("bind " + key + " to " + config.exchange + ": " + reply_text(r));
      }
    }
    amqp_basic_consume(state_, 1, queue, amqp_empty_bytes, 0, 1, 1, amqp_empty_table);
    amqp_bytes_free(queue);
    if (auto r = amqp_get_rpc_reply(state_); r.reply_type != AMQP_RESPONSE_NORMAL) {
      return std::unexpected("consume: " + reply_text(r));
    }
    return {};
  }

  enum class Read : uint8_t { kMessage, kIdle, kLost };
  // Waits up to `wait` for one message; its body is in `body` until the next call.
  Read read(std::chrono::milliseconds wait, std::string& body, std::string& why) {
    if (have_envelope_) {
      amqp_destroy_envelope(&envelope_);
      have_envelope_ = false;
    }
    amqp_maybe_release_buffers(state_);
    timeval timeout = to_timeval(wait);
    const amqp_rpc_reply_t reply = amqp_consume_message(state_, &envelope_, &timeout, 0);
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
      have_envelope_ = true;
      body.assign(static_cast<const char*>(envelope_.message.body.bytes),
                  envelope_.message.body.len);
      return Read::kMessage;
    }
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        reply.library_error == AMQP_STATUS_TIMEOUT) {
      return Read::kIdle;
    }
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      // A frame other than a delivery: a close ends the session; anything else is skipped.
      amqp_frame_t frame;
      timeval none{0, 0};
      if (amqp_simple_wait_frame_noblock(state_, &frame, &none) != AMQP_STATUS_OK)
        return Read::kIdle;
      if (frame.frame_type == AMQP_FRAME_METHOD &&
          (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
           frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
        why = frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD
                  ? "channel closed by the broker"
                  : "connection closed by the broker";
        open_ = false;
        return Read::kLost;
      }
      return Read::kIdle;
    }
    why = reply_text(reply);
    return Read::kLost;
  }

 private:
  amqp_connection_state_t state_;
  amqp_envelope_t envelope_{};
  bool have_envelope_ = false;
  bool open_ = false;
};

}  // namespace

std::expected<AmqpUrl, std::string> parse_amqp_url(std::string_view url) {
  AmqpUrl parsed;
  std::string_view rest;
  if (url.starts_with("amqps://")) {
    parsed.tls = true;
    rest = url.substr(8);
  } else if (url.starts_with("amqp://")) {
    rest = url.substr(7);
  } else {
    return std::unexpected("'" + std::string(url) + "' is not amqp(s)://HOST[:PORT][/VHOST]");
  }
  if (const size_t question = rest.find('?'); question != std::string_view::npos) {
    std::string_view query = rest.substr(question + 1);
    rest = rest.substr(0, question);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
      const size_t eq = pair.find('=');
      const std::string_view name = pair.substr(0, eq);
      const std::string_view text = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
      uint64_t value = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) {
        return std::unexpected("'" + std::string(url) + "': " + std::string(name) +
                               " is not a number");
      }
      if (name == "heartbeat") {
        parsed.heartbeat_s = value;
      } else if (name == "connection_timeout") {
        parsed.connection_timeout_ms = value;
      } else if (name == "inactivity_ms") {
        parsed.inactivity_ms = value;
      } else if (name == "min_recovery_interval_ms") {
        parsed.min_recovery_interval_ms = value;
      } else if (name == "max_recovery_ms") {
        parsed.max_recovery_ms = value;
      } else {
        return std::unexpected("'" + std::string(url) + "': unknown parameter " +
                               std::string(name));
      }
    }
  }
  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  const size_t colon = authority.rfind(':');
  parsed.port = parsed.tls ? 5671 : 5672;
  if (colon != std::string_view::npos) {
    const std::string_view port = authority.substr(colon + 1);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      return std::unexpected("'" + std::string(url) + "': bad port");
    }
    parsed.port = static_cast<uint16_t>(value);
    parsed.host = std::string(authority.substr(0, colon));
  } else {
    parsed.host = std::string(authority);
  }
  if (parsed.host.empty()) return std::unexpected("'" + std::string(url) + "': no host");
  if (slash != std::string_view::npos && slash + 1 < rest.size()) {
    std::string vhost;
    const std::string_view path = rest.substr(slash);  // keeps the leading '/'
    for (size_t i = 0; i < path.size(); ++i) {
      if (path[i] == '%' && i + 2 < path.size()) {
        unsigned byte = 0;
        const auto [end, ec] = std::from_chars(path.data() + i + 1, path.data() + i + 3, byte, 16);
        if (ec != std::errc{} || end != path.data() + i + 3) {
          return std::unexpected("'" + std::string(url) + "': bad %-escape in the vhost");
        }
        vhost += static_cast<char>(byte);
        i += 2;
      } else {
        vhost += path[i];
      }
    }
    // "%2F..." spells the whole vhost, "/" included.
    if (vhost.size() > 1 && vhost[0] == '/' && vhost[1] == '/') vhost.erase(0, 1);
    parsed.vhost = std::move(vhost);
  }
  return parsed;
}

AmqpSession::AmqpSession(AmqpSessionConfig config) : config_(std::move(config)) {
  const AmqpUrl& url = config_.url;
  constexpr uint64_t kMs = 1'000'000;
  if (url.heartbeat_s)
    config_.heartbeat_seconds = static_cast<uint16_t>(std::min<uint64_t>(*url.heartbeat_s, 65535));
  if (url.connection_timeout_ms)
    config_.connect_timeout = std::chrono::milliseconds(*url.connection_timeout_ms);
  if (url.inactivity_ms) config_.producers.inactivity_ns = *url.inactivity_ms * kMs;
  if (url.min_recovery_interval_ms) {
    config_.producers.min_request_interval_ns = *url.min_recovery_interval_ms * kMs;
  }
  if (url.max_recovery_ms) config_.producers.max_recovery_ns = *url.max_recovery_ms * kMs;
}
AmqpSession::~AmqpSession() = default;

void AmqpSession::run(const std::atomic<bool>& stop,
                      const link::ProviderLink::Callbacks& callbacks) {
  ProducerSession producers(config_.producers);
  RecoveryApiClient api(config_.recovery);
  ProducerActions actions;
  std::vector<RecoveryResult> results;
  BackoffJitter jitter(config_.jitter_seed);
  std::chrono::milliseconds backoff = config_.initial_backoff;
  LogLimiter failure_log;
  const char* feed = config_.feed.c_str();

  auto publish_counters = [&] {
    const ProducerSessionCounters& c = producers.counters();
    counters_.producer_up.store(c.producer_up, std::memory_order_relaxed);
    counters_.producer_down.store(c.producer_down, std::memory_order_relaxed);
    counters_.recovery_requests.store(c.recovery_requests, std::memory_order_relaxed);
    counters_.recovery_failures.store(c.recovery_failures, std::memory_order_relaxed);
    counters_.recovery_timeouts.store(c.recovery_timeouts, std::memory_order_relaxed);
    counters_.snapshots_ignored.store(c.snapshots_ignored, std::memory_order_relaxed);
  };
  // Does what the producer session asked: the adapter reads the injected messages, then the
  // message itself; requests go to the API; notices are state changes, logged.
  auto apply = [&](std::string_view message) {
    for (const std::string& injected : actions.inject)
      callbacks.on_message(callbacks.ctx, 0, injected);
    if (actions.deliver) callbacks.on_message(callbacks.ctx, 0, message);
    for (const RecoveryRequest& request : actions.requests) api.submit(request);
    for (const ProducerNotice& notice : actions.notices) {
      static constexpr const char* kKinds[] = {"down", "recovering", "up",
                                               "recovery request failed", "cannot recover"};
      log(notice.kind == ProducerNotice::Kind::kUp ||
                  notice.kind == ProducerNotice::Kind::kRecovering
              ? LogLevel::kInfo
              : LogLevel::kWarn,
          "feed %s: producer %llu %s: %s", feed, static_cast<unsigned long long>(notice.product),
          kKinds[static_cast<size_t>(notice.kind)], notice.detail.c_str());
    }
    publish_counters();
  };
  auto service = [&] {
    results.clear();
    api.drain(results);
    for (const RecoveryResult& r : results) {
      producers.on_request_result(r.product, r.request_id, r.accepted, r.detail, now_clock(),
                                  actions);
      apply({});
    }
    producers.on_tick(now_clock(), actions);
    apply({});
  };
  auto wait = [&](std::chrono::milliseconds total) {
    const auto until = Clock::now() + total;
    while (!stop.load(std::memory_order_acquire) && Clock::now() < until) {
      std::this_thread::sleep_for(
          std::min(config_.poll_interval,
                   std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now())));
      service();
    }
  };

  std::string body;
  std::string why;
  while (!stop.load(std::memory_order_acquire)) {
    Connection connection;
    if (auto opened = connection.open(config_); !opened) {
      counters_.connect_failures.fetch_add(1, std::memory_order_relaxed);
      if (failure_log.allow(now_clock().mono_ns)) {
        log(LogLevel::kWarn, "feed %s: %s:%u: %s (%llu more suppressed)", feed,
            config_.url.host.c_str(), config_.url.port, opened.error().c_str(),
            static_cast<unsigned long long>(failure_log.suppressed()));
      }
      wait(jitter.draw(backoff));
      backoff = std::min(backoff * 2, config_.max_backoff);
      continue;
    }
    counters_.connects.fetch_add(1, std::memory_order_relaxed);
    counters_.connected.store(true, std::memory_order_relaxed);
    if (callbacks.on_line_state) callbacks.on_line_state(callbacks.ctx, 0, true);
    if (callbacks.on_health) callbacks.on_health(callbacks.ctx, true);
    bool carried = false;
    bool lost = false;
    while (!stop.load(std::memory_order_acquire)) {
      const Connection::Read read = connection.read(config_.poll_interval, body, why);
      if (read == Connection::Read::kLost) {
        lost = true;
        break;
      }
      if (read == Connection::Read::kMessage) {
        carried = true;
        counters_.messages.fetch_add(1, std::memory_order_relaxed);
        counters_.bytes.fetch_add(body.size(), std::memory_order_relaxed);
        producers.on_message(body, now_clock(), actions);
        apply(body);
      }
      service();
    }
    counters_.connected.store(false, std::memory_order_relaxed);
    counters_.disconnects.fetch_add(1, std::memory_order_relaxed);
    if (lost) log(LogLevel::kWarn, "feed %s: connection lost: %s", feed, why.c_str());
    if (callbacks.on_line_state) callbacks.on_line_state(callbacks.ctx, 0, false);
    producers.on_disconnected(now_clock(), actions);
    apply({});
    if (callbacks.on_health) callbacks.on_health(callbacks.ctx, false);
    if (carried) backoff = config_.initial_backoff;
    if (lost) {
      wait(jitter.draw(backoff));
      backoff = std::min(backoff * 2, config_.max_backoff);
    }
  }
}

}  // namespace oddsbus::feeds::uof
