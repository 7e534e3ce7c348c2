// Test support: loopback TCP helpers for multi-process tests. Ports and waiting come from the
// supervisor (tools/cluster/ports.h, readiness.h: one implementation for the tests, odds-bench
// and odds-cluster); what only tests need (an ASSERTing send, the sanitizer slowdown) is here.
#pragma once

// Kept from before the supervisor, for the tests that rely on them through this header.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

#include <gtest/gtest.h>

#include "tools/cluster/ports.h"
#include "tools/cluster/readiness.h"

namespace oddsbus::testing {

// Listens on 127.0.0.1 on a free port; returns the socket (or -1) and sets `port`.
using cluster::listen_loopback;

// A port on 127.0.0.1 free when checked and not handed out before by this process (0 if none);
// see tools/cluster/ports.h for the race that remains.
inline uint16_t free_port() { return cluster::pick_free_port().value_or(0); }

// Accepts one connection within `timeout`, or returns -1.
using cluster::accept_within;

inline void send_all(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << "feed connection closed by the engine";
    sent += static_cast<size_t>(n);
  }
}

// How many times slower the binaries under test run than a plain build: the sanitizer builds
// instrument every access (ODDSBUS_SANITIZER is set by oddsbus_add_test). Multi-process tests
// divide their load by it, so a test asks the same of a TSan build as of a plain one.
inline int sanitizer_slowdown() {
#ifdef ODDSBUS_SANITIZER
  const std::string_view sanitizer = ODDSBUS_SANITIZER;
  if (sanitizer == "thread") return 8;
  if (sanitizer == "address") return 2;
#endif
  return 1;
}

// A ZeroMQ endpoint on loopback.
inline std::string url(uint16_t port) { return cluster::loopback_url(port); }

// Polls `done` every 20 ms until it returns true (true) or `timeout` passes (false).
using cluster::wait_until;

}  // namespace oddsbus::testing
