#include "edge/frame_change.h"

#include <cinttypes>

#include "edge/utf8_text.h"
#include "schemas/append_printf.h"
#include "schemas/state_json.h"

namespace oddsbus::edge {

namespace {

void append_status_entry(std::string& out, const MarketRecord& market) {
  append_printf(out, "{\"market\": %" PRIu64 ", \"market_seq\": %" PRIu64 ", \"status\": \"%s\"",
                market.id, market.market_seq, to_string(market.status).data());
}

void add_status_only(FrameChange& change, const MarketRecord& market) {
  MarketChange& entry = change.markets.emplace_back();
  entry.market = market.id;
  entry.event = market.event;
  append_status_entry(entry.json, market);
  entry.json += ", \"selections\": []}";
}

void add_full(FrameChange& change, const MarketRecord& market, const Freshness& fresh) {
  MarketChange& entry = change.markets.emplace_back();
  entry.market = market.id;
  entry.event = market.event;
  append_served_market(entry.json, market, fresh);
}

void add_prices(FrameChange& change, const MarketRecord& market, const fb::PriceUpdate& update) {
  MarketChange& entry = change.markets.emplace_back();
  entry.market = market.id;
  entry.event = market.event;
  append_status_entry(entry.json, market);
  entry.json += ", \"selections\": [";
  bool first = true;
  if (update.prices() != nullptr) {
    for (const auto* price : *update.prices()) {
      const SelectionState* s = market.find_selection(price->selection());
      if (s == nullptr) continue;
      if (!first) entry.json += ", ";
      first = false;
      append_printf(entry.json, "{\"selection\": %" PRIu64 ", \"price_e4\": %u, \"odds\": ", s->id,
                    s->price_e4);
      append_json_string(entry.json, s->odds);
      entry.json += "}";
    }
  }
  entry.json += "]}";
  repair_utf8(entry.json);  // odds text from feeds
}

}  // namespace

size_t FrameChange::bytes() const {
  size_t total = sizeof(FrameChange) + (all_delta ? all_delta->size() : 0);
  for (const MarketChange& m : markets) total += sizeof(MarketChange) + m.json.size();
  return total;
}

void append_delta_message(std::string& out, uint64_t seq, uint32_t epoch, bool conflated,
                          const std::vector<const std::string*>& entries) {
  append_printf(out, "{\"type\": \"delta\", \"seq\": %" PRIu64 ", \"epoch\": %u, \"markets\": [",
                seq, epoch);
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i != 0) out += ", ";
    out += *entries[i];
  }
  out += conflated ? "], \"conflated\": true}" : "], \"conflated\": false}";
}

void append_removed_entry(std::string& out, uint64_t market) {
  append_printf(out, "{\"market\": %" PRIu64 ", \"removed\": true}", market);
}

std::shared_ptr<const FrameChange> describe_change(const fb::Frame& frame, const MarketState& state,
                                                   std::optional<uint64_t> moved_from,
                                                   const Freshness& fresh) {
  auto change = std::make_shared<FrameChange>();
  change->seq = frame.seq();
  change->epoch = frame.epoch();
  switch (frame.payload_type()) {
    case fb::Payload::MarketDefinition:
      if (const MarketRecord* m = state.find(frame.payload_as_MarketDefinition()->market())) {
        add_full(*change, *m, fresh);
        if (moved_from && *moved_from != m->event) change->markets.back().moved_from = moved_from;
      }
      break;
    case fb::Payload::PriceUpdate: {
      const auto* update = frame.payload_as_PriceUpdate();
      if (const MarketRecord* m = state.find(update->market())) add_prices(*change, *m, *update);
      break;
    }
    case fb::Payload::MarketStatusUpdate:
      if (const MarketRecord* m = state.find(frame.payload_as_MarketStatusUpdate()->market())) {
        add_status_only(*change, *m);
      }
      break;
    case fb::Payload::Settlement:
      if (const MarketRecord* m = state.find(frame.payload_as_Settlement()->market())) {
        add_status_only(*change, *m);
      }
      break;
    case fb::Payload::SettlementRollback:
      if (const MarketRecord* m = state.find(frame.payload_as_SettlementRollback()->market())) {
        add_status_only(*change, *m);
      }
      break;
    case fb::Payload::EventSuspension: {
      // The fold suspends the event's open markets and stamps them with this frame's seq.
      const uint64_t event = frame.payload_as_EventSuspension()->event();
      for (const auto& [id, m] : state.markets()) {
        if (m.event == event && m.last_seq == frame.seq()) add_status_only(*change, m);
      }
      break;
    }
    case fb::Payload::MarketEviction: {
      // Gone from the state: only the caller knew its event (moved_from); without it (a market
      // the state did not hold), no client can have it.
      if (!moved_from) break;
      MarketChange& entry = change->markets.emplace_back();
      entry.market = frame.payload_as_MarketEviction()->market();
      entry.event = *moved_from;
      append_removed_entry(entry.json, entry.market);
      break;
    }
    case fb::Payload::EpochChange:
    case fb::Payload::Heartbeat:
    case fb::Payload::NONE:
      break;
  }
  if (change->markets.empty()) return nullptr;
  std::vector<const std::string*> entries;
  entries.reserve(change->markets.size());
  for (const MarketChange& m : change->markets) entries.push_back(&m.json);
  auto message = std::make_shared<std::string>();
  append_delta_message(*message, change->seq, change->epoch, false, entries);
  change->all_delta = std::move(message);
  return change;
}

}  // namespace oddsbus::edge
