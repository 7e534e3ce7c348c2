// The process supervisor of a local cluster: a run directory, the named child processes started
// in it (each with its log file there, DIR/NAME.log), how to tell each one is ready, and an
// orderly stop of all of them. Used by `odds-cluster`, the chaos runner and the multi-process
// tests and benchmarks (through tools/cluster/child_process.h).
//
// Typical use:
//   cluster::Supervisor sup(run_dir);
//   auto& engine = sup.add("engine1", {bin + "/odds-engine", "run", ...},
//                          [=] { return cluster::engine_status(recovery, 500ms).has_value(); });
//   sup.start("engine1");                       // or sup.start_all()
//   if (sup.wait_ready("engine1", 20s) != cluster::Readiness::kReady) ... engine.log_tail() ...
//   sup.kill9("engine1"); sup.restart("engine1"); sup.pause("edge1"); sup.resume("edge1");
//   sup.stop_all();                             // reverse order of add(): SIGTERM, then SIGKILL
//
// Faults (for a chaos schedule): kill9 (a crash: SIGKILL, reaped), pause/resume (SIGSTOP/SIGCONT:
// a hung process whose sockets stay open), stop (SIGTERM, SIGKILL after the grace period),
// restart (stop if running, then the same argv again, its log appended after a marker line).
// Ports are the caller's: pick them with tools/cluster/ports.h and put them in argv.
//
// Invariants: names are unique; a process keeps its name, argv and log across restarts; the
// destructor stops every process still running (stop_all), so nothing outlives the supervisor,
// and PR_SET_PDEATHSIG kills them even when the supervisor's process dies without running it.
// Thread safety: none; one owner thread, which must outlive the children it starts (see
// child_process.h on PR_SET_PDEATHSIG). References returned by add() and process() stay valid
// for the supervisor's lifetime.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tools/cluster/child_process.h"
#include "tools/cluster/readiness.h"

namespace oddsbus::cluster {

class Supervisor {
 public:
  // Creates `run_dir` if it does not exist; every log goes there.
  explicit Supervisor(std::filesystem::path run_dir);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Registers a process (not started). `ready` tells it is up (see readiness.h); empty: ready
  // as soon as it runs. Throws std::invalid_argument on a duplicate name.
  ChildProcess& add(const std::string& name, std::vector<std::string> argv,
                    std::function<bool()> ready = {});

  // Starts one (false when fork fails or it already runs), or every one not running, in order.
  bool start(const std::string& name);
  bool start_all();
  // Polls its probe until ready, it exits, or `timeout` passes.
  Readiness wait_ready(const std::string& name, std::chrono::milliseconds timeout);
  // Every process, in order; the names of those not ready in `timeout` (all waits share it),
  // each with its readiness and log tail in `report`.
  bool wait_all_ready(std::chrono::milliseconds timeout, std::string* report = nullptr);
  // Its probe, now (false when it has none and is not running).
  bool ready(const std::string& name);

  int stop(const std::string& name, std::chrono::milliseconds grace = std::chrono::seconds(5));
  int kill9(const std::string& name);
  bool pause(const std::string& name);
  bool resume(const std::string& name);
  bool restart(const std::string& name, std::chrono::milliseconds grace = std::chrono::seconds(5));
  // Stops every process in reverse order of add(): resumed if paused, SIGTERM, then SIGKILL
  // after `grace`. Returns false when one needed SIGKILL or exited non-zero (see exit_code()).
  bool stop_all(std::chrono::milliseconds grace = std::chrono::seconds(5));

  // The process named `name`; throws std::out_of_range when there is none.
  ChildProcess& process(const std::string& name);
  bool has(const std::string& name) const;
  std::vector<std::string> names() const;
  // Pids of the processes running now.
  std::vector<pid_t> running_pids();
  const std::filesystem::path& run_dir() const { return run_dir_; }
  std::filesystem::path log_path(const std::string& name) const;

 private:
  struct Entry {
    std::string name;
    std::unique_ptr<ChildProcess> process;
    std::function<bool()> ready;
  };
  Entry& entry(const std::string& name);

  std::filesystem::path run_dir_;
  std::vector<Entry> entries_;  // in order of add()
};

}  // namespace oddsbus::cluster
