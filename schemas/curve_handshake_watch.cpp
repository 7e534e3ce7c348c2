#include "schemas/curve_handshake_watch.h"

#include <atomic>
#include <cstring>
#include <string>

namespace oddsbus::curve {
namespace {

std::atomic<uint64_t> g_next_watch{0};

}  // namespace

HandshakeWatch::HandshakeWatch(zmq::context_t& context, zmq::socket_t& watched)
    : events_(context, zmq::socket_type::pair) {
  const std::string endpoint =
      "inproc://oddsbus-handshake-watch-" + std::to_string(g_next_watch.fetch_add(1));
  const int events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                     ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
  if (zmq_socket_monitor(watched.handle(), endpoint.c_str(), events) != 0) throw zmq::error_t();
  events_.set(zmq::sockopt::linger, 0);
  events_.connect(endpoint);
}

uint64_t HandshakeWatch::drain() {
  uint64_t failures = 0;
  while (true) {
    // An event is two frames: 6 bytes (u16 event, u32 value), then the endpoint.
    zmq::message_t head;
    if (!events_.recv(head, zmq::recv_flags::dontwait)) break;
    uint16_t event = 0;
    if (head.size() >= sizeof event) std::memcpy(&event, head.data(), sizeof event);
    while (head.more()) {
      zmq::message_t rest;
      if (!events_.recv(rest, zmq::recv_flags::dontwait)) break;
      if (!rest.more()) break;
    }
    switch (event) {
      case ZMQ_EVENT_CONNECTED:
        handshaking_ = true;
        break;
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        handshaking_ = false;
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
      case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        handshaking_ = false;
        ++failures;
        break;
      case ZMQ_EVENT_DISCONNECTED:
        if (handshaking_) ++failures;
        handshaking_ = false;
        break;
      default:
        break;
    }
  }
  return failures;
}

}  // namespace oddsbus::curve
