#include "feeds/sim/sim_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>

#include "feeds/sim/record.h"
#include "schemas/log.h"

namespace oddsbus::feeds::sim {
namespace {

constexpr uint64_t kMaxPollWaitNs = 100'000'000;  // notice stop and toggles at least this often
constexpr uint64_t kSummaryIntervalNs = 5'000'000'000;
constexpr uint64_t kRecordFlushIntervalNs = 200'000'000;  // a test may read the record meanwhile
constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

uint64_t steady_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

std::string peer_name(const sockaddr_in& address) {
  char host[INET_ADDRSTRLEN] = "?";
  ::inet_ntop(AF_INET, &address.sin_addr, host, sizeof(host));
  return std::string(host) + ":" + std::to_string(ntohs(address.sin_port));
}

std::expected<int, std::string> listen_on(const TcpEndpoint& endpoint, uint16_t& bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint.port);
  const int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    return std::unexpected("cannot resolve " + endpoint.host + ": " + ::gai_strerror(rc));
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(found);
    return std::unexpected(std::string("socket: ") + std::strerror(errno));
  }
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const bool ok = ::bind(fd, found->ai_addr, found->ai_addrlen) == 0 && ::listen(fd, 16) == 0;
  const int error = errno;
  ::freeaddrinfo(found);
  if (!ok) {
    ::close(fd);
    return std::unexpected("cannot listen on " + endpoint.host + ":" + port + ": " +
                           std::strerror(error));
  }
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  bound_port = ntohs(address.sin_port);
  return fd;
}

}  // namespace

struct SimServer::Client {
  int fd = -1;
  std::string peer;
  std::string out;
  size_t out_offset = 0;
  uint64_t disconnect_at = kNever;  // steady ns
  size_t image_bytes = 0;           // its last image may exceed max_client_buffer on its own
};

struct SimServer::Line {
  uint32_t index = 0;
  int listen_fd = -1;
  uint16_t port = 0;
  std::string host;
  FaultPlan plan;
  std::vector<Client> clients;
  struct Pending {
    uint64_t due = 0;  // steady ns
    std::shared_ptr<const SimMessage> message{};
    std::string garbled{};  // set when the message is corrupted
    bool corrupt = false;
    bool duplicate = false;  // this is the second copy
  };
  std::deque<Pending> pending;
  uint64_t last_due = 0;
  bool stalled = false;
  // Counters, for the logs.
  uint64_t sent = 0;
  uint64_t dropped = 0;
  uint64_t duplicated = 0;
  uint64_t corrupted = 0;
  uint64_t lost_to_stall = 0;
  uint64_t unheard = 0;  // due while no client was connected
  uint64_t connections = 0;
  uint64_t forced_disconnects = 0;
  uint64_t logged_faults = 0;

  Line(uint32_t i, const FaultConfig& faults, uint64_t seed)
      : index(i), plan(faults, derive_line_seed(seed, i)) {}
};

SimServer::SimServer(SimServerConfig config)
    : config_(std::move(config)), stream_(config_.stream) {}

SimServer::~SimServer() {
  for (auto& line : lines_) {
    for (Client& client : line->clients) ::close(client.fd);
    if (line->listen_fd >= 0) ::close(line->listen_fd);
  }
  if (record_ != nullptr) std::fclose(record_);
}

std::expected<std::unique_ptr<SimServer>, std::string> SimServer::open(SimServerConfig config) {
  if (config.listen.empty() || config.listen.size() > 2) {
    return std::unexpected("give one or two --listen endpoints (two lines of one provider)");
  }
  const bool epoch_given = config.stream.epoch_ms != 0;
  if (!epoch_given) config.stream.epoch_ms = wall_clock_ns() / 1'000'000;
  std::unique_ptr<SimServer> server(new SimServer(std::move(config)));
  server->epoch_given_ = epoch_given;
  const SimServerConfig& c = server->config_;
  for (uint32_t i = 0; i < c.listen.size(); ++i) {
    auto line = std::make_unique<Line>(i, c.faults, c.stream.sim.seed);
    line->host = c.listen[i].host;
    auto fd = listen_on(c.listen[i], line->port);
    if (!fd) return std::unexpected("line " + std::to_string(i) + ": " + fd.error());
    line->listen_fd = *fd;
    server->lines_.push_back(std::move(line));
  }
  if (!c.record_path.empty()) {
    server->record_ = std::fopen(c.record_path.c_str(), "w");
    if (server->record_ == nullptr) {
      return std::unexpected("cannot write record file " + c.record_path + ": " +
                             std::strerror(errno));
    }
  }
  return server;
}

