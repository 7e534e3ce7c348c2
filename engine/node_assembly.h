// One engine node, assembled (DESIGN sections 1 and 4): the journal and the sequencer restored
// from it, the publisher, source selection, the ingest queues, one connector thread per provider
// feed, the recovery service, the sync gate, the sequencer agent, the desk API and the node's
// roles (engine/node_roles.h), and the threads that run them. `odds-engine run` (run_node), the
// in-process tests and the benchmarks all build a node this way, so what they measure and check is
// what the product runs.
//
// Injected: the clocks (NodeClocks, real by default) and the endpoints (NodeConfig's URLs; a
// wildcard port, tcp://127.0.0.1:*, is resolved by the bind and reported by the *_endpoint()
// accessors, so a caller need not pick free ports). NodeOptions::local_producers adds ingest
// producers that the embedding feeds in-process (push()), beside or instead of TCP feeds.
//
// Threads: one per feed ("feed-NAME"), one sequencer ("sequencer"), one recovery ("recovery")
// when a recovery URL is given, one desk ("desk") when a desk URL is given, one snapshot writer
// ("snapshots") unless snapshots are off (engine/journal_snapshot_writer.h). The sequencer thread
// hands every committed batch to the recovery thread over a bounded CommittedQueue
// (engine/committed_queue.h), the journal's observer.
//
// Thread safety: start() and stop() from the owning thread. push(i) from one thread per local
// producer i. role(), last_seq(), failed() and the counters from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "engine/clocks.h"
#include "engine/committed_queue.h"
#include "engine/desk_overrides.h"
#include "engine/desk_service.h"
#include "engine/ingest_queues.h"
#include "engine/journal.h"
#include "engine/journal_snapshot_writer.h"
#include "engine/node.h"
#include "engine/node_metrics.h"
#include "engine/node_roles.h"
#include "engine/provider_feed.h"
#include "engine/publisher.h"
#include "engine/recovery_server.h"
#include "engine/sequencer.h"
#include "engine/sequencer_agent.h"
#include "engine/sync_gate.h"
#include "feeds/mapping.h"
#include "feeds/source_selector.h"

namespace oddsbus::engine {

// The clocks a node reads (engine/clocks.h): plain functions, so a test can step either.
struct NodeClocks {
  uint64_t (*monotonic_ns)() = steady_clock_ns;
  uint64_t (*wall_ns)() = wall_clock_ns;
  Clocks now() const { return {monotonic_ns(), wall_ns()}; }
};

struct NodeOptions {
  NodeClocks clocks;
  // Ingest producers fed in-process by push(), after the feeds' and the desk's.
  size_t local_producers = 0;
  CommittedQueueConfig committed;
};

class Node {
 public:
  explicit Node(NodeConfig config, NodeOptions options = {});
  ~Node();  // stop()s
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Opens and restores the journal, binds every endpoint, and starts the threads. An error is a
  // one-line message (nothing is left running). Call once.
  std::expected<void, std::string> start();

  // Queues `event` from local producer `producer` (< NodeOptions::local_producers), waiting while
  // its queue is full; kStopped when `stop` was set meanwhile. Valid once start() succeeded.
  PushResult push(size_t producer, const feeds::Event& event, const std::atomic<bool>& stop);

  // Stops in the order data flows (desk, feeds, then the sequencer once it drained the queues,
  // then recovery), joins every thread and logs a summary. Returns the journal write failure that
  // stopped the node, if any. Idempotent.
  std::expected<void, std::string> stop();

  // True once the sequencer thread stopped on a journal write failure (stop() says which).
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  NodeRole role() const;
  // The last seq the sequencer thread has journaled.
  uint64_t last_seq() const { return last_seq_.load(std::memory_order_acquire); }

  // The endpoints actually bound ("" : none).
  const std::string& pub_endpoint() const { return pub_endpoint_; }
  const std::string& recovery_endpoint() const { return recovery_endpoint_; }
  const std::string& desk_endpoint() const { return desk_endpoint_; }

