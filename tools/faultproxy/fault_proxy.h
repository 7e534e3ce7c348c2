// A TCP fault proxy for chaos tests (issue 12): listens on a loopback port, forwards every
// connection to one target, byte for byte in both directions, and applies network faults on
// demand. ZeroMQ over tcp://, the feeds' line protocols and HTTP/WebSocket pass through it
// unchanged while it is healthy.
//
// Faults (one at a time; setting one replaces the last, heal() clears it):
//  - delay(ms): every chunk read from now on is written out `ms` later (order kept, both ways);
//    a delay of 0 is healthy.
//  - stall(): forwarding stops, connections stay open; the proxy stops reading too, so the
//    senders' TCP windows fill (the peers see a silent network, not an error). heal() releases
//    what was held, in order.
//  - reset(): every open connection is closed with a TCP RST on both sides (SO_LINGER 0); new
//    connections are accepted and forwarded as usual. A one-shot: nothing to heal.
//  - black_hole(): connections are accepted and kept, everything read is dropped, nothing is
//    written, and new connections are not forwarded. A stream that lost bytes can no longer be
//    framed by its peers, so heal() resets the connections that lost any (as TCP would once its
//    retransmissions time out); untouched ones go on.
//
// Bounded: at most kMaxQueuedBytes per direction of a connection wait in the proxy (delayed
// bytes); beyond that it stops reading and TCP pushes back on the sender.
//
// Only loopback: the listen address and the target must be loopback addresses (127.0.0.0/8,
// ::1), so a test cannot point faults at anything but its own processes.
//
// Threads: the proxy runs its own I/O thread. Every public function is thread-safe and returns
// once the change is in effect (it waits for the proxy's thread); do not call them from a
// callback running on that thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>

namespace oddsbus::faultproxy {

inline constexpr size_t kMaxQueuedBytes = 1u << 20;

enum class FaultKind { kNone, kDelay, kStall, kBlackHole };

// "none", "delay", "stall", "black-hole".
const char* fault_name(FaultKind kind);

struct Endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 on a listen address: any free port (see FaultProxy::port)
};

// "HOST:PORT" (IPv6 as "[::1]:PORT"); an error names what is wrong.
std::expected<Endpoint, std::string> parse_endpoint(const std::string& text);
// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback(const std::string& host);

struct ProxyStats {
  uint64_t connections = 0;       // accepted
  uint64_t open_connections = 0;  // now
  uint64_t bytes_to_target = 0;   // forwarded client -> target
  uint64_t bytes_to_client = 0;   // forwarded target -> client
  uint64_t bytes_dropped = 0;     // read in a black hole (or queued when one began)
  uint64_t resets = 0;            // connections closed with an RST by reset() or heal()
  uint64_t failed_connects = 0;   // target refused: the client is reset
  FaultKind fault = FaultKind::kNone;
  uint64_t delay_ms = 0;
};

class FaultProxy {
 public:
  // Binds `listen` (port 0: a free one) and starts forwarding to `target`. Errors: a non-loopback
  // address, an address that cannot be bound.
  static std::expected<std::unique_ptr<FaultProxy>, std::string> start(const Endpoint& listen,
                                                                       const Endpoint& target);
  ~FaultProxy();  // closes every connection and joins the thread
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  uint16_t port() const;  // the bound listen port
  const Endpoint& target() const;

  void delay(std::chrono::milliseconds delay);
  void stall();
  void reset();
  void black_hole();
  void heal();
  ProxyStats stats();

  // Serves the control line protocol (control_line.h) on `control` (loopback only; port 0: a
  // free one); returns the bound port. At most one control listener per proxy.
  std::expected<uint16_t, std::string> serve_control(const Endpoint& control);

  class Impl;

 private:
  explicit FaultProxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace oddsbus::faultproxy
