#include "engine/publisher.h"

namespace oddsbus::engine {

ZmqPublisher::ZmqPublisher(zmq::context_t& context, const std::string& url, int send_hwm,
                           int send_buffer_bytes, const curve::CurveServer* curve)
    : socket_(context, zmq::socket_type::pub) {
  curve::secure_server(socket_, curve);
  socket_.set(zmq::sockopt::sndhwm, send_hwm);
  if (send_buffer_bytes > 0) socket_.set(zmq::sockopt::sndbuf, send_buffer_bytes);
  socket_.set(zmq::sockopt::linger, 1000);
  socket_.bind(url);
  endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
}

void ZmqPublisher::publish(std::span<const uint8_t> batch) {
  auto sent =
      socket_.send(zmq::const_buffer(batch.data(), batch.size()), zmq::send_flags::dontwait);
  if (sent) {
    ++published_;
  } else {
    ++send_failures_;
  }
}

}  // namespace oddsbus::engine
