#include "edge/edge_health.h"

#include <cinttypes>
#include <cstdio>

namespace oddsbus::edge {

EdgeHealth assess_health(const EdgeHealthInput& in, const EdgeHealthConfig& config) {
  EdgeHealth health;
  // A delivery stamped after `now` was read counts as just heard (now - heard would wrap).
  const bool unheard =
      in.last_live_ns == 0 ||
      (in.now_ns > in.last_live_ns && in.now_ns - in.last_live_ns > config.stale_after_ns);
  const bool gap_overdue = in.gap_open_since_ns != 0 && in.now_ns > in.gap_open_since_ns &&
                           in.now_ns - in.gap_open_since_ns > config.gap_timeout_ns;
  health.lag = in.newest_seq > in.last_seq ? in.newest_seq - in.last_seq : 0;
  char line[160];
  if (!in.positioned) {
    health.reason = "not synchronised yet: waiting for a snapshot from a recovery service";
  } else if (unheard) {
    if (in.last_live_ns == 0) {
      health.reason = "stale: no publisher heard yet";
    } else {
      std::snprintf(line, sizeof line, "stale: no publisher heard for %" PRIu64 " ms",
                    (in.now_ns - in.last_live_ns) / 1'000'000);
      health.reason = line;
    }
  } else if (gap_overdue) {
    std::snprintf(line, sizeof line,
                  "stale: frames after seq %" PRIu64 " missing for %" PRIu64
                  " ms (recovering them)",
                  in.last_seq, (in.now_ns - in.gap_open_since_ns) / 1'000'000);
    health.reason = line;
  } else if (health.lag > config.max_lag) {
    std::snprintf(line, sizeof line,
                  "catching up: %" PRIu64 " frames behind the newest seq %" PRIu64, health.lag,
                  in.newest_seq);
    health.reason = line;
  } else {
    health.ok = true;
    health.reason = "ok";
  }
  health.stale = !health.ok;
  return health;
}

}  // namespace oddsbus::edge
