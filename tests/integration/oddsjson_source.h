// Test support: a simulated oddsjson provider for multi-process tests. Writes the id mapping of
// `markets` simulated markets to DIR/mapping.toml (the engine's --mapping), then starts
// odds-feedsim serving them on 127.0.0.1:port at `rate` updates per second (deterministic by
// `seed`; no settlements; heartbeats every 50 ms). Fails the calling test (ASSERT) when the
// mapping cannot be written.
#pragma once

#include <filesystem>
#include <memory>
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

}  // namespace oddsbus::testing
