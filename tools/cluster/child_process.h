// One child process of a local cluster, a test or a benchmark: a real binary started with
// fork/exec, its stdout and stderr sent to a log file, and every way a chaos schedule or a test
// needs to stop it, break it and bring it back.
//
// Lifecycle: start() spawns argv[0] (a path, no PATH search) with argv; stop(), kill9() or a
// crash end it; restart() (or start() again once it has exited) spawns the same argv again,
// appending to the same log after a "---- restart N ----" line. The destructor kills (SIGKILL)
// and reaps a child still running, so no exit path of the owner leaves one behind.
//
// Guarantees about the child:
//  - By default it runs in its own process group (setpgid), so a terminal's Ctrl-C reaches only
//    the owner, which stops its children in order; every signal this class sends goes to that
//    group. With own_process_group false it stays in the owner's group and signals go to the
//    child alone (for a child that must not be a group leader, e.g. /usr/bin/setsid, which forks
//    away from its parent when it is one).
//  - PR_SET_PDEATHSIG(SIGKILL): the kernel kills it when the thread that forked it dies, so a
//    crashed (even kill -9'd) owner leaves nothing running. Caveat (prctl(2)): "parent" is the
//    forking THREAD, so start and restart children from a thread that lives as long as they
//    should (the main thread, as the supervisor and the tests do), never from a short-lived one.
//  - stdin is /dev/null; stdout and stderr go to the log file (created, truncated on the first
//    start). A child that cannot exec exits 127 and says why in its log.
//
// Exit codes: the child's exit status, or 128 + signal when a signal ended it (kill -9: 137).
//
// Thread safety: none; one owner thread (the one that started it: see PR_SET_PDEATHSIG above).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace oddsbus::cluster {

class ChildProcess {
 public:
  // Does not start it: call start(). `log` is where stdout and stderr go.
  ChildProcess(std::vector<std::string> argv, std::filesystem::path log,
               bool own_process_group = true);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Spawns the child; false (and nothing running) when fork fails or it is already running.
  // A failed exec is not seen here: the child exits 127 (see running(), exit_code()).
  bool start();

  // SIGTERM (with SIGCONT, so a paused child gets it), up to `grace` for it to exit, then
  // SIGKILL. Returns its exit code; -1 when it was never started.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  // SIGKILL and reap at once (a crash). Returns its exit code (137 unless it had exited already).
  int kill9();
  // SIGSTOP / SIGCONT (a hung process). False when it is not running.
  bool pause();
  bool resume();
  bool paused() const { return paused_; }
  // stop(grace), then start() with the same argv. False when the start fails.
  bool restart(std::chrono::milliseconds grace = std::chrono::seconds(5));
  // Sends `sig` to the child's process group; false when it is not running.
  bool signal(int sig);

  // Whether it runs (reaps it, without blocking, if it has exited).
  bool running();
  // Waits up to `timeout` for it to exit; its exit code, or nullopt while it still runs.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  // The exit code of the last run once it has exited (reaped); nullopt while running or before
  // the first start.
  std::optional<int> exit_code();

  // The pid of the current (or last) run; -1 before the first start. Also its process group id
  // when it has its own.
  pid_t pid() const { return pid_; }
  // How many times it was started (1 after the first start; restarts add one each).
  int starts() const { return starts_; }
  const std::vector<std::string>& argv() const { return argv_; }
  const std::filesystem::path& log_path() const { return log_; }
  // The whole log; and its last `lines` lines, indented under a header, for an error message.
  std::string log() const;
  std::string log_tail(size_t lines = 15) const;

 private:
  bool reap(bool block);

  std::vector<std::string> argv_;
  std::filesystem::path log_;
  bool own_process_group_ = true;
  pid_t pid_ = -1;
  bool running_ = false;
  bool paused_ = false;
  int starts_ = 0;
  std::optional<int> exit_code_;
};

}  // namespace oddsbus::cluster
