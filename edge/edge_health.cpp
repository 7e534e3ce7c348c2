#include "edge/edge_health.h"

#include <cinttypes>
#include <cstdio>

namespace oddsbus::edge {

EdgeHealth assess_health(bool positioned, uint64_t last_heard_ns, uint64_t last_seq,
                         uint64_t newest_seq, uint64_t now_ns, const EdgeHealthConfig& config) {
  EdgeHealth health;
  // A delivery stamped after `now` was read counts as just heard (now - heard would wrap).
  health.stale = last_heard_ns == 0 ||
                 (now_ns > last_heard_ns && now_ns - last_heard_ns > config.stale_after_ns);
  health.lag = newest_seq > last_seq ? newest_seq - last_seq : 0;
  char line[160];
  if (!positioned) {
    health.reason = "not synchronised yet: waiting for a snapshot from a recovery service";
  } else if (health.stale) {
    if (last_heard_ns == 0) {
      health.reason = "stale: no publisher heard yet";
    } else {
      std::snprintf(line, sizeof line, "stale: no publisher heard for %" PRIu64 " ms",
                    (now_ns - last_heard_ns) / 1'000'000);
      health.reason = line;
    }
  } else if (health.lag > config.max_lag) {
    std::snprintf(line, sizeof line,
                  "catching up: %" PRIu64 " frames behind the newest seq %" PRIu64, health.lag,
                  newest_seq);
    health.reason = line;
  } else {
    health.ok = true;
    health.reason = "ok";
  }
  return health;
}

}  // namespace oddsbus::edge
