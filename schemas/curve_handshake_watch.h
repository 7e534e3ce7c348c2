// Counts the failed handshakes of one client socket (a ZeroMQ socket monitor,
// zmq_socket_monitor): with CURVE on, the peer we connected to was not the server our key names
// (it could not open our HELLO and hung up), or it refused our key (ZAP), or it does not speak
// CURVE at all. Such a peer never delivers a message; this is how the client counts it.
//
// A failure is a HANDSHAKE_FAILED_* event, or a connection that closed after connecting and
// before its handshake succeeded (what a server that cannot open our HELLO does). A socket
// watched here connects to one URL, so one connection is in flight at a time. A connection lost
// mid-handshake for another reason (a TCP proxy whose target is down accepts, then closes) is
// counted too: the count says "no authenticated link", not always "an impostor".
//
// Thread safety: owned by the thread that owns the watched socket. Construct it before the
// watched socket connects, destroy it before its context.
#pragma once

#include <cstdint>
#include <zmq.hpp>

namespace oddsbus::curve {

class HandshakeWatch {
 public:
  // Starts monitoring `watched`. Throws zmq::error_t (start-up only).
  HandshakeWatch(zmq::context_t& context, zmq::socket_t& watched);

  // Reads the events that arrived, never blocking; returns the failures among them.
  uint64_t drain();
  // The ZMQ_FD of the events socket, for an event loop (edge-triggered: readable means "drain").
  int file_descriptor() const { return events_.get(zmq::sockopt::fd); }

 private:
  zmq::socket_t events_;
  bool handshaking_ = false;  // connected, handshake not finished yet
};

}  // namespace oddsbus::curve
