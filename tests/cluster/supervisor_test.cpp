// The process supervisor (tools/cluster): children die with their parent (PR_SET_PDEATHSIG),
// stop escalates to SIGKILL, restart runs the same argv again into the same log, pause/resume
// stop and continue a child, readiness reports a child that died on start. Uses /bin/sh only.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "tools/cluster/ports.h"
#include "tools/cluster/readiness.h"
#include "tools/cluster/supervisor.h"

namespace oddsbus::cluster {
namespace {

using namespace std::chrono_literals;

std::filesystem::path fresh_dir() {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) /
      ("supervisor_" + std::to_string(::getpid()) + "_" +
       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::vector<std::string> sh(const std::string& script) { return {"/bin/sh", "-c", script}; }

// The state letter of /proc/PID/stat (R, S, T, Z...), or 0 when there is no such process.
char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() ? line[paren + 2] : 0;
}

TEST(Supervisor, ChildDiesWhenItsParentIsKilled) {
  // This process adopts orphans, so the grandchild, once its parent is gone, is ours to reap and
  // we see what killed it.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  const auto dir = fresh_dir();
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t parent = ::fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    ChildProcess child(sh("sleep 60"), dir / "sleep.log");
    if (!child.start()) ::_exit(2);
    const pid_t pid = child.pid();
    if (::write(pipe_fds[1], &pid, sizeof pid) != sizeof pid) ::_exit(3);
    ::pause();  // until the test kills us: no destructor runs
    ::_exit(4);
  }
  pid_t grandchild = -1;
  ASSERT_EQ(::read(pipe_fds[0], &grandchild, sizeof grandchild), ssize_t(sizeof grandchild));
  ASSERT_GT(grandchild, 0);
  // Once it has exec'd, PR_SET_PDEATHSIG is in place (a child whose parent died before that
  // exits 127 on its own, which is not what this test is about).
  auto command_of = [](pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string comm;
    std::getline(in, comm);
    return comm;
  };
  ASSERT_TRUE(wait_until(
      [&] { return command_of(grandchild) == "sh" || command_of(grandchild) == "sleep"; }, 10s))
      << command_of(grandchild);
  ::kill(parent, SIGKILL);
  ::waitpid(parent, nullptr, 0);

