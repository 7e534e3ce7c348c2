// The role core of a node (DESIGN section 4): every decision about who sequences and what may be
// seen, and nothing else. Sans-I/O: it is fed what the node's shell observed (its own commits, the
// secondary's acks, epochs heard on its peer's stream, replication progress, time) and returns
// actions the shell carries out (take over, fence, set aside, release held batches) plus notices
// to log. It never touches a socket, a file, a thread or a clock, so unit tests and the cluster
// simulator (tests/sim/) drive every interleaving of the real logic.
//
// Roles:
//  - primary: sequences. It watches its peer's stream; a frame of a higher epoch there means
//    another node took over: kFence (the shell stops sequencing at once, drops held batches
//    unpublished, and becomes a secondary of the new primary), after a kSetAsideHeld of the
//    frames it held, when it held any.
//  - secondary: replicates its primary. Anything valid heard from the primary (a frame, a
//    heartbeat, a recovery reply: on_heard) keeps it secondary; silence for failover_after_ns
//    (monotonic) means kTakeOver at epoch E = 1 + the highest epoch this node has journaled or
//    heard, from seq S = its last journaled seq + 1 (the shell journals and publishes the
//    EpochChange at S, then reconciles its feeds' view against the journal).
//    A divergence the replica found (our frames from S on lost to a higher epoch) is kSetAside.
//
// Sync replication (the publish gate's policy): in sync mode a committed batch is published only
// once the secondary acknowledged journaling it, so no subscriber sees a frame a takeover could
// lose. on_committed() says whether a batch may be published at once; otherwise the shell holds
// it until a kRelease covers it. Heartbeats (they state the last committed seq) are withheld
// while anything is held. If the secondary acknowledges nothing for alone_after_ns while batches
// are held, or the held bytes pass max_held_bytes, the primary goes on alone (kRelease of all,
// everything visible, counted, a notice) until the acks catch up with the committed seq
// (kSyncRestored notice). A node that takes over starts alone: the peer that would acknowledge
// is the primary that just died.
//
// Visibility: visible_seq() is the highest seq that may be served or acknowledged to anyone but
// the replicating secondary (recovery ranges, status, snapshots, desk acks). Async, alone, or a
// secondary once its journal is known to be its primary's history (on_replicated, or
// on_primary_position): kNoLimit. A sync secondary that starts from its own journal serves
// nothing until then: its tail may hold batches it held, unacknowledged, as a primary before a
// restart (issue 11, simulator finding F3). Sync primary: the last seq released. It never passes a
// batch before that batch is released. served_limit() applies it to a requester: a replica is
// served up to the committed seq.
//
// Who carries it out: NodeRoles (engine/node_roles.h) feeds the core and performs its actions
// (journals the EpochChange, builds or drops the Replica, tells the desk and the recovery service
// the role, logs the notices); the SyncGate (engine/sync_gate.h) holds the bytes of held batches,
// publishes them on kRelease and shows visible_seq() to other threads; the recovery service
// (engine/recovery_service.h, engine/long_polls.h) serves and answers long polls within
// served_limit(), as that atomic and its own committed seq tell it. None of them decides.
//
// Clocks: every duration is on the monotonic clock passed in (now_ns); the wall clock is not an
// input (frames are stamped by the sequencer).
//
// Thread safety: none; owned by the node's sequencer thread (the shell publishes what other
// threads need, e.g. visible_seq(), through atomics of its own).
// Invariants: committed_seq() is the last seq journaled; visible_seq() <= committed_seq() unless
// kNoLimit; acked_seq() <= committed_seq(); epoch() never decreases.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace oddsbus::engine {

enum class NodeRole : uint8_t { kPrimary, kSecondary };

// What a node's peer said of itself at start-up (a recovery `status` reply).
struct PeerStatus {
  bool primary = false;
  uint32_t epoch = 0;
  uint64_t last_seq = 0;
};

