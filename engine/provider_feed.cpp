#include "engine/provider_feed.h"

#include <cinttypes>

#include "engine/clocks.h"
#include "feeds/link/feed_credentials.h"

namespace oddsbus::engine {

bool is_tls_url(std::string_view url) { return url.starts_with("tls://"); }

std::expected<void, std::string> check_tls_feed_url(std::string_view format, std::string_view url) {
  if (format != "betfair-stream") {
    return std::unexpected("a TLS URL (" + std::string(url) + ") is for betfair-stream feeds only");
  }
  if (auto parsed = feeds::betfair::parse_tls_url(url); !parsed) {
    return std::unexpected(parsed.error());
  }
  return {};
}

std::expected<void, std::string> open_betfair_session(ProviderFeed& feed,
                                                      const feeds::Mapping* mapping,
                                                      uint64_t jitter_seed) {
  const FeedSpec& spec = feed.spec;
  feeds::betfair::TlsStreamLinkConfig config;
  config.feed = spec.name;
  for (const std::string& url : spec.urls) {
    auto endpoint = feeds::betfair::parse_tls_url(url);
    if (!endpoint) {
      return std::unexpected("--feed " + spec.name +
                             ": every line of a TLS session is tls://: " + endpoint.error());
    }
    config.lines.push_back(std::move(*endpoint));
  }
  if (spec.auth_file.empty()) {
    return std::unexpected("--feed " + spec.name + ": a Betfair stream session needs --feed-auth " +
                           spec.name + "=FILE (app_key, session_token)");
  }
  auto credentials =
      feeds::link::load_feed_credentials(spec.auth_file, feeds::link::CredentialsKind::kBetfair);
  if (!credentials) return std::unexpected(credentials.error());
  config.session.app_key = credentials->app_key;
  config.session.session_token = credentials->session_token;
  config.ca_file = credentials->ca_file;
  config.session.jitter_seed = jitter_seed;
  if (mapping != nullptr) {
    for (const feeds::MarketMapping& market : mapping->markets()) {
      for (const feeds::ProviderMarketMapping& provider : market.providers) {
        if (provider.feed == spec.name) config.session.market_ids.push_back(provider.market);
      }
    }
  }
  if (config.session.market_ids.empty()) {
    return std::unexpected("--feed " + spec.name +
                           ": the mapping names no market for this feed, so a Betfair stream "
                           "session has nothing to subscribe to (see --mapping)");
  }
  auto adapter = feeds::make_adapter(spec.format, spec.name, mapping);
  if (!adapter) return std::unexpected(adapter.error());
  feed.adapter = std::move(*adapter);
  feed.betfair = std::make_unique<feeds::betfair::TlsStreamLink>(std::move(config));
  return {};
}

void run_betfair_session(ProviderFeed& feed, const std::atomic<bool>& stop) {
  feeds::link::ProviderLink::Callbacks callbacks;
  callbacks.on_message = &ProviderFeed::on_message;
  callbacks.on_health = &ProviderFeed::on_health;
  callbacks.on_line_state = &ProviderFeed::on_line_state;
  callbacks.ctx = &feed;
  feed.betfair->run(stop, callbacks);
  for (size_t i = 0; i < feed.betfair->line_count(); ++i) {
    const feeds::betfair::TlsLineCounters& c = feed.betfair->line_counters(i);
    auto n = [](const std::atomic<uint64_t>& v) {
      return static_cast<unsigned long long>(v.load(std::memory_order_relaxed));
    };
    uint64_t status_errors = 0;
    for (const auto& e : c.status_errors) status_errors += e.load(std::memory_order_relaxed);
    log(LogLevel::kInfo,
        "feed %s: line %zu betfair session: %llu connects, %llu connect failures, %llu "
        "disconnects, %llu images (%llu instead of a resume), %llu resumes, %llu status errors, "
        "%llu changes, %llu duplicates, %llu images or resumes skipped while another line streamed",
        feed.spec.name.c_str(), i, n(c.connects), n(c.connect_failures), n(c.disconnects),
        n(c.images), n(c.images_instead_of_resume), n(c.resumes),
        static_cast<unsigned long long>(status_errors), n(c.messages), n(c.duplicates),
        n(c.restatements_skipped));
  }
}

void ProviderFeed::on_message(void* ctx, size_t, std::string_view message) {
  auto* self = static_cast<ProviderFeed*>(ctx);
  self->events.clear();
  auto parsed = self->adapter->parse(message, self->events);
  const auto& counters = self->adapter->counters();
  if (!parsed) {
    const auto& rejection = parsed.error();
    self->rejected[static_cast<size_t>(rejection.reason)].fetch_add(1, std::memory_order_relaxed);
    if (self->reject_log.allow(read_clocks().monotonic_ns)) {
      log(LogLevel::kWarn, "feed %s: rejected message: %s%s%s (%" PRIu64 " more suppressed)",
          self->spec.name.c_str(), feeds::to_string(rejection.reason).data(),
          rejection.detail.empty() ? "" : ": ", rejection.detail.c_str(),
          self->reject_log.suppressed());
    }
    return;
  }
  if ((counters.unknown_markets != self->last_unknown_markets ||
       counters.unknown_selections != self->last_unknown_selections) &&
      self->reject_log.allow(read_clocks().monotonic_ns)) {
    std::string sample;
    for (const auto& id : self->adapter->unknown_ids()) sample += (sample.empty() ? "" : ", ") + id;
    log(LogLevel::kWarn,
        "feed %s: %" PRIu64 " unknown market and %" PRIu64
        " unknown selection references so far, not in the mapping (e.g. %s)",
        self->spec.name.c_str(), counters.unknown_markets, counters.unknown_selections,
        sample.c_str());
  }
  self->last_unknown_markets = counters.unknown_markets;
  self->last_unknown_selections = counters.unknown_selections;
  for (feeds::Event& e : self->events) {
    e.source = self->spec.name;
    self->queues->push(self->producer, e, *self->stop);
  }
}

void ProviderFeed::on_health(void* ctx, bool up) {
  auto* self = static_cast<ProviderFeed*>(ctx);
  log(up ? LogLevel::kInfo : LogLevel::kWarn, "feed %s: %s", self->spec.name.c_str(),
      up ? "connected" : "lost every line");
  self->status_event = feeds::Event{};
  self->status_event.type = feeds::EventType::kSourceStatus;
  self->status_event.source = self->spec.name;
  self->status_event.source_up = up;
  self->queues->push(self->producer, self->status_event, *self->stop);
}

void ProviderFeed::on_line_state(void* ctx, size_t line, bool connected) {
  auto* self = static_cast<ProviderFeed*>(ctx);
  log(connected ? LogLevel::kInfo : LogLevel::kWarn, "feed %s: line %zu %s %s",
      self->spec.name.c_str(), line, connected ? "connected to" : "lost",
      self->spec.urls[line].c_str());
}

void log_session_summary(const ProviderFeed& feed) {
  if (!feed.uof_session) return;
  const feeds::uof::AmqpSessionCounters& c = feed.uof_session->counters();
  auto n = [](const std::atomic<uint64_t>& v) {
    return static_cast<unsigned long long>(v.load(std::memory_order_relaxed));
  };
  log(LogLevel::kInfo,
      "feed %s: uof session: %llu connects, %llu connect failures, %llu disconnects, %llu "
      "messages, %llu producer up, %llu producer down, %llu recovery requests, %llu recovery "
      "failures, %llu recovery timeouts, %llu snapshot_complete ignored",
      feed.spec.name.c_str(), n(c.connects), n(c.connect_failures), n(c.disconnects), n(c.messages),
      n(c.producer_up), n(c.producer_down), n(c.recovery_requests), n(c.recovery_failures),
      n(c.recovery_timeouts), n(c.snapshots_ignored));
}

bool is_amqp_url(std::string_view url) {
  return url.starts_with("amqp://") || url.starts_with("amqps://");
}

std::expected<void, std::string> check_amqp_feed_url(std::string_view format,
                                                     std::string_view url) {
  if (format != "uof-xml") {
    return std::unexpected("an AMQP URL (" + std::string(url) + ") is for uof-xml feeds only");
  }
  if (auto parsed = feeds::uof::parse_amqp_url(url); !parsed)
    return std::unexpected(parsed.error());
  return {};
}

std::expected<void, std::string> open_uof_session(ProviderFeed& feed, const feeds::Mapping* mapping,
                                                  uint64_t jitter_seed) {
  const FeedSpec& spec = feed.spec;
  if (spec.urls.size() != 1) {
    return std::unexpected("--feed " + spec.name + ": an AMQP session has one URL");
  }
  if (spec.auth_file.empty()) {
    return std::unexpected("--feed " + spec.name + ": an AMQP session needs --feed-auth " +
                           spec.name + "=FILE (access_token, api_url)");
  }
  auto url = feeds::uof::parse_amqp_url(spec.urls[0]);
  if (!url) return std::unexpected("--feed " + spec.name + ": " + url.error());
  auto credentials =
      feeds::link::load_feed_credentials(spec.auth_file, feeds::link::CredentialsKind::kUof);
  if (!credentials) return std::unexpected(credentials.error());
  auto api = feeds::uof::parse_api_url(credentials->api_url);
  if (!api) return std::unexpected(spec.auth_file + ": " + api.error());
  feeds::uof::AmqpSessionConfig config;
  config.feed = spec.name;
  config.url = std::move(*url);
  config.access_token = credentials->access_token;
  config.ca_file = credentials->ca_file;
  const feeds::Mapping none;
  config.binding_keys = feeds::uof::binding_keys(mapping ? *mapping : none, spec.name);
  config.producers.node_id = credentials->node_id;
  config.recovery.api = std::move(*api);
  config.recovery.access_token = credentials->access_token;
  config.recovery.ca_file = credentials->ca_file;
  config.jitter_seed = jitter_seed;
  feed.uof_session = std::make_unique<feeds::uof::AmqpSession>(std::move(config));
  return {};
}

}  // namespace oddsbus::engine
