// A context's ZAP handler (RFC 27, https://rfc.zeromq.org/spec/27/): a REP socket bound at
// inproc://zeromq.zap.01 in the servers' ZeroMQ context, which libzmq asks about every
// connection a CURVE server socket of that context accepts. The decision is ZapPolicy's
// (schemas/zap_decision.h); this is its thread. Refusals are counted and logged, rate-limited.
//
// Threads: the constructor binds (on the caller's thread, before any server socket binds, so no
// connection is ever accepted unasked); then one thread ("zap") owns the socket until the
// destructor stops and joins it (within ~100 ms). Destroy it before its context. accepted()
// and refused() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "schemas/zap_decision.h"

namespace oddsbus::curve {

class ZapHandler {
 public:
  // Throws zmq::error_t when the context has a ZAP handler already (start-up only).
  ZapHandler(zmq::context_t& context, const std::vector<Key>& allowed);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  uint64_t accepted() const { return accepted_.load(std::memory_order_relaxed); }
  // Connections refused: a key not on the allow list, another mechanism, a malformed request.
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  void run();

  ZapPolicy policy_;
  zmq::socket_t socket_;
  std::atomic<bool> stop_{false};
  alignas(64) std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_{0};
  std::thread thread_;
};

}  // namespace oddsbus::curve
