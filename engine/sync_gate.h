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

  const SyncGateCounters& counters() const { return counters_; }

 private:
  struct Held {
    uint64_t last_seq = 0;
    uint64_t since_ns = 0;
    std::vector<uint8_t> bytes;
  };
  void release_through(uint64_t seq);

  BatchSink& inner_;
  const std::atomic<uint64_t>& acked_seq_;
  SyncGateConfig config_;
  std::deque<Held> held_;
  size_t held_bytes_ = 0;
  uint64_t committed_ = 0;
  uint64_t now_ns_ = 0;
  SyncGateCounters counters_;
};

}  // namespace oddsbus::engine
