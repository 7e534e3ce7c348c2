// The edge's /metrics (DESIGN sections 4 and 5): every counter that says what the edge did
// (frames applied, duplicates, gaps, recoveries, snapshots, conflations, refusals, dropped
// clients) and the gauges that say where it stands (epoch, seq, lag, clients, staleness), in the
// Prometheus text format, serialised by prometheus-cpp. Names carry the `oddsbus_edge_` prefix;
// counters end in `_total`.
#pragma once

#include <cstdint>
#include <string>

#include "edge/arbiter.h"
#include "edge/client_stream.h"
#include "edge/connection_limits.h"
#include "edge/subscriber.h"

namespace oddsbus::edge {

// What the serving layer counts itself.
struct ServingCounters {
  uint64_t frames_applied = 0;
  uint64_t snapshots_installed = 0;
  uint64_t stale_transitions = 0;  // times the edge went stale
  uint64_t http_requests = 0;
  uint64_t http_refused = 0;  // 4xx answers: unknown path, bad method, bad request
  uint64_t ws_sessions_opened = 0;
  uint64_t ws_sessions_closed = 0;
  uint64_t idle_closes = 0;        // connections closed after idle_timeout
  uint64_t oversize_messages = 0;  // client messages over max_message_bytes (closed 1009)
  // Edge security (issue 14):
  uint64_t header_timeouts = 0;    // requests whose headers did not arrive within header_timeout
  uint64_t oversize_requests = 0;  // HTTP requests over the header or body limit (431 / 413)
  uint64_t unauthorized = 0;       // 401: no token, or not one of ours (HTTP and upgrades)
  uint64_t forbidden = 0;          // 403: a market the token does not grant
  uint64_t tls_handshake_failures = 0;  // TLS handshakes that failed or timed out
};

struct EdgeMetricsInput {
  const ArbiterCounters& arbiter;
  const SubscriberCounters& subscriber;
  const StreamTotals& streams;
  const ConnectionLimitsCounters& limits;
  const ServingCounters& serving;
  uint32_t epoch = 0;
  uint64_t last_seq = 0;
  uint64_t newest_seq = 0;
  bool stale = true;
  bool healthy = false;
  size_t clients = 0;           // WebSocket clients connected
  size_t open_connections = 0;  // HTTP and WebSocket
  size_t markets = 0;
  size_t window_frames = 0;
  size_t window_bytes = 0;
};

std::string render_edge_metrics(const EdgeMetricsInput& in);

}  // namespace oddsbus::edge
