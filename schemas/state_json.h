// Market state as text: the state JSON of DESIGN section 10 (replay `state --json`, the edge's
// /v1/markets and /v1/snapshot) and a human-readable table. Both append to `out`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/market_state.h"

namespace oddsbus {

// Appends `s` as a JSON string literal (quoted, escaped).
void append_json_string(std::string& out, std::string_view s);

// One market as {"market": ID, "event": ID, "name": S, "status": S, "market_seq": N,
// "selections": [...]}, plus "voided": true on a settled market that refunds every stake and
// "void_factor_e4"/"dead_heat_factor_e4" on a selection a settlement gave them, with `extra_fields`
// (e.g. `"stale": true`) appended inside the object.
void append_market_json(std::string& out, const MarketRecord& market,
                        std::string_view extra_fields = {});

// {"seq": N, "markets": [...]} with every market, or only `only_market` when given.
void append_state_json(std::string& out, const MarketState& state,
                       std::optional<uint64_t> only_market = std::nullopt);

// An aligned table: one row per selection, grouped by market, with status, price and odds text.
void append_state_table(std::string& out, const MarketState& state,
                        std::optional<uint64_t> only_market = std::nullopt);

}  // namespace oddsbus
