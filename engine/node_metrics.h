// What a node counts, for its /metrics and /healthz (engine/node_http.h): every counter the node's
// parts keep, in the Prometheus text format (schemas/metric_text.h). Names carry the
// `oddsbus_engine_` prefix, counters end in `_total`, durations are in seconds and sizes in bytes.
//
// Most counters are atomics their owners update with relaxed adds, read here with relaxed loads.
// What only the sequencer thread may read (the role core's decisions, the replica's position,
// source selection, the publisher's counts) it copies into a NodeSample every
// kNodeSampleInterval (Node::run_sequencer calls sample_node): a scrape never locks or waits for
// the hot path, and sees those values at most that old.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/role_core.h"

namespace oddsbus::feeds {
class SourceSelector;
}

namespace oddsbus::engine {

class Node;
class NodeRoles;
class ZmqPublisher;

inline constexpr uint64_t kNodeSampleIntervalNs = 100'000'000;

// Written by the sequencer thread (sample_node), read by any.
struct NodeSample {
  // One per configured feed (in NodeConfig::feeds order), named at construction.
  struct Source {
    std::string name;  // immutable after construction
    std::atomic<bool> healthy{false};
    std::atomic<uint64_t> active_markets{0};
  };
  explicit NodeSample(const std::vector<std::string>& feed_names);

  std::atomic<bool> sampled{false};  // at least one sample taken
  std::atomic<uint32_t> epoch{0};
  std::atomic<uint64_t> committed_seq{0};
  // Replication lag: a secondary's distance behind the seq its primary last stated; a sync
  // primary's committed seq beyond its secondary's ack (0 for an async primary).
  std::atomic<uint64_t> lag_frames{0};
  std::atomic<uint64_t> lag_ns{0};  // how long the lag has been above 0 (0 when caught up)
  std::atomic<uint64_t> set_asides{0};
  std::atomic<uint64_t> held_batches{0};
  std::atomic<uint64_t> alone_episodes{0};
  std::atomic<bool> alone{false};
  std::atomic<uint64_t> replica_frames{0};
  std::atomic<uint64_t> replica_batches{0};
  std::atomic<uint64_t> replica_divergences{0};
  std::atomic<uint64_t> replica_bad_replies{0};
  std::atomic<uint64_t> replica_handshake_failures{0};  // the last replica's, CURVE
  std::atomic<uint64_t> selector_passed{0};
  std::atomic<uint64_t> selector_shadowed{0};
  std::atomic<uint64_t> selector_switches{0};
  std::atomic<uint64_t> stale_suspensions{0};
  std::atomic<uint64_t> stale_reopens{0};
  std::atomic<uint64_t> disagreements{0};
  std::atomic<uint64_t> untracked_events{0};
  std::atomic<uint64_t> published_batches{0};
  std::atomic<uint64_t> publish_failures{0};
  std::vector<Source> sources;  // sized at construction, never resized

  // Sequencer thread only.
  uint64_t last_sample_ns = 0;
  uint64_t behind_since_ns = 0;  // monotonic; 0: caught up at the last sample
};

// Sequencer thread: copies what only it may read into `sample`, at most every
// kNodeSampleIntervalNs of `now_ns` (monotonic) unless `force`.
void sample_node(NodeSample& sample, const NodeRoles& roles, const feeds::SourceSelector* selector,
                 const ZmqPublisher& publisher, uint64_t now_ns, bool force = false);

// The node's /metrics body. Any thread, once node.start() succeeded.
std::string render_node_metrics(const Node& node);

}  // namespace oddsbus::engine
