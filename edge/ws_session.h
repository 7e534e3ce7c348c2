// A WebSocket client of /v1/stream (edge/sessions.h), over the plain socket or over TLS; internal
// to edge/sessions.cpp, which instantiates it for both streams. The WebSocket's own timeouts
// govern it (no per-operation timer of beast::tcp_stream on the fan-out path: under TLS the
// tcp_stream below is set to never expire).
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "edge/sessions.h"
#include "schemas/log.h"

namespace oddsbus::edge {

namespace ws_detail {

inline boost::asio::ip::tcp::socket& socket_of(boost::asio::ip::tcp::socket& s) { return s; }
inline boost::asio::ip::tcp::socket& socket_of(boost::beast::tcp_stream& s) { return s.socket(); }

constexpr auto kCloseGrace = std::chrono::seconds(2);
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
// Written deltas wait at most about this long (plus a client tick) before their audit record.
constexpr uint64_t kAuditBatchAge = 100'000'000;

}  // namespace ws_detail

template <class NextLayer>
class WsStreamSession final : public WsSession,
                              public std::enable_shared_from_this<WsStreamSession<NextLayer>> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  WsStreamSession(NextLayer next, ServingHost& host, const MarketRights* rights)
      : ws_(std::move(next)),
        host_(host),
        stream_(host.config().stream, host.totals(), host.stream_context().now_ns),
        close_deadline_(ws_.get_executor()) {
    stream_.set_rights(rights);
  }

  ~WsStreamSession() override {
    if (audit_) audit_->close("edge stopped", host_.stream_context().fresh.now_ns);
    if (registered_) host_.remove_client(this);
    host_.release_connection();
  }

  ClientStream& stream() override { return stream_; }

  void start(Request request) {
    namespace websocket = boost::beast::websocket;
    websocket::stream_base::timeout timeout;
    timeout.handshake_timeout = ws_detail::kHandshakeTimeout;
    timeout.idle_timeout = std::chrono::nanoseconds(host_.config().idle_timeout_ns);
    timeout.keep_alive_pings = true;  // a live but quiet client answers pings; a dead one times out
    ws_.set_option(timeout);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
      response.set(boost::beast::http::field::server, "odds-edge");
    }));
    ws_.read_message_max(host_.config().max_message_bytes);
    if (host_.config().client_send_buffer_bytes > 0) {
      boost::beast::error_code ignored;
      socket().set_option(
          boost::asio::socket_base::send_buffer_size(host_.config().client_send_buffer_bytes),
          ignored);
    }
    ws_.async_accept(request, [self = this->shared_from_this()](boost::beast::error_code ec) {
      self->on_accept(ec);
    });
  }

  void pump() override {
    drain_audit();
    if (closing_ || finished_) return;
    if (const auto& verdict = stream_.close_verdict()) {
      close_for(*verdict);
      return;
    }
    if (writing_) return;
    writing_ = stream_.start_write(host_.stream_context().now_ns);
    if (!writing_) return;
    ws_.text(true);
    ws_.async_write(boost::asio::buffer(*writing_),
                    [self = this->shared_from_this()](boost::beast::error_code ec, size_t) {
                      self->on_write(ec);
                    });
  }

 private:
  boost::asio::ip::tcp::socket& socket() {
    return ws_detail::socket_of(boost::beast::get_lowest_layer(ws_));
  }

  void on_accept(boost::beast::error_code ec) {
    if (ec) return;
    ++host_.counters().ws_sessions_opened;
    host_.add_client(this);
    registered_ = true;
    boost::beast::error_code remote_error;
    const auto remote = socket().remote_endpoint(remote_error);
    audit_ = host_.open_session_audit(
        remote_error ? std::string("unknown")
                     : remote.address().to_string() + ":" + std::to_string(remote.port()),
        host_.stream_context().fresh.now_ns);
    read();
    pump();
  }

  void read() {
    ws_.async_read(buffer_, [self = this->shared_from_this()](boost::beast::error_code ec, size_t) {
      self->on_read(ec);
    });
  }

  void on_read(boost::beast::error_code ec) {
    if (ec) {
      if (ec == boost::beast::websocket::error::message_too_big) {
        ++host_.counters().oversize_messages;
      }
      if (ec == boost::beast::error::timeout) ++host_.counters().idle_closes;
      finish(ec);
      return;
    }
    if (!closing_) {
      const auto data = buffer_.cdata();
      const std::string_view text(static_cast<const char*>(data.data()), data.size());
      stream_.on_text(text, host_.parser(), host_.stream_context());
      pump();
    }
    buffer_.consume(buffer_.size());
    read();
  }

  void on_write(boost::beast::error_code ec) {
    writing_.reset();
    if (ec) {
      finish(ec);
      return;
    }
    stream_.on_written(host_.stream_context());
    pump();
  }

  // Hands the stream's audit notices to the audit log (with one).
  void drain_audit() {
    if (!audit_) return;
    std::vector<StreamAuditNote>& notes = stream_.audit_notes();
    for (const StreamAuditNote& note : notes) audit_->record(note);
    notes.clear();
    audit_->flush_if_older(host_.stream_context().fresh.now_ns, ws_detail::kAuditBatchAge);
  }

  void close_for(const CloseVerdict& verdict) {
    closing_ = true;
    close_reason_ = "closed by the edge (" + std::to_string(verdict.code) + "): " + verdict.reason;
    log(LogLevel::kWarn, "edge: closing a WebSocket client (%u): %s", verdict.code,
        verdict.reason.c_str());
    // A client that does not read may never take the close frame: close the socket after a grace.
    close_deadline_.expires_after(ws_detail::kCloseGrace);
    close_deadline_.async_wait([self = this->shared_from_this()](boost::beast::error_code ec) {
      if (ec) return;
      boost::beast::error_code ignored;
      self->socket().close(ignored);
    });
    ws_.async_close(
        boost::beast::websocket::close_reason(
            static_cast<boost::beast::websocket::close_code>(verdict.code), verdict.reason),
        [self = this->shared_from_this()](boost::beast::error_code ec) { self->finish(ec); });
  }

  void finish(boost::beast::error_code ec) {
    if (finished_) return;
    finished_ = true;
    if (audit_) {
      drain_audit();
      std::string reason = close_reason_;
      if (reason.empty()) {
        reason = ec == boost::beast::websocket::error::closed ? std::string("closed by the client")
                 : ec                                         ? ec.message()
                                                              : std::string("closed");
      }
      audit_->close(reason, host_.stream_context().fresh.now_ns);
    }
    ++host_.counters().ws_sessions_closed;
    if (registered_) {
      host_.remove_client(this);
      registered_ = false;
    }
    close_deadline_.cancel();
    boost::beast::error_code ignored;
    socket().close(ignored);
  }

  boost::beast::websocket::stream<NextLayer> ws_;
  boost::beast::flat_buffer buffer_;
  ServingHost& host_;
  ClientStream stream_;
  std::shared_ptr<const std::string> writing_;  // the message in flight (kept alive for Asio)
  boost::asio::steady_timer close_deadline_;
  std::unique_ptr<SessionAudit> audit_;
  std::string close_reason_;  // why the edge closed it, for the audit log
  bool registered_ = false;
  bool closing_ = false;
  bool finished_ = false;
};

}  // namespace oddsbus::edge
