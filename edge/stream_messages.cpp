#include "edge/stream_messages.h"

#include <cinttypes>
#include <cstdio>

#include "edge/client_tokens.h"
#include "edge/utf8_text.h"
#include "schemas/append_printf.h"
#include "schemas/state_digest.h"
#include "schemas/state_json.h"

namespace oddsbus::edge {

namespace {

const char* bool_text(bool b) { return b ? "true" : "false"; }

void append_market_list(std::string& out, const MarketState& state, const Freshness& fresh,
                        const uint64_t* only, const MarketRights* rights) {
  out += "\"markets\": [";
  bool first = true;
  for (const auto& [id, market] : state.markets()) {
    if (only != nullptr && *only != id) continue;
    if (rights != nullptr && !rights->allows(id)) continue;
    if (!first) out += ", ";
    first = false;
    append_served_market(out, market, fresh);
  }
  out += "]}";
}

}  // namespace

void append_served_market(std::string& out, const MarketRecord& market, const Freshness& fresh) {
  const uint64_t age_ms =
      fresh.now_ns > market.updated_ns ? (fresh.now_ns - market.updated_ns) / 1'000'000 : 0;
  char extra[64];
  std::snprintf(extra, sizeof extra, "\"age_ms\": %" PRIu64 ", \"stale\": %s", age_ms,
                bool_text(fresh.stale));
  const size_t start = out.size();
  append_market_json(out, market, extra);
  repair_utf8(out, start);  // names from feeds: never an invalid text frame to a browser
}

void append_markets_document(std::string& out, const MarketState& state, uint32_t epoch,
                             const Freshness& fresh, const uint64_t* only,
                             const MarketRights* rights) {
  append_printf(out, "{\"seq\": %" PRIu64 ", \"epoch\": %u, \"stale\": %s, ", state.seq(), epoch,
                bool_text(fresh.stale));
  append_market_list(out, state, fresh, only, rights);
}

void append_snapshot_document(std::string& out, const MarketState& state, uint32_t channel,
                              uint32_t epoch, const Freshness& fresh, const MarketRights* rights) {
  const bool limited = rights != nullptr && !rights->all;
  const uint64_t digest = limited ? state_digest(state, rights->markets) : state_digest(state);
  append_printf(out,
                "{\"channel\": %u, \"epoch\": %u, \"seq\": %" PRIu64
                ", \"digest\": \"%s\", \"stale\": %s, ",
                channel, epoch, state.seq(), digest_hex(digest).c_str(), bool_text(fresh.stale));
  append_market_list(out, state, fresh, nullptr, limited ? rights : nullptr);
}

void append_image_message(std::string& out, uint64_t seq, uint32_t epoch, std::string_view reason,
                          const std::vector<const MarketRecord*>& markets, const Freshness& fresh) {
  append_printf(
      out,
      "{\"type\": \"image\", \"seq\": %" PRIu64 ", \"epoch\": %u, \"stale\": %s, \"reason\": ", seq,
      epoch, bool_text(fresh.stale));
  append_json_string(out, reason);
  out += ", \"markets\": [";
  for (size_t i = 0; i < markets.size(); ++i) {
    if (i != 0) out += ", ";
    append_served_market(out, *markets[i], fresh);
  }
  out += "]}";
}

std::vector<std::string> image_messages(uint64_t seq, uint32_t epoch, std::string_view reason,
                                        const std::vector<const MarketRecord*>& markets,
                                        const Freshness& fresh, size_t max_part_bytes) {
  std::vector<std::string> out(1);
  append_image_message(out[0], seq, epoch, reason, markets, fresh);
  if (max_part_bytes == 0 || out[0].size() <= max_part_bytes) return out;
  // Markets grouped in order; each group's markets take at most max_part_bytes less a header's
  // room (at least one market per group).
  constexpr size_t kHeaderRoom = 192;
  const size_t budget =
      max_part_bytes > 2 * kHeaderRoom ? max_part_bytes - kHeaderRoom : max_part_bytes / 2;
  std::vector<std::string> groups(1);
  for (const MarketRecord* market : markets) {
    std::string one;
    append_served_market(one, *market, fresh);
    if (!groups.back().empty() && groups.back().size() + 2 + one.size() > budget) {
      groups.emplace_back();
    }
    if (!groups.back().empty()) groups.back() += ", ";
    groups.back() += one;
  }
  out.clear();
  out.reserve(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    std::string& part = out.emplace_back();
    append_printf(part,
                  "{\"type\": \"image\", \"seq\": %" PRIu64
                  ", \"epoch\": %u, \"stale\": %s, \"reason\": ",
                  seq, epoch, bool_text(fresh.stale));
    append_json_string(part, reason);
    append_printf(part, ", \"part\": %zu, \"parts\": %zu, \"markets\": [", i + 1, groups.size());
    part += groups[i];
    part += "]}";
  }
  return out;
}

void append_heartbeat_message(std::string& out, uint64_t seq, uint32_t epoch) {
  append_printf(out, "{\"type\": \"heartbeat\", \"seq\": %" PRIu64 ", \"epoch\": %u}", seq, epoch);
}

void append_resumed_message(std::string& out, uint64_t seq, uint32_t epoch, bool stale) {
  append_printf(out, "{\"type\": \"resumed\", \"seq\": %" PRIu64 ", \"epoch\": %u, \"stale\": %s}",
                seq, epoch, bool_text(stale));
}

void append_pong_message(std::string& out, uint64_t seq) {
  append_printf(out, "{\"type\": \"pong\", \"seq\": %" PRIu64 "}", seq);
}

void append_stale_message(std::string& out, bool stale) {
  append_printf(out, "{\"type\": \"stale\", \"stale\": %s}", bool_text(stale));
}

void append_error_message(std::string& out, std::string_view error) {
  out += "{\"type\": \"error\", \"error\": ";
  append_json_string(out, error);
  out += "}";
}

}  // namespace oddsbus::edge
