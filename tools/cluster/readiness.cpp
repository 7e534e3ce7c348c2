#include "tools/cluster/readiness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zmq.hpp>

#include "schemas/curve_link.h"
#include "schemas/recovery_protocol.h"

namespace oddsbus::cluster {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// A non-blocking connect to 127.0.0.1:port finished before `deadline`; the socket or -1.
int connect_loopback(uint16_t port, Clock::time_point deadline) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      ::close(fd);
      return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    int error = 0;
    socklen_t len = sizeof error;
    if (::poll(&p, 1, remaining_ms(deadline)) != 1 ||
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
      ::close(fd);
      return -1;
    }
  }
  return fd;
}

}  // namespace

const char* readiness_name(Readiness readiness) {
  switch (readiness) {
    case Readiness::kReady:
      return "ready";
    case Readiness::kExited:
      return "exited before it was ready";
    case Readiness::kTimedOut:
      return "not ready in time";
  }
  return "?";
}

Readiness wait_ready(ChildProcess& child, const std::function<bool()>& probe,
                     std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (!child.running()) return Readiness::kExited;
    if (probe()) return Readiness::kReady;
    if (Clock::now() > deadline) return Readiness::kTimedOut;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

HttpReply http_get(uint16_t port, std::string_view target, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const int fd = connect_loopback(port, deadline);
  if (fd < 0) return {0, "cannot connect to 127.0.0.1:" + std::to_string(port)};
  std::string request =
      "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  std::string reply;
  while (sent < request.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) != 1) break;
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  char buffer[16384];
  while (sent == request.size()) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) != 1) break;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    reply.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nBODY" (the edge sends Content-Length bodies, not chunks).
  const size_t space = reply.find(' ');
  const size_t body = reply.find("\r\n\r\n");
  if (reply.rfind("HTTP/", 0) != 0 || space == std::string::npos || body == std::string::npos) {
    return {0, "no HTTP answer from 127.0.0.1:" + std::to_string(port)};
  }
  return {static_cast<unsigned>(std::atoi(reply.c_str() + space + 1)), reply.substr(body + 4)};
}

bool edge_healthy(uint16_t http_port) {
  return http_get(http_port, "/healthz", std::chrono::milliseconds(1000)).status == 200;
}

std::optional<EngineStatus> engine_status(const std::string& recovery_url,
                                          std::chrono::milliseconds timeout,
                                          const curve::CurveClient* curve) {
  // One context per call: probes are rare (start-up, chaos checks), never on a hot path.
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  curve::secure_client(socket, curve, recovery_url);
  socket.connect(recovery_url);
  const std::string request = "status";
  if (!socket.send(zmq::buffer(request), zmq::send_flags::dontwait)) return std::nullopt;
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, timeout);
  zmq::message_t reply;
  if ((item.revents & ZMQ_POLLIN) == 0 || !socket.recv(reply, zmq::recv_flags::dontwait)) {
    return std::nullopt;
  }
  const auto header = recovery::parse_reply_header(reply.to_string_view());
  if (!header || header->kind != recovery::ReplyKind::kStatus) return std::nullopt;
  return EngineStatus{header->node, header->epoch, header->last_seq, header->primary};
}

bool accepts_connections(uint16_t port) {
  const int fd = connect_loopback(port, Clock::now() + std::chrono::milliseconds(500));
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

}  // namespace oddsbus::cluster
