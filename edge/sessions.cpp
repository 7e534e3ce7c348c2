#include "edge/sessions.h"

#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <optional>
#include <type_traits>
#include <utility>

#include "edge/ws_session.h"

namespace oddsbus::edge {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

constexpr size_t kHeaderLimit = 8192;
constexpr size_t kFirstRead = 4096;
constexpr auto kTlsShutdownGrace = std::chrono::seconds(2);

std::chrono::nanoseconds ns(uint64_t n) { return std::chrono::nanoseconds(n); }

// RFC 6750 section 3 (https://datatracker.ietf.org/doc/html/rfc6750#section-3): a 401 carries a
// WWW-Authenticate challenge with the "Bearer" scheme; a request without a token gets no error
// code, a token that is not valid gets error="invalid_token" (section 3.1, 401), and a token
// without the rights a request needs gets error="insufficient_scope" (section 3.1, 403).
constexpr std::string_view kChallengeNoToken = "Bearer realm=\"odds-edge\"";
constexpr std::string_view kChallengeInvalid =
    "Bearer realm=\"odds-edge\", error=\"invalid_token\"";
constexpr std::string_view kChallengeScope =
    "Bearer realm=\"odds-edge\", error=\"insufficient_scope\"";

// Stream: beast::tcp_stream (plain), or beast::ssl_stream<beast::tcp_stream> (TLS).
template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  HttpSession(tcp::socket socket, ServingHost& host) requires(!kTls)
      : stream_(std::move(socket)), host_(host) {}
  HttpSession(tcp::socket socket, ServingHost& host, asio::ssl::context& tls) requires(kTls)
      : stream_(std::move(socket), tls), host_(host) {}
  ~HttpSession() {
    if (!handed_off_) host_.release_connection();
  }

