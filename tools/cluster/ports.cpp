#include "tools/cluster/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <set>

namespace oddsbus::cluster {

namespace {

// Binds a socket to 127.0.0.1:port (0: any free port) and listens; -1 on failure.
int bind_loopback(uint16_t port, bool reuse) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (reuse) {
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

uint16_t port_of(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

}  // namespace

std::optional<uint16_t> pick_free_port() {
  static std::mutex mutex;
  static std::set<uint16_t> handed_out;
  std::lock_guard lock(mutex);
  for (int attempt = 0; attempt < 64; ++attempt) {
    const int fd = bind_loopback(0, false);
    if (fd < 0) return std::nullopt;
    const uint16_t port = port_of(fd);
    ::close(fd);
    // The children bind with SO_REUSEADDR (ZeroMQ, Beast): checked the same way once closed.
    if (handed_out.insert(port).second && port_is_free(port)) return port;
  }
  return std::nullopt;
}

bool port_is_free(uint16_t port) {
  const int fd = bind_loopback(port, true);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

int listen_loopback(uint16_t& port) {
  const int fd = bind_loopback(0, true);
  if (fd >= 0) port = port_of(fd);
  return fd;
}

int accept_within(int listener, std::chrono::milliseconds timeout) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
  return ::accept(listener, nullptr, nullptr);
}

std::string loopback_url(uint16_t port) { return "tcp://127.0.0.1:" + std::to_string(port); }

}  // namespace oddsbus::cluster
