// The edge's connections (Boost.Beast), internal to oddsbus_edge: an HTTP session per accepted
// connection, which answers requests through the router and hands a WebSocket upgrade of
// /v1/stream to a WsSession; a WsSession moves bytes between one client and its ClientStream.
// Both run on the server's one thread and keep themselves alive through shared_from_this while an
// operation is pending. Protocol decisions live in ClientStream and route_request, not here.
//
// Each comes plain or over TLS (the host's tls() context, OpenSSL through Beast's ssl_stream): the
// sessions are templates over the stream, instantiated for both (edge/ws_session.h).
//
// Timeouts of an HTTP connection (DESIGN section 5, issue 14):
//  - TLS handshake: header_timeout from the accept;
//  - waiting for a request's first byte: idle_timeout (a keep-alive connection that stays quiet);
//  - from that byte to the end of its headers: header_timeout, however slowly they trickle in
//    (slowloris), counted as header_timeouts;
//  - its body: idle_timeout. A WebSocket has the WebSocket's own timeouts.
// With the host's tokens(), every request but GET /healthz, and every upgrade, needs
// `Authorization: Bearer TOKEN` of a known token; else 401 with `WWW-Authenticate: Bearer`
// (RFC 6750 section 3).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "edge/client_stream.h"
#include "edge/client_tokens.h"
#include "edge/edge_metrics.h"
#include "edge/edge_server.h"
#include "edge/http_routes.h"
#include "edge/session_audit.h"

namespace oddsbus::edge {

class WsSession;

// What sessions need from the server that owns them.
class ServingHost {
 public:
  virtual ~ServingHost() = default;
  virtual HttpReply route(std::string_view method, std::string_view target,
                          const MarketRights* rights) = 0;
  virtual StreamContext stream_context() = 0;
  virtual ClientRequestParser& parser() = 0;
  virtual const EdgeServerConfig& config() const = 0;
  virtual StreamTotals& totals() = 0;
  virtual ServingCounters& counters() = 0;
  virtual void add_client(WsSession* session) = 0;
  virtual void remove_client(WsSession* session) = 0;
  virtual void release_connection() = 0;  // an admitted connection closed
  // A new session's audit records (its "connect" written), or nullptr when there is no audit log.
  virtual std::unique_ptr<SessionAudit> open_session_audit(std::string_view remote,
                                                           uint64_t wall_ns) = 0;
  // The TLS context, or nullptr when the port is plain.
  virtual boost::asio::ssl::context* tls() = 0;
  // The client tokens, or nullptr when clients need none.
  virtual const ClientTokens* tokens() const = 0;
};

// Answers an admitted connection's HTTP requests (keep-alive) until it closes, goes idle, or
// upgrades to the stream (over TLS when host.tls()).
void start_http_session(boost::asio::ip::tcp::socket socket, ServingHost& host);

// Writes a fixed refusal (503 or 429) to a connection that was not admitted, then closes it. Over
// TLS the connection is closed at once: a handshake would cost more than the refusal saves.
void refuse_connection(boost::asio::ip::tcp::socket socket, unsigned status, std::string_view why,
                       bool tls);

// One WebSocket client, as the host sees it (the stream type is the session's business).
class WsSession {
 public:
  virtual ~WsSession() = default;
  virtual ClientStream& stream() = 0;
  // Starts the next write if none is in flight, or closes the client if its stream says so.
  virtual void pump() = 0;
  // Where the host keeps it in its list of clients (for removal in O(1)).
  size_t client_index() const { return client_index_; }
  void set_client_index(size_t index) { client_index_ = index; }

 private:
  size_t client_index_ = 0;
};

}  // namespace oddsbus::edge
