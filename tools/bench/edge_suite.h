// The `edge` suite of odds-bench (DESIGN sections 5, 8 and 10): a real `odds-edge` process,
// pinned to one core (taskset -c 1; odds-bench keeps to core 0), fed by an in-process publisher
// (tools/bench/edge_bench.h: a nosync journal, the engine's RecoveryServer over it, a ZeroMQ PUB).
// Per round it measures, against the same edge:
//  1. latency: publish -> WebSocket client receive, p50/p99/p99.9, at a paced rate, side by side
//     with a plain ZeroMQ SUB receiving the same bytes from the same PUB (the raw hop);
//  2. gap recovery: the publisher journals N frames without publishing them, then publishes the
//     next; the time from that publish until the client receives a message at or past it, and
//     how the edge recovered (range requests or a snapshot, from its /metrics);
//  3. fan-out: C clients subscribed to "all", the publish rate stepped up until the edge stops
//     keeping up (conflation, missing deltas, or a drain over 1 s); delivered messages/s.
// A table of medians with ratios, then one JSON line.
//
// Fails (exit 1) only on integrity: a client seeing delta seqs that do not rise, a client or the
// raw SUB missing frames while not conflated, a gap never recovered, the edge dying, or the edge's
// final /v1/snapshot digest differing from the publisher's state. The edge is stopped (SIGTERM,
// then SIGKILL) and the scratch directory removed on every path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace oddsbus::bench {

struct EdgeOptions {
  unsigned repeat = 3;                                   // rounds; medians quoted
  uint32_t latency_rate = 2000;                          // frames/s, paced
  uint32_t latency_ms = 3000;                            // per round
  std::vector<uint64_t> gaps = {10, 10'000, 1'000'000};  // frames skipped
  std::vector<size_t> clients = {1000, 10000};           // fan-out client counts
  // Fan-out steps, as offered messages/s (clients x frames/s); stops at the first not kept up.
  std::vector<uint64_t> offered = {25'000,  50'000,  100'000,   200'000,
                                   400'000, 800'000, 1'600'000, 3'200'000};
  uint32_t window_ms = 2000;      // per fan-out step
  uint32_t gap_timeout_ms = 20;   // the edge's --gap-timeout-ms
  size_t markets = 50;            // 3 selections each
  bool pin = true;                // taskset the edge to core 1 and odds-bench to core 0
  std::filesystem::path dir;      // parent of the scratch directory (journal, edge log)
  std::filesystem::path bin_dir;  // odds-edge; empty: beside odds-bench
};

// Runs the suite, printing to stdout. Returns 0, or 1 after printing why to stderr.
int run_edge_suite(const EdgeOptions& options);

}  // namespace oddsbus::bench
