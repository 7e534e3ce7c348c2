// Test support: a simulated oddsjson provider for multi-process tests. Writes the id mapping of
// `markets` simulated markets to DIR/mapping.toml (the engine's --mapping), then starts
// odds-feedsim serving them on 127.0.0.1:port at `rate` updates per second (deterministic by
// `seed`; no settlements; heartbeats every 50 ms). Fails the calling test (ASSERT) when the
// mapping cannot be written. Also: the arguments of an engine pair fed by it.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/child_process.h"
#include "tests/integration/loopback.h"

namespace oddsbus::testing {

inline void start_oddsjson_source(const std::filesystem::path& dir, uint16_t port, int markets,
                                  int rate, int seed, std::unique_ptr<ChildProcess>& source) {
  auto [code, out] = run_to_completion(
      {bin_dir() + "/odds-feedsim", "--format", "oddsjson", "--markets", std::to_string(markets),
       "--write-mapping", (dir / "mapping.toml").string()},
      (dir / "mapping.log").string(), std::chrono::seconds(10));
  ASSERT_EQ(code, 0) << out;
  source = std::make_unique<ChildProcess>(
      std::vector<std::string>{bin_dir() + "/odds-feedsim", "--format", "oddsjson", "--listen",
                               url(port), "--markets", std::to_string(markets), "--rate",
                               std::to_string(rate), "--settle-after", "0", "--heartbeat-ms", "50",
                               "--seed", std::to_string(seed)},
      (dir / "feedsim.log").string());
}

// The arguments of `odds-engine run` for node 1 or 2 of a primary/secondary pair fed by the
// source above. `ports` begins with the source, node 1's PUB and recovery, node 2's PUB and
// recovery (more may follow). The journal is DIR/nodeN; failover after 800 ms of silence,
// heartbeats every 20 ms; `extra` comes last.
inline std::vector<std::string> pair_node_argv(const std::filesystem::path& dir,
                                               std::span<const uint16_t> ports, int node,
                                               bool secondary,
                                               const std::vector<std::string>& extra = {}) {
  const int self = node == 1 ? 1 : 3, peer = node == 1 ? 3 : 1;
  std::vector<std::string> argv{bin_dir() + "/odds-engine",
                                "run",
                                "--journal",
                                (dir / ("node" + std::to_string(node))).string(),
                                "--node",
                                std::to_string(node),
                                "--pub",
                                url(ports[self]),
                                "--recovery",
                                url(ports[self + 1]),
                                "--peer-pub",
                                url(ports[peer]),
                                "--peer-recovery",
                                url(ports[peer + 1]),
                                "--role",
                                secondary ? "secondary" : "primary",
                                "--feed",
                                "oj=oddsjson@" + url(ports[0]),
                                "--mapping",
                                (dir / "mapping.toml").string(),
                                "--failover-after-ms",
                                "800",
                                "--heartbeat-ms",
                                "20"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

}  // namespace oddsbus::testing
