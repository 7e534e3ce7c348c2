// The edge suite's client side: WsFleet (WebSocket clients of /v1/stream, Boost.Beast, async, one
// thread) and http_get (/healthz, /metrics, /v1/snapshot).
#include <pthread.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <ctime>
#include <future>
#include <optional>
#include <string_view>

#include "tools/bench/bench.h"
#include "tools/bench/edge_bench.h"

namespace oddsbus::bench {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr std::string_view kSubscribe = R"({"op": "subscribe", "markets": "all"})";

tcp::endpoint loopback(uint16_t port) { return {net::ip::make_address_v4("127.0.0.1"), port}; }

}  // namespace

std::string_view value_of(std::string_view text, std::string_view quoted_key) {
  const size_t at = text.find(quoted_key);
  if (at == std::string_view::npos) return {};
  size_t i = at + quoted_key.size();
  while (i < text.size() && (text[i] == ' ' || text[i] == ':')) ++i;
  return text.substr(i);
}

std::optional<uint64_t> number_of(std::string_view text, std::string_view quoted_key) {
  const std::string_view v = value_of(text, quoted_key);
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end == v.data()) return std::nullopt;
  return n;
}

struct WsFleet::Shared {
  Shared(WsFleet& fleet, const EdgeFeed& feed, uint16_t port, size_t max_connecting)
      : fleet(fleet), feed(feed), port(port), max_connecting(max_connecting) {}

  WsFleet& fleet;
  const EdgeFeed& feed;
  uint16_t port;
  size_t max_connecting;
  net::io_context io{1};
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(io);
  std::vector<std::shared_ptr<Session>> sessions;
  size_t pending = 0;
  size_t connecting = 0;
  bool window_open = false;
  WindowStats window;
  uint64_t watch_seq = UINT64_MAX;
  uint64_t watch_generation = 0;
  mutable std::mutex error_mutex;
  std::string first_error;

  void error(const std::string& text) {
    std::lock_guard lock(error_mutex);
    if (first_error.empty()) first_error = text;
  }
  void pump();
};

