// The `failover` suite of odds-bench (DESIGN sections 4 and 8): the real multi-process takeover
// over loopback. Per round and per replication mode (async, then sync, side by side), it starts
// odds-feedsim at a high rate, a primary and a secondary `odds-engine run`, and an edge::Subscriber
// on both PUB lines and both recovery services; measures frames/s delivered to the subscriber over
// a steady window; kill -9s the primary; measures the time from the kill to the subscriber's first
// frame of the new epoch (and to its first frame past the EpochChange: in sync mode the new
// primary, alone, holds frames for --alone-after-ms); keeps receiving; then counts frames lost
// (forward seq gaps never filled, plus the arbiter's divergences) and duplicated (a delivered seq
// not above the last one). One table of medians and a one-line JSON summary.
//
// Lost or duplicated frames are a failure; timings and the sync/async ratio are reported only.
// Every child process is killed when the suite returns (also on error), and by the kernel if
// odds-bench itself dies (PR_SET_PDEATHSIG).
#pragma once

#include <cstdint>
#include <filesystem>

namespace oddsbus::bench {

struct FailoverOptions {
  unsigned repeat = 3;               // rounds; each runs async then sync
  uint32_t rate = 20000;             // odds-feedsim updates per second, all markets together
  uint32_t markets = 50;             // odds-feedsim live markets
  uint32_t warmup_ms = 1000;         // after the first frame, before the throughput window
  uint32_t window_ms = 2000;         // the throughput window
  uint32_t after_ms = 1500;          // receiving after the first frame of the new epoch
  uint32_t failover_after_ms = 500;  // the secondary's --failover-after-ms
  uint32_t alone_after_ms = 2000;    // the engines' --alone-after-ms (sync replication)
  uint32_t heartbeat_ms = 20;        // the engines' --heartbeat-ms
  std::filesystem::path dir;         // parent of the scratch directory (journals, logs)
  std::filesystem::path bin_dir;     // odds-engine and odds-feedsim; empty: beside odds-bench
};

// Runs the suite, printing to stdout. Returns the process exit status: 0, or 1 after printing why
// to stderr (a setup error, a takeover that did not happen, or frames lost or duplicated).
int run_failover_suite(const FailoverOptions& options);

}  // namespace oddsbus::bench
