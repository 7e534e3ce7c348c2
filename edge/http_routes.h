// The edge's HTTP API as a pure function of the request line and the edge's state (DESIGN
// sections 5 and 10): GET /v1/markets, /v1/markets/{id}, /v1/snapshot, /healthz, /metrics and
// the live page at /. The transport (edge/http_session) only reads requests and writes replies;
// WebSocket upgrades of /v1/stream never reach here.
//
// Answers: 200 with JSON; 404 for an unknown path or market; 405 for a method other than GET or
// HEAD; 426 for /v1/stream without an upgrade; 503 with a JSON reason while the edge has no state
// yet (data paths) or is not healthy (/healthz). Errors are {"error": "..."}.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

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
};

HttpReply route_request(std::string_view method, std::string_view target, const RouteContext& ctx);

}  // namespace oddsbus::edge