  void start() {
    if constexpr (kTls) {
      // A handshake trickled in is a slow attack too: it gets the headers' time.
      lowest().expires_after(ns(host_.config().header_timeout_ns));
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) {
                                  ++self->host_.counters().tls_handshake_failures;
                                  return;
                                }
                                self->wait_request();
                              });
    } else {
      wait_request();
    }
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  // Until a request's first byte: the idle timeout.
  void wait_request() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(host_.config().max_message_bytes);
    if (buffer_.size() > 0) {  // pipelined: the next request has begun
      read_header();
      return;
    }
    lowest().expires_after(ns(host_.config().idle_timeout_ns));
    stream_.async_read_some(buffer_.prepare(kFirstRead),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              self->buffer_.commit(n);
                              if (ec == beast::error::timeout) {
                                ++self->host_.counters().idle_closes;
                                return;
                              }
                              if (ec) return;
                              self->read_header();
                            });
  }

  // From its first byte, the request's headers have header_timeout to arrive.
  void read_header() {
    lowest().expires_after(ns(host_.config().header_timeout_ns));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      ++host_.counters().header_timeouts;  // tcp_stream closed the socket
      return;
    }
    if (refused_for_size(ec)) return;
    if (ec) return;  // the client went away, or sent something that is not HTTP
    if (!authorize()) return;
    if (parser_->is_done()) {
      on_request();
      return;
    }
    lowest().expires_after(ns(host_.config().idle_timeout_ns));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec == beast::error::timeout) {
                         ++self->host_.counters().idle_closes;
                         return;
                       }
                       if (self->refused_for_size(ec) || ec) return;
                       self->on_request();
                     });
  }

  bool refused_for_size(beast::error_code ec) {
    if (ec != http::error::body_limit && ec != http::error::header_limit) return false;
    ++host_.counters().http_refused;
    ++host_.counters().oversize_requests;
    respond(ec == http::error::body_limit ? 413 : 431, "application/json",
            "{\"error\": \"request too large\"}\n", false);
    return true;
  }

  // With tokens: the request's bearer token, or a 401 (and false). /healthz is open to all: a
  // load balancer or orchestrator probes it without secrets, and it says only ok or why not.
  bool authorize() {
    const ClientTokens* tokens = host_.tokens();
    if (tokens == nullptr) return true;
    const http::request<http::string_body>& request = parser_->get();
    const std::string_view target(request.target().data(), request.target().size());
    if (target.substr(0, target.find('?')) == "/healthz" && !websocket::is_upgrade(request)) {
      return true;
    }
    const auto header = request[http::field::authorization];
    const std::string_view presented = bearer_token(std::string_view(header.data(), header.size()));
    rights_ = tokens->find(presented);
    if (rights_ != nullptr) return true;
    ++host_.counters().unauthorized;
    ++host_.counters().http_refused;
    respond(401, "application/json",
            presented.empty() ? "{\"error\": \"send Authorization: Bearer TOKEN\"}\n"
                              : "{\"error\": \"unknown token\"}\n",
            false, false, presented.empty() ? kChallengeNoToken : kChallengeInvalid);
    return false;
  }

  void on_request() {
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
      lowest().expires_never();
      if constexpr (kTls) {
        auto session =
            std::make_shared<WsStreamSession<TlsStream>>(std::move(stream_), host_, rights_);
        session->start(parser_->release());
      } else {
        auto session = std::make_shared<WsStreamSession<tcp::socket>>(stream_.release_socket(),
                                                                      host_, rights_);
        session->start(parser_->release());
      }
      return;
    }
    ++host_.counters().http_requests;
    const std::string_view method(request.method_string().data(), request.method_string().size());
    const std::string_view target(request.target().data(), request.target().size());
    HttpReply reply = host_.route(method, target, rights_);
    if (reply.status >= 400 && reply.status < 500) ++host_.counters().http_refused;
    if (reply.status == 403) ++host_.counters().forbidden;
    respond(reply.status, reply.content_type, std::move(reply.body), request.keep_alive(),
            request.method() == http::verb::head, reply.status == 403 ? kChallengeScope : "");
  }

  // `head`: answer a HEAD request: the headers of the reply, its Content-Length, and no body.
  void respond(unsigned status, std::string_view content_type, std::string body, bool keep_alive,
               bool head = false, std::string_view challenge = {}) {
    auto response =
        std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
    response->set(http::field::server, "odds-edge");
    response->set(http::field::content_type,
                  beast::string_view(content_type.data(), content_type.size()));
    response->set(http::field::cache_control, "no-store");
    if (status == 503 || status == 429) response->set(http::field::retry_after, "1");
    if (!challenge.empty()) {
      response->set(http::field::www_authenticate,
                    beast::string_view(challenge.data(), challenge.size()));
    }
    response->keep_alive(keep_alive);
    response->body() = std::move(body);
    response->prepare_payload();
    if (head) {
      response->body().clear();  // Content-Length stays that of the body a GET would get
    }
    lowest().expires_after(ns(host_.config().idle_timeout_ns));
    http::async_write(stream_, *response,
                      [self = this->shared_from_this(), response](beast::error_code ec, size_t) {
                        if (ec || !response->keep_alive()) {
                          self->end();
                          return;
                        }
                        self->wait_request();
                      });
  }

  void end() {
    if constexpr (kTls) {
      lowest().expires_after(kTlsShutdownGrace);
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->lowest().close(); });
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  ServingHost& host_;
  const MarketRights* rights_ = nullptr;  // the request's token's, once authorised
  bool handed_off_ = false;
};

}  // namespace

void start_http_session(tcp::socket socket, ServingHost& host) {
  if (asio::ssl::context* tls = host.tls()) {
    std::make_shared<HttpSession<TlsStream>>(std::move(socket), host, *tls)->start();
  } else {
    std::make_shared<HttpSession<beast::tcp_stream>>(std::move(socket), host)->start();
  }
}

void refuse_connection(tcp::socket socket, unsigned status, std::string_view why, bool tls) {
  if (tls) {
    beast::error_code ignored;
    socket.close(ignored);
    return;
  }
  auto text = std::make_shared<std::string>();
  *text = "HTTP/1.1 " + std::to_string(status) +
          (status == 429 ? " Too Many Requests" : " Service Unavailable") +
          "\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
          "Content-Length: ";
  const std::string body = "{\"error\": \"" + std::string(why) + "\"}\n";
  *text += std::to_string(body.size()) + "\r\n\r\n" + body;
  auto held = std::make_shared<tcp::socket>(std::move(socket));
  asio::async_write(*held, asio::buffer(*text), [held, text](beast::error_code, size_t) {
    beast::error_code ignored;
    held->shutdown(tcp::socket::shutdown_both, ignored);
    held->close(ignored);
  });
}

}  // namespace oddsbus::edge
