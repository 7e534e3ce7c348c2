#include "tools/cluster/chaos_schedule.h"

namespace oddsbus::cluster {

const char* fault_kind_name(FaultKind kind) {
  switch (kind) {
    case FaultKind::kKill9:
      return "kill -9";
    case FaultKind::kPause:
      return "SIGSTOP";
  }
  return "?";
}

ChaosSchedule::ChaosSchedule(uint64_t seed, std::vector<std::string> targets)
    : random_(seed), targets_(std::move(targets)) {}

Fault ChaosSchedule::next() {
  // Drawn from the generator's raw output (not std::uniform_int_distribution, whose results differ
  // between standard libraries), so a seed names the same schedule everywhere.
  auto below = [this](uint64_t n) { return random_() % n; };
  Fault fault;
  fault.kind = below(2) == 0 ? FaultKind::kKill9 : FaultKind::kPause;
  fault.target = targets_[below(targets_.size())];
  fault.hold = std::chrono::milliseconds(300 + below(2200));
  fault.gap = std::chrono::milliseconds(1000 + below(2000));
  return fault;
}

}  // namespace oddsbus::cluster
