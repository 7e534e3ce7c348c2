// Sync replication's publish gate (DESIGN section 4): in `sync` mode the primary publishes a batch
// only after its secondary acknowledged journaling it, so no subscriber ever sees a frame that a
// takeover could lose. If the secondary stays silent for longer than `alone_after_ns` (or the
// held batches pass `max_held_bytes`), the primary carries on alone: it publishes everything held
// and from then on publishes at once, logging loudly and counting it, until the secondary's acks
// catch up again.
//
// Heartbeats carry the last committed seq, which subscribers would otherwise recover from the
// journal before it is acknowledged: while batches are held, heartbeats are withheld too.
//
// The gate also says how far anything may be visible (visible_seq()): the recovery service serves
// ranges, status and snapshots only up to it, and the desk service acks a request only once its
// frame is at or below it. In sync mode it is the last seq published (so the acknowledged one,
// unless the primary carries on alone); kNoLimit when nothing can be held: async, alone, or a
// secondary whose journal holds only what it replicated from its primary (on_replicated()).
// It is never raised past a batch before that batch is published, so a reader that sees a
// journaled batch before the gate does never serves it early.
//
// Thread safety: publish() and poll() are called by the sequencer thread only; the acked seq is
// written by the recovery service's thread (an atomic). Counters are read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "engine/publisher.h"

namespace oddsbus::engine {

struct SyncGateConfig {
  bool sync = false;                        // false: async, publish at once
  uint64_t alone_after_ns = 2'000'000'000;  // secondary silent this long: carry on alone
  size_t max_held_bytes = size_t{256} << 20;
  uint64_t journaled_seq = 0;  // the journal's last seq at start: visible from the start (sync)
};

struct SyncGateCounters {
  std::atomic<uint64_t> held_batches{0};  // batches that waited for an ack
  std::atomic<uint64_t> withheld_heartbeats{0};
  std::atomic<uint64_t> alone_episodes{0};  // times the primary went on without its secondary
  std::atomic<bool> alone{false};
  std::atomic<uint64_t> replication_lag{0};  // committed seq - acked seq, at the last poll
};

class SyncGate final : public BatchSink {
 public:
  static constexpr uint64_t kNoLimit = UINT64_MAX;

  // `inner` publishes for real; `acked_seq` is the secondary's highest acknowledged seq.
  SyncGate(BatchSink& inner, const std::atomic<uint64_t>& acked_seq, const SyncGateConfig& config);

  void publish(std::span<const uint8_t> batch) override;

  // Releases what was acknowledged, and decides about going on alone. Call often, with the time.
  void poll(uint64_t now_ns);

  // Fencing: drops every held batch unpublished (they were never acknowledged, so no
  // subscriber saw them; the new primary's history decides what they become).
  void discard_held();

  // Takeover: the peer that would acknowledge is the primary that just died, so publishing starts
  // alone (logged, counted) and waits for acks again once a secondary's acks catch up.
  void start_alone();

  // Secondary: the node journaled frames replicated from its primary, so its journal is now the
  // primary's history (a divergent tail was set aside first) and all of it may be served.
  void on_replicated();

  // How far frames may be visible (see above). Written by the sequencer thread; any thread reads.
  const std::atomic<uint64_t>& visible_seq() const { return visible_seq_; }

  const SyncGateCounters& counters() const { return counters_; }

 private:
  struct Held {
    uint64_t last_seq = 0;
    uint64_t since_ns = 0;
    std::vector<uint8_t> bytes;
  };
  void release_through(uint64_t seq);
  void go_alone();

  BatchSink& inner_;
  const std::atomic<uint64_t>& acked_seq_;
  SyncGateConfig config_;
  std::deque<Held> held_;
  size_t held_bytes_ = 0;
  uint64_t committed_ = 0;
  bool committed_known_ = true;  // false after a takeover until a batch says the committed seq
  std::atomic<uint64_t> visible_seq_;
  uint64_t now_ns_ = 0;
  SyncGateCounters counters_;
};

}  // namespace oddsbus::engine
