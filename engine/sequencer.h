// The sequencer core: turns normalised events into frames with a gap-free seq (DESIGN sections 2,
// 4).
//
// Sans-I/O: no sockets, files, threads or clock; `now_ns` comes in as an argument. It validates
// each event against the market state it holds, builds the frame into the caller's batch, and
// applies the frame to its state (the same fold replay and edges use), so its state is always the
// state its frames define.
//
// Invariants: seq is gap-free, starting at last_seq + 1 of the journal it continues; every accepted
// event produces exactly one frame; a rejected event changes nothing.
// Thread safety: none; owned by the sequencer thread.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <vector>

#include "engine/desk_ledger.h"
#include "engine/finished_markets.h"
#include "feeds/event.h"
#include "feeds/rejection.h"
#include "schemas/batch.h"
#include "schemas/frame_builder.h"
#include "schemas/market_state.h"

namespace oddsbus::engine {

struct SequencerConfig {
  uint32_t channel = 0;
  uint32_t node = 1;
  uint32_t epoch = 1;
  uint64_t last_seq = 0;     // the journal's last seq; sequencing continues at last_seq + 1
  uint64_t epoch_start = 1;  // seq of the current epoch's first frame (its EpochChange)
};

// The epoch of the history a sequencer holds (the epoch of its frame at last_seq, which may be
// lower than epoch(): a node never reuses an epoch it heard of, but its journal may hold only an
// earlier one), and the history that epoch continued: its EpochChange's previous epoch and where
// that one began. 0 where unknown (epoch 1 has none; a journal written before EpochChange carried
// previous_start). Subscribers compare these links to find where two histories part (issue 12).
struct HistoryEpoch {
  uint32_t epoch = 1;
  uint64_t start = 1;           // seq of the epoch's EpochChange (1 for epoch 1)
  uint32_t previous_epoch = 0;  // the epoch it continued
  uint64_t previous_start = 0;  // where previous_epoch began
};

class Sequencer {
 public:
  explicit Sequencer(const SequencerConfig& config);

  // Begins a batch at the next seq. Call before the first sequence() of each batch.
  void begin_batch(BatchWriter& batch) const;

  // Validates `event`; if accepted, appends its frame to `batch` (begun with begin_batch) and
  // applies it. Returns the frame's seq, 0 for an accepted event that makes no frame (a
  // heartbeat or source status), or the reason the event was rejected. `desk`: the desk marks the
  // frame carries (provenance, override change); null for a feed's event.
  std::expected<uint64_t, feeds::RejectReason> sequence(const feeds::Event& event, uint64_t now_ns,
                                                        BatchWriter& batch,
                                                        const FrameDeskMark* desk = nullptr);

  // Suspends every market of `event` in one EventSuspension frame (markets already settled or
  // closed keep their status). Returns its seq, or kUnknownMarket when no market has that event.
  std::expected<uint64_t, feeds::RejectReason> suspend_event(uint64_t event,
                                                             fb::StatusReason reason,
                                                             uint64_t now_ns, BatchWriter& batch,
                                                             const FrameDeskMark* desk = nullptr);

  // Bounded live state (issue 15): appends to `due` (at most `max`) the markets finished and
  // untouched for `evict_after_ns` at `now_ns` (wall clock, as frames are stamped), oldest first.
  // Nothing changes until evict() is called for them.
  size_t due_evictions(uint64_t now_ns, uint64_t evict_after_ns, size_t max,
                       std::vector<uint64_t>& due);
  // Evicts a settled or closed market: one MarketEviction frame. Returns its seq; nullopt (and
  // no frame) when the market is not held or not finished.
  std::optional<uint64_t> evict(uint64_t market, uint64_t now_ns, BatchWriter& batch);
  // Finished markets waiting for their eviction (a gauge).
  size_t finished_waiting() const { return finished_.size(); }
  // Moves to `out` the markets evicted by the frames applied since the last call (by evict(), or
  // by restore() on a replica), for the source selector to forget them (a warm secondary's
  // selector would otherwise define an evicted market again when it takes over). At most
  // kMaxEvictedHeld are kept between calls; beyond that the newest are not recorded.
  void take_evicted(std::vector<uint64_t>& out);
  static constexpr size_t kMaxEvictedHeld = 65536;

  // Builds an unsequenced heartbeat batch carrying last_seq() and epoch_start(); `relayed` when
  // this node is a secondary republishing its primary's history.
  // `stated_seq` (at most last_seq()) replaces last_seq() as the seq it states.
  void heartbeat(uint64_t now_ns, BatchWriter& batch, bool relayed = false,
                 uint64_t stated_seq = UINT64_MAX);

  // Takeover: raises the epoch to `epoch` (> epoch()) and appends its EpochChange frame, the new
  // epoch's first frame, to `batch` (begun with begin_batch). The frame names the history it
  // continues: history() before the change. Returns its seq.
  uint64_t change_epoch(uint32_t epoch, uint64_t now_ns, BatchWriter& batch);

  // Applies a frame read back from the journal at start-up (seq must be last_seq() + 1).
  void restore(const fb::Frame& frame);

  // Start-up from a journal snapshot (engine/journal_snapshot.h): takes `state`, at state.seq() in
  // epoch state.epoch() begun at `epoch_start`, as if its frames had been restored. Call first.
  // The history's previous epoch is unknown until note_epoch_change() gives it. `desk`: the
  // snapshot's desk ledger.
  void restore_snapshot(MarketState state, uint64_t epoch_start, DeskLedger desk = {});
  // After restore_snapshot(): the EpochChange frame at history().start, read from the journal,
  // names the epoch it continued.
  void note_epoch_change(const fb::Frame& frame);

  uint64_t last_seq() const { return last_seq_; }
  uint32_t epoch() const { return config_.epoch; }
  uint64_t epoch_start() const { return config_.epoch_start; }
  const HistoryEpoch& history() const { return history_; }
  const MarketState& state() const { return state_; }
  // What the journal says about the desks (held overrides, recent requests), folded with state().
  const DeskLedger& desk() const { return desk_; }

 private:
  FrameHeader next_header(uint64_t now_ns, uint64_t source_ns, uint64_t market) const;
  void commit_frame(std::span<const uint8_t> frame, BatchWriter& batch);
  // Applies a frame to the state and the desk ledger, and queues a market it finished.
  void apply(const fb::Frame& frame);

  SequencerConfig config_;
  uint64_t last_seq_;
  HistoryEpoch history_;
  MarketState state_;
  DeskLedger desk_;
  FinishedMarkets finished_;
  std::vector<uint64_t> evicted_;  // since take_evicted()
  FrameBuilder builder_;
};

}  // namespace oddsbus::engine
