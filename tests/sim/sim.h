// The deterministic cluster simulator (issue 11, "The simulator"): two engine nodes, two edges and
// their clients, wired from the REAL sans-I/O cores (engine::Sequencer, engine::RoleCore,
// engine::RecoveryService, edge::Arbiter, edge::MarketCache, edge::ClientStream,
// feeds::SourceSelector, feeds::link::MessageDedup and the oddsjson adapter) over a simulated
// network and clock. One seed decides everything: one PRNG (SplitMix64), one event queue ordered
// by (simulated time, insertion counter), no real clock, sockets, threads, sleeps or files. The
// same seed and profile give the same trace, byte for byte (run_seed's trace_hash).
//
// What a run is: a fault phase (feeds flow, faults are injected at random times), then a quiet
// phase (faults healed, feeds keep flowing for a while, then stop), then the final checks. The
// invariants (names in kInvariantNames) are checked as events happen and at the end; each
// violation is counted with its first few messages kept.
//
// The cluster: node 1 (configured primary) and node 2 (configured secondary), each a Sequencer,
// an in-memory journal (batches as BatchWriter bytes; a synced watermark for OS crashes), a
// RoleCore (THE role logic: its actions are carried out as engine/node_roles.cpp does: take
// over = EpochChange journaled and published, then SourceSelector::reconcile and the
// differences sequenced; fence = held batches dropped, become a replica; set aside = journal
// truncated, the Sequencer restored from what is left, the RecoveryService reset and fed
// again; release = held batches published), a RecoveryService over the journal (visible limit
// from the role core), a SourceSelector with the mapping (warm on the secondary), a
// MessageDedup for the two-line provider, and, while secondary, an Arbiter in kTruncate mode fed
// by the primary's stream and a long poll (engine/replica.cpp), journaling, republishing (its
// heartbeats marked relayed) and acking (sync) what it delivers; its failover clock hears only
// new frames and unrelayed heartbeats, and the primary's heartbeat position lifts a sync
// secondary's visible limit (engine/node_roles.cpp feed_replication). A restarted node 1 probes its
// peer's status and starts in the role engine::choose_start_role gives (engine/node_assembly.cpp);
// node 2 always restarts secondary. Two edges each run an Arbiter in kSnapshot mode over both
// nodes' streams and recovery services, a MarketCache and two ClientStreams whose JSON is folded as
// a client would.
//
// What `converged` (invariant 5) compares, after the quiet phase:
//  - the survivor: the one primary (two primaries, or none, is a violation);
//  - the secondary's journal: its last seq and state digest (DESIGN section 7) equal the
//    survivor's;
//  - each edge: its market cache's seq and state digest equal the survivor's;
//  - each client: what it folded from the stream's JSON (images, deltas, resumes) equals its
//    edge's state in the digest's fields: per market its status and each selection's price_e4;
//  - the input: the survivor's state equals, in those same fields, a fault-free fold of every
//    provider message once, in the providers' order (the oddsjson adapter, a SourceSelector with
//    the same mapping and a Sequencer, no faults, no clock). Not compared: seqs and market_seq
//    (takeovers add EpochChange and reconciliation frames), status reasons (feed-stale
//    suspensions come and go), odds text (a reconciled price keeps its value, and the digest
//    holds price_e4 only), wall-clock stamps.
//
// Thread safety: none; a Simulation is one run on one thread. Runs share nothing.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace oddsbus::sim {

// A planted bug (test-only switches of the real cores): the simulator must catch each.
enum class Plant : uint8_t {
  kNone,
  kSkipReorder,     // an edge's arbiter skips the reorder window (ArbiterConfig planted switch)
  kKeepEpoch,       // a secondary takes over without raising the epoch (RoleCoreConfig)
  kDedupByContent,  // provider messages de-duplicated by content alone (MessageDedupConfig)
};

std::string_view to_string(Plant plant);
// False when `name` is not a plant.
bool parse_plant(std::string_view name, Plant& plant);
// Whether this build's cores have the switch (kSkipReorder depends on the arbiter's version).
bool plant_available(Plant plant);

