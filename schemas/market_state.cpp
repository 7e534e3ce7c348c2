#include "schemas/market_state.h"

#include <algorithm>
#include <utility>

namespace oddsbus {

SelectionState* MarketRecord::find_selection(uint64_t selection) {
  auto it = std::lower_bound(selections.begin(), selections.end(), selection,
                             [](const SelectionState& s, uint64_t id) { return s.id < id; });
  return it != selections.end() && it->id == selection ? &*it : nullptr;
}

const SelectionState* MarketRecord::find_selection(uint64_t selection) const {
  return const_cast<MarketRecord*>(this)->find_selection(selection);
}

const MarketRecord* MarketState::find(uint64_t market) const {
  auto it = markets_.find(market);
  return it == markets_.end() ? nullptr : &it->second;
}

void MarketState::clear() {
  markets_.clear();
  seq_ = 0;
  epoch_ = 0;
}

void MarketState::load(uint64_t seq, uint32_t epoch, std::map<uint64_t, MarketRecord> markets) {
  markets_ = std::move(markets);
  seq_ = seq;
  epoch_ = epoch;
}

MarketRecord* MarketState::touch(uint64_t market, const fb::Frame& frame) {
  auto it = markets_.find(market);
  if (it == markets_.end()) return nullptr;
  MarketRecord& record = it->second;
  if (frame.seq() > record.last_seq) ++record.market_seq;  // a frame applied again counts once
  record.last_seq = frame.seq();
  record.updated_ns = frame.sequenced_ns();
  return &record;
}

void MarketState::apply(const fb::Frame& frame) {
  const fb::Payload type = frame.payload_type();
  if (type == fb::Payload::Heartbeat) return;
  seq_ = frame.seq();
  epoch_ = frame.epoch();
  switch (type) {
    case fb::Payload::MarketDefinition: {
      const auto* def = frame.payload_as_MarketDefinition();
      MarketRecord& record = markets_[def->market()];
      record.id = def->market();
      record.event = def->event();
      record.name = def->name() ? def->name()->str() : std::string();
      record.status = def->status();
      record.reason = fb::StatusReason::None;
      std::vector<SelectionState> selections;
      if (def->selections()) {
        selections.reserve(def->selections()->size());
        for (const auto* s : *def->selections()) {
          SelectionState next{s->selection(), s->name() ? s->name()->str() : std::string(), 0, {}};
          if (const SelectionState* kept = record.find_selection(s->selection())) {
            next.price_e4 = kept->price_e4;
            next.odds = kept->odds;
          }
          selections.push_back(std::move(next));
        }
      }
      std::sort(selections.begin(), selections.end(),
                [](const SelectionState& a, const SelectionState& b) { return a.id < b.id; });
      record.selections = std::move(selections);
      touch(def->market(), frame);
      break;
    }
    case fb::Payload::PriceUpdate: {
      const auto* update = frame.payload_as_PriceUpdate();
      MarketRecord* record = touch(update->market(), frame);
      if (record == nullptr || update->prices() == nullptr) break;
      for (const auto* price : *update->prices()) {
        if (SelectionState* s = record->find_selection(price->selection())) {
          s->price_e4 = price->price_e4();
          if (price->original()) {
            s->odds.assign(price->original()->c_str(), price->original()->size());
          } else {
            s->odds.clear();
          }
        }
      }
      break;
    }
    case fb::Payload::MarketStatusUpdate: {
      const auto* update = frame.payload_as_MarketStatusUpdate();
      if (MarketRecord* record = touch(update->market(), frame)) {
        record->status = update->status();
        record->reason = update->reason();
      }
      break;
    }
    case fb::Payload::EventSuspension: {
      const auto* suspension = frame.payload_as_EventSuspension();
      for (auto& [id, record] : markets_) {
        if (record.event != suspension->event() || record.status != fb::MarketStatus::Open)
          continue;
        record.status = fb::MarketStatus::Suspended;
        record.reason = suspension->reason();
        touch(id, frame);
      }
      break;
    }
    case fb::Payload::Settlement: {
      const auto* settlement = frame.payload_as_Settlement();
      if (MarketRecord* record = touch(settlement->market(), frame)) {
        record->status = fb::MarketStatus::Settled;
        record->reason = fb::StatusReason::Settlement;
        record->winners.clear();
        if (settlement->winners()) {
          record->winners.assign(settlement->winners()->begin(), settlement->winners()->end());
        }
        record->voided = settlement->voided();
        for (SelectionState& s : record->selections) s.void_factor_e4 = s.dead_heat_factor_e4 = 0;
        if (settlement->factors()) {
          for (const auto* f : *settlement->factors()) {
            if (SelectionState* s = record->find_selection(f->selection())) {
              s->void_factor_e4 = f->void_factor_e4();
              s->dead_heat_factor_e4 = f->dead_heat_factor_e4();
            }
          }
        }
      }
      break;
    }
    case fb::Payload::SettlementRollback: {
      const auto* rollback = frame.payload_as_SettlementRollback();
      if (MarketRecord* record = touch(rollback->market(), frame)) {
        record->status = fb::MarketStatus::Suspended;
        record->reason = fb::StatusReason::Settlement;
        record->winners.clear();
        record->voided = false;
        for (SelectionState& s : record->selections) s.void_factor_e4 = s.dead_heat_factor_e4 = 0;
      }
      break;
    }
    case fb::Payload::MarketEviction:
      markets_.erase(frame.payload_as_MarketEviction()->market());
      break;
    case fb::Payload::EpochChange:
    case fb::Payload::Heartbeat:
    case fb::Payload::NONE:
      break;
  }
}

std::string_view to_string(fb::MarketStatus status) {
  switch (status) {
    case fb::MarketStatus::Open:
      return "open";
    case fb::MarketStatus::Suspended:
      return "suspended";
    case fb::MarketStatus::Closed:
      return "closed";
    case fb::MarketStatus::Settled:
      return "settled";
  }
  return "unknown";
}

std::string_view to_string(fb::StatusReason reason) {
  switch (reason) {
    case fb::StatusReason::None:
      return "";
    case fb::StatusReason::Provider:
      return "provider";
    case fb::StatusReason::Trader:
      return "trader";
    case fb::StatusReason::FeedStale:
      return "feed-stale";
    case fb::StatusReason::Settlement:
      return "settlement";
    case fb::StatusReason::Reconcile:
      return "reconcile";
  }
  return "unknown";
}

}  // namespace oddsbus
