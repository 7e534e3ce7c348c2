// The edge's connections (Boost.Beast), internal to oddsbus_edge: an HTTP session per accepted
// connection, which answers requests through the router and hands a WebSocket upgrade of
// /v1/stream to a WsSession; a WsSession moves bytes between one client and its ClientStream.
// Both run on the server's one thread and keep themselves alive through shared_from_this while an
// operation is pending. Protocol decisions live in ClientStream and route_request, not here.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "edge/client_stream.h"
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
  virtual HttpReply route(std::string_view method, std::string_view target) = 0;
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
};

// Answers an admitted connection's HTTP requests (keep-alive) until it closes, goes idle, or
// upgrades to the stream.
void start_http_session(boost::asio::ip::tcp::socket socket, ServingHost& host);

// Writes a fixed refusal (503 or 429) to a connection that was not admitted, then closes it.
void refuse_connection(boost::asio::ip::tcp::socket socket, unsigned status, std::string_view why);

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  // Over the plain socket: the WebSocket's own timeouts govern it (no per-operation timer of
  // beast::tcp_stream on the fan-out path).
  WsSession(boost::asio::ip::tcp::socket socket, ServingHost& host);
  ~WsSession();

  void start(boost::beast::http::request<boost::beast::http::string_body> request);
  ClientStream& stream() { return stream_; }
  // Starts the next write if none is in flight, or closes the client if its stream says so.
  void pump();
  // Where the host keeps it in its list of clients (for removal in O(1)).
  size_t client_index() const { return client_index_; }
  void set_client_index(size_t index) { client_index_ = index; }

 private:
  void on_accept(boost::beast::error_code ec);
  void read();
  void on_read(boost::beast::error_code ec);
  void on_write(boost::beast::error_code ec);
  void close_for(const CloseVerdict& verdict);
  void finish(boost::beast::error_code ec);
  // Hands the stream's audit notices to the audit log (with one).
  void drain_audit();

  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
  boost::beast::flat_buffer buffer_;
  ServingHost& host_;
  ClientStream stream_;
  std::shared_ptr<const std::string> writing_;  // the message in flight (kept alive for Asio)
  boost::asio::steady_timer close_deadline_;
  std::unique_ptr<SessionAudit> audit_;
  std::string close_reason_;  // why the edge closed it, for the audit log
  size_t client_index_ = 0;
  bool registered_ = false;
  bool closing_ = false;
  bool finished_ = false;
};

}  // namespace oddsbus::edge
