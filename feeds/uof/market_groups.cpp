#include "feeds/uof/market_groups.h"

#include <utility>

namespace oddsbus::feeds::uof {
namespace {

// From Sportradar's market descriptions (markets.xml, "groups" attribute). Extend from the same
// source; a market left out is stopped by every bet_stop, which is safe.
constexpr std::pair<std::string_view, std::string_view> kGroups[] = {
    {"1", "all|score|regular_play"},   // 1x2
    {"18", "all|score|regular_play"},  // total
};

// Calls `each` with every '|'-separated name of `list` until it returns true.
template <typename Each>
bool any_of_names(std::string_view list, Each each) {
  while (true) {
    const size_t bar = list.find('|');
    if (each(list.substr(0, bar))) return true;
    if (bar == std::string_view::npos) return false;
    list.remove_prefix(bar + 1);
  }
}

}  // namespace

std::optional<std::string_view> market_groups(std::string_view market_id) {
  for (const auto& [id, groups] : kGroups) {
    if (id == market_id) return groups;
  }
  return std::nullopt;
}

bool in_groups(std::string_view market_id, std::string_view groups) {
  if (groups.empty() || any_of_names(groups, [](std::string_view g) { return g == "all"; })) {
    return true;
  }
  const auto known = market_groups(market_id);
  if (!known) return true;
  return any_of_names(groups, [&](std::string_view wanted) {
    return any_of_names(*known, [&](std::string_view have) { return have == wanted; });
  });
}

}  // namespace oddsbus::feeds::uof
