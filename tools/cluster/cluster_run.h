// `odds-cluster run`: starts a local cluster (tools/cluster/local_cluster.h), prints where to look
// (each edge's live page, the processes and their pids, commands to try), keeps it running until
// the stop flag is set (SIGINT/SIGTERM in main) or `for_seconds` pass, then stops every process
// cleanly and says where the journals and logs are.
//
// With `chaos`: a seeded fault schedule (tools/cluster/chaos_schedule.h) kills (-9) and restarts,
// or stops (SIGSTOP) and continues, a random process every few seconds, while one WebSocket client
// per edge (tools/cluster/stream_counter.h) counts updates lost and duplicated. A running line in
// the terminal and a status page (tools/cluster/status_page.h) show the counts; a summary ends the
// run.
//
// Exit status: 0 when the cluster started, ran and stopped cleanly (and, with chaos, nothing was
// lost or duplicated and every process came back after its fault); 1 otherwise.
// Thread safety: run_cluster() is called once, from the main thread (it forks the children).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "tools/cluster/topology.h"

namespace oddsbus::cluster {

struct RunOptions {
  Topology topology;
  std::filesystem::path bin_dir;  // where odds-feedsim, odds-engine, odds-edge are
  std::filesystem::path run_dir;  // journals, logs, mapping (created)
  std::optional<double> for_seconds;
  bool chaos = false;
  uint64_t seed = 1;                        // of the fault schedule
  const std::atomic<bool>* stop = nullptr;  // set asynchronously to end the run
};

int run_cluster(const RunOptions& options, std::FILE* out);

}  // namespace oddsbus::cluster
