#include "edge/edge_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cinttypes>
#include <optional>
#include <stdexcept>
#include <vector>

#include "edge/client_tokens_file.h"
#include "edge/edge_metrics.h"
#include "edge/http_routes.h"
#include "edge/sessions.h"
#include "schemas/log.h"

namespace oddsbus::edge {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

uint64_t steady_now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

SubscriberConfig edge_subscriber(SubscriberConfig config) {
  config.arbiter.mode = ResyncMode::kSnapshot;
  // One publisher line delivers in order: a gap in it is a loss no other line will fill, so ask
  // at once (1 ms also paces re-asking a service that had nothing yet).
  if (config.publisher_urls.size() == 1) {
    config.arbiter.gap_timeout_ns = std::min<uint64_t>(config.arbiter.gap_timeout_ns, 1'000'000);
  }
  return config;
}

constexpr size_t kMaxPollsPerWake = 64;  // then let clients run; the next wake continues
constexpr unsigned kTicksPerClientTick = 10;

}  // namespace

class EdgeServer::Impl final : public ServingHost {
 public:
  explicit Impl(const EdgeServerConfig& config)
      : config_(with_audit(config)),
        audit_log_(open_audit_log(config.audit_log)),
        session_ids_(wall_clock_ns()),
        tls_(config.tls.enabled() || !config.tls.key_file.empty()
                 ? make_server_tls_context(config.tls)
                 : nullptr),
        tokens_(load_tokens(config.tokens_file)),
        cache_(config.cache),
        limits_(config.limits),
        parser_(config.stream.max_subscribed_ids),
        io_(1),
        subscriber_(zmq_, edge_subscriber(config.subscriber)),
        acceptor_(io_),
        tick_(io_) {
    const tcp::endpoint endpoint(asio::ip::make_address(config.http_host), config.http_port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    boost::system::error_code ec;
    acceptor_.bind(endpoint, ec);
    if (ec) {
      throw std::runtime_error("cannot listen on " + config.http_host + ":" +
                               std::to_string(config.http_port) + ": " + ec.message());
    }
    acceptor_.listen(asio::socket_base::max_listen_connections);
    for (const int fd : subscriber_.file_descriptors()) {
      zmq_fds_.emplace_back(io_, fd);
    }
    if (audit_log_) {
      audit_log_->submit(audit_open_record(session_ids_.run(), wall_clock_ns()));
      log(LogLevel::kInfo, "edge: client audit log %s (run %s)", config_.audit_log.path.c_str(),
          session_ids_.run().c_str());
    }
  }

  ~Impl() override {
    // The descriptors belong to ZeroMQ: take them back from Asio before it would close them.
    for (auto& fd : zmq_fds_) fd.release();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void run() {
    log(LogLevel::kInfo, "edge: serving %s://%s:%u (HTTP and WebSocket /v1/stream)%s",
        tls_ ? "https" : "http", config_.http_host.c_str(), port(),
        tokens_ ? "; clients need a bearer token (all but /healthz)" : "");
    accept();
    for (size_t i = 0; i < zmq_fds_.size(); ++i) wait_zmq(i);
    schedule_tick();
    drain();
    io_.run();
  }

  void stop() {
    asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      tick_.cancel();
      io_.stop();
    });
  }

