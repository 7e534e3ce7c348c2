// The two clocks a node runs on (DESIGN section 4, "Clocks"). Every duration and timeout
// (failover, --alone-after-ms, source staleness, heartbeat intervals, desk override expiry) is
// measured on `monotonic_ns`, which never steps; `wall_ns` only stamps frames (the sequencer
// timestamp). A wall-clock step (NTP, an operator) therefore moves frame stamps and nothing else.
//
// Cores take a Clocks value as an input and never read a clock themselves, so a test or the
// simulator can step either clock on its own.
#pragma once

#include <cstdint>

namespace oddsbus::engine {

struct Clocks {
  uint64_t monotonic_ns = 0;  // CLOCK_MONOTONIC: for durations only; its origin means nothing
  uint64_t wall_ns = 0;       // CLOCK_REALTIME, ns since the Unix epoch: for stamping frames only
};

// Reads both clocks now.
Clocks read_clocks();

}  // namespace oddsbus::engine
