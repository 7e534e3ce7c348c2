// A child process for the multi-process suites of odds-bench, with stdout and stderr sent to a log
// file. Killed (SIGKILL) and reaped when this goes away, and by the kernel when odds-bench dies
// first (PR_SET_PDEATHSIG), so no suite leaves a process behind on any exit path.
//
// Thread safety: one owner thread.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace oddsbus::bench {

class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, std::filesystem::path log)
      : log_(std::move(log)) {
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~ChildProcess() { kill9(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  void kill9() {
    if (pid_ <= 0 || status_ >= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    status_ = 128 + SIGKILL;
  }
  // SIGTERM, then up to `grace` for it to exit, then SIGKILL. Its exit code (128+signal).
  int terminate(std::chrono::milliseconds grace) {
    if (pid_ > 0 && status_ < 0) ::kill(pid_, SIGTERM);
    if (wait_for(grace) < 0) kill9();
    return status_;
  }
  // Waits up to `timeout` for the child to exit; its exit code (128+signal), or -1 on timeout.
  int wait_for(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (status_ < 0 && pid_ > 0) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status_;
  }
  bool running() { return wait_for(std::chrono::milliseconds(0)) < 0; }
  const std::filesystem::path& log() const { return log_; }

  // The last `lines` lines of the log, indented, for an error message.
  std::string log_tail(size_t lines = 15) const {
    std::ifstream in(log_);
    std::vector<std::string> all;
    for (std::string line; std::getline(in, line);) all.push_back(line);
    std::string out = "\n  --- " + log_.filename().string() + " (last lines) ---";
    for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
      out += "\n  " + all[i];
    }
    return out;
  }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::filesystem::path log_;
};

}  // namespace oddsbus::bench
