#include "schemas/state_json.h"

#include <cinttypes>
#include <cstdio>

#include "schemas/append_printf.h"

namespace oddsbus {

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escape[8];
          std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
          out += escape;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void append_market_json(std::string& out, const MarketRecord& market,
                        std::string_view extra_fields) {
  append_printf(out, "{\"market\": %" PRIu64 ", \"event\": %" PRIu64 ", \"name\": ", market.id,
                market.event);
  append_json_string(out, market.name);
  append_printf(out, ", \"status\": \"%s\", \"market_seq\": %" PRIu64 ", \"selections\": [",
                to_string(market.status).data(), market.market_seq);
  bool first = true;
  for (const SelectionState& s : market.selections) {
    if (!first) out += ", ";
    first = false;
    append_printf(out, "{\"selection\": %" PRIu64 ", \"name\": ", s.id);
    append_json_string(out, s.name);
    append_printf(out, ", \"price_e4\": %u, \"odds\": ", s.price_e4);
    append_json_string(out, s.odds);
    // Settlement factors (DESIGN section 10 extended): present only when a settlement set them.
    if (s.void_factor_e4 != 0) append_printf(out, ", \"void_factor_e4\": %u", s.void_factor_e4);
    if (s.dead_heat_factor_e4 != 0) {
      append_printf(out, ", \"dead_heat_factor_e4\": %u", s.dead_heat_factor_e4);
    }
    out += "}";
  }
  out += "]";
  // A settled market that refunds every stake says so: status stays "settled" (the digest's
  // status), and "voided": true tells it from a market settled with no winner.
  if (market.voided) out += ", \"voided\": true";
  if (!extra_fields.empty()) {
    out += ", ";
    out += extra_fields;
  }
  out += "}";
}

void append_state_json(std::string& out, const MarketState& state,
                       std::optional<uint64_t> only_market) {
  append_printf(out, "{\"seq\": %" PRIu64 ", \"markets\": [", state.seq());
  bool first = true;
  for (const auto& [id, market] : state.markets()) {
    if (only_market && *only_market != id) continue;
    if (!first) out += ", ";
    first = false;
    append_market_json(out, market);
  }
  out += "]}";
}

void append_state_table(std::string& out, const MarketState& state,
                        std::optional<uint64_t> only_market) {
  append_printf(out, "state at seq %" PRIu64 " (%zu markets)\n", state.seq(),
                state.markets().size());
  append_printf(out, "%10s %8s %-22s %-22s %10s %-16s %10s %-8s\n", "market", "event", "name",
                "status", "selection", "selection name", "price_e4", "odds");
  for (const auto& [id, market] : state.markets()) {
    if (only_market && *only_market != id) continue;
    std::string status(to_string(market.status));
    if (market.reason != fb::StatusReason::None && market.status != fb::MarketStatus::Open) {
      status += "(" + std::string(to_string(market.reason)) + ")";
    }
    if (market.selections.empty()) {
      append_printf(out, "%10" PRIu64 " %8" PRIu64 " %-22.22s %-22s\n", id, market.event,
                    market.name.c_str(), status.c_str());
    }
    for (const SelectionState& s : market.selections) {
      append_printf(out,
                    "%10" PRIu64 " %8" PRIu64 " %-22.22s %-22s %10" PRIu64 " %-16.16s %10u %-8s\n",
                    id, market.event, market.name.c_str(), status.c_str(), s.id, s.name.c_str(),
                    s.price_e4, s.odds.empty() ? "-" : s.odds.c_str());
    }
  }
}

}  // namespace oddsbus