std::vector<uint16_t> SimServer::ports() const {
  std::vector<uint16_t> out;
  for (const auto& line : lines_) out.push_back(line->port);
  return out;
}

uint64_t SimServer::sim_now(uint64_t now) const { return started_ ? now - start_ns_ : 0; }

void SimServer::start_stream(uint64_t now) {
  started_ = true;
  start_ns_ = now;
  if (!epoch_given_) {
    stream_.set_epoch_ms(wall_clock_ns() / 1'000'000);
  }
  log(LogLevel::kInfo, "odds-feedsim: stream started (%s, seed %llu)",
      std::string(to_string(config_.stream.format)).c_str(),
      static_cast<unsigned long long>(config_.stream.sim.seed));
}

void SimServer::write_record(const std::string& text) {
  if (record_ == nullptr || text.empty()) return;
  if (std::fwrite(text.data(), 1, text.size(), record_) != text.size() && !record_failed_) {
    record_failed_ = true;
    log(LogLevel::kError, "odds-feedsim: cannot write the record file %s: %s",
        config_.record_path.c_str(), std::strerror(errno));
  }
}

void SimServer::close_client(Line& line, size_t index, const char* why) {
  Client& client = line.clients[index];
  log(LogLevel::kInfo, "odds-feedsim: line %u: %s %s", line.index, why, client.peer.c_str());
  ::close(client.fd);
  line.clients.erase(line.clients.begin() + static_cast<std::ptrdiff_t>(index));
}

void SimServer::send_image(Line& line, Client& client, uint64_t now) {
  std::vector<SimMessage> image;
  stream_.image(sim_now(now), image);
  const uint64_t wall = wall_clock_ns();
  std::string records;
  for (const SimMessage& message : image) {
    client.out += message.bytes;
    for (const SimFact& fact : message.facts) {
      append_record(records, line.index, 0, fact, true, false, wall);
    }
  }
  write_record(records);
  client.image_bytes = 0;
  for (const SimMessage& message : image) client.image_bytes += message.bytes.size();
}

