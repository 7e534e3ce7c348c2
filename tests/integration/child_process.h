// Test support: starts a real binary as a child process, with stdout and stderr sent to a file,
// and stops it with a bounded wait so a test never hangs.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace oddsbus::testing {

// An empty scratch directory for the running test: TEMP/PREFIX_PID_TESTNAME, emptied if it was
// left by an earlier run.
inline std::filesystem::path fresh_test_dir(const std::string& prefix) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) /
      (prefix + "_" + std::to_string(::getpid()) + "_" +
       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Directory of the built binaries (set by oddsbus_add_test), e.g. build/tools.
inline std::string bin_dir() {
  const char* dir = std::getenv("ODDSBUS_BIN_DIR");
  return dir != nullptr ? dir : "tools";
}

class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path)
      : log_path_(log_path) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~ChildProcess() {
    if (pid_ > 0 && !exit_status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) { ::kill(pid_, sig); }

  // Waits up to `timeout` for the child to exit; returns its exit code (128+signal if killed),
  // or nullopt on timeout.
  std::optional<int> wait_for(std::chrono::milliseconds timeout) {
    if (exit_status_) return exit_status_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_status_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }

  bool running() { return !wait_for(std::chrono::milliseconds(0)).has_value(); }

  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> exit_status_;
};

// Runs a binary to completion (bounded) and returns {exit code, stdout+stderr}.
inline std::pair<int, std::string> run_to_completion(
    const std::vector<std::string>& argv, const std::string& log_path,
    std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  ChildProcess child(argv, log_path);
  const auto code = child.wait_for(timeout);
  return {code.value_or(-1), child.log()};
}

}  // namespace oddsbus::testing
