#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <system_error>

#include "tools/bench/bench.h"

namespace oddsbus::bench {

namespace fs = std::filesystem;

std::expected<ScratchDir, std::string> ScratchDir::create(const fs::path& parent) {
  std::string templ = (parent / "odds-bench-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) {
    return std::unexpected("cannot create a scratch directory under " + parent.string() + ": " +
                           std::strerror(errno) + " (give a writable --dir)");
  }
  return ScratchDir(fs::path(templ));
}

ScratchDir::~ScratchDir() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::expected<uint16_t, std::string> free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::unexpected(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd);
    return std::unexpected("cannot find a free loopback port: " + error);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

namespace {
double cpu_seconds(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
}  // namespace

double thread_cpu_seconds() { return cpu_seconds(CLOCK_THREAD_CPUTIME_ID); }
double process_cpu_seconds() { return cpu_seconds(CLOCK_PROCESS_CPUTIME_ID); }

void name_this_thread(const char* name) {
  char truncated[16] = {};
  std::strncpy(truncated, name, sizeof truncated - 1);
  pthread_setname_np(pthread_self(), truncated);
}

}  // namespace oddsbus::bench