// The role a node starts in. Configured secondary: secondary. Configured primary: secondary when
// the peer answered and is primary, or holds more of the history than our journal (a higher
// epoch, or our epoch and a higher last seq: our journal lost a tail it had published, e.g. to an
// OS crash under nosync durability, and sequencing on from it would give two different frames one
// (epoch, seq); issue 11, simulator finding F4). `peer` is nullopt when it did not answer.
NodeRole choose_start_role(NodeRole configured, uint64_t last_seq, uint32_t epoch,
                           const std::optional<PeerStatus>& peer);

struct RoleCoreConfig {
  uint32_t node = 1;
  bool has_peer = false;  // without a peer a primary is never fenced and never waits for acks
  bool sync = false;      // sync replication (see above); false: async
  uint64_t failover_after_ns = 1'500'000'000;
  uint64_t alone_after_ns = 2'000'000'000;
  uint64_t max_held_bytes = uint64_t{256} << 20;
  // A gap longer than this between two on_tick() calls is this node's own pause (SIGSTOP, a VM
  // stall, a blocked turn), not its primary's silence: a secondary's failover clock starts again
  // at the tick after it, so a node that was not listening never takes its own deafness for a
  // dead primary (found by the chaos suite: a node resumed from SIGSTOP, fenced in a turn begun
  // before the stop, took over again at the next tick). 0: off. The shell ticks every few ms.
  uint64_t own_pause_ns = 0;
  // Test-only: a planted bug for the simulator's self-check (tests/sim/); never set in production.
  // A takeover keeps the current epoch instead of raising it.
  bool planted_keep_epoch = false;
};

struct RoleAction {
  enum class Kind : uint8_t {
    kTakeOver,  // become primary: journal and publish EpochChange(epoch) at `seq`, then reconcile
    kFence,     // stop sequencing, drop held batches unpublished, replicate the primary of `epoch`
    kSetAside,  // journaled frames from `seq` on lost to a higher epoch: set them aside, rebuild
    // Fenced while holding (sync): the held frames from `seq` on were journaled here and never
    // released, so nobody but the secondary saw them, and the new primary's history decides
    // what follows seq - 1. The shell sets them aside before the kFence that follows, so this
    // node neither serves them nor takes over on top of them, which would leave a node or edge
    // that holds the deposed epoch with no way to tell it lost (simulator finding F6).
    kSetAsideHeld,
    kRelease,  // publish the held batches whose last seq is <= `seq`, in order
  };
  Kind kind;
  uint32_t epoch = 0;
  uint64_t seq = 0;
};

// What an operator should read in the log. The shell logs them; tests and the simulator read them.
struct RoleNotice {
  enum class Kind : uint8_t {
    kTookOver,      // epoch, seq: now primary; `ms`: how long the primary was silent
    kFenced,        // epoch: the peer's; seq: our last committed seq
    kWentAlone,     // seq: the last acked; ms: how long the oldest held batch waited
    kStartedAlone,  // took over in sync mode: no secondary acknowledges yet
    kSyncRestored,  // seq: the ack that caught up; publishing waits for acks again
    kSetAside,      // seq: from where our frames lost
  };
  Kind kind;
  uint32_t epoch = 0;
  uint64_t seq = 0;
  uint64_t ms = 0;
};

// Each call appends; the owner handles and clear()s (capacity is kept).
struct RoleOutput {
  std::vector<RoleAction> actions;
  std::vector<RoleNotice> notices;
  void clear() {
    actions.clear();
    notices.clear();
  }
};

struct RoleCoreCounters {
  uint64_t takeovers = 0;
  uint64_t fencings = 0;
  uint64_t set_asides = 0;
  uint64_t held_batches = 0;        // batches that waited for an ack
  uint64_t alone_episodes = 0;      // times the primary went on without its secondary
  uint64_t acks_beyond_commit = 0;  // acks past the committed seq (clamped)
};

class RoleCore {
 public:
  static constexpr uint64_t kNoLimit = UINT64_MAX;

  // `last_seq` and `epoch`: the node's journal at start. A secondary's failover clock starts at
  // now_ns. A sync primary starts with everything journaled visible.
  RoleCore(const RoleCoreConfig& config, NodeRole start, uint64_t last_seq, uint32_t epoch,
           uint64_t now_ns);

