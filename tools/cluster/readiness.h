// Readiness: polling a condition against a deadline, never a sleep standing in for "it is up".
//
// A started process is ready when what it serves answers: an edge when GET /healthz says 200
// (live and caught up; edge/edge_health.h), an engine when its recovery service answers the
// `status` request (schemas/recovery_protocol.h), a feed simulator when its port accepts a
// connection. wait_ready() also watches the process itself, so a child that died on start (a port
// taken, a bad flag) is reported at once with its exit code instead of after the whole timeout.
//
// Thread safety: free functions; each call uses only its own sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "tools/cluster/child_process.h"

namespace oddsbus::curve {
struct CurveClient;
}

namespace oddsbus::cluster {

// Polls `done` every `every` until it returns true (true) or `timeout` passes (false).
template <typename F>
bool wait_until(F&& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds every = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(every);
  }
  return true;
}

enum class Readiness : uint8_t {
  kReady,     // the probe said yes
  kExited,    // the process ended before it was ready (see its exit_code() and log)
  kTimedOut,  // still running, never ready within the timeout
};
const char* readiness_name(Readiness readiness);

// Polls `probe` (every 50 ms) until it says ready, `child` exits, or `timeout` passes.
Readiness wait_ready(ChildProcess& child, const std::function<bool()>& probe,
                     std::chrono::milliseconds timeout);

struct HttpReply {
  unsigned status = 0;  // 0: no HTTP answer; `body` says why
  std::string body;
};
// GET http://127.0.0.1:port/target (HTTP/1.1, Connection: close), bounded by `timeout` in all.
HttpReply http_get(uint16_t port, std::string_view target,
                   std::chrono::milliseconds timeout = std::chrono::seconds(2));

// An edge's readiness: GET /healthz answers 200.
bool edge_healthy(uint16_t http_port);

// What an engine's recovery service says of its node (the `status` reply).
struct EngineStatus {
  uint32_t node = 0;
  uint32_t epoch = 0;
  uint64_t last_seq = 0;
  bool primary = false;
};
// Asks the recovery service at `recovery_url` (tcp://...) for its status; nullopt when it does
// not answer a status within `timeout` (busy, not up, or paused). `curve`: CURVE client keys
// covering `recovery_url` (schemas/curve_link.h), or null for the clear.
std::optional<EngineStatus> engine_status(const std::string& recovery_url,
                                          std::chrono::milliseconds timeout,
                                          const curve::CurveClient* curve = nullptr);

// Whether 127.0.0.1:port accepts a TCP connection now (a feed simulator's line).
bool accepts_connections(uint16_t port);

}  // namespace oddsbus::cluster
