// The edge's HTTP API as a pure function of the request line and the edge's state (DESIGN
// sections 5 and 10): GET /v1/markets, /v1/markets/{id}, /v1/snapshot, /healthz, /metrics and
// the live page at /. The transport (edge/http_session) only reads requests and writes replies;
// WebSocket upgrades of /v1/stream never reach here.
//
// With the client's market rights (its bearer token, edge/client_tokens.h), /v1/markets and
// /v1/snapshot hold only the markets they grant (the snapshot's digest is of those), and
// /v1/markets/{id} of another market is 403. Whether a request may be served at all (401) is the
// transport's decision, made before it routes.
//
// Answers: 200 with JSON; 404 for an unknown path or market; 405 for a method other than GET or
// HEAD; 426 for /v1/stream without an upgrade; 503 with a JSON reason while the edge has no state
// yet (data paths) or is not healthy (/healthz). Errors are {"error": "..."}.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "edge/client_tokens.h"
#include "edge/edge_health.h"
#include "edge/market_cache.h"
#include "edge/stream_messages.h"

namespace oddsbus::edge {

struct HttpReply {
  unsigned status = 200;
  std::string_view content_type = "application/json";
  std::string body;
};

struct RouteContext {
  const MarketCache& cache;
  const EdgeHealth& health;
  Freshness fresh;
  std::string (*render_metrics)(const void* owner) = nullptr;  // called for /metrics only
  const void* owner = nullptr;
  const MarketRights* rights = nullptr;  // the client's token's; nullptr: every market
};

HttpReply route_request(std::string_view method, std::string_view target, const RouteContext& ctx);

}  // namespace oddsbus::edge
