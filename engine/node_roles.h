// A node's two roles on its sequencer thread (DESIGN section 4): the shell around the RoleCore
// (engine/role_core.h). The core decides everything about roles: when a silent primary is taken
// over and at which epoch and seq, fencing on a higher peer epoch, setting frames aside, the sync
// publish policy and how far frames are visible. This shell only observes and carries out:
//  - it feeds the core: commits (through the SyncGate, which the SequencerAgent publishes into),
//    the secondary's acks (the recovery service thread's atomic, read once a turn), epochs seen
//    on the peer's PUB socket (PeerWatch), replication progress (the Replica's last heard time
//    and highest epoch, the Sequencer's last journaled seq and epoch) and the monotonic time;
//  - it carries out the core's actions: kTakeOver (drop the Replica, journal and publish the
//    EpochChange at the core's epoch and seq, reconcile the feeds' view against the journal:
//    feeds/source_selector.h reconcile()), kFence (discard held batches, become a secondary of the
//    new primary: build a Replica), kRelease (the gate publishes held batches), kSetAside (already
//    done by the Replica, which finds divergence itself: the shell only tells the core);
//  - it keeps the outside in step with the core's role: the desk service (primary or not), the
//    recovery service's primary flag, and the gate's visible seq (SyncGate::show());
//  - it logs the core's notices (rate-limited where they can repeat).
// As secondary it also drains its own feeds into source selection, so its view of the markets
// stays warm for a takeover.
//
// Clocks (engine/clocks.h): the core, the peer watch and selector ticks run on the monotonic
// clock; the wall clock only stamps the frames it sequences (the EpochChange, reconciliation).
//
// Thread safety: owned by the sequencer thread. role() and counters() may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
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
#include "engine/role_core.h"
#include "engine/sequencer.h"
#include "engine/sequencer_agent.h"
#include "engine/sync_gate.h"
#include "feeds/source_selector.h"
#include "schemas/log.h"

namespace oddsbus::engine {

struct NodeRoleDeps {
  zmq::context_t& context;
  Journal& journal;
  Sequencer& sequencer;
  SequencerAgent& agent;
  SyncGate& gate;        // the primary publishes through it; the core is attached to it
  BatchSink& publisher;  // the secondary republishes straight to the PUB socket
  IngestQueues& queues;
  feeds::SourceSelector* selector;  // may be null (events are then not kept warm)
  std::atomic<bool>*
      primary_flag;          // set while primary (the recovery service's status); may be null
  RecoveryServer* recovery;  // woken after each commit, so a long poll answers at once; may be null
  DeskService* desk;         // told the role: only a primary applies desk requests; may be null
  // CURVE client keys for the peer's PUB and recovery endpoints; null: in the clear.
  std::shared_ptr<const curve::CurveClient> curve = nullptr;
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
  // The decisions so far (sequencer thread only).
  const RoleCore& core() const { return core_; }

 private:
  // Carries out out_'s actions in order, logs its notices, clears it, and shows the result.
  std::expected<void, std::string> carry_out(const Clocks& clocks);
  std::expected<void, std::string> take_over(const RoleAction& action, const Clocks& clocks);
  void become_secondary(const char* why);
  // kSetAsideHeld: the journal's frames from `from` on go to set-aside/, the sequencer is
  // restored from what remains.
  std::expected<void, std::string> set_aside_held(uint64_t from);
  void become_primary();
  void log_notice(const RoleNotice& notice, uint64_t now_ns);
  // Tells the core what the replica did in its last do_work().
  void feed_replication(uint64_t last_seq_before, const ReplicaCounters& before, uint64_t now_ns);
  size_t drain_warm(uint64_t now_ns);  // monotonic

  NodeRoleDeps deps_;
  const NodeConfig& config_;
  RoleCore core_;
  RoleOutput out_;
  std::atomic<NodeRole> role_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<PeerWatch> watch_;
  uint64_t last_watch_ns_ = 0;  // monotonic, as is the one below
  uint64_t last_tick_ns_ = 0;
  LogLimiter alone_log_;  // going alone and back can repeat while a secondary flaps
  std::vector<feeds::Event> scratch_;
  std::vector<uint64_t> evicted_;  // drain_warm(): markets the replicated history evicted
  NodeRoleCounters counters_;
};

}  // namespace oddsbus::engine
