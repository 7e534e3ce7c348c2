// The sequencer thread's agent: drains the ingest queues, sequences a batch, journals it in one
// write transaction, then publishes it (DESIGN sections 2 and 4).
//
// Batching is opportunistic: a batch is whatever the queues hold right now, up to max_batch_frames;
// the agent never waits to fill one. When nothing was published for heartbeat_interval_ns it
// publishes a heartbeat carrying the last seq.
//
// Desk requests (set_desk): an event with a request_token comes from the desk service. It bypasses
// source selection, takes or releases the market in DeskOverrides, and is sequenced; its outcome
// (the seq of its frame, or why it was rejected) is queued and handed to the desk service only
// after the batch holding it was journaled. Feed events for markets the desk holds are held back
// (counted in desk_held); expired overrides are released on the way.
//
// Clocks (engine/clocks.h): frames and heartbeats are stamped with the wall clock; every interval
// (heartbeats, selector ticks, source staleness, desk override expiry) runs on the monotonic one.
//
// Thread safety: do_work() is called by one thread only (the sequencer's). counters() may be read
// from any thread (relaxed atomics on their own cache line).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <expected>
#include <string>

#include "engine/clocks.h"
#include "engine/desk_overrides.h"
#include "engine/desk_service.h"
#include "engine/ingest_queues.h"
#include "engine/journal.h"
#include "engine/publisher.h"
#include "engine/sequencer.h"
#include "feeds/rejection.h"
#include "feeds/source_selector.h"
#include "schemas/batch.h"
#include "schemas/log.h"

namespace oddsbus::engine {

struct SequencerAgentConfig {
  size_t max_batch_frames = 4096;
  uint64_t heartbeat_interval_ns = 200'000'000;
  uint64_t selector_tick_ns = 50'000'000;  // how often source health is re-evaluated
};

// Upper bounds (ns) of the commit latency histogram's buckets; one more bucket counts the rest.
inline constexpr std::array<uint64_t, 12> kCommitLatencyBoundsNs = {
    25'000,    50'000,     100'000,    250'000,     500'000,     1'000'000,
    2'500'000, 10'000'000, 25'000'000, 100'000'000, 250'000'000, 1'000'000'000};

struct alignas(64) SequencerCounters {
  std::atomic<uint64_t> frames{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> heartbeats{0};
  std::atomic<uint64_t> source_heartbeats{0};
  std::atomic<uint64_t> commit_ns_total{0};
  // Journal commits by latency: [i] took at most kCommitLatencyBoundsNs[i] (and more than the
  // bound before); the last counts the slower ones.
  std::array<std::atomic<uint64_t>, kCommitLatencyBoundsNs.size() + 1> commit_latency{};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(feeds::RejectReason::kCount)> rejected{};
  std::atomic<uint64_t> desk_requests{0};  // desk requests handled (applied or rejected)
  std::atomic<uint64_t> desk_held{0};      // feed events held back: the desk holds their market
  std::atomic<uint64_t> desk_expiries{0};  // overrides released because they expired
};

class SequencerAgent {
 public:
  // `sink` may be null (journal only); `selector` may be null (every event is sequenced as it
  // comes). All references must outlive the agent.
  SequencerAgent(Sequencer& sequencer, Journal& journal, IngestQueues& queues, BatchSink* sink,
                 const SequencerAgentConfig& config, feeds::SourceSelector* selector = nullptr);

  // Sequences `events` (e.g. the mapping's market definitions at start-up) as one batch,
  // bypassing the queues and the selector: journaled and published like any other.
  std::expected<void, std::string> sequence_now(const std::vector<feeds::Event>& events,
                                                const Clocks& clocks);

  // One unit of work at `clocks`: returns the number of events consumed (0: idle), or the journal
  // error that makes the node unable to go on.
  std::expected<size_t, std::string> do_work(const Clocks& clocks);

  // Turns on desk requests: `overrides` holds the desk's markets, `acks` receives the outcome of
  // every request (DeskService::acks()). Both must outlive the agent. Call before do_work().
  void set_desk(DeskOverrides* overrides, DeskAckQueue* acks);

  const SequencerCounters& counters() const { return counters_; }

 private:
  std::expected<uint64_t, feeds::RejectReason> sequence_one(const feeds::Event& event,
                                                            const Clocks& clocks);
  void sequence_feed(const feeds::Event& event, const Clocks& clocks);
  void sequence_desk(const feeds::Event& event, const Clocks& clocks);
  void expire_overrides(const Clocks& clocks);
  void flush_acks();
  std::expected<void, std::string> commit(const Clocks& clocks);
  void log_notices(uint64_t monotonic_ns);

  Sequencer& sequencer_;
  Journal& journal_;
  IngestQueues& queues_;
  BatchSink* sink_;
  SequencerAgentConfig config_;
  feeds::SourceSelector* selector_;
  std::vector<feeds::Event> selected_;
  uint64_t last_tick_ns_ = 0;  // monotonic
  LogLimiter notice_log_{100'000'000};
  BatchWriter batch_;
  BatchWriter heartbeat_batch_{4096};
  uint64_t last_publish_ns_ = 0;  // monotonic
  SequencerCounters counters_;
  LogLimiter reject_log_;
  DeskOverrides* overrides_ = nullptr;
  DeskAckQueue* acks_ = nullptr;
  std::vector<DeskAck> pending_acks_;      // acks of the batch being built
  std::vector<feeds::Event> desk_events_;  // scratch: events of a release or expiry
};

}  // namespace oddsbus::engine
