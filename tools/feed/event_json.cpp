#include "tools/feed/event_json.h"

#include <cinttypes>

#include "schemas/append_printf.h"
#include "schemas/market_state.h"
#include "schemas/state_json.h"

namespace oddsbus::feed_tool {

std::string_view to_string(feeds::EventType type) {
  switch (type) {
    case feeds::EventType::kMarket:
      return "market";
    case feeds::EventType::kPrice:
      return "price";
    case feeds::EventType::kStatus:
      return "status";
    case feeds::EventType::kSettle:
      return "settle";
    case feeds::EventType::kHeartbeat:
      return "heartbeat";
    case feeds::EventType::kSettlementRollback:
      return "settlement_rollback";
    case feeds::EventType::kSourceStatus:
      return "source_status";
  }
  return "unknown";
}

void append_event_json(std::string& out, const feeds::Event& event) {
  out += "{\"type\":";
  append_json_string(out, to_string(event.type));
  append_printf(out, ",\"market\":%" PRIu64, event.market);
  switch (event.type) {
    case feeds::EventType::kMarket:
      append_printf(out, ",\"event\":%" PRIu64 ",\"name\":", event.event);
      append_json_string(out, event.name);
      out += ",\"status\":";
      append_json_string(out, oddsbus::to_string(event.status));
      out += ",\"selections\":[";
      for (size_t i = 0; i < event.selections.size(); ++i) {
        append_printf(out, "%s{\"id\":%" PRIu64 ",\"name\":", i == 0 ? "" : ",",
                      event.selections[i].id);
        append_json_string(out, event.selections[i].name);
        out += '}';
      }
      out += ']';
      break;
    case feeds::EventType::kPrice:
      append_printf(out, ",\"selection\":%" PRIu64 ",\"price_e4\":%" PRIu32 ",\"odds\":",
                    event.selection, event.odds.price_e4);
      append_json_string(out, event.odds_text);
      break;
    case feeds::EventType::kStatus:
      out += ",\"status\":";
      append_json_string(out, oddsbus::to_string(event.status));
      if (event.reason != fb::StatusReason::None) {
        out += ",\"reason\":";
        append_json_string(out, oddsbus::to_string(event.reason));
      }
      break;
    case feeds::EventType::kSettle:
      out += ",\"winners\":[";
      for (size_t i = 0; i < event.winners.size(); ++i) {
        append_printf(out, "%s%" PRIu64, i == 0 ? "" : ",", event.winners[i]);
      }
      out += ']';
      // Appended only when present, so output for a plain settlement is unchanged.
      if (!event.factors.empty()) {
        out += ",\"factors\":[";
        for (size_t i = 0; i < event.factors.size(); ++i) {
          const SettlementFactor& f = event.factors[i];
          append_printf(
              out, "%s{\"selection\":%" PRIu64 ",\"void_factor_e4\":%u,\"dead_heat_factor_e4\":%u}",
              i == 0 ? "" : ",", f.selection, f.void_factor_e4, f.dead_heat_factor_e4);
        }
        out += ']';
      }
      if (event.voided) out += ",\"voided\":true";
      break;
    case feeds::EventType::kSourceStatus:
      out += event.source_up ? ",\"up\":true" : ",\"up\":false";
      break;
    case feeds::EventType::kHeartbeat:
    case feeds::EventType::kSettlementRollback:
      break;
  }
  if (!event.provider.empty()) {
    out += ",\"provider\":";
    append_json_string(out, event.provider);
  }
  if (event.has_pseq) append_printf(out, ",\"pseq\":%" PRIu64, event.pseq);
  if (!event.source.empty()) {
    out += ",\"source\":";
    append_json_string(out, event.source);
  }
  if (event.source_ns != 0) append_printf(out, ",\"source_ns\":%" PRIu64, event.source_ns);
  out += '}';
}

}  // namespace oddsbus::feed_tool