class WsFleet::Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(Shared& shared) : shared_(shared), ws_(shared.io) {}

  void start() {
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(30));
    beast::get_lowest_layer(ws_).async_connect(
        loopback(shared_.port),
        [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
  }

  void close() {
    closing_ = true;
    beast::get_lowest_layer(ws_).close();
  }

 private:
  void on_connect(beast::error_code ec) {
    if (ec) return fail("connect", ec);
    beast::get_lowest_layer(ws_).expires_never();
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ec);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws_.async_handshake("127.0.0.1:" + std::to_string(shared_.port), "/v1/stream",
                        [self = shared_from_this()](beast::error_code ec) {
                          if (ec) return self->fail("handshake", ec);
                          self->ws_.text(true);
                          self->ws_.async_write(net::buffer(kSubscribe.data(), kSubscribe.size()),
                                                [self](beast::error_code ec, size_t) {
                                                  if (ec) return self->fail("subscribe", ec);
                                                  self->read();
                                                });
                        });
  }

  void read() {
    ws_.async_read(
        buffer_, [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      if (closing_) return;
      if (!ready_) return fail("first read", ec);
      shared_.fleet.closed_.fetch_add(1, std::memory_order_acq_rel);
      shared_.error("a ready client lost its connection: " + ec.message());
      return;
    }
    const auto data = buffer_.cdata();
    on_message(std::string_view(static_cast<const char*>(data.data()), data.size()));
    buffer_.consume(buffer_.size());
    read();
  }

  void on_message(std::string_view text) {
    const uint64_t now = steady_ns();
    const std::string_view type = value_of(text, "\"type\"");
    const bool delta = type.starts_with("\"delta\"");
    const bool image = type.starts_with("\"image\"");
    if (!delta && !image) {
      if (type.starts_with("\"error\"")) shared_.error("the edge answered: " + std::string(text));
      return;
    }
    const std::optional<uint64_t> seq = number_of(text, "\"seq\"");
    if (!seq) {
      shared_.error("a message without a seq: " + std::string(text.substr(0, 200)));
      shared_.fleet.order_errors_.fetch_add(1, std::memory_order_acq_rel);
      return;
    }
    if (image) {
      last_seq_ = *seq;
      if (!ready_) {
        ready_ = true;
        shared_.fleet.ready_.fetch_add(1, std::memory_order_acq_rel);
        --shared_.connecting;
        shared_.pump();
        buffer_.shrink_to_fit();
      }
    } else {
      if (!ready_ || *seq <= last_seq_) {
        shared_.fleet.order_errors_.fetch_add(1, std::memory_order_acq_rel);
        shared_.error("a delta at seq " + std::to_string(*seq) + " after seq " +
                      std::to_string(last_seq_) + (ready_ ? "" : " before any image"));
      }
      last_seq_ = *seq;
      if (shared_.window_open) {
        WindowStats& w = shared_.window;
        ++w.deltas;
        if (w.first_arrival_ns == 0) w.first_arrival_ns = now;
        w.last_arrival_ns = now;
        const size_t at = text.rfind("\"conflated\"");
        const bool conflated = at != std::string_view::npos &&
                               value_of(text.substr(at), "\"conflated\"").starts_with("true");
        if (conflated) {
          ++w.conflated;
        } else if (const uint64_t sent = shared_.feed.sent_ns(*seq); sent != 0 && now >= sent) {
          w.latency.record(now - sent);
        }
      }
    }
    if (*seq >= shared_.watch_seq && watched_ != shared_.watch_generation) {
      watched_ = shared_.watch_generation;
      if (shared_.fleet.watch_reached_.load(std::memory_order_relaxed) == 0) {
        shared_.fleet.watch_first_ns_.store(now, std::memory_order_release);
      }
      shared_.fleet.watch_reached_.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  void fail(const char* what, beast::error_code ec) {
    if (closing_) return;
    closing_ = true;
    shared_.error(std::string(what) + ": " + ec.message());
    shared_.fleet.failed_.fetch_add(1, std::memory_order_acq_rel);
    --shared_.connecting;
    shared_.pump();
  }

  Shared& shared_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  uint64_t last_seq_ = 0;
  uint64_t watched_ = 0;
  bool ready_ = false;
  bool closing_ = false;
};

void WsFleet::Shared::pump() {
  while (connecting < max_connecting && pending > 0) {
    --pending;
    ++connecting;
    sessions.push_back(std::make_shared<Session>(*this));
    sessions.back()->start();
  }
}

WsFleet::WsFleet(const EdgeFeed& feed, uint16_t port, size_t max_connecting)
    : shared_(std::make_unique<Shared>(*this, feed, port, max_connecting)) {
  thread_ = std::thread([this] {
    name_this_thread("bench-ws");
    shared_->io.run();
  });
}

WsFleet::~WsFleet() {
  net::post(shared_->io, [this] {
    for (auto& session : shared_->sessions) session->close();
    shared_->sessions.clear();
    shared_->pending = 0;
    shared_->work.reset();
  });
  thread_.join();
}

void WsFleet::connect(size_t n) {
  net::post(shared_->io, [this, n] {
    shared_->pending += n;
    shared_->pump();
  });
}

std::string WsFleet::first_error() const {
  std::lock_guard lock(shared_->error_mutex);
  return shared_->first_error;
}

void WsFleet::watch(uint64_t seq) {
  std::promise<void> done;
  net::post(shared_->io, [&] {
    watch_reached_.store(0, std::memory_order_release);
    watch_first_ns_.store(0, std::memory_order_release);
    shared_->watch_seq = seq;
    ++shared_->watch_generation;
    done.set_value();
  });
  done.get_future().wait();
}

void WsFleet::begin_window() {
  std::promise<void> done;
  net::post(shared_->io, [&] {
    shared_->window = WindowStats{};
    shared_->window_open = true;
    done.set_value();
  });
  done.get_future().wait();
}

WindowStats WsFleet::end_window() {
  std::promise<WindowStats> done;
  net::post(shared_->io, [&] {
    shared_->window_open = false;
    done.set_value(std::move(shared_->window));
    shared_->window = WindowStats{};
  });
  return done.get_future().get();
}

double WsFleet::cpu_seconds() const {
  clockid_t clock{};
  if (pthread_getcpuclockid(const_cast<std::thread&>(thread_).native_handle(), &clock) != 0) {
    return 0;
  }
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::pair<int, std::string> http_get(uint16_t port, const std::string& target, int timeout_ms) {
  net::io_context io;
  beast::tcp_stream stream(io);
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  response.body().reserve(1 << 16);
  std::pair<int, std::string> result{0, "no answer within " + std::to_string(timeout_ms) + " ms"};
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  stream.async_connect(loopback(port), [&](beast::error_code ec) {
    if (ec) {
      result.second = "connect: " + ec.message();
      return;
    }
    http::async_write(stream, request, [&](beast::error_code ec, size_t) {
      if (ec) {
        result.second = "write: " + ec.message();
        return;
      }
      http::async_read(stream, buffer, response, [&](beast::error_code ec, size_t) {
        if (ec) {
          result.second = "read: " + ec.message();
          return;
        }
        result = {static_cast<int>(response.result_int()), std::move(response.body())};
      });
    });
  });
  io.run();
  return result;
}

}  // namespace oddsbus::bench
