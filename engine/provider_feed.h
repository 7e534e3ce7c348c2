// One provider feed's thread state in a node (DESIGN section 3): its link (all its redundant
// lines, feeds/link/provider_link.h), its adapter, and the ingest producer it pushes into. The
// link's callbacks, on the feed's own thread, parse each message into events (stamped with the
// feed's name as their source) and push them, and push a kSourceStatus event when the feed comes
// up or loses every line. Rejections are counted per reason and logged at a limited rate.
//
// Thread safety: used by its feed thread only, but for `rejected`, which any thread may read.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/ingest_queues.h"
#include "engine/node.h"
#include "feeds/adapter.h"
#include "feeds/betfair/tls_stream_link.h"
#include "feeds/event.h"
#include "feeds/link/provider_link.h"
#include "feeds/mapping.h"
#include "feeds/rejection.h"
#include "feeds/uof/amqp_session.h"
#include "schemas/log.h"

namespace oddsbus::engine {

struct ProviderFeed;

// betfair-stream over TLS (`--feed NAME=betfair-stream@tls://HOST:PORT[,tls://...]`, DESIGN
// section 10): whether a --feed URL names a TLS stream session, and its check (betfair-stream
// only, well formed).
bool is_tls_url(std::string_view url);
std::expected<void, std::string> check_tls_feed_url(std::string_view format, std::string_view url);
// Sets up `feed` (adapter and feed.betfair) for a betfair-stream feed whose URLs are tls://: the
// credentials file (spec.auth_file, required) gives app_key, session_token and ca_file; the
// mapping (may be null) gives the markets to subscribe to. An error is one line for the operator.
std::expected<void, std::string> open_betfair_session(ProviderFeed& feed,
                                                      const feeds::Mapping* mapping,
                                                      uint64_t jitter_seed);
// Runs feed.betfair with the ProviderFeed callbacks until `stop` (the feed thread's body).
void run_betfair_session(ProviderFeed& feed, const std::atomic<bool>& stop);

// One provider's thread state: its link (all its lines), adapter and queue index.
struct ProviderFeed {
  FeedSpec spec;
  size_t producer = 0;
  IngestQueues* queues = nullptr;
  const std::atomic<bool>* stop = nullptr;
  std::unique_ptr<feeds::Adapter> adapter;
  std::unique_ptr<feeds::link::ProviderLink> link;
  // uof-xml over AMQP (amqp:// or amqps://) instead of TCP lines: open_uof_session() sets it and
  // the feed thread runs it instead of `link`, with the same callbacks.
  std::unique_ptr<feeds::uof::AmqpSession> uof_session;
  std::vector<feeds::Event> events;
  feeds::Event status_event;
  LogLimiter reject_log;
  uint64_t last_unknown_markets = 0;
  uint64_t last_unknown_selections = 0;
  std::array<std::atomic<uint64_t>, static_cast<size_t>(feeds::RejectReason::kCount)> rejected{};
  // betfair-stream over TLS: open_betfair_session() sets it and the feed thread runs it instead
  // of `link` (null then).
  std::unique_ptr<feeds::betfair::TlsStreamLink> betfair;

  // feeds::link::ProviderLink::Callbacks, with `ctx` this ProviderFeed.
  static void on_message(void* ctx, size_t line, std::string_view message);
  static void on_health(void* ctx, bool up);
  static void on_line_state(void* ctx, size_t line, bool connected);
};

// Logs what a provider session counted (uof-xml over AMQP: connects, producers, recoveries), once,
// when the node stops. Nothing for plain TCP lines.
void log_session_summary(const ProviderFeed& feed);

// Whether `url` names an AMQP session (amqp:// or amqps://), which only uof-xml feeds speak.
bool is_amqp_url(std::string_view url);
// Checks an amqp(s):// URL given to --feed NAME=FORMAT@URL: uof-xml only, and well formed.
std::expected<void, std::string> check_amqp_feed_url(std::string_view format, std::string_view url);

// Sets feed.uof_session for a uof-xml feed whose one URL is amqp(s):// (DESIGN section 10): the
// credentials file (spec.auth_file, required) gives the access token, api_url, node_id and
// ca_file; the mapping (may be null) gives the routing keys. An error is one line for the operator.
std::expected<void, std::string> open_uof_session(ProviderFeed& feed, const feeds::Mapping* mapping,
                                                  uint64_t jitter_seed);

}  // namespace oddsbus::engine
