// The fault schedule of `odds-cluster run --chaos`: a seeded sequence of faults against the
// processes of a local cluster, one at a time. Sans-I/O: it only says what to do next; the runner
// (tools/cluster/cluster_run.cpp) does it, heals it after `hold`, waits until the cluster is
// ready and settled again, then waits `gap` before asking for the next one. Because only one
// fault is ever active and the next one waits for the engines to settle (one primary, the
// secondary caught up), the two engines are never down at once.
//
// Same seed and targets, same schedule.
// Thread safety: none; a value owned by the runner.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace oddsbus::cluster {

enum class FaultKind : uint8_t {
  kKill9,  // SIGKILL, restarted with the same argv after `hold`
  kPause,  // SIGSTOP, SIGCONT after `hold` (longer than failover_after: the secondary takes over)
};
const char* fault_kind_name(FaultKind kind);

struct Fault {
  FaultKind kind = FaultKind::kKill9;
  std::string target;  // a supervisor process name
  std::chrono::milliseconds hold{0};
  std::chrono::milliseconds gap{0};  // quiet time after healing, before the next fault
};

class ChaosSchedule {
 public:
  // `targets`: the process names faults may hit (non-empty).
  ChaosSchedule(uint64_t seed, std::vector<std::string> targets);
  Fault next();

 private:
  std::mt19937_64 random_;
  std::vector<std::string> targets_;
};

}  // namespace oddsbus::cluster
