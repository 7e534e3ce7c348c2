// Test support: starts a real binary as a child process, with stdout and stderr sent to a file,
// and stops it with a bounded wait so a test never hangs. A thin adapter over the one supervisor
// implementation (tools/cluster/child_process.h): the child dies with the test process
// (PR_SET_PDEATHSIG), so a crashed test leaves nothing behind. It stays in the test's process
// group, as before (a test may run /usr/bin/setsid, which must not be a group leader). Start
// children from the test's main thread (PR_SET_PDEATHSIG follows the forking thread).
#pragma once

// Kept from before the supervisor, for the tests that rely on them through this header.
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
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tools/cluster/child_process.h"

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

// Started on construction; killed (SIGKILL) and reaped on destruction if still running.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path)
      : process_(argv, log_path, /*own_process_group=*/false) {
    process_.start();
  }

  pid_t pid() const { return process_.pid(); }
  // Sends `sig` to the child (its process group); ignored once it has exited.
  void signal(int sig) { process_.signal(sig); }

  // Waits up to `timeout` for the child to exit; returns its exit code (128+signal if killed),
  // or nullopt on timeout.
  std::optional<int> wait_for(std::chrono::milliseconds timeout) {
    return process_.wait_for(timeout);
  }

  bool running() { return process_.running(); }

  std::string log() const { return process_.log(); }

  // The supervisor's view, for restart, pause/resume and the rest.
  cluster::ChildProcess& process() { return process_; }

 private:
  cluster::ChildProcess process_;
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
