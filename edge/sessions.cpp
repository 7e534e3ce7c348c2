#include "edge/sessions.h"

#include <boost/asio/write.hpp>
#include <chrono>
#include <utility>

#include "schemas/log.h"

namespace oddsbus::edge {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

constexpr size_t kHeaderLimit = 8192;
constexpr auto kCloseGrace = std::chrono::seconds(2);
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
// Written deltas wait at most about this long (plus a client tick) before their audit record.
constexpr uint64_t kAuditBatchAge = 100'000'000;

std::chrono::nanoseconds ns(uint64_t n) { return std::chrono::nanoseconds(n); }

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(asio::ip::tcp::socket socket, ServingHost& host)
      : stream_(std::move(socket)), host_(host) {}
  ~HttpSession() {
    if (!handed_off_) host_.release_connection();
  }

  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(host_.config().max_message_bytes);
    stream_.expires_after(ns(host_.config().idle_timeout_ns));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      ++host_.counters().idle_closes;
      return;
    }
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      ++host_.counters().http_refused;
      respond(ec == http::error::body_limit ? 413 : 431, "application/json",
              "{\"error\": \"request too large\"}\n", false);
      return;
    }
    if (ec) return;  // the client went away, or sent something that is not HTTP
    http::request<http::string_body>& request = parser_->get();
    if (websocket::is_upgrade(request)) {
      const std::string_view target(request.target().data(), request.target().size());
      if (target.substr(0, target.find('?')) != "/v1/stream") {
        ++host_.counters().http_refused;
        respond(404, "application/json", "{\"error\": \"WebSocket is served on /v1/stream\"}\n",
                false);
        return;
      }
      handed_off_ = true;
      stream_.expires_never();
      auto session = std::make_shared<WsSession>(stream_.release_socket(), host_);
      session->start(parser_->release());
      return;
    }
    ++host_.counters().http_requests;
    const std::string_view method(request.method_string().data(), request.method_string().size());
    const std::string_view target(request.target().data(), request.target().size());
    HttpReply reply = host_.route(method, target);
    if (reply.status >= 400 && reply.status < 500) ++host_.counters().http_refused;
    respond(reply.status, reply.content_type, std::move(reply.body), request.keep_alive(),
            request.method() == http::verb::head);
  }

  // `head`: answer a HEAD request: the headers of the reply, its Content-Length, and no body.
  void respond(unsigned status, std::string_view content_type, std::string body, bool keep_alive,
               bool head = false) {
    auto response =
        std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
    response->set(http::field::server, "odds-edge");
    response->set(http::field::content_type,
                  beast::string_view(content_type.data(), content_type.size()));
    response->set(http::field::cache_control, "no-store");
    if (status == 503 || status == 429) response->set(http::field::retry_after, "1");
    response->keep_alive(keep_alive);
    response->body() = std::move(body);
    response->prepare_payload();
    if (head) {
      response->body().clear();  // Content-Length stays that of the body a GET would get
    }
    http::async_write(
        stream_, *response, [self = shared_from_this(), response](beast::error_code ec, size_t) {
          if (ec || !response->keep_alive()) {
            beast::error_code ignored;
            self->stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
            return;
          }
          self->read();
        });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  ServingHost& host_;
  bool handed_off_ = false;
};

}  // namespace

void start_http_session(asio::ip::tcp::socket socket, ServingHost& host) {
  std::make_shared<HttpSession>(std::move(socket), host)->read();
}

void refuse_connection(asio::ip::tcp::socket socket, unsigned status, std::string_view why) {
  auto text = std::make_shared<std::string>();
  *text = "HTTP/1.1 " + std::to_string(status) +
          (status == 429 ? " Too Many Requests" : " Service Unavailable") +
          "\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
          "Content-Length: ";
  const std::string body = "{\"error\": \"" + std::string(why) + "\"}\n";
  *text += std::to_string(body.size()) + "\r\n\r\n" + body;
  auto held = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
  asio::async_write(*held, asio::buffer(*text), [held, text](beast::error_code, size_t) {
    beast::error_code ignored;
    held->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    held->close(ignored);
  });
}