enum Invariant : uint8_t {
  kInOrderOnce,      // 1: edges and clients apply each seq at most once, in order, gaps re-imaged
  kOneFramePerSeq,   // 2: no two different frames accepted for one (epoch, seq)
  kAppliedSurvives,  // 3: every frame an edge applied survives, or a re-image announced its loss
  kAckedKept,        // 4: sync mode: no frame served to anyone is lost from the surviving history
  kConverged,        // 5: after quiescence every digest equals the survivor's and the input's fold
  kStaleSuspended,   // 6: no market open at a current edge while its source is silent too long
  kBounded,          // 7: every queue within its bound
  kInvariantCount,
};
inline constexpr std::array<const char*, kInvariantCount> kInvariantNames = {
    "in-order-once", "one-frame-per-seq", "applied-survives", "acked-kept",
    "converged",     "stale-suspended",   "bounded"};

enum Fault : uint8_t {
  kCrash,        // a node stops; restarts later with its journal to the last commit
  kOsCrash,      // ... with its journal to the last synced commit only
  kFreeze,       // a node processes nothing for a while, then resumes
  kPartition,    // both ways between two endpoints, healed later
  kOneWay,       // one way only
  kFeedStall,    // a provider goes silent past stale_after
  kFeedLineGap,  // one line of the redundant provider loses messages for a while
  kClientSlow,   // a client stops reading for a while
  kClientReconnect,
  kClockStep,  // a node's wall clock jumps
  kFaultCount,
};
inline constexpr std::array<const char*, kFaultCount> kFaultNames = {
    "crash",      "os-crash",      "freeze",      "partition",        "one-way",
    "feed-stall", "feed-line-gap", "client-slow", "client-reconnect", "clock-step"};

struct Profile {
  std::string name = "default";
  bool sync = true;  // sync replication (else async)
  // Network, per message on node and edge links. Loss and duplication apply to published
  // batches (PUB/SUB); recovery requests and replies only with request_loss.
  double loss = 0.02;
  double duplicate = 0.02;
  double request_loss = 0.0;
  uint64_t delay_min_ns = 200'000;
  uint64_t delay_jitter_ns = 3'000'000;  // uniform: reorders messages that overlap
  // Faults (each enabled kind is injected at random times of the fault phase).
  bool crashes = true;
  bool os_crashes = false;
  bool freezes = true;
  bool partitions = true;
  // A partition between the two nodes lasts at most this long (longer ones are split brain, the
  // known limit: see the split-brain profile).
  uint64_t node_partition_max_ns = 800'000'000;
  bool feed_faults = true;
  bool client_faults = true;
  bool clock_steps = true;
  // split-brain: a long partition between the nodes while both run.
  bool split_brain = false;
  uint64_t fault_phase_ns = 20'000'000'000;
  uint64_t quiet_phase_ns = 12'000'000'000;
  double fault_rate_per_s = 1.0;
  // Provider pb's markets are left out of the mapping (KNOWN_FINDINGS.md F2).
  bool unmapped = false;  // mean faults injected per simulated second
  Plant plant = Plant::kNone;
};

// Profiles: "default", "async", "split-brain", "calm" (no faults but the network's).
bool profile_by_name(std::string_view name, Profile& profile);
std::string profile_help();

struct RunResult {
  uint64_t seed = 0;
  uint64_t simulated_ns = 0;
  std::array<uint64_t, kFaultCount> faults{};
  std::array<uint64_t, kInvariantCount> violations{};
  std::vector<std::string> messages;  // the first violations, each "invariant: detail"
  uint64_t frames = 0;                // frames the surviving primary journaled
  uint64_t takeovers = 0;
  uint64_t fencings = 0;
  uint64_t set_asides = 0;
  uint64_t snapshots = 0;  // snapshots edges installed
  uint64_t messages_sent = 0;
  uint64_t conflations = 0;  // client streams that fell behind and conflated
  uint64_t resumes = 0;      // client reconnects resumed from the edge's window
  uint64_t resume_misses = 0;
  uint64_t trace_hash = 0;              // XXH64 over every trace line, in order
  std::vector<std::string> trace_tail;  // the last trace lines (for a failing seed)
  uint64_t total_violations() const {
    uint64_t n = 0;
    for (uint64_t v : violations) n += v;
    return n;
  }
};

// Runs one seed. With `trace` set, every trace line is written there as it happens.
RunResult run_seed(uint64_t seed, const Profile& profile, FILE* trace = nullptr);

}  // namespace oddsbus::sim
