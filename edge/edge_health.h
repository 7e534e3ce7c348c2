// Whether the edge is current (DESIGN sections 5 and 10): one rule for /healthz and for the
// stream's stale flag, so a client is never told "fresh" while /healthz says 503. The edge is
// current when it holds a state (a snapshot installed and the arbiter positioned: not waiting for
// a snapshot after a divergence), no gap has stayed open past the gap timeout, a publisher that is
// not fenced was heard within stale_after, and it is at most max_lag frames behind the newest seq
// such a publisher announced. Anything else is stale: every served market is flagged, every
// stream client told.
// Pure function of its inputs.
#pragma once

#include <cstdint>
#include <string>

namespace oddsbus::edge {

struct EdgeHealthConfig {
  uint64_t stale_after_ns = 1'000'000'000;
  uint64_t max_lag = 1000;  // frames behind the newest announced seq still counted as caught up
  uint64_t gap_timeout_ns = 20'000'000;  // a gap open longer than this (recovery is due) is stale
};

// What the rule reads; the arbiter's position, gap and lag state and the cache's.
struct EdgeHealthInput {
  bool positioned = false;         // the cache holds a state and the arbiter is positioned
  uint64_t last_live_ns = 0;       // a publisher of the current epoch last heard (0: never)
  uint64_t gap_open_since_ns = 0;  // an unfilled gap has been open since (0: none)
  uint64_t last_seq = 0;           // the seq the served state reflects
  uint64_t newest_seq = 0;         // the newest seq an unfenced publisher announced
  uint64_t now_ns = 0;             // steady clock, as the arbiter's times
};

struct EdgeHealth {
  bool ok = false;
  bool stale = true;   // always !ok: the stream's flag is /healthz's verdict
  uint64_t lag = 0;    // newest announced seq - last applied seq
  std::string reason;  // one line: why not ok, or "ok"
};

EdgeHealth assess_health(const EdgeHealthInput& input, const EdgeHealthConfig& config);

}  // namespace oddsbus::edge
