#include "engine/node_health.h"

#include "schemas/append_printf.h"
#include "schemas/state_json.h"

namespace oddsbus::engine {

NodeHealth assess_node_health(const NodeHealthInput& in) {
  NodeHealth health;
  if (in.journal_failed) {
    health.reason = "journal unwritable: " + in.journal_failure;
  } else if (!in.journal_writable) {
    health.reason = "journal unwritable: its directory or data file cannot be written";
  } else if (in.feeds > 0 && in.feeds_healthy == 0) {
    health.reason = "no feed healthy: none of the " + std::to_string(in.feeds) +
                    " feed(s) is connected and heard within --stale-after-ms";
  } else if (in.role == NodeRole::kSecondary && in.lag_frames > in.max_lag_frames) {
    health.reason = "secondary too far behind: " + std::to_string(in.lag_frames) +
                    " frames behind its primary (limit " + std::to_string(in.max_lag_frames) + ")";
  }
  health.ok = health.reason.empty();
  if (health.ok) health.reason = "ok";
  std::string& j = health.json;
  append_printf(
      j,
      "{\"status\": \"%s\", \"role\": \"%s\", \"epoch\": %u, \"seq\": %llu, "
      "\"lag_frames\": %llu, \"lag_seconds\": %.3f, \"reason\": ",
      health.ok ? "ok" : "unhealthy", in.role == NodeRole::kPrimary ? "primary" : "secondary",
      in.epoch, static_cast<unsigned long long>(in.seq),
      static_cast<unsigned long long>(in.lag_frames), static_cast<double>(in.lag_ns) / 1e9);
  append_json_string(j, health.reason);
  j += "}\n";
  return health;
}

}  // namespace oddsbus::engine