  // ServingHost
  HttpReply route(std::string_view method, std::string_view target,
                  const MarketRights* rights) override {
    const EdgeHealth health = assess(steady_now_ns());
    const RouteContext ctx{
        cache_,
        health,
        Freshness{stale_, wall_clock_ns()},
        [](const void* self) { return static_cast<const Impl*>(self)->render_metrics(); },
        this,
        rights};
    return route_request(method, target, ctx);
  }
  StreamContext stream_context() override {
    return StreamContext{cache_, Freshness{stale_, wall_clock_ns()}, steady_now_ns(), &images_};
  }
  ClientRequestParser& parser() override { return parser_; }
  const EdgeServerConfig& config() const override { return config_; }
  StreamTotals& totals() override { return totals_; }
  ServingCounters& counters() override { return serving_; }
  void add_client(WsSession* session) override {
    session->set_client_index(clients_.size());
    clients_.push_back(session);
  }
  void remove_client(WsSession* session) override {
    const size_t i = session->client_index();
    if (i >= clients_.size() || clients_[i] != session) return;
    clients_[i] = clients_.back();
    clients_[i]->set_client_index(i);
    clients_.pop_back();
  }
  void release_connection() override { limits_.release(); }
  boost::asio::ssl::context* tls() override { return tls_.get(); }
  const ClientTokens* tokens() const override { return tokens_ ? &*tokens_ : nullptr; }
  std::unique_ptr<SessionAudit> open_session_audit(std::string_view remote,
                                                   uint64_t wall_ns) override {
    if (!audit_log_) return nullptr;
    return std::make_unique<SessionAudit>(*audit_log_, session_ids_.next(), remote, wall_ns);
  }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) admit(std::move(socket));
      accept();
    });
  }

  void admit(tcp::socket socket) {
    boost::system::error_code ec;
    const tcp::endpoint remote = socket.remote_endpoint(ec);
    if (ec) return;
    socket.set_option(tcp::no_delay(true), ec);
    switch (limits_.admit(remote.address().to_string(), steady_now_ns())) {
      case Admission::kAdmitted:
        start_http_session(std::move(socket), *this);
        break;
      case Admission::kTooManyConnections:
        if (refusal_log_.allow(steady_now_ns())) {
          log(LogLevel::kWarn,
              "edge: refused a connection: %zu open is the limit (%" PRIu64 " more refused)",
              limits_.open(), refusal_log_.suppressed());
        }
        refuse_connection(std::move(socket), 503, "too many connections", tls_ != nullptr);
        break;
      case Admission::kTooFast:
        if (refusal_log_.allow(steady_now_ns())) {
          log(LogLevel::kWarn,
              "edge: refused a connection from %s: too many new connections "
              "per second (%" PRIu64 " more refused)",
              remote.address().to_string().c_str(), refusal_log_.suppressed());
        }
        refuse_connection(std::move(socket), 429, "too many new connections from this address",
                          tls_ != nullptr);
        break;
    }
  }

  void wait_zmq(size_t i) {
    zmq_fds_[i].async_wait(asio::posix::stream_descriptor::wait_read,
                           [this, i](boost::system::error_code ec) {
                             if (ec) return;
                             // Armed again before draining: a message that arrives after the
                             // drain's last look then wakes the wait (ZMQ_FD only signals edges;
                             // one missed would wait for the next tick).
                             wait_zmq(i);
                             drain();
                           });
  }

  void schedule_tick() {
    tick_.expires_after(std::chrono::nanoseconds(config_.tick_ns));
    tick_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      on_tick();
      schedule_tick();
    });
  }

  // Takes everything the publisher and recovery sockets hold, applies it, and hands the changes
  // to every client. ZMQ_FD is edge-triggered: polling until nothing is left re-arms it.
  void drain() {
    for (size_t i = 0; i < kMaxPollsPerWake; ++i) {
      out_.clear();
      const size_t handled = subscriber_.poll(0, out_);
      apply_output();
      if (handled == 0) return;
    }
    asio::post(io_, [this] { drain(); });
  }

  void apply_output() {
    const uint64_t now_ns = steady_now_ns();
    std::optional<SnapshotImage> image = subscriber_.take_snapshot();
    if (image) {
      const uint64_t before = cache_.seq();
      cache_.install(std::move(*image));
      ++serving_.snapshots_installed;
      log(LogLevel::kInfo,
          "edge: installed a snapshot at seq %" PRIu64 " epoch %u (%zu markets; was at seq %" PRIu64
          ")",
          cache_.seq(), cache_.epoch(), cache_.state().markets().size(), before);
    }
    if (out_.frames.empty() && !image) {  // nothing new for any client
      refresh_stale(now_ns);
      return;
    }
    changes_.clear();
    const Freshness fresh{stale_, wall_clock_ns()};
    for (const fb::Frame* frame : out_.frames) {
      if (frame->payload_type() == fb::Payload::EpochChange) {
        log(LogLevel::kInfo, "edge: following epoch %u from seq %" PRIu64, frame->epoch(),
            frame->seq());
      }
      std::shared_ptr<const FrameChange> change = cache_.apply(*frame, fresh);
      ++serving_.frames_applied;
      if (change && !image) changes_.push_back(std::move(change));
    }
    // Before clients are handed anything: what they are sent then states the current verdict.
    refresh_stale(now_ns);
    const StreamContext ctx = stream_context();
    if (image) {
      // One image at the newest seq stands for the snapshot and the frames applied after it.
      for (WsSession* client : clients_) client->stream().on_resync(ctx);
    } else {
      for (const auto& change : changes_) {
        for (WsSession* client : clients_) client->stream().on_change(change, ctx);
      }
    }
    pump_all();
  }

  void on_tick() {
    drain();
    refresh_stale(steady_now_ns());
    if (++ticks_ % kTicksPerClientTick == 0) {
      const StreamContext ctx = stream_context();
      for (WsSession* client : clients_) client->stream().on_tick(ctx);
    }
    pump_all();
  }

  void pump_all() {
    // pump() may close a client, which removes it from clients_ only from a later completion
    // handler; iterate over a copy of the pointers anyway so that never matters.
    pumping_ = clients_;
    for (WsSession* client : pumping_) client->pump();
  }

  EdgeHealth assess(uint64_t now_ns) const {
    const Arbiter& arbiter = subscriber_.arbiter();
    return assess_health(
        EdgeHealthInput{cache_.positioned() && arbiter.positioned(), arbiter.last_live_ns(),
                        arbiter.gap_open_since_ns(), cache_.seq(), arbiter.newest_seq(), now_ns},
        config_.health);
  }

  // The stream's stale flag follows /healthz's verdict: every client hears each change of it.
  void refresh_stale(uint64_t now_ns) {
    const EdgeHealth health = assess(now_ns);
    if (health.stale == stale_) return;
    stale_ = health.stale;
    if (stale_) ++serving_.stale_transitions;
    log(stale_ ? LogLevel::kWarn : LogLevel::kInfo, "edge: %s",
        stale_ ? health.reason.c_str() : "current again: markets are fresh");
    const StreamContext ctx = stream_context();
    for (WsSession* client : clients_) client->stream().on_stale(stale_, ctx);
  }

  std::string render_metrics() const {
    const Arbiter& arbiter = subscriber_.arbiter();
    const EdgeHealth health = assess(steady_now_ns());
    return render_edge_metrics(EdgeMetricsInput{
        arbiter.counters(), subscriber_.counters(), totals_, limits_.counters(), serving_,
        cache_.epoch(), cache_.seq(), arbiter.newest_seq(), health.stale, health.ok,
        clients_.size(), limits_.open(), cache_.state().markets().size(), cache_.window_frames(),
        cache_.window_bytes()});
  }

  static EdgeServerConfig with_audit(EdgeServerConfig config) {
    config.stream.audit = !config.audit_log.path.empty();
    return config;
  }
  static std::optional<ClientTokens> load_tokens(const std::string& path) {
    if (path.empty()) return std::nullopt;
    auto loaded = load_client_tokens(path);
    if (!loaded) throw std::runtime_error("--tokens " + loaded.error());
    log(LogLevel::kInfo, "edge: %zu client tokens from %s", loaded->size(), path.c_str());
    return std::move(*loaded);
  }
  static std::unique_ptr<ClientAuditLog> open_audit_log(const ClientAuditLogConfig& config) {
    if (config.path.empty()) return nullptr;
    auto opened = ClientAuditLog::open(config);
    if (!opened) throw std::runtime_error(opened.error());
    return std::move(*opened);
  }

  // Declared before io_, so they outlive it: destroying io_ destroys the sessions its pending
  // handlers hold, and a session's destructor tells the host (clients_, limits_, counters, and
  // the audit log).
  EdgeServerConfig config_;
  std::unique_ptr<ClientAuditLog> audit_log_;
  SessionIds session_ids_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  std::optional<ClientTokens> tokens_;
  MarketCache cache_;
  ConnectionLimits limits_;
  ClientRequestParser parser_;
  StreamTotals totals_;
  ImageCache images_;
  ServingCounters serving_;
  std::vector<WsSession*> clients_;
  std::vector<WsSession*> pumping_;

  asio::io_context io_;
  zmq::context_t zmq_;
  Subscriber subscriber_;
  tcp::acceptor acceptor_;
  asio::steady_timer tick_;
  std::vector<asio::posix::stream_descriptor> zmq_fds_;
  ArbiterOutput out_;
  std::vector<std::shared_ptr<const FrameChange>> changes_;  // of the output being applied
  bool stale_ = true;
  uint64_t ticks_ = 0;
  LogLimiter refusal_log_;
};

EdgeServer::EdgeServer(const EdgeServerConfig& config) : impl_(std::make_unique<Impl>(config)) {}
EdgeServer::~EdgeServer() = default;
uint16_t EdgeServer::port() const { return impl_->port(); }
void EdgeServer::run() { impl_->run(); }
void EdgeServer::stop() { impl_->stop(); }

}  // namespace oddsbus::edge
