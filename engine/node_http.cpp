#include "engine/node_http.h"

#include <pthread.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>

#include "engine/node_assembly.h"
#include "engine/node_health.h"
#include "engine/node_metrics.h"
#include "schemas/log.h"

namespace oddsbus::engine {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(10);

NodeHealthInput health_input(const Node& node, const NodeHttpConfig& config) {
  const NodeSample& s = node.sample();
  NodeHealthInput in;
  in.role = node.role();
  in.epoch = s.epoch.load(std::memory_order_relaxed);
  in.seq = node.last_seq();
  in.lag_frames = s.lag_frames.load(std::memory_order_relaxed);
  in.lag_ns = s.lag_ns.load(std::memory_order_relaxed);
  in.journal_failed = node.failed();
  if (in.journal_failed) in.journal_failure = node.failure();
  const std::string& dir = node.journal().dir();
  in.journal_writable =
      ::access(dir.c_str(), W_OK) == 0 && ::access((dir + "/data.mdb").c_str(), W_OK) == 0;
  in.feeds = s.sources.size();
  for (const NodeSample::Source& source : s.sources) {
    in.feeds_healthy += source.healthy.load(std::memory_order_relaxed);
  }
  in.max_lag_frames = config.max_lag_frames;
  return in;
}

// One connection: read a request, answer it, until the client closes or is idle.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Node& node, const NodeHttpConfig& config)
      : stream_(std::move(socket)), node_(node), config_(config) {}

  void read() {
    request_ = {};
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (!ec) self->answer();
                     });
  }

 private:
  void answer() {
    NodeHttpReply reply = route_node_request(
        std::string_view(request_.method_string().data(), request_.method_string().size()),
        std::string_view(request_.target().data(), request_.target().size()), node_, config_);
    auto response = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(reply.status), request_.version());
    response->set(http::field::server, "odds-engine");
    response->set(http::field::content_type,
                  beast::string_view(reply.content_type.data(), reply.content_type.size()));
    response->set(http::field::cache_control, "no-store");
    response->keep_alive(request_.keep_alive());
    const bool head = request_.method() == http::verb::head;
    response->body() = std::move(reply.body);
    response->prepare_payload();
    if (head) response->body().clear();
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](beast::error_code ec, size_t) {
                        if (ec || !response->keep_alive()) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                          return;
                        }
                        self->read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  const Node& node_;
  const NodeHttpConfig& config_;
};

}  // namespace

NodeHttpReply route_node_request(std::string_view method, std::string_view target, const Node& node,
                                 const NodeHttpConfig& config) {
  constexpr std::string_view kText = "text/plain; charset=utf-8";
  const std::string_view path = target.substr(0, target.find('?'));
  if (method != "GET" && method != "HEAD") {
    return {405, kText, "only GET and HEAD are served\n"};
  }
  if (path == "/metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8", render_node_metrics(node)};
  }
  if (path == "/healthz") {
    NodeHealth health = assess_node_health(health_input(node, config));
    return {health.ok ? 200u : 503u, "application/json", std::move(health.json)};
  }
  return {404, kText, "no such path: the engine serves /metrics and /healthz\n"};
}

struct NodeHttpServer::Impl {
  Impl(const Node& n, const NodeHttpConfig& c) : node(n), config(c), acceptor(io) {}

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(socket), node, config)->read();
      accept();
    });
  }

  const Node& node;
  const NodeHttpConfig config;
  asio::io_context io{1};
  tcp::acceptor acceptor;
  std::thread thread;
  uint16_t port = 0;
  bool stopped = false;
};

NodeHttpServer::NodeHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

NodeHttpServer::~NodeHttpServer() { stop(); }

std::expected<std::unique_ptr<NodeHttpServer>, std::string> NodeHttpServer::start(
    const Node& node, const NodeHttpConfig& config) {
  auto impl = std::make_unique<Impl>(node, config);
  try {
    const tcp::endpoint endpoint(asio::ip::make_address(config.host), config.port);
    impl->acceptor.open(endpoint.protocol());
    impl->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl->acceptor.bind(endpoint);
    impl->acceptor.listen(asio::socket_base::max_listen_connections);
    impl->port = impl->acceptor.local_endpoint().port();
  } catch (const std::exception& e) {
    return std::unexpected("cannot serve --http " + config.host + ":" +
                           std::to_string(config.port) + ": " + e.what());
  }
  Impl* raw = impl.get();
  raw->accept();
  raw->thread = std::thread([raw] { raw->io.run(); });
  pthread_setname_np(raw->thread.native_handle(), "http");
  log(LogLevel::kInfo, "serving /metrics and /healthz on http://%s:%u", config.host.c_str(),
      raw->port);
  return std::unique_ptr<NodeHttpServer>(new NodeHttpServer(std::move(impl)));
}

uint16_t NodeHttpServer::port() const { return impl_->port; }

void NodeHttpServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->io.stop();
  impl_->thread.join();
}

}  // namespace oddsbus::engine
