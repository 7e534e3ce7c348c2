// Which UOF markets a bet_stop's `groups` stops.
//
// A bet_stop may name market groups ("all", or e.g. "score|regular_play"): only markets in one
// of them stop (docs.sportradar.com/uof/data-and-features/messages/event/bet-stop, attribute
// `groups`). A market's groups are in Sportradar's market descriptions
// (GET /v1/descriptions/{lang}/markets.xml, <market id=".." groups="all|score|regular_play">),
// which this engine does not fetch: the adapter knows the groups of the markets in a small table
// taken from those descriptions (market_groups.cpp), and treats any other market as in every
// group, so a bet_stop never leaves a market it might concern open.
//
// Thread safety: pure functions over constant data.
#pragma once

#include <optional>
#include <string_view>

namespace oddsbus::feeds::uof {

// The '|'-separated groups of UOF market `market_id`, or nothing when the table does not know it.
std::optional<std::string_view> market_groups(std::string_view market_id);

// Whether a bet_stop naming `groups` stops market `market_id`: when `groups` is empty (absent)
// or has "all", when the market's groups are unknown, or when they share a group.
bool in_groups(std::string_view market_id, std::string_view groups);

}  // namespace oddsbus::feeds::uof
