// A child process for the multi-process suites of odds-bench, with stdout and stderr sent to a log
// file. Killed (SIGKILL) and reaped when this goes away, and by the kernel when odds-bench dies
// first (PR_SET_PDEATHSIG), so no suite leaves a process behind on any exit path. A thin adapter
// over the one supervisor implementation (tools/cluster/child_process.h).
//
// Thread safety: one owner thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "tools/cluster/child_process.h"

namespace oddsbus::bench {

class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, std::filesystem::path log)
      : process_(argv, std::move(log), /*own_process_group=*/false) {
    started_ = process_.start();
  }

  pid_t pid() const { return process_.pid(); }
  bool started() const { return started_; }
  void kill9() { process_.kill9(); }
  // SIGTERM, then up to `grace` for it to exit, then SIGKILL. Its exit code (128+signal).
  int terminate(std::chrono::milliseconds grace) { return process_.stop(grace); }
  // Waits up to `timeout` for the child to exit; its exit code (128+signal), or -1 on timeout.
  int wait_for(std::chrono::milliseconds timeout) {
    return process_.wait_for(timeout).value_or(-1);
  }
  bool running() { return process_.running(); }
  const std::filesystem::path& log() const { return process_.log_path(); }

  // The last `lines` lines of the log, indented, for an error message.
  std::string log_tail(size_t lines = 15) const { return process_.log_tail(lines); }

 private:
  cluster::ChildProcess process_;
  bool started_ = false;
};

}  // namespace oddsbus::bench
