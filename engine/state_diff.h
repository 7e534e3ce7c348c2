// What changed between two points of a journal (odds-replay diff, DESIGN section 10): the markets
// and selections whose status or price differs between the state at seq A and the state at seq B,
// with old and new values. Only differences are listed; a market that did not exist at A has no
// old status, a selection that did not exist has no old price (and one removed, no new price).
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "engine/journal.h"
#include "engine/market_history.h"
#include "engine/read_progress.h"
#include "schemas/market_state.h"

namespace oddsbus::engine {

struct MarketDiff {
  uint64_t market = 0;
  bool status_changed = false;
  std::optional<fb::MarketStatus> old_status;  // nullopt: the market did not exist at A
  fb::MarketStatus new_status = fb::MarketStatus::Open;
  std::vector<SelectionChange> selections;  // ascending by selection
};

struct StateDiff {
  uint64_t from_seq = 0;
  uint64_t to_seq = 0;
  std::vector<MarketDiff> markets;  // ascending by market
  MarketState to_state;             // the state at to_seq (names for the text form)
};

// Pure: the differences from `from` to `to` (markets are never removed from a state).
std::vector<MarketDiff> diff_states(const MarketState& from, const MarketState& to);

// Folds the journal once, to from_seq then on to to_seq (from_seq <= to_seq <= last seq; either
// may be 0, the empty state), and returns the differences. Errors name a damaged seq, or a seq
// past the end of the journal.
std::expected<StateDiff, std::string> diff_journal(const Journal& journal, uint64_t from_seq,
                                                   uint64_t to_seq,
                                                   const ReadProgress& progress = {});

// {"from": A, "to": B, "markets": [{"market": ID, "status": [OLD, NEW]?, "selections":
// [{"selection": ID, "price_e4": [OLD, NEW]}]}]} (DESIGN section 10), without a newline.
void append_diff_json(std::string& out, const StateDiff& diff);

// For people: one line per market and selection that changed, with names from the state at B.
void append_diff_text(std::string& out, const StateDiff& diff);

}  // namespace oddsbus::engine
