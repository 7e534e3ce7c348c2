#include "tools/cluster/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace oddsbus::cluster {

namespace {

// Writes a C string with write(2): between fork and exec only async-signal-safe calls are
// allowed (the owner may have threads).
void write_text(int fd, const char* text) {
  const ssize_t ignored = ::write(fd, text, std::strlen(text));
  (void)ignored;
}

}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv, std::filesystem::path log,
                           bool own_process_group)
    : argv_(std::move(argv)), log_(std::move(log)), own_process_group_(own_process_group) {}

ChildProcess::~ChildProcess() {
  if (running_) kill9();
}

bool ChildProcess::start() {
  if (running() || argv_.empty()) return false;
  // Everything the child needs is made before fork: after it, the child may only call
  // async-signal-safe functions (no allocation).
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (starts_ == 0 ? O_TRUNC : O_APPEND);
  const int log_fd = ::open(log_.c_str(), flags, 0644);
  if (log_fd < 0) return false;
  if (starts_ > 0) {
    const std::string mark = "---- restart " + std::to_string(starts_) + " ----\n";
    write_text(log_fd, mark.c_str());
  }
  std::vector<char*> args;
  for (const std::string& a : argv_) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string exec_failed = "exec " + argv_[0] + " failed\n";
  const pid_t parent = ::getpid();
  const bool own_group = own_process_group_;

  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return false;
  }
  if (pid == 0) {
    if (own_group) ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have died before prctl took effect: then nothing would ever kill us.
    if (::getppid() != parent) ::_exit(127);
    // The owner may block or ignore signals (a supervisor waiting in sigwait, SIGPIPE ignored):
    // exec keeps both, so give the child the defaults back.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD}) {
      ::sigaction(sig, &dfl, nullptr);
    }
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    // No descriptor of the owner (listening sockets, ZeroMQ) leaks into the child.
    ::close_range(3, ~0U, 0);
    ::execv(args[0], args.data());
    write_text(2, exec_failed.c_str());
    ::_exit(127);
  }
  // Also here, so a signal sent to the group right after start() finds it.
  if (own_group) ::setpgid(pid, pid);
  ::close(log_fd);
  pid_ = pid;
  running_ = true;
  paused_ = false;
  exit_code_.reset();
  ++starts_;
  return true;
}

bool ChildProcess::reap(bool block) {
  if (!running_) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  running_ = false;
  paused_ = false;
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } else {
    exit_code_ = -1;  // not ours to reap any more (ECHILD): nothing to wait for
  }
  return true;
}

bool ChildProcess::running() { return !reap(false); }

std::optional<int> ChildProcess::exit_code() {
  if (pid_ < 0 || running()) return std::nullopt;
  return exit_code_;
}

std::optional<int> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  if (pid_ < 0) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reap(false)) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return exit_code_;
}

bool ChildProcess::signal(int sig) {
  if (!running()) return false;
  return ::kill(own_process_group_ ? -pid_ : pid_, sig) == 0 ||
         (own_process_group_ && ::kill(pid_, sig) == 0);
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ < 0) return -1;
  if (signal(SIGTERM)) {
    // A stopped process keeps a SIGTERM pending until it is continued.
    signal(SIGCONT);
    paused_ = false;
    if (!wait_for(grace)) return kill9();
  }
  return exit_code_.value_or(-1);
}

int ChildProcess::kill9() {
  if (pid_ < 0) return -1;
  if (running_) {
    if (!own_process_group_ || ::kill(-pid_, SIGKILL) != 0) ::kill(pid_, SIGKILL);
    reap(true);
  }
  return exit_code_.value_or(-1);
}

bool ChildProcess::pause() {
  if (!signal(SIGSTOP)) return false;
  paused_ = true;
  return true;
}

bool ChildProcess::resume() {
  if (!signal(SIGCONT)) return false;
  paused_ = false;
  return true;
}

bool ChildProcess::restart(std::chrono::milliseconds grace) {
  stop(grace);
  return start();
}

std::string ChildProcess::log() const {
  std::ifstream in(log_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string ChildProcess::log_tail(size_t lines) const {
  std::ifstream in(log_);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out = "\n  --- " + log_.filename().string() + " (last lines) ---";
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    out += "\n  " + all[i];
  }
  return out;
}

}  // namespace oddsbus::cluster
