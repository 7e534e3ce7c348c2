#include "schemas/zap_handler.h"

#include <pthread.h>

#include <cinttypes>
#include <zmq_addon.hpp>

#include "schemas/log.h"

namespace oddsbus::curve {
namespace {

uint64_t steady_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

ZapHandler::ZapHandler(zmq::context_t& context, const std::vector<Key>& allowed)
    : policy_(allowed), socket_(context, zmq::socket_type::rep) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind(kZapEndpoint);
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "zap");
}

ZapHandler::~ZapHandler() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::run() {
  LogLimiter limiter;
  std::vector<zmq::message_t> frames;
  std::vector<std::string_view> views;
  try {
    while (!stop_.load(std::memory_order_acquire)) {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      frames.clear();
      if (!zmq::recv_multipart(socket_, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
        continue;
      }
      views.clear();
      for (const zmq::message_t& frame : frames) views.push_back(frame.to_string_view());
      const ZapDecision d = policy_.decide(views);
      // RFC 27 reply: version, request id, status code, status text, user id, metadata.
      std::array<zmq::const_buffer, 6> reply{zmq::buffer(kZapVersion),   zmq::buffer(d.request_id),
                                             zmq::buffer(d.status_code), zmq::buffer(d.status_text),
                                             zmq::buffer(d.user_id),     zmq::const_buffer()};
      zmq::send_multipart(socket_, reply, zmq::send_flags::dontwait);
      if (d.outcome == ZapOutcome::kAccepted) {
        accepted_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      const uint64_t refused = refused_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (limiter.allow(steady_ns())) {
        log(LogLevel::kWarn,
            "CURVE: refused a connection from %s (key %s): %.*s (%" PRIu64
            " refused so far, %" PRIu64 " not logged since the last line)",
            d.address.empty() ? "?" : d.address.c_str(),
            d.client_key.empty() ? "none" : d.client_key.c_str(),
            static_cast<int>(d.status_text.size()), d.status_text.data(), refused,
            limiter.suppressed());
      }
    }
  } catch (const zmq::error_t& e) {
    if (e.num() != ETERM) log(LogLevel::kError, "CURVE: ZAP handler stopped: %s", e.what());
  }
  socket_.close();
}

}  // namespace oddsbus::curve
