// Sync replication's publish gate (DESIGN section 4): the mechanism only. The RoleCore
// (engine/role_core.h) decides whether a committed batch is published now or held, when held
// batches are released, whether a heartbeat may go out, and how far frames are visible; the gate
// carries that out:
//  - publish(): a data batch is shown to the core (RoleCore::on_committed); the gate publishes it
//    at once or keeps a copy of its bytes, and carries out at once any kRelease the core returned
//    (so held batches always leave before a later batch does). A heartbeat states what
//    heartbeat_seq() allows (while batches are held, the last one released, so the primary keeps
//    heartbeating and its secondary never takes slow acks for a dead primary: simulator finding
//    F5); one stating more is withheld and counted.
//  - release_through() (kRelease) and discard_held() (kFence) act on the held queue.
//  - show() publishes the core's visible seq for other threads: the recovery service serves
//    ranges, status and snapshots only up to it, and the desk service acks a request only once its
//    frame is at or below it. The owner calls show() only after carrying out the core's actions,
//    so visible_seq() never passes a batch before that batch was published.
// Without a core attached (a node that never sequences, some tests) it publishes everything at
// once and visible_seq() keeps its start value.
//
// The acked seq the gate is given is written by the recovery service's thread (`ack SEQ` from the
// secondary); the owner reads it through acked_seq() each turn and feeds it to RoleCore::on_ack().
//
// Thread safety: publish(), release_through(), discard_held() and show() on the sequencer thread
// only. visible_seq() and counters() may be read from any thread.
// Invariants: held batches are in seq order and mirror the core's held batches (one for one, as
// long as every kRelease and kFence is carried out); visible_seq() <= the last seq published,
// unless kNoLimit.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "engine/publisher.h"
#include "engine/role_core.h"

namespace oddsbus::engine {

struct SyncGateConfig {
  // What visible_seq() says before a core is attached: `journaled_seq` (the journal's last seq at
  // start) when `sync`, else kNoLimit. Once attached, the core's visible seq.
  bool sync = false;
  uint64_t journaled_seq = 0;
};

struct SyncGateCounters {
  std::atomic<uint64_t> held_batches{0};  // batches that waited for an ack
  std::atomic<uint64_t> withheld_heartbeats{0};
  std::atomic<uint64_t> discarded_batches{0};  // held batches dropped unpublished (fenced)
  // Mirrored from the core by show():
  std::atomic<uint64_t> alone_episodes{0};  // times the primary went on without its secondary
  std::atomic<bool> alone{false};
  std::atomic<uint64_t> replication_lag{0};  // committed seq - acked seq
};

class SyncGate final : public BatchSink {
 public:
  static constexpr uint64_t kNoLimit = RoleCore::kNoLimit;

  // `inner` publishes for real; `acked_seq` is the secondary's highest acknowledged seq (written by
  // the recovery service's thread). Both must outlive the gate.
  SyncGate(BatchSink& inner, const std::atomic<uint64_t>& acked_seq, const SyncGateConfig& config);

  // From now on `core` decides; what it returns from calls made inside publish() is appended to
  // `out` (kRelease already carried out; the owner logs the notices). Both must outlive the gate.
  // Shows the core's visible seq.
  void attach(RoleCore& core, RoleOutput& out);
  // The monotonic time publish() gives the core (when a held batch began to wait). The owner sets
  // it every turn, before anything is committed.
  void set_now(uint64_t now_ns) { now_ns_ = now_ns; }

  void publish(std::span<const uint8_t> batch) override;
  // While batches are held, a heartbeat states the last one released (RoleCore::heartbeat_seq).
  uint64_t heartbeat_seq(uint64_t committed) const override {
    return core_ == nullptr ? committed : std::min(committed, core_->heartbeat_seq());
  }

  // kRelease: publishes the held batches whose last seq is <= seq, in order. Releasing what was
  // already released does nothing.
  void release_through(uint64_t seq);
  // kFence: drops every held batch unpublished (never acknowledged, so no subscriber saw them;
  // the new primary's history decides what becomes of their frames).
  void discard_held();
  // Publishes the core's visible seq and its sync state to other threads.
  void show(const RoleCore& core);

  // The secondary's highest acknowledged seq, as the recovery service's thread last wrote it.
  uint64_t acked_seq() const { return acked_seq_.load(std::memory_order_acquire); }
  size_t held() const { return held_.size(); }

  // How far frames may be visible (see above). Written by the sequencer thread; any thread reads.
  const std::atomic<uint64_t>& visible_seq() const { return visible_seq_; }
  const SyncGateCounters& counters() const { return counters_; }

 private:
  struct Held {
    uint64_t last_seq = 0;
    std::vector<uint8_t> bytes;
  };
  // Carries out every kRelease in out_.
  void carry_out_releases();

  BatchSink& inner_;
  const std::atomic<uint64_t>& acked_seq_;
  RoleCore* core_ = nullptr;
  RoleOutput* out_ = nullptr;
  uint64_t now_ns_ = 0;
  std::deque<Held> held_;
  std::atomic<uint64_t> visible_seq_;
  SyncGateCounters counters_;
};

}  // namespace oddsbus::engine
