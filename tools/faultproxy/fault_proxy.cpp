#include "tools/faultproxy/fault_proxy.h"

#include <pthread.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <deque>
#include <future>
#include <istream>
#include <list>
#include <thread>
#include <vector>

#include "tools/faultproxy/control_line.h"

namespace oddsbus::faultproxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

const char* fault_name(FaultKind kind) {
  switch (kind) {
    case FaultKind::kNone:
      return "none";
    case FaultKind::kDelay:
      return "delay";
    case FaultKind::kStall:
      return "stall";
    case FaultKind::kBlackHole:
      return "black-hole";
  }
  return "?";
}

bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

std::expected<Endpoint, std::string> parse_endpoint(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return std::unexpected("'" + text + "' is not HOST:PORT");
  }
  Endpoint endpoint;
  endpoint.host = text.substr(0, colon);
  if (endpoint.host.size() > 2 && endpoint.host.front() == '[' && endpoint.host.back() == ']') {
    endpoint.host = endpoint.host.substr(1, endpoint.host.size() - 2);
  }
  const std::string port = text.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return std::unexpected("'" + text + "' has no valid port");
  }
  endpoint.port = static_cast<uint16_t>(value);
  return endpoint;
}

namespace {

std::expected<tcp::endpoint, std::string> resolve_loopback(const Endpoint& endpoint) {
  if (!is_loopback(endpoint.host)) {
    return std::unexpected("'" + endpoint.host + "' is not a loopback address");
  }
  const std::string host = endpoint.host == "localhost" ? "127.0.0.1" : endpoint.host;
  return tcp::endpoint(asio::ip::make_address(host), endpoint.port);
}

// Closes a socket with an RST: SO_LINGER on with a zero timeout makes close() abort.
void abort_socket(tcp::socket& socket) {
  if (!socket.is_open()) return;
  boost::system::error_code ignored;
  socket.set_option(asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Everything below runs on the proxy's thread, except the FaultProxy functions that post to it.

class FaultProxy::Impl {
 public:
  struct Link;

  // One direction of a connection: reads `from`, queues, writes `to`.
  struct Pipe {
    Pipe(asio::io_context& io, bool to_target) : timer(io), to_target(to_target) {}
    struct Chunk {
      Clock::time_point due;
      std::vector<char> bytes;
    };
    std::array<char, 16384> buffer{};
    std::deque<Chunk> queue;
    size_t queued_bytes = 0;
    asio::steady_timer timer;
    bool reading = false;
    bool writing = false;
    bool waiting = false;  // on the timer for the front chunk's due time
    bool eof = false;      // `from` said EOF: shut `to` down once the queue is written
    bool to_target;
  };

  struct Link : std::enable_shared_from_this<Link> {
    Link(asio::io_context& io) : client(io), target(io), up(io, true), down(io, false) {}
    tcp::socket client;
    tcp::socket target;
    Pipe up;    // client -> target
    Pipe down;  // target -> client
    bool connected = false;
    bool closed = false;
    bool lost_bytes = false;  // dropped in a black hole: reset at heal
    tcp::socket& from(Pipe& p) { return &p == &up ? client : target; }
    tcp::socket& to(Pipe& p) { return &p == &up ? target : client; }
  };

  Impl(const tcp::endpoint& listen, const tcp::endpoint& target, Endpoint target_text)
      : acceptor_(io_), target_(target), target_text_(std::move(target_text)) {
    acceptor_.open(listen.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(listen);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_next();
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "faultproxy");
      io_.run();
    });
  }

  ~Impl() {
    run_in_loop([this] {
      stopping_ = true;
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      control_acceptor_.reset();
      for (auto& weak : control_sessions_) {
        if (auto s = weak.lock()) s->close(ignored);
      }
      for (auto& link : links_) close_link(*link, false);
      links_.clear();
    });
    io_.stop();
    thread_.join();
  }

  // Runs `fn` on the proxy's thread and waits for it.
  template <typename F>
  auto run_in_loop(F&& fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::forward<F>(fn));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

  uint16_t port() const { return port_; }
  const Endpoint& target() const { return target_text_; }

  // --- faults (on the proxy's thread) ---
  void set_delay(uint64_t ms) {
    const bool was_paused = paused();
    drop_black_hole();
    fault_ = ms == 0 ? FaultKind::kNone : FaultKind::kDelay;
    delay_ms_ = ms;
    if (was_paused) resume_all();
  }
  void set_stall() {
    drop_black_hole();
    fault_ = FaultKind::kStall;
    delay_ms_ = 0;
    for_each_link([](Link& link) {
      link.up.timer.cancel();
      link.down.timer.cancel();
    });
  }
  uint64_t reset_all() {
    uint64_t n = 0;
    for_each_link([&](Link& link) {
      close_link(link, true);
      ++n;
    });
    return n;
  }
  void set_black_hole() {
    fault_ = FaultKind::kBlackHole;
    delay_ms_ = 0;
    for_each_link([this](Link& link) {
      for (Pipe* p : {&link.up, &link.down}) {
        // A chunk being written stays: its write is in flight (and owns the buffer).
        const size_t keep = p->writing ? 1 : 0;
        while (p->queue.size() > keep) {
          const size_t n = p->queue.back().bytes.size();
          stats_.bytes_dropped += n;
          p->queued_bytes -= n;
          p->queue.pop_back();
          link.lost_bytes = true;
        }
        p->timer.cancel();
        read(link, *p);  // keep draining the senders: a black hole swallows
      }
    });
  }
  void heal() {
    drop_black_hole();
    const bool was_paused = paused();
    fault_ = FaultKind::kNone;
    delay_ms_ = 0;
    if (was_paused) resume_all();
  }

  ProxyStats stats() {
    ProxyStats s = stats_;
    s.fault = fault_;
    s.delay_ms = delay_ms_;
    s.open_connections = 0;
    for_each_link([&](Link&) { ++s.open_connections; });
    return s;
  }

  std::expected<uint16_t, std::string> serve_control(const tcp::endpoint& endpoint) {
    if (control_acceptor_) return std::unexpected("a control port is already served");
    auto acceptor = std::make_unique<tcp::acceptor>(io_);
    boost::system::error_code ec;
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return std::unexpected("cannot serve control on port " + std::to_string(endpoint.port()) +
                             ": " + ec.message());
    const uint16_t port = acceptor->local_endpoint().port();
    control_acceptor_ = std::move(acceptor);
    accept_control();
    return port;
  }

  asio::io_context io_;

 private:
  bool paused() const { return fault_ == FaultKind::kStall || fault_ == FaultKind::kBlackHole; }

  // Leaving a black hole: the streams that lost bytes are reset (see the header).
  void drop_black_hole() {
    if (fault_ != FaultKind::kBlackHole) return;
    for_each_link([this](Link& link) {
      if (link.lost_bytes || !link.connected) close_link(link, true);
    });
  }

  void resume_all() {
    for_each_link([this](Link& link) {
      for (Pipe* p : {&link.up, &link.down}) {
        read(link, *p);
        write(link, *p);
      }
    });
  }

  template <typename F>
  void for_each_link(F&& fn) {
    std::erase_if(links_, [](const std::shared_ptr<Link>& link) { return link->closed; });
    // Copy: fn may close links.
    const std::vector<std::shared_ptr<Link>> live(links_.begin(), links_.end());
    for (const auto& link : live) {
      if (!link->closed) fn(*link);
    }
  }

  void accept_next() {
    auto link = std::make_shared<Link>(io_);
    acceptor_.async_accept(link->client, [this, link](boost::system::error_code ec) {
      if (stopping_ || ec == asio::error::operation_aborted) return;
      if (!ec) on_accept(link);
      accept_next();
    });
  }

  void on_accept(const std::shared_ptr<Link>& link) {
    ++stats_.connections;
    boost::system::error_code ignored;
    link->client.set_option(tcp::no_delay(true), ignored);
    std::erase_if(links_, [](const std::shared_ptr<Link>& l) { return l->closed; });
    links_.push_back(link);
    if (fault_ == FaultKind::kBlackHole) {
      // Not forwarded: swallow what the client says until heal resets it.
      link->lost_bytes = true;
      read(*link, link->up);
      return;
    }
    link->target.async_connect(target_, [this, link](boost::system::error_code ec) {
      if (link->closed) return;
      if (ec) {
        ++stats_.failed_connects;
        close_link(*link, true);
        return;
      }
      boost::system::error_code ignored;
      link->target.set_option(tcp::no_delay(true), ignored);
      link->connected = true;
      read(*link, link->up);
      read(*link, link->down);
    });
  }

  void read(Link& link, Pipe& pipe) {
    if (link.closed || pipe.reading || pipe.eof) return;
    const bool swallow = fault_ == FaultKind::kBlackHole;
    if (!swallow) {
      if (!link.connected || fault_ == FaultKind::kStall || pipe.queued_bytes >= kMaxQueuedBytes) {
        return;
      }
    } else if (&pipe == &link.down && !link.connected) {
      return;
    }
    pipe.reading = true;
    link.from(pipe).async_read_some(
        asio::buffer(pipe.buffer),
        [this, self = link.shared_from_this(), &pipe](boost::system::error_code ec, size_t n) {
          pipe.reading = false;
          if (self->closed) return;
          if (ec) {
            if (ec == asio::error::eof) {
              pipe.eof = true;
              write(*self, pipe);  // shuts `to` down once the queue is written
              return;
            }
            close_link(*self, true);
            return;
          }
          if (fault_ == FaultKind::kBlackHole) {
            stats_.bytes_dropped += n;
            self->lost_bytes = true;
          } else {
            pipe.queue.push_back({Clock::now() + std::chrono::milliseconds(delay_ms_),
                                  std::vector<char>(pipe.buffer.begin(), pipe.buffer.begin() + n)});
            pipe.queued_bytes += n;
            write(*self, pipe);
          }
          read(*self, pipe);
        });
  }

  void write(Link& link, Pipe& pipe) {
    if (link.closed || pipe.writing || pipe.waiting || paused()) return;
    if (pipe.queue.empty()) {
      if (pipe.eof) {
        boost::system::error_code ignored;
        link.to(pipe).shutdown(tcp::socket::shutdown_send, ignored);
        if (link.up.eof && link.down.eof && link.up.queue.empty() && link.down.queue.empty()) {
          close_link(link, false);
        }
      }
      return;
    }
    const auto due = pipe.queue.front().due;
    if (due > Clock::now()) {
      pipe.waiting = true;
      pipe.timer.expires_at(due);
      pipe.timer.async_wait(
          [this, self = link.shared_from_this(), &pipe](boost::system::error_code) {
            pipe.waiting = false;
            write(*self, pipe);
          });
      return;
    }
    pipe.writing = true;
    asio::async_write(
        link.to(pipe), asio::buffer(pipe.queue.front().bytes),
        [this, self = link.shared_from_this(), &pipe](boost::system::error_code ec, size_t n) {
          pipe.writing = false;
          if (self->closed) return;
          if (ec) {
            close_link(*self, true);
            return;
          }
          (pipe.to_target ? stats_.bytes_to_target : stats_.bytes_to_client) += n;
          pipe.queued_bytes -= pipe.queue.front().bytes.size();
          pipe.queue.pop_front();
          write(*self, pipe);
          read(*self, pipe);  // it may have paused on a full queue
        });
  }

  void close_link(Link& link, bool abort) {
    if (link.closed) return;
    link.closed = true;
    if (abort) ++stats_.resets;
    link.up.timer.cancel();
    link.down.timer.cancel();
    if (abort) {
      abort_socket(link.client);
      abort_socket(link.target);
    } else {
      boost::system::error_code ignored;
      link.client.close(ignored);
      link.target.close(ignored);
    }
  }

  // --- control port ---
  struct ControlSession {
    explicit ControlSession(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    asio::streambuf input;
    std::string reply;
    void close(boost::system::error_code& ec) { socket.close(ec); }
  };

  void accept_control() {
    auto session = std::make_shared<ControlSession>(io_);
    control_acceptor_->async_accept(session->socket, [this, session](boost::system::error_code ec) {
      if (stopping_ || ec == asio::error::operation_aborted) return;
      if (!ec) {
        std::erase_if(control_sessions_, [](const auto& w) { return w.expired(); });
        control_sessions_.push_back(session);
        read_control(session);
      }
      accept_control();
    });
  }

  void read_control(const std::shared_ptr<ControlSession>& session) {
    asio::async_read_until(session->socket, session->input, '\n',
                           [this, session](boost::system::error_code ec, size_t) {
                             if (ec) return;
                             std::istream in(&session->input);
                             std::string line;
                             std::getline(in, line);
                             if (!line.empty() && line.back() == '\r') line.pop_back();
                             session->reply = execute(line) + "\n";
                             asio::async_write(
                                 session->socket, asio::buffer(session->reply),
                                 [this, session](boost::system::error_code ec, size_t) {
                                   if (!ec) read_control(session);
                                 });
                           });
  }

  std::string execute(const std::string& line) {
    auto command = parse_control_line(line);
    if (!command) return "error " + command.error();
    switch (command->op) {
      case ControlOp::kDelay:
        set_delay(command->delay_ms);
        return "ok delay " + std::to_string(command->delay_ms);
      case ControlOp::kStall:
        set_stall();
        return "ok stall";
      case ControlOp::kReset:
        return "ok reset " + std::to_string(reset_all());
      case ControlOp::kBlackHole:
        set_black_hole();
        return "ok black-hole";
      case ControlOp::kHeal:
        heal();
        return "ok heal";
      case ControlOp::kStats:
        return "ok " + format_stats(stats());
    }
    return "error unknown command";
  }

  tcp::acceptor acceptor_;
  tcp::endpoint target_;
  Endpoint target_text_;
  uint16_t port_ = 0;
  // Owns every open connection: a stalled one has no handler pending to keep it alive.
  std::list<std::shared_ptr<Link>> links_;
  std::unique_ptr<tcp::acceptor> control_acceptor_;
  std::vector<std::weak_ptr<ControlSession>> control_sessions_;
  FaultKind fault_ = FaultKind::kNone;
  uint64_t delay_ms_ = 0;
  ProxyStats stats_;
  bool stopping_ = false;
  std::thread thread_;
};

std::expected<std::unique_ptr<FaultProxy>, std::string> FaultProxy::start(const Endpoint& listen,
                                                                          const Endpoint& target) {
  auto listen_endpoint = resolve_loopback(listen);
  if (!listen_endpoint) return std::unexpected("listen: " + listen_endpoint.error());
  auto target_endpoint = resolve_loopback(target);
  if (!target_endpoint) return std::unexpected("target: " + target_endpoint.error());
  try {
    return std::unique_ptr<FaultProxy>(
        new FaultProxy(std::make_unique<Impl>(*listen_endpoint, *target_endpoint, target)));
  } catch (const boost::system::system_error& e) {
    return std::unexpected("cannot listen on " + listen.host + ":" + std::to_string(listen.port) +
                           ": " + e.code().message());
  }
}

FaultProxy::FaultProxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FaultProxy::~FaultProxy() = default;

uint16_t FaultProxy::port() const { return impl_->port(); }
const Endpoint& FaultProxy::target() const { return impl_->target(); }

void FaultProxy::delay(std::chrono::milliseconds delay) {
  const uint64_t ms = delay.count() < 0 ? 0 : static_cast<uint64_t>(delay.count());
  impl_->run_in_loop([&] { impl_->set_delay(ms); });
}
void FaultProxy::stall() {
  impl_->run_in_loop([&] { impl_->set_stall(); });
}
void FaultProxy::reset() {
  impl_->run_in_loop([&] { impl_->reset_all(); });
}
void FaultProxy::black_hole() {
  impl_->run_in_loop([&] { impl_->set_black_hole(); });
}
void FaultProxy::heal() {
  impl_->run_in_loop([&] { impl_->heal(); });
}
ProxyStats FaultProxy::stats() {
  return impl_->run_in_loop([&] { return impl_->stats(); });
}

std::expected<uint16_t, std::string> FaultProxy::serve_control(const Endpoint& control) {
  auto endpoint = resolve_loopback(control);
  if (!endpoint) return std::unexpected("control: " + endpoint.error());
  return impl_->run_in_loop([&] { return impl_->serve_control(*endpoint); });
}

}  // namespace oddsbus::faultproxy
