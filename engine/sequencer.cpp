#include "engine/sequencer.h"

#include <algorithm>
#include <cassert>

#include "engine/frame_market.h"

namespace oddsbus::engine {

using feeds::EventType;
using feeds::RejectReason;

Sequencer::Sequencer(const SequencerConfig& config)
    : config_(config),
      last_seq_(config.last_seq),
      history_{config.epoch, config.epoch_start, 0, 0} {}

void Sequencer::begin_batch(BatchWriter& batch) const {
  batch.begin(config_.channel, last_seq_ + 1);
}

FrameHeader Sequencer::next_header(uint64_t now_ns, uint64_t source_ns, uint64_t market) const {
  FrameHeader h;
  h.seq = last_seq_ + 1;
  h.epoch = config_.epoch;
  h.channel = config_.channel;
  h.publisher = config_.node;
  h.sequenced_ns = now_ns;
  h.source_ns = source_ns;
  const MarketRecord* record = state_.find(market);
  h.market_seq = (record != nullptr ? record->market_seq : 0) + 1;
  return h;
}

void Sequencer::commit_frame(std::span<const uint8_t> frame, BatchWriter& batch) {
  assert(batch.first_seq() + batch.count() == last_seq_ + 1 && "batch not begun at next seq");
  batch.add(frame);
  ++last_seq_;
  apply(*fb::GetFrame(frame.data()));
}

void Sequencer::apply(const fb::Frame& frame) {
  const uint64_t market = market_of(frame).value_or(0);
  const MarketRecord* before = market != 0 ? state_.find(market) : nullptr;
  const bool was_finished = before != nullptr && finished(before->status);
  desk_.apply(frame, state_);  // before the state moves on: a take remembers the market as it was
  state_.apply(frame);
  if (market != 0) finished_.note(market, was_finished, state_);
  if (frame.payload_type() == fb::Payload::MarketEviction) {
    if (evicted_.size() < kMaxEvictedHeld) evicted_.push_back(market);
    // A secondary applies its primary's evictions but never takes its own queue's entries: keep
    // the queue within twice the markets held (a rebuild costs one pass over them, after at
    // least as many evictions).
    if (finished_.size() > 2 * state_.markets().size() + 1024) finished_.rebuild(state_);
  }
}

void Sequencer::take_evicted(std::vector<uint64_t>& out) {
  out.insert(out.end(), evicted_.begin(), evicted_.end());
  evicted_.clear();
}

size_t Sequencer::due_evictions(uint64_t now_ns, uint64_t evict_after_ns, size_t max,
                                std::vector<uint64_t>& due) {
  return finished_.take_due(state_, now_ns, evict_after_ns, max, due);
}

std::optional<uint64_t> Sequencer::evict(uint64_t market, uint64_t now_ns, BatchWriter& batch) {
  const MarketRecord* record = state_.find(market);
  if (record == nullptr || !finished(record->status)) return std::nullopt;
  commit_frame(builder_.market_eviction(next_header(now_ns, 0, market), market), batch);
  return last_seq_;
}

std::expected<uint64_t, RejectReason> Sequencer::sequence(const feeds::Event& event,
                                                          uint64_t now_ns, BatchWriter& batch,
                                                          const FrameDeskMark* desk) {
  if (event.type == EventType::kHeartbeat || event.type == EventType::kSourceStatus) return 0;
  const MarketRecord* market = state_.find(event.market);
  FrameHeader header = next_header(now_ns, event.source_ns, event.market);
  header.desk = desk;
  switch (event.type) {
    case EventType::kMarket:
      commit_frame(builder_.market_definition(header, event.market, event.event, event.name,
                                              event.status, event.selections),
                   batch);
      break;
    case EventType::kPrice: {
      if (market == nullptr) return std::unexpected(RejectReason::kUnknownMarket);
      if (market->status == fb::MarketStatus::Settled) {
        return std::unexpected(RejectReason::kMarketSettled);
      }
      if (market->find_selection(event.selection) == nullptr) {
        return std::unexpected(RejectReason::kUnknownSelection);
      }
      const std::string& source = event.source.empty() ? event.provider : event.source;
      commit_frame(builder_.price(header, event.market, event.selection, event.odds,
                                  event.odds_text, source),
                   batch);
      break;
    }
    case EventType::kStatus:
      if (market == nullptr) return std::unexpected(RejectReason::kUnknownMarket);
      commit_frame(builder_.status(header, event.market, event.status, event.reason), batch);
      break;
    case EventType::kSettle:
      if (market == nullptr) return std::unexpected(RejectReason::kUnknownMarket);
      for (const uint64_t winner : event.winners) {
        if (market->find_selection(winner) == nullptr) {
          return std::unexpected(RejectReason::kUnknownSelection);
        }
      }
      for (const SettlementFactor& factor : event.factors) {
        if (market->find_selection(factor.selection) == nullptr) {
          return std::unexpected(RejectReason::kUnknownSelection);
        }
      }
      commit_frame(
          builder_.settlement(header, event.market, event.winners, event.factors, event.voided),
          batch);
      break;
    case EventType::kSettlementRollback:
      if (market == nullptr) return std::unexpected(RejectReason::kUnknownMarket);
      commit_frame(builder_.settlement_rollback(header, event.market), batch);
      break;
    case EventType::kHeartbeat:
    case EventType::kSourceStatus:
      break;
  }
  return last_seq_;
}

std::expected<uint64_t, RejectReason> Sequencer::suspend_event(uint64_t event,
                                                               fb::StatusReason reason,
                                                               uint64_t now_ns, BatchWriter& batch,
                                                               const FrameDeskMark* desk) {
  const bool known = std::ranges::any_of(
      state_.markets(), [&](const auto& entry) { return entry.second.event == event; });
  if (!known) return std::unexpected(RejectReason::kUnknownMarket);
  FrameHeader header = next_header(now_ns, 0, 0);
  header.market_seq = 0;  // it touches several markets: each counts it in its own market_seq
  header.desk = desk;
  commit_frame(builder_.event_suspension(header, event, reason), batch);
  return last_seq_;
}

void Sequencer::heartbeat(uint64_t now_ns, BatchWriter& batch, bool relayed, uint64_t stated_seq) {
  const uint64_t seq = std::min(stated_seq, last_seq_);
  FrameHeader h;
  h.seq = seq;
  h.epoch = config_.epoch;
  h.channel = config_.channel;
  h.publisher = config_.node;
  h.sequenced_ns = now_ns;
  batch.begin(config_.channel, seq, kBatchHeartbeat);
  batch.add(builder_.heartbeat(h, config_.epoch_start, relayed));
}

uint64_t Sequencer::change_epoch(uint32_t epoch, uint64_t now_ns, BatchWriter& batch) {
  assert(epoch > config_.epoch);
  const HistoryEpoch continued = history_;
  config_.epoch = epoch;
  config_.epoch_start = last_seq_ + 1;
  FrameHeader h = next_header(now_ns, 0, 0);
  h.market_seq = 0;
  commit_frame(builder_.epoch_change(h, continued.epoch, continued.start), batch);
  history_ = {epoch, config_.epoch_start, continued.epoch, continued.start};
  return last_seq_;
}

void Sequencer::restore_snapshot(MarketState state, uint64_t epoch_start, DeskLedger desk) {
  desk_ = std::move(desk);
  assert(last_seq_ == 0);
  last_seq_ = state.seq();
  config_.epoch = std::max(config_.epoch, state.epoch());
  config_.epoch_start = epoch_start;
  history_ = {state.epoch(), epoch_start, 0, 0};
  state_ = std::move(state);
  finished_.rebuild(state_);
}

void Sequencer::note_epoch_change(const fb::Frame& frame) {
  const fb::EpochChange* change = frame.payload_as_EpochChange();
  if (change == nullptr || frame.seq() != history_.start || frame.epoch() != history_.epoch) return;
  history_.previous_epoch = change->previous_epoch();
  history_.previous_start = change->previous_start();
}

void Sequencer::restore(const fb::Frame& frame) {
  assert(frame.seq() == last_seq_ + 1);
  apply(frame);
  last_seq_ = frame.seq();
  config_.epoch = std::max(config_.epoch, frame.epoch());
  if (const fb::EpochChange* change = frame.payload_as_EpochChange()) {
    config_.epoch_start = frame.seq();
    history_ = {frame.epoch(), frame.seq(), change->previous_epoch(), change->previous_start()};
  } else if (frame.epoch() != history_.epoch) {
    history_ = {frame.epoch(), frame.seq(), 0, 0};  // a history without its EpochChange
  }
}

}  // namespace oddsbus::engine
