// A chaos run (issue 12, `tools/odds chaos`): a real local cluster with every link routed through
// a fault proxy, a seeded fault schedule against it while WebSocket clients consume everything,
// then the checks, and a summary.
//
// The cluster, all on loopback, in `run_dir`:
//   odds-feedsim (oddsjson, deterministic by seed, --record) --> proxy --> node 1, node 2
//   node 1 (primary) <--> node 2 (secondary): each watches and replicates the other through
//     proxies (PUB and recovery, both directions)
//   node 1, node 2 --> proxies --> edge-a, edge-b (each subscribes to both nodes' PUB and
//     recovery) --> two StreamRecorders per edge (WebSocket, subscribed to "all")
// Processes are started and broken through the cluster supervisor (tools/cluster/supervisor.h);
// network faults through in-process FaultProxy objects (tools/faultproxy/fault_proxy.h).
//
// One fault at a time (tools/chaos/fault_schedule.h): applied, held, healed; then the run waits
// for the cluster to recover (both nodes answer status, exactly one primary, both edges healthy
// and at the primary's seq). A cluster that does not recover within recover_timeout ends the run
// as a failure. At the end the feed is stopped (its record flushed), the cluster settles, the
// clients' logs, the edges' snapshots, the journals and the feed's record go to the checks.
//
// Thread safety: run_chaos runs on its caller's thread, which must live as long as the children
// (PR_SET_PDEATHSIG, see tools/cluster/child_process.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "tools/chaos/check_result.h"
#include "tools/chaos/stream_check.h"

namespace oddsbus::chaos {

struct ChaosConfig {
  uint64_t seed = 1;
  size_t faults = 20;
  std::string replication = "async";  // or "sync"
  std::string bin_dir;                // where odds-engine, odds-edge, odds-feedsim are
  std::string run_dir;                // created; journals, logs and records stay there
  int markets = 20;
  int rate = 200;  // feed updates per second
  uint32_t stale_after_ms = 1000;
  uint32_t failover_after_ms = 800;
  uint32_t stale_grace_ms = 1500;  // the stale check's allowance for ticks and commits
  uint32_t min_hold_ms = 200;
  uint32_t max_hold_ms = 2500;
  size_t clients_per_edge = 2;
  std::chrono::milliseconds recover_timeout{45000};
  bool verbose = true;  // one line per fault on stderr
};

struct ChaosReport {
  std::map<std::string, uint64_t> faults;  // by ChaosFault::row()
  uint64_t faults_applied = 0;
  uint64_t takeovers = 0;  // epoch changes seen in the survivor's history
  uint64_t frames = 0;     // the survivor journal's last seq
  uint32_t epoch = 0;
  std::string survivor;  // "node1" or "node2"
  StreamTotals streams;
  std::vector<CheckResult> checks;
  std::vector<std::string> failures;  // the run itself broke (a process that would not start,
                                      // a cluster that did not recover)
  double seconds = 0;

  bool ok() const;
};

// Runs it all. Errors in setting up (a binary missing, a port that cannot be bound) are
// failures in the report, never exceptions.
ChaosReport run_chaos(const ChaosConfig& config);

// The summary table; ends with PASS, or FAIL and the command that replays the seed.
void print_summary(FILE* out, const ChaosConfig& config, const ChaosReport& report);

}  // namespace oddsbus::chaos