  int status = 0;
  const bool reaped =
      wait_until([&] { return ::waitpid(grandchild, &status, WNOHANG) == grandchild; }, 10s);
  if (!reaped) ::kill(grandchild, SIGKILL);
  ASSERT_TRUE(reaped) << "the child outlived its killed parent";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

TEST(Supervisor, StopEscalatesToSigkillWhenTermIsIgnored) {
  Supervisor sup(fresh_dir());
  ChildProcess& p =
      sup.add("stubborn", sh("trap '' TERM; echo trapped; while :; do sleep 1; done"));
  ASSERT_TRUE(sup.start("stubborn"));
  ASSERT_TRUE(wait_until([&] { return p.log().find("trapped") != std::string::npos; }, 10s));
  EXPECT_EQ(sup.stop("stubborn", 300ms), 128 + SIGKILL);
  EXPECT_FALSE(p.running());
}

TEST(Supervisor, StopEndsAWellBehavedChildWithTerm) {
  Supervisor sup(fresh_dir());
  ChildProcess& p = sup.add("polite", sh("trap 'echo bye; exit 0' TERM; echo up; "
                                         "while :; do sleep 0.05; done"));
  ASSERT_TRUE(sup.start("polite"));
  ASSERT_TRUE(wait_until([&] { return p.log().find("up") != std::string::npos; }, 10s));
  EXPECT_EQ(sup.stop("polite", 10s), 0);
  EXPECT_NE(p.log().find("bye"), std::string::npos);
  EXPECT_TRUE(sup.stop_all());
}

TEST(Supervisor, RestartRunsTheSameArgvAgainIntoTheSameLog) {
  Supervisor sup(fresh_dir());
  ChildProcess& p = sup.add("worker", sh("echo started $$; exec sleep 30"));
  ASSERT_TRUE(sup.start("worker"));
  const pid_t first = p.pid();
  ASSERT_TRUE(wait_until([&] { return p.log().find("started") != std::string::npos; }, 10s));
  EXPECT_EQ(sup.kill9("worker"), 128 + SIGKILL);
  EXPECT_EQ(p.exit_code(), 128 + SIGKILL);
  ASSERT_TRUE(sup.restart("worker"));
  EXPECT_NE(p.pid(), first);
  EXPECT_EQ(p.starts(), 2);
  EXPECT_TRUE(p.running());
  ASSERT_TRUE(wait_until(
      [&] { return p.log().find("started " + std::to_string(p.pid())) != std::string::npos; }, 10s))
      << p.log();
  EXPECT_NE(p.log().find("started " + std::to_string(first)), std::string::npos);
  EXPECT_NE(p.log().find("---- restart 1 ----"), std::string::npos);
  // Restarting a running process stops it first.
  const pid_t second = p.pid();
  ASSERT_TRUE(sup.restart("worker", 2s));
  EXPECT_NE(p.pid(), second);
  EXPECT_EQ(process_state(second), 0);
  EXPECT_EQ(sup.running_pids(), std::vector<pid_t>{p.pid()});
}

TEST(Supervisor, PauseAndResumeStopAndContinueTheChild) {
  Supervisor sup(fresh_dir());
  ChildProcess& p = sup.add("sleeper", {"/bin/sleep", "30"});
  ASSERT_TRUE(sup.start("sleeper"));
  ASSERT_TRUE(sup.pause("sleeper"));
  EXPECT_TRUE(wait_until([&] { return process_state(p.pid()) == 'T'; }, 5s));
  ASSERT_TRUE(sup.resume("sleeper"));
  EXPECT_TRUE(wait_until([&] { return process_state(p.pid()) == 'S'; }, 5s));
  // A paused child still stops with SIGTERM (it is continued to receive it).
  ASSERT_TRUE(sup.pause("sleeper"));
  EXPECT_EQ(sup.stop("sleeper", 5s), 128 + SIGTERM);
}

TEST(Supervisor, WaitReadyReportsAChildThatDiesOnStart) {
  Supervisor sup(fresh_dir());
  sup.add("broken", sh("echo cannot bind; exit 3"), [] { return false; });
  sup.add("missing", {"/nonexistent/odds-nothing"});
  ASSERT_TRUE(sup.start_all());
  EXPECT_EQ(sup.wait_ready("broken", 20s), Readiness::kExited);
  EXPECT_EQ(sup.process("broken").exit_code(), 3);
  EXPECT_EQ(sup.process("missing").wait_for(10s), 127);
  EXPECT_NE(sup.process("missing").log().find("exec /nonexistent/odds-nothing failed"),
            std::string::npos);
  std::string report;
  EXPECT_FALSE(sup.wait_all_ready(1s, &report));
  EXPECT_NE(report.find("cannot bind"), std::string::npos) << report;
}

TEST(Supervisor, WaitReadyPollsTheProbeUntilItHolds) {
  Supervisor sup(fresh_dir());
  uint16_t port = 0;
  const int listener = listen_loopback(port);
  ASSERT_GE(listener, 0);
  ::close(listener);
  // The child listens only after a while; ready once it accepts connections.
  sup.add("late",
          {"/usr/bin/python3", "-c",
           "import socket,time; time.sleep(0.3); s=socket.socket(); "
           "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
           "s.bind(('127.0.0.1'," +
               std::to_string(port) + ")); s.listen(); time.sleep(30)"},
          [port] { return accepts_connections(port); });
  ASSERT_TRUE(sup.start("late"));
  EXPECT_EQ(sup.wait_ready("late", 20s), Readiness::kReady) << sup.process("late").log();
}

TEST(Ports, PickedPortsAreFreeAndNeverRepeat) {
  std::set<uint16_t> seen;
  for (int i = 0; i < 50; ++i) {
    const auto port = pick_free_port();
    ASSERT_TRUE(port);
    EXPECT_TRUE(seen.insert(*port).second) << *port;
    EXPECT_TRUE(port_is_free(*port));
  }
  uint16_t taken = 0;
  const int fd = listen_loopback(taken);
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(port_is_free(taken));
  ::close(fd);
}

}  // namespace
}  // namespace oddsbus::cluster
