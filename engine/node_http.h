// A node's HTTP endpoint (odds-engine run --http HOST:PORT): GET /metrics (Prometheus text format
// 0.0.4, engine/node_metrics.h) and GET /healthz (engine/node_health.h: 200 or 503, JSON with the
// role, epoch, seq, lag and the reason). Nothing else: 404 for another path, 405 for a method
// other than GET or HEAD.
//
// Threads: one ("http"), running Boost.Beast sessions on its own io_context; each answer is
// computed from relaxed atomic reads of the node's counters, so a scrape never takes a lock the
// sequencer takes. A connection that sends nothing for 10 s is closed.
// Thread safety: construct, port() and stop() from the owning thread. The node must outlive the
// server.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>

namespace oddsbus::engine {

class Node;

struct NodeHttpConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                 // 0: any free port (see port())
  uint64_t max_lag_frames = 10'000;  // /healthz: a secondary further behind is unhealthy
};

struct NodeHttpReply {
  unsigned status = 200;
  std::string_view content_type;
  std::string body;
};

// The answer to one request: a pure function of the request line and the node's counters.
NodeHttpReply route_node_request(std::string_view method, std::string_view target, const Node& node,
                                 const NodeHttpConfig& config);

class NodeHttpServer {
 public:
  // Binds and starts the thread; an error is a one-line message. `node` must have started.
  static std::expected<std::unique_ptr<NodeHttpServer>, std::string> start(
      const Node& node, const NodeHttpConfig& config);
  ~NodeHttpServer();  // stop()s
  NodeHttpServer(const NodeHttpServer&) = delete;
  NodeHttpServer& operator=(const NodeHttpServer&) = delete;

  uint16_t port() const;
  // Closes the listener and every connection and joins the thread. Idempotent.
  void stop();

 private:
  struct Impl;
  explicit NodeHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace oddsbus::engine