WsSession::WsSession(asio::ip::tcp::socket socket, ServingHost& host)
    : ws_(std::move(socket)),
      host_(host),
      stream_(host.config().stream, host.totals(), host.stream_context().now_ns),
      close_deadline_(ws_.get_executor()) {}

WsSession::~WsSession() {
  if (audit_) audit_->close("edge stopped", host_.stream_context().fresh.now_ns);
  if (registered_) host_.remove_client(this);
  host_.release_connection();
}

void WsSession::start(http::request<http::string_body> request) {
  websocket::stream_base::timeout timeout;
  timeout.handshake_timeout = kHandshakeTimeout;
  timeout.idle_timeout = ns(host_.config().idle_timeout_ns);
  timeout.keep_alive_pings = true;  // a live but quiet client answers pings; a dead one times out
  ws_.set_option(timeout);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& response) { response.set(http::field::server, "odds-edge"); }));
  ws_.read_message_max(host_.config().max_message_bytes);
  if (host_.config().client_send_buffer_bytes > 0) {
    beast::error_code ignored;
    ws_.next_layer().set_option(
        asio::socket_base::send_buffer_size(host_.config().client_send_buffer_bytes), ignored);
  }
  ws_.async_accept(request,
                   [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
}

void WsSession::on_accept(beast::error_code ec) {
  if (ec) return;
  ++host_.counters().ws_sessions_opened;
  host_.add_client(this);
  registered_ = true;
  beast::error_code remote_error;
  const auto remote = ws_.next_layer().remote_endpoint(remote_error);
  audit_ = host_.open_session_audit(
      remote_error ? std::string("unknown")
                   : remote.address().to_string() + ":" + std::to_string(remote.port()),
      host_.stream_context().fresh.now_ns);
  read();
  pump();
}

void WsSession::read() {
  ws_.async_read(buffer_,
                 [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
}

void WsSession::on_read(beast::error_code ec) {
  if (ec) {
    if (ec == websocket::error::message_too_big) ++host_.counters().oversize_messages;
    if (ec == beast::error::timeout) ++host_.counters().idle_closes;
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

void WsSession::drain_audit() {
  if (!audit_) return;
  std::vector<StreamAuditNote>& notes = stream_.audit_notes();
  for (const StreamAuditNote& note : notes) audit_->record(note);
  notes.clear();
  audit_->flush_if_older(host_.stream_context().fresh.now_ns, kAuditBatchAge);
}

void WsSession::pump() {
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
  ws_.async_write(
      asio::buffer(*writing_),
      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_write(ec); });
}

void WsSession::on_write(beast::error_code ec) {
  writing_.reset();
  if (ec) {
    finish(ec);
    return;
  }
  stream_.on_written(host_.stream_context());
  pump();
}

void WsSession::close_for(const CloseVerdict& verdict) {
  closing_ = true;
  close_reason_ = "closed by the edge (" + std::to_string(verdict.code) + "): " + verdict.reason;
  log(LogLevel::kWarn, "edge: closing a WebSocket client (%u): %s", verdict.code,
      verdict.reason.c_str());
  // A client that does not read may never take the close frame: close the socket after a grace.
  close_deadline_.expires_after(kCloseGrace);
  close_deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec) return;
    beast::error_code ignored;
    beast::get_lowest_layer(self->ws_).close(ignored);
  });
  ws_.async_close(
      websocket::close_reason(static_cast<websocket::close_code>(verdict.code), verdict.reason),
      [self = shared_from_this()](beast::error_code ec) { self->finish(ec); });
}

void WsSession::finish(beast::error_code ec) {
  if (finished_) return;
  finished_ = true;
  if (audit_) {
    drain_audit();
    std::string reason = close_reason_;
    if (reason.empty()) {
      reason = ec == websocket::error::closed ? std::string("closed by the client")
               : ec                           ? ec.message()
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
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).close(ignored);
}

}  // namespace oddsbus::edge
