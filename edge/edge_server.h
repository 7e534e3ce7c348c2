// odds-edge's node (DESIGN section 5): subscribes to every publisher of its channel through the
// arbiter (edge/subscriber.h), folds what it delivers into the market cache, and serves HTTP and
// WebSocket clients with Boost.Beast on one port.
//
// Threading: one thread runs everything (run()): the ZeroMQ sockets are waited on through their
// ZMQ_FD in the same Asio loop as the clients, plus a tick timer (gap timeouts, staleness,
// heartbeats, slow clients), so no state is shared between threads and nothing is locked.
// stop() may be called from any thread (it posts to the loop).
// Start-up errors (a bad endpoint, a port in use) throw from the constructor; after that every
// fault is counted, logged rate-limited, and served through /metrics and /healthz.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "edge/client_audit_log.h"
#include "edge/client_stream.h"
#include "edge/connection_limits.h"
#include "edge/edge_health.h"
#include "edge/market_cache.h"
#include "edge/subscriber.h"
#include "edge/tls_context.h"

namespace oddsbus::edge {

struct EdgeServerConfig {
  SubscriberConfig subscriber;  // arbiter mode is forced to kSnapshot
  std::string http_host = "127.0.0.1";
  uint16_t http_port = 0;  // 0: any free port (see port())
  MarketCacheConfig cache;
  ClientStreamConfig stream;
  ConnectionLimitsConfig limits;
  EdgeHealthConfig health;
  // Kernel send buffer per stream client: bounded like its queue, so a slow client is conflated
  // instead of being sent megabytes of old deltas first (0: the OS default, which grows to MBs).
  int client_send_buffer_bytes = 64 * 1024;
  size_t max_message_bytes = 64 * 1024;       // a client's WebSocket message or HTTP request body
  uint64_t idle_timeout_ns = 60'000'000'000;  // a connection that sends nothing for this long
  // From a request's first byte to the end of its headers (and a TLS handshake): a client
  // trickling them (slowloris) is closed after this, however recently it sent a byte.
  uint64_t header_timeout_ns = 10'000'000'000;
  // TLS on the HTTP/WebSocket port when cert_file is set (edge/tls_context.h); plain otherwise.
  TlsFiles tls;
  // Bearer tokens clients must present (edge/client_tokens.h); none needed when empty.
  std::string tokens_file;
  uint64_t tick_ns = 5'000'000;
  // The client audit log (edge/client_audit_log.h); off when its path is empty.
  ClientAuditLogConfig audit_log;
};

class EdgeServer {
 public:
  // Loads the TLS certificate and key and the tokens file, binds the HTTP port and connects the
  // ZeroMQ sockets. Throws std::runtime_error (or zmq::error_t) with a one-line reason that names
  // the file or address at fault.
  explicit EdgeServer(const EdgeServerConfig& config);
  ~EdgeServer();
  EdgeServer(const EdgeServer&) = delete;
  EdgeServer& operator=(const EdgeServer&) = delete;

  uint16_t port() const;
  // Serves until stop(); returns once every connection is closed.
  void run();
  // Thread-safe; also safe from a signal-handling thread.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace oddsbus::edge
