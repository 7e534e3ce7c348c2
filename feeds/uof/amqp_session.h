// A Sportradar Unified Odds Feed session over AMQP 0-9-1 (DESIGN section 10:
// `--feed NAME=uof-xml@amqps://HOST:PORT/VHOST` or `amqp://`, with `--feed-auth NAME=FILE`), with
// Debian's librabbitmq (rabbitmq-c). As the UOF documentation's "Basic message configuration"
// table says (docs.sportradar.com/uof/data-and-features/messages): the access token is the user
// name and the password is blank; the virtual host is `/unifiedfeed/<bookmaker_id>`; messages are
// published on the `unifiedfeed` topic exchange; a client cannot create named queues and asks for a
// server-named, exclusive, non-durable one, bound with the routing keys of
// "AMQP topic filtering" (producer_session.h, binding_keys). amqps uses TLS (port 5671 on
// Sportradar), verifying the broker's certificate and host name against ca_file, or the system's
// CA store when none is given.
//
// Each message body is one UOF XML document. It goes through a ProducerSession (producer health,
// recovery requests, which snapshot_complete ends a recovery) and then to callbacks.on_message,
// with the synthetic messages the session injects before it; the caller's adapter reads them all
// (engine/provider_feed.h). Recovery requests go to the API through a RecoveryApiClient.
//
// The URL's path after HOST:PORT is the virtual host, percent-decoded and with its leading '/'
// kept: `amqps://mq.betradar.com:5671/unifiedfeed/12345` is vhost "/unifiedfeed/12345", and
// `amqp://127.0.0.1:5672/` (or no path) is RabbitMQ's default "/".
//
// Reconnects with capped exponential backoff and full jitter (feeds/backoff_jitter.h), from
// initial_backoff again after a connection that carried messages. A lost connection takes every
// producer down (ProducerSession::on_disconnected): the markets they priced are suspended until
// each has recovered on the new connection.
//
// Thread safety: run() blocks its calling thread (the feed's) until `stop` is set, noticing it
// within poll_interval (also during backoff; a connect or login waits at most connect_timeout).
// Callbacks run on that thread. counters() may be read from any thread (relaxed atomics).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/link/provider_link.h"
#include "feeds/uof/producer_session.h"
#include "feeds/uof/recovery_api_client.h"

namespace oddsbus::feeds::uof {

struct AmqpUrl {
  bool tls = false;
  std::string host;
  uint16_t port = 0;
  std::string vhost = "/";
  // Query parameters: RabbitMQ's URI names `heartbeat` (s) and `connection_timeout` (ms)
  // (rabbitmq.com/docs/uri-query-parameters), and the producer session's limits in ms:
  // `inactivity_ms`, `min_recovery_interval_ms`, `max_recovery_ms` (producer_session.h has the
  // documented defaults; tests shorten them).
  std::optional<uint64_t> heartbeat_s;
  std::optional<uint64_t> connection_timeout_ms;
  std::optional<uint64_t> inactivity_ms;
  std::optional<uint64_t> min_recovery_interval_ms;
  std::optional<uint64_t> max_recovery_ms;
};
// amqp://HOST[:PORT][/VHOST][?NAME=VALUE&...] or amqps://... (ports default to 5672 and 5671).
// Unknown query parameters are refused.
std::expected<AmqpUrl, std::string> parse_amqp_url(std::string_view url);

struct AmqpSessionConfig {
  std::string feed;  // for logs
  AmqpUrl url;
  std::string access_token;  // the AMQP user name (and the API's x-access-token)
  std::string ca_file;
  std::string exchange = "unifiedfeed";
  std::vector<std::string> binding_keys{"#"};
  ProducerSessionConfig producers;
  RecoveryApiConfig recovery;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::milliseconds poll_interval{100};
  std::chrono::milliseconds connect_timeout{10000};
  uint16_t heartbeat_seconds = 20;  // AMQP heartbeat: a dead broker is noticed within ~2x this
  uint64_t jitter_seed = 1;
};

struct AmqpSessionCounters {
  std::atomic<uint64_t> connects{0};
  std::atomic<uint64_t> connect_failures{0};  // includes login, queue and binding failures
  std::atomic<uint64_t> disconnects{0};
  std::atomic<uint64_t> messages{0};  // bodies received
  std::atomic<uint64_t> bytes{0};
  std::atomic<bool> connected{false};
  // ProducerSessionCounters, copied after every call.
  std::atomic<uint64_t> producer_up{0};
  std::atomic<uint64_t> producer_down{0};
  std::atomic<uint64_t> recovery_requests{0};
  std::atomic<uint64_t> recovery_failures{0};
  std::atomic<uint64_t> recovery_timeouts{0};
  std::atomic<uint64_t> snapshots_ignored{0};
};

class AmqpSession {
 public:
  // Applies config.url's query parameters over the config's own values.
  explicit AmqpSession(AmqpSessionConfig config);
  ~AmqpSession();
  AmqpSession(const AmqpSession&) = delete;
  AmqpSession& operator=(const AmqpSession&) = delete;

  // Serves the session until `stop` is set. callbacks: as ProviderLink's (line is always 0).
  void run(const std::atomic<bool>& stop, const link::ProviderLink::Callbacks& callbacks);

  const AmqpSessionConfig& config() const { return config_; }
  const AmqpSessionCounters& counters() const { return counters_; }

 private:
  AmqpSessionConfig config_;
  AmqpSessionCounters counters_;
};

}  // namespace oddsbus::feeds::uof
