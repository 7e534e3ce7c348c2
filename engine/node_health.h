// Whether a node is fit to serve, for its /healthz (engine/node_http.h): one pure rule over what
// the node reports. Healthy unless
//   - the journal is unwritable: a journal write failure stopped the sequencer, or the journal's
//     directory or data file cannot be written;
//   - no feed is healthy: the node has feeds and none is connected and heard within
//     --stale-after-ms;
//   - a secondary is too far behind: more than max_lag_frames behind the seq its primary stated.
// The answer is JSON with the role, epoch, seq and replication lag either way, and the reason
// when not healthy.
#pragma once

#include <cstdint>
#include <string>

#include "engine/role_core.h"

namespace oddsbus::engine {

struct NodeHealthInput {
  NodeRole role = NodeRole::kPrimary;
  uint32_t epoch = 0;
  uint64_t seq = 0;
  uint64_t lag_frames = 0;
  uint64_t lag_ns = 0;
  bool journal_failed = false;  // a write failure stopped the sequencer
  std::string journal_failure;  // its message
  bool journal_writable = true;
  size_t feeds = 0;          // feeds configured
  size_t feeds_healthy = 0;  // of those, healthy now
  uint64_t max_lag_frames = 10'000;
};

struct NodeHealth {
  bool ok = true;
  std::string reason;  // "ok", or why not
  std::string json;    // the /healthz body, one line
};

NodeHealth assess_node_health(const NodeHealthInput& in);

}  // namespace oddsbus::engine
