// A node's two roles on its sequencer thread (DESIGN section 4): as primary it sequences (the
// SequencerAgent) and watches its peer's PUB socket; as secondary it replicates its primary
// (engine/replica.h) while still draining its own feeds into source selection, so its view of the
// markets stays warm. Switches:
//  - takeover: a secondary that heard nothing from its primary for failover_after raises the epoch
//    (one more than any epoch it has seen), journals and publishes the EpochChange frame at
//    last seq + 1, then reconciles: for every market its feeds spoke of, mapped or not, whose
//    feed-derived state differs from the journal's, the difference is sequenced
//    (feeds/source_selector.h reconcile()).
//  - fencing: a primary that sees a frame of a higher epoch on its peer's stream stops sequencing
//    at once (held, unacknowledged batches are never published) and becomes a secondary of the
//    new primary; frames of its own that the new history does not contain are set aside.
//
// Clocks (engine/clocks.h): failover, the peer watch and selector ticks run on the monotonic
// clock; the wall clock only stamps the frames it sequences (the EpochChange, reconciliation).
//
// Thread safety: owned by the sequencer thread. role() may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "engine/clocks.h"
#include "engine/desk_service.h"
#include "engine/ingest_queues.h"
#include "engine/journal.h"
#include "engine/node.h"
#include "engine/recovery_server.h"
#include "engine/replica.h"
#include "engine/sequencer.h"
#include "engine/sequencer_agent.h"
#include "engine/sync_gate.h"
#include "feeds/source_selector.h"

namespace oddsbus::engine {

struct NodeRoleDeps {
  zmq::context_t& context;
  Journal& journal;
  Sequencer& sequencer;
  SequencerAgent& agent;
  SyncGate& gate;        // the primary publishes through it
  BatchSink& publisher;  // the secondary republishes straight to the PUB socket
  IngestQueues& queues;
  feeds::SourceSelector* selector;  // may be null (events are then not kept warm)
  std::atomic<bool>*
      primary_flag;          // set while primary (the recovery service's status); may be null
  RecoveryServer* recovery;  // woken after each commit, so a long poll answers at once; may be null
  DeskService* desk;         // told the role: only a primary applies desk requests; may be null
};

struct NodeRoleCounters {
  std::atomic<uint64_t> takeovers{0};
  std::atomic<uint64_t> fencings{0};
  std::atomic<uint64_t> reconciled_events{0};
  std::atomic<uint64_t> warm_events{0};  // feed events drained into selection while secondary
};

class NodeRoles {
 public:
  NodeRoles(const NodeRoleDeps& deps, const NodeConfig& config, NodeRole start,
            const Clocks& clocks);

  // One unit of work: returns events or frames handled (0: idle), or the journal error that
  // stops the node.
  std::expected<size_t, std::string> do_work(const Clocks& clocks);

  NodeRole role() const { return role_.load(std::memory_order_acquire); }
  const NodeRoleCounters& counters() const { return counters_; }
  const Replica* replica() const { return replica_.get(); }

 private:
  std::expected<void, std::string> take_over(const Clocks& clocks);
  void become_secondary(uint64_t monotonic_ns, const char* why);
  size_t drain_warm(uint64_t now_ns);  // monotonic

  NodeRoleDeps deps_;
  const NodeConfig& config_;
  std::atomic<NodeRole> role_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<PeerWatch> watch_;
  uint64_t secondary_since_ns_ = 0;  // monotonic, as are the two below
  uint64_t last_watch_ns_ = 0;
  uint64_t last_tick_ns_ = 0;
  std::vector<feeds::Event> scratch_;
  NodeRoleCounters counters_;
};

}  // namespace oddsbus::engine
