// Publishes batches on a ZeroMQ PUB socket (DESIGN section 4). A batch is published only after it
// is journaled; the caller keeps that order.
//
// Thread safety: created on one thread, then used only by the sequencer thread. Never blocks: PUB
// drops for a subscriber past its high-water mark, which the subscriber sees as a gap and recovers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <zmq.hpp>

#include "schemas/curve_link.h"

namespace oddsbus::engine {

// Where the sequencer agent sends batches after journaling them.
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  virtual void publish(std::span<const uint8_t> batch) = 0;
  // The seq a heartbeat published now may state, given the last committed one (a sink that
  // holds batches back says less).
  virtual uint64_t heartbeat_seq(uint64_t committed) const { return committed; }
};

class ZmqPublisher final : public BatchSink {
 public:
  // Binds `url` (tcp://, ipc://, inproc://). Throws zmq::error_t when it cannot (start-up only).
  // `send_hwm`: batches queued per subscriber before PUB drops for it; `send_buffer_bytes`: the
  // kernel send buffer per connection (0: the OS default, which grows with the link). `curve`:
  // a CURVE server (schemas/curve_link.h), or nullptr for a link in the clear.
  ZmqPublisher(zmq::context_t& context, const std::string& url, int send_hwm = 100000,
               int send_buffer_bytes = 0, const curve::CurveServer* curve = nullptr);

  void publish(std::span<const uint8_t> batch) override;

  // The endpoint actually bound (a wildcard port resolved).
  const std::string& endpoint() const { return endpoint_; }
  uint64_t published() const { return published_; }
  // Sends ZeroMQ refused. A subscriber past its high-water mark is not among them: PUB drops for
  // it silently, and that subscriber sees the drop as a gap (and recovers it).
  uint64_t send_failures() const { return send_failures_; }

 private:
  zmq::socket_t socket_;
  std::string endpoint_;
  uint64_t published_ = 0;
  uint64_t send_failures_ = 0;
};

}  // namespace oddsbus::engine