void SimServer::accept_clients(Line& line, uint64_t now) {
  while (true) {
    sockaddr_in address{};
    socklen_t length = sizeof(address);
    const int fd = ::accept4(line.listen_fd, reinterpret_cast<sockaddr*>(&address), &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a connection that went away before we took it
    if (line.clients.size() >= config_.max_clients_per_line) {
      log(LogLevel::kWarn, "odds-feedsim: line %u: refused %s (already %zu clients)", line.index,
          peer_name(address).c_str(), line.clients.size());
      ::close(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    Client client;
    client.fd = fd;
    client.peer = peer_name(address);
    if (config_.disconnect_every_ns != 0) client.disconnect_at = now + config_.disconnect_every_ns;
    ++line.connections;
    log(LogLevel::kInfo, "odds-feedsim: line %u: client %s connected (%zu now)", line.index,
        client.peer.c_str(), line.clients.size() + 1);
    if (!line.stalled) send_image(line, client, now);
    line.clients.push_back(std::move(client));
  }
}

void SimServer::distribute(const std::vector<SimMessage>& messages, uint64_t now) {
  for (const SimMessage& m : messages) {
    auto message = std::make_shared<const SimMessage>(m);
    for (auto& line_ptr : lines_) {
      Line& line = *line_ptr;
      if (line.stalled) {
        ++line.lost_to_stall;
        continue;
      }
      const FaultDecision decision = line.plan.decide(message->seq);
      if (decision.drop) {
        ++line.dropped;
        continue;
      }
      const uint64_t due = std::max(line.last_due, now + decision.delay_ns);
      line.last_due = due;
      for (int copy = 0; copy < decision.copies(); ++copy) {
        Line::Pending pending{.due = due, .message = message};
        if (decision.corrupt) {
          pending.corrupt = true;
          pending.garbled = corrupt_line(message->bytes, decision.garble_key);
        }
        pending.duplicate = copy == 1;
        line.pending.push_back(std::move(pending));
      }
      if (decision.corrupt) ++line.corrupted;
      if (decision.duplicate) ++line.duplicated;
    }
  }
}

void SimServer::deliver_due(Line& line, uint64_t now) {
  if (line.stalled) return;
  std::string records;
  while (!line.pending.empty() && line.pending.front().due <= now) {
    const Line::Pending& pending = line.pending.front();
    if (line.clients.empty()) {
      ++line.unheard;
    } else {
      const std::string& bytes = pending.corrupt ? pending.garbled : pending.message->bytes;
      for (Client& client : line.clients) client.out += bytes;
      ++line.sent;
      const uint64_t wall = wall_clock_ns();
      if (pending.corrupt) {
        append_corrupt_record(records, line.index, pending.message->seq, bytes.size(), wall);
      } else {
        for (const SimFact& fact : pending.message->facts) {
          append_record(records, line.index, pending.message->seq, fact, false, pending.duplicate,
                        wall);
        }
      }
    }
    line.pending.pop_front();
  }
  write_record(records);
}

void SimServer::flush_clients(Line& line, uint64_t now) {
  for (size_t i = 0; i < line.clients.size();) {
    Client& client = line.clients[i];
    if (client.disconnect_at <= now) {
      ++line.forced_disconnects;
      close_client(line, i, "fault: disconnecting");
      continue;
    }
    bool failed = false;
    while (client.out_offset < client.out.size()) {
      const ssize_t n = ::send(client.fd, client.out.data() + client.out_offset,
                               client.out.size() - client.out_offset, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        client.out_offset += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        failed = n < 0 && errno != EAGAIN && errno != EWOULDBLOCK;
        break;
      }
    }
    if (failed) {
      close_client(line, i, "send failed, dropping");
      continue;
    }
    if (client.out_offset == client.out.size()) {
      client.out.clear();
      client.out_offset = 0;
    } else if (client.out_offset > (1 << 20)) {
      client.out.erase(0, client.out_offset);
      client.out_offset = 0;
    }
    if (client.out.size() - client.out_offset > config_.max_client_buffer + client.image_bytes) {
      close_client(line, i, "too far behind, dropping");
      continue;
    }
    ++i;
  }
}

void SimServer::update_stall(uint64_t now, uint32_t toggles) {
  while (toggles_seen_ != toggles) {
    ++toggles_seen_;
    stall_manual_ = !stall_manual_;
  }
  bool scheduled = false;
  if (started_ && config_.stall_after_ns) {
    const uint64_t t = sim_now(now);
    scheduled = t >= *config_.stall_after_ns &&
                (config_.stall_for_ns == 0 || t < *config_.stall_after_ns + config_.stall_for_ns);
  }
  const bool stall = scheduled != stall_manual_;
  for (auto& line_ptr : lines_) {
    Line& line = *line_ptr;
    const bool want = stall && (config_.stall_line < 0 ||
                                static_cast<uint32_t>(config_.stall_line) == line.index);
    if (want == line.stalled) continue;
    line.stalled = want;
    if (want) {
      log(LogLevel::kWarn, "odds-feedsim: line %u: fault: stalled (sending nothing)", line.index);
      line.lost_to_stall += line.pending.size();
      line.pending.clear();
    } else {
      log(LogLevel::kInfo, "odds-feedsim: line %u: stall over, sending images", line.index);
      line.last_due = 0;
      for (Client& client : line.clients) send_image(line, client, now);
    }
  }
}

bool SimServer::idle() const {
  for (const auto& line : lines_) {
    if (!line->pending.empty()) return false;
    for (const Client& client : line->clients) {
      if (client.out_offset < client.out.size()) return false;
    }
  }
  return true;
}

void SimServer::log_summary(bool final) {
  for (auto& line_ptr : lines_) {
    Line& line = *line_ptr;
    const uint64_t faults = line.dropped + line.duplicated + line.corrupted + line.lost_to_stall +
                            line.forced_disconnects;
    if (!final && faults == line.logged_faults) continue;
    line.logged_faults = faults;
    log(LogLevel::kInfo,
        "odds-feedsim: line %u: %llu sent, faults: %llu dropped, %llu duplicated, %llu corrupted, "
        "%llu lost to stalls, %llu disconnects; %llu with no client, %llu connections",
        line.index, static_cast<unsigned long long>(line.sent),
        static_cast<unsigned long long>(line.dropped),
        static_cast<unsigned long long>(line.duplicated),
        static_cast<unsigned long long>(line.corrupted),
        static_cast<unsigned long long>(line.lost_to_stall),
        static_cast<unsigned long long>(line.forced_disconnects),
        static_cast<unsigned long long>(line.unheard),
        static_cast<unsigned long long>(line.connections));
  }
}

int SimServer::run(const std::atomic<bool>& stop, const std::atomic<uint32_t>& stall_toggles) {
  for (const auto& line : lines_) {
    log(LogLevel::kInfo, "odds-feedsim: line %u listening on tcp://%s:%u (%s)", line->index,
        line->host.c_str(), line->port, std::string(to_string(config_.stream.format)).c_str());
  }
  if (!config_.wait_for_clients) start_stream(steady_ns());
  std::vector<SimMessage> fresh;
  std::vector<pollfd> fds;
  uint64_t over_since = 0;
  last_summary_ns_ = steady_ns();
  while (!stop.load(std::memory_order_relaxed)) {
    uint64_t now = steady_ns();
    if (!started_ && std::all_of(lines_.begin(), lines_.end(),
                                 [](const auto& line) { return !line->clients.empty(); })) {
      start_stream(now);
    }
    update_stall(now, stall_toggles.load(std::memory_order_relaxed));
    if (started_) {
      fresh.clear();
      stream_.advance(sim_now(now), fresh);
      distribute(fresh, now);
    }
    for (auto& line : lines_) {
      deliver_due(*line, now);
      flush_clients(*line, now);
    }
    if (now - last_summary_ns_ >= kSummaryIntervalNs) {
      last_summary_ns_ = now;
      log_summary(false);
    }
    if (record_ != nullptr && now - last_record_flush_ns_ >= kRecordFlushIntervalNs) {
      last_record_flush_ns_ = now;
      if (std::fflush(record_) != 0) record_failed_ = true;
    }
    if (stream_.over()) {
      if (over_since == 0) over_since = now;
      if (idle() || now - over_since >= config_.flush_timeout_ns) break;
    }

    // Sleep until the next thing to do: a stream message, a delayed message, a disconnect.
    uint64_t wake = now + kMaxPollWaitNs;
    if (started_) {
      const uint64_t due = stream_.next_due_ns();
      if (due != kNever) wake = std::min(wake, start_ns_ + due);
    }
    fds.clear();
    for (auto& line : lines_) {
      if (!line->pending.empty()) wake = std::min(wake, line->pending.front().due);
      fds.push_back({line->listen_fd, POLLIN, 0});
      for (const Client& client : line->clients) {
        wake = std::min(wake, client.disconnect_at);
        const bool writing = client.out_offset < client.out.size();
        fds.push_back({client.fd, static_cast<short>(POLLIN | (writing ? POLLOUT : 0)), 0});
      }
    }
    now = steady_ns();
    const int timeout_ms = wake <= now ? 0 : static_cast<int>((wake - now + 999'999) / 1'000'000);
    const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
    if (ready <= 0) continue;  // timeout, or EINTR from a signal: loop to look at the flags
    now = steady_ns();
    size_t at = 0;
    for (auto& line_ptr : lines_) {
      Line& line = *line_ptr;
      const bool accepting = fds[at++].revents & POLLIN;
      // Clients: read and discard what they send (a subscription, say); notice them leave.
      const size_t count = line.clients.size();
      std::vector<int> gone;
      for (size_t i = 0; i < count; ++i) {
        const pollfd& p = fds[at++];
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        char buffer[4096];
        const ssize_t n = ::recv(p.fd, buffer, sizeof(buffer), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          gone.push_back(p.fd);
        }
      }
      for (const int fd : gone) {
        for (size_t i = 0; i < line.clients.size(); ++i) {
          if (line.clients[i].fd == fd) {
            close_client(line, i, "client left:");
            break;
          }
        }
      }
      if (accepting) accept_clients(line, now);
    }
  }
  // Orderly close: whatever was flushed reaches the client before the FIN.
  for (auto& line : lines_) {
    for (Client& client : line->clients) ::shutdown(client.fd, SHUT_WR);
  }
  log_summary(true);
  if (record_ != nullptr && std::fflush(record_) != 0) record_failed_ = true;
  if (stream_.over()) {
    log(LogLevel::kInfo, "odds-feedsim: %llu updates done, %llu messages",
        static_cast<unsigned long long>(stream_.simulator().updates()),
        static_cast<unsigned long long>(stream_.last_seq()));
  }
  return record_failed_ ? 1 : 0;
}

}  // namespace oddsbus::feeds::sim
