// Loopback TCP ports for the processes of a local cluster, a test or a benchmark.
//
// pick_free_port() asks the kernel for an unused port on 127.0.0.1 (bind to port 0), closes it,
// and remembers it so this process never hands the same port out twice. The remaining race, which
// no picker that lets a child bind can close: between the check and the child's own bind, another
// process on the machine may take the port. The child then fails to bind and exits (or its
// readiness probe times out): callers see it through wait_ready() (tools/cluster/readiness.h) and
// may start it again on a new port. Ports come from the kernel's ephemeral range, where a fresh
// connect() can also land; on a loaded machine that is the likelier collision.
//
// Thread safety: pick_free_port() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace oddsbus::cluster {

// A port on 127.0.0.1 that nothing listened on when checked and that this process has not
// handed out before; nullopt when the kernel gives none.
std::optional<uint16_t> pick_free_port();

// Whether 127.0.0.1:port can be bound now (nothing listens on it).
bool port_is_free(uint16_t port);

// Listens on 127.0.0.1 on a free port; returns the socket (or -1) and sets `port`. For a test that
// plays a server itself.
int listen_loopback(uint16_t& port);

// Accepts one connection on `listener` within `timeout`; the socket, or -1.
int accept_within(int listener, std::chrono::milliseconds timeout);

// tcp://127.0.0.1:PORT, a ZeroMQ endpoint on loopback.
std::string loopback_url(uint16_t port);

}  // namespace oddsbus::cluster
