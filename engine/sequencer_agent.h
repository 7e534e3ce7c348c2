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
// Provenance and durability (issues 14, 15): every frame of a desk request carries the desk's
// identity, CLIENT, ID and request, and every take, release, expiry and settlement-end of an
// override is marked on its frame, so the Sequencer's DeskLedger (engine/desk_ledger.h) always
// holds what DeskOverrides holds; restore_desk() rebuilds DeskOverrides from it (at start-up and
// at takeover). A request whose (identity, CLIENT, ID) the ledger knows is answered with its
// original ack and not applied again. With rights (engine/desk_rights.h), a request its desk may
// not make is refused (forbidden) before anything else: no frame, no state change.
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
  // Bounded live state (issue 15): a settled or closed market untouched this long (wall clock)
  // is evicted through a MarketEviction frame. Markets the mapping lists and markets a desk
  // holds are kept. 0: never.
  uint64_t evict_after_ns = 0;
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
  std::atomic<uint64_t> desk_requests{0};      // desk requests handled (applied or rejected)
  std::atomic<uint64_t> desk_held{0};          // feed events held back: the desk holds their market
  std::atomic<uint64_t> desk_expiries{0};      // overrides released because they expired
  std::atomic<uint64_t> desk_forbidden{0};     // desk requests refused by the desk rights
  std::atomic<uint64_t> desk_replayed{0};      // answered from the journal's request table
  std::atomic<uint64_t> desk_held_markets{0};  // markets the desk holds now (a gauge)
  std::atomic<uint64_t> evictions{0};          // finished markets evicted (MarketEviction frames)
  std::atomic<uint64_t> live_markets{0};       // markets in the live state (a gauge)
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

  // Turns on desk overrides: `overrides` holds the desk's markets (feed events for them are held
  // back, with or without a desk service); `acks` receives the outcome of every desk request
  // (DeskService::acks(); null: no desk service); `rights` (null: all allowed) are checked before
  // a request is applied; `board` (may be null) is kept up to date with the held overrides. All
  // must outlive the agent. Call before do_work(), then restore_desk().
  void set_desk(DeskOverrides* overrides, DeskAckQueue* acks, const DeskRights* rights = nullptr,
                DeskHeldBoard* board = nullptr);

  // Rebuilds the held overrides from the journal (the Sequencer's DeskLedger): at start-up and
  // when this node becomes primary. An override whose journaled expiry has passed expires at the
  // next do_work(); expiries convert from wall to monotonic time at `clocks`. Returns how many
  // markets are held.
  size_t restore_desk(const Clocks& clocks);

  const SequencerCounters& counters() const { return counters_; }

 private:
  std::expected<uint64_t, feeds::RejectReason> sequence_one(const feeds::Event& event,
                                                            const Clocks& clocks,
                                                            const FrameDeskMark* mark = nullptr);
  void sequence_feed(const feeds::Event& event, const Clocks& clocks);
  void sequence_desk(const feeds::Event& event, const Clocks& clocks);
  void suspend_event(const feeds::Event& event, const FrameDeskMark& mark, DeskAck& ack,
                     const Clocks& clocks);
  void post_held();
  void expire_overrides(const Clocks& clocks);
  void evict_finished(const Clocks& clocks);
  // Tells the selector which markets left the state (Sequencer::take_evicted()).
  void forget_evicted();
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
  std::vector<uint64_t> due_;  // evict_finished()'s markets, reused
  uint64_t last_tick_ns_ = 0;  // monotonic
  LogLimiter notice_log_{100'000'000};
  BatchWriter batch_;
  BatchWriter heartbeat_batch_{4096};
  uint64_t last_publish_ns_ = 0;  // monotonic
  SequencerCounters counters_;
  LogLimiter reject_log_;
  DeskOverrides* overrides_ = nullptr;
  DeskAckQueue* acks_ = nullptr;
  const DeskRights* rights_ = nullptr;
  DeskHeldBoard* board_ = nullptr;
  uint64_t board_version_ = UINT64_MAX;    // the ledger version the board shows
  std::vector<DeskAck> pending_acks_;      // acks of the batch being built
  std::vector<feeds::Event> desk_events_;  // scratch: events of a release or expiry
};

}  // namespace oddsbus::engine
