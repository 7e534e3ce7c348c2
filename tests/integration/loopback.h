// Test support: loopback TCP helpers for multi-process tests.
#pragma once

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

namespace oddsbus::testing {

// Listens on 127.0.0.1 on a free port; returns the socket (or -1) and sets `port`.
inline int listen_loopback(uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 4) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

inline uint16_t free_port() {
  uint16_t port = 0;
  const int fd = listen_loopback(port);
  ::close(fd);
  return port;
}

// Accepts one connection within `timeout`, or returns -1.
inline int accept_within(int listener, std::chrono::milliseconds timeout) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
  return ::accept(listener, nullptr, nullptr);
}

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
inline std::string url(uint16_t port) { return "tcp://127.0.0.1:" + std::to_string(port); }

// Polls `done` every 20 ms until it returns true (true) or `timeout` passes (false).
template <typename F>
bool wait_until(F&& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace oddsbus::testing
