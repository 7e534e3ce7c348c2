#include "edge/http_routes.h"

#include <charconv>

#include "edge/live_page.h"
#include "schemas/state_json.h"

namespace oddsbus::edge {

namespace {

HttpReply error_reply(unsigned status, std::string_view error) {
  HttpReply reply{status, "application/json", {}};
  reply.body = "{\"error\": ";
  append_json_string(reply.body, error);
  reply.body += "}\n";
  return reply;
}

HttpReply json_reply(std::string body) {
  body += "\n";
  return HttpReply{200, "application/json", std::move(body)};
}

}  // namespace

HttpReply route_request(std::string_view method, std::string_view target, const RouteContext& ctx) {
  const std::string_view path = target.substr(0, target.find('?'));
  if (method != "GET" && method != "HEAD") {
    return error_reply(405, "only GET and HEAD are served");
  }
  if (path == "/") return HttpReply{200, "text/html; charset=utf-8", std::string(live_page_html())};
  if (path == "/healthz") {
    return HttpReply{ctx.health.ok ? 200u : 503u, "text/plain; charset=utf-8",
                     ctx.health.reason + "\n"};
  }
  if (path == "/metrics") {
    if (ctx.render_metrics == nullptr) return error_reply(404, "no metrics");
    return HttpReply{200, "text/plain; version=0.0.4; charset=utf-8",
                     ctx.render_metrics(ctx.owner)};
  }
  if (path == "/v1/stream") {
    return error_reply(426, "/v1/stream is a WebSocket: send an Upgrade request");
  }
  const bool markets = path == "/v1/markets" || path.starts_with("/v1/markets/");
  if (!markets && path != "/v1/snapshot") return error_reply(404, "no such path");
  if (!ctx.cache.positioned()) {
    return error_reply(503, "not synchronised yet: waiting for a snapshot");
  }
  const MarketCache& cache = ctx.cache;
  std::string body;
  if (path == "/v1/snapshot") {
    append_snapshot_document(body, cache.state(), cache.channel(), cache.epoch(), ctx.fresh,
                             ctx.rights);
    return json_reply(std::move(body));
  }
  if (path == "/v1/markets") {
    append_markets_document(body, cache.state(), cache.epoch(), ctx.fresh, nullptr, ctx.rights);
    return json_reply(std::move(body));
  }
  const std::string_view id_text = path.substr(std::string_view("/v1/markets/").size());
  uint64_t id = 0;
  const auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (ec != std::errc() || end != id_text.data() + id_text.size()) {
    return error_reply(404, "market ids are unsigned integers");
  }
  if (ctx.rights != nullptr && !ctx.rights->allows(id)) {
    return error_reply(403, "your token does not grant this market");
  }
  if (cache.state().find(id) == nullptr) return error_reply(404, "no such market");
  append_markets_document(body, cache.state(), cache.epoch(), ctx.fresh, &id);
  return json_reply(std::move(body));
}

}  // namespace oddsbus::edge