  // Valid once start() succeeded.
  const SequencerCounters& sequencer_counters() const { return agent_->counters(); }
  const NodeRoleCounters& role_counters() const { return roles_->counters(); }
  const IngestQueues& queues() const { return *queues_; }
  const CommittedQueue& committed() const { return committed_; }
  const RecoveryServer* recovery() const { return recovery_server_.get(); }
  // Null when snapshots are off.
  const SnapshotWriter* snapshots() const { return snapshot_writer_.get(); }
  const Journal& journal() const { return *journal_; }
  // Feed messages rejected, and duplicate messages the feeds' links dropped, so far.
  uint64_t feed_rejections() const;
  uint64_t feed_duplicates() const;
  // For /metrics and /healthz (engine/node_metrics.h, engine/node_http.h), valid once start()
  // succeeded. failure(): the journal write failure, once failed().
  const NodeConfig& config() const { return config_; }
  const NodeSample& sample() const { return *sample_; }
  const std::vector<std::unique_ptr<ProviderFeed>>& providers() const { return providers_; }
  const DeskService* desk() const { return desk_.get(); }
  // The servers' CURVE side (its ZAP handler's counts); null when links run in the clear.
  const curve::CurveServer* curve_server() const { return curve_server_.get(); }
  const std::string& failure() const { return failure_; }
  // After stop(): the sequencer thread's CPU time (s) and the publisher's counts.
  double sequencer_cpu_seconds() const { return sequencer_cpu_s_; }
  uint64_t published() const { return publisher_ ? publisher_->published() : 0; }
  uint64_t send_failures() const { return publisher_ ? publisher_->send_failures() : 0; }

 private:
  std::expected<void, std::string> assemble();
  std::expected<void, std::string> load_curve();
  void start_threads();
  void run_sequencer();

  const NodeConfig config_;  // NodeRoles keeps a reference
  const NodeOptions options_;
  bool started_ = false;
  bool stopped_ = false;

  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Sequencer> sequencer_;
  zmq::context_t context_{1};
  // Right after the context: its ZAP handler thread stops before the context closes.
  std::unique_ptr<curve::CurveServer> curve_server_;
  std::shared_ptr<const curve::CurveClient> curve_client_;
  std::unique_ptr<ZmqPublisher> publisher_;
  std::optional<feeds::Mapping> mapping_;
  feeds::Mapping no_mapping_;
  std::unique_ptr<feeds::SourceSelector> selector_;
  std::unique_ptr<IngestQueues> queues_;
  size_t local_producer_base_ = 0;
  std::vector<std::unique_ptr<ProviderFeed>> providers_;
  CommittedQueue committed_;
  std::unique_ptr<RecoveryServer> recovery_server_;
  std::atomic<uint64_t> no_acks_{0};
  std::atomic<bool> no_recovery_role_{false};
  std::unique_ptr<SyncGate> gate_;
  std::unique_ptr<SequencerAgent> agent_;
  DeskOverrides overrides_;
  std::optional<DeskRights> desk_rights_;
  std::unique_ptr<DeskService> desk_;
  std::unique_ptr<NodeRoles> roles_;
  std::unique_ptr<SnapshotWriter> snapshot_writer_;
  std::unique_ptr<NodeSample> sample_;  // written by the sequencer thread (sample_node)

  std::string pub_endpoint_;
  std::string recovery_endpoint_;
  std::string desk_endpoint_;

  std::atomic<bool> feeds_stop_{false};
  std::atomic<bool> sequencer_stop_{false};
  std::atomic<bool> recovery_stop_{false};
  std::atomic<bool> desk_stop_{false};
  std::atomic<bool> snapshot_stop_{false};
  std::atomic<bool> failed_{false};
  std::string failure_;  // written by the sequencer thread before failed_
  alignas(64) std::atomic<uint64_t> last_seq_{0};
  double sequencer_cpu_s_ = 0;
  std::thread sequencer_thread_;
  std::thread recovery_thread_;
  std::thread desk_thread_;
  std::thread snapshot_thread_;
  std::vector<std::thread> feed_threads_;
};

}  // namespace oddsbus::engine
