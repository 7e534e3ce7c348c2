// Whether the edge is fit to serve (DESIGN section 5): /healthz is 200 only when it holds a
// state, has heard a publisher within stale_after, and is at most max_lag frames behind the
// newest seq any publisher announced. Staleness also flags every served market.
// Pure function of its inputs.
#pragma once

#include <cstdint>
#include <string>

namespace oddsbus::edge {

struct EdgeHealthConfig {
  uint64_t stale_after_ns = 1'000'000'000;
  uint64_t max_lag = 1000;  // frames behind the newest announced seq still counted as caught up
};

struct EdgeHealth {
  bool ok = false;
  bool stale = true;
  uint64_t lag = 0;    // newest announced seq - last applied seq
  std::string reason;  // one line: why not ok, or "ok"
};

// `last_heard_ns`: the latest time any publisher line delivered anything valid (0: never).
EdgeHealth assess_health(bool positioned, uint64_t last_heard_ns, uint64_t last_seq,
                         uint64_t newest_seq, uint64_t now_ns, const EdgeHealthConfig& config);

}  // namespace oddsbus::edge