  // --- primary ---
  // A batch through `last_seq` (`bytes` long) was journaled. Returns true when it may be
  // published at once; false: the shell holds it until a kRelease covers it. A secondary's
  // commits go through on_replicated() instead.
  bool on_committed(uint64_t last_seq, uint64_t bytes, uint64_t now_ns, RoleOutput& out);
  // The secondary acknowledged journaling through `seq` (clamped to committed_seq()).
  void on_ack(uint64_t seq, uint64_t now_ns, RoleOutput& out);
  // A frame of `epoch` was seen on the peer's stream (its PUB socket). Higher than ours: kFence.
  void on_peer_epoch(uint32_t epoch, uint64_t now_ns, RoleOutput& out);
  // Heartbeats state the committed seq: publish one only when this is true.
  bool heartbeat_allowed() const { return held_.empty(); }
  // The seq a heartbeat may state now: the committed seq, or while batches are held the last one
  // released (it must not make subscribers ask for what is not visible). A primary keeps
  // heartbeating while it holds, so its secondary never takes a slow ack for a dead primary
  // (issue 11, simulator finding F5).
  uint64_t heartbeat_seq() const { return held_.empty() ? committed_ : released_; }

  // --- secondary ---
  // Anything valid came from the primary (a frame, a heartbeat or a reply) carrying `epoch`.
  void on_heard(uint32_t epoch, uint64_t now_ns);
  // The primary's own (unrelayed) heartbeat stated (epoch, last_seq). When that is our epoch and
  // at or past our committed seq, our journal is a prefix of its history (one node sequences an
  // epoch), so all of it may be served (see "Visibility").
  void on_primary_position(uint32_t epoch, uint64_t last_seq);
  // The replica journaled the primary's frames through `last_seq`; `epoch` is the epoch of the
  // last of them.
  void on_replicated(uint64_t last_seq, uint32_t epoch, uint64_t now_ns, RoleOutput& out);
  // The replica found our frames from `from` on lost to a higher epoch: kSetAside. After the
  // shell set them aside, committed_seq() is from - 1.
  void on_diverged(uint64_t from, RoleOutput& out);

  // --- both ---
  // Time passed: failover (secondary), going alone (sync primary).
  void on_tick(uint64_t now_ns, RoleOutput& out);

  NodeRole role() const { return role_; }
  uint32_t epoch() const { return epoch_; }
  uint64_t committed_seq() const { return committed_; }
  uint64_t acked_seq() const { return acked_; }
  uint64_t visible_seq() const { return visible_; }
  // What a requester may be served up to: the committed seq for the replicating secondary,
  // visible_seq() for anyone else.
  uint64_t served_limit(bool replica) const { return replica ? committed_ : visible_; }
  bool alone() const { return alone_; }
  // committed - acked while a sync primary waits for acks; 0 otherwise.
  uint64_t replication_lag() const;
  const RoleCoreCounters& counters() const { return counters_; }

 private:
  struct Held {
    uint64_t last_seq = 0;
    uint64_t bytes = 0;
    uint64_t since_ns = 0;
  };
  void release_through(uint64_t seq, RoleOutput& out);
  void go_alone(uint64_t now_ns, RoleOutput& out);
  void take_over(uint64_t now_ns, RoleOutput& out);
  bool waits_for_acks() const { return config_.sync && config_.has_peer && !alone_; }

  RoleCoreConfig config_;
  NodeRole role_;
  uint32_t epoch_;
  uint32_t highest_heard_ = 0;  // the highest epoch seen anywhere
  uint64_t committed_;
  uint64_t acked_ = 0;
  uint64_t visible_;
  uint64_t released_;  // the last seq published (sync primary; committed otherwise)
  bool alone_ = false;
  std::deque<Held> held_;
  uint64_t held_bytes_ = 0;
  uint64_t secondary_since_ns_ = 0;
  uint64_t last_tick_ns_ = 0;  // 0: no tick yet
  uint64_t last_heard_ns_ = 0;
  RoleCoreCounters counters_;
};

}  // namespace oddsbus::engine
