#include "engine/node.h"

#include <chrono>
#include <thread>

#include "engine/node_assembly.h"
#include "engine/node_http.h"
#include "engine/provider_feed.h"
#include "feeds/tcp_line_source.h"

namespace oddsbus::engine {

std::expected<FeedSpec, std::string> parse_feed_spec(std::string_view text) {
  const size_t eq = text.find('=');
  const size_t at = text.find('@', eq == std::string_view::npos ? 0 : eq);
  if (eq == std::string_view::npos || at == std::string_view::npos || eq == 0 || at == eq + 1) {
    return std::unexpected("--feed '" + std::string(text) + "' is not NAME=FORMAT@URL[,URL]");
  }
  FeedSpec spec{
      std::string(text.substr(0, eq)), std::string(text.substr(eq + 1, at - eq - 1)), {}, {}};
  if (spec.format != "oddsjson" && spec.format != "betfair-stream" && spec.format != "uof-xml") {
    return std::unexpected("--feed " + spec.name + ": format '" + spec.format +
                           "' is not supported (supported: oddsjson, betfair-stream, uof-xml)");
  }
  std::string_view urls = text.substr(at + 1);
  while (!urls.empty()) {
    const size_t comma = urls.find(',');
    const std::string_view url = urls.substr(0, comma);
    if (is_tls_url(url)) {
      if (auto checked = check_tls_feed_url(spec.format, url); !checked) {
        return std::unexpected("--feed " + spec.name + ": " + checked.error());
      }
    } else if (is_amqp_url(url)) {
      if (auto checked = check_amqp_feed_url(spec.format, url); !checked) {
        return std::unexpected("--feed " + spec.name + ": " + checked.error());
      }
    } else if (auto endpoint = feeds::parse_tcp_url(url); !endpoint) {
      return std::unexpected("--feed " + spec.name + ": " + endpoint.error());
    }
    spec.urls.emplace_back(url);
    urls = comma == std::string_view::npos ? std::string_view{} : urls.substr(comma + 1);
  }
  if (spec.urls.empty()) return std::unexpected("--feed " + spec.name + ": no URL");
  return spec;
}

std::expected<void, std::string> add_feed(std::vector<FeedSpec>& feeds, FeedSpec spec) {
  for (FeedSpec& known : feeds) {
    if (known.name != spec.name) continue;
    if (known.format != spec.format) {
      return std::unexpected("--feed " + spec.name + " is given as both " + known.format + " and " +
                             spec.format);
    }
    known.urls.insert(known.urls.end(), spec.urls.begin(), spec.urls.end());
    return {};
  }
  feeds.push_back(std::move(spec));
  return {};
}

std::expected<void, std::string> run_node(const NodeConfig& config, const std::atomic<bool>& stop) {
  Node node(config);
  if (auto started = node.start(); !started) return started;
  std::unique_ptr<NodeHttpServer> http;
  if (!config.http_host.empty()) {
    auto served = NodeHttpServer::start(
        node, NodeHttpConfig{config.http_host, config.http_port, config.health_max_lag_frames});
    if (!served) {
      (void)node.stop();
      return std::unexpected(served.error());
    }
    http = std::move(*served);
  }
  while (!stop.load(std::memory_order_acquire) && !node.failed()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (http) http->stop();
  return node.stop();
}

}  // namespace oddsbus::engine
