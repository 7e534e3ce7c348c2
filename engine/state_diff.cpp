#include "engine/state_diff.h"

#include <cinttypes>

#include "engine/journal_damage.h"
#include "engine/journal_scan.h"
#include "schemas/append_printf.h"

namespace oddsbus::engine {

using oddsbus::to_string;  // MarketStatus and StatusReason, beside ChangeKind

std::vector<MarketDiff> diff_states(const MarketState& from, const MarketState& to) {
  std::vector<MarketDiff> diffs;
  for (const auto& [id, after] : to.markets()) {
    const MarketRecord* before = from.find(id);
    MarketDiff diff;
    diff.market = id;
    diff.new_status = after.status;
    diff.old_status = before != nullptr ? std::optional(before->status) : std::nullopt;
    diff.status_changed = before == nullptr || before->status != after.status;
    diff.selections = selection_changes(before, after);
    if (diff.status_changed || !diff.selections.empty()) diffs.push_back(std::move(diff));
  }
  return diffs;
}

std::expected<StateDiff, std::string> diff_journal(const Journal& journal, uint64_t from_seq,
                                                   uint64_t to_seq, const ReadProgress& progress) {
  if (from_seq > to_seq) {
    return std::unexpected("the first point (seq " + std::to_string(from_seq) +
                           ") is after the second (seq " + std::to_string(to_seq) +
                           "); give them oldest first");
  }
  if (to_seq > journal.last_seq()) {
    return std::unexpected("journal " + journal.dir() + " ends at seq " +
                           std::to_string(journal.last_seq()) + "; there is no seq " +
                           std::to_string(to_seq));
  }
  StateDiff diff;
  diff.from_seq = from_seq;
  diff.to_seq = to_seq;
  MarketState state;
  MarketState at_from;
  const uint64_t last = journal.last_seq();
  auto scanned = scan_frames(journal, 1, to_seq, [&](const fb::Frame& frame) {
    state.apply(frame);
    if (frame.seq() == from_seq) at_from = state;
    progress.at(frame.seq(), last);
    return true;
  });
  if (!scanned) {
    return std::unexpected(damage_message(journal, scanned.error()));
  }
  diff.markets = diff_states(at_from, state);
  diff.to_state = std::move(state);
  return diff;
}

void append_diff_json(std::string& out, const StateDiff& diff) {
  append_printf(out, "{\"from\": %" PRIu64 ", \"to\": %" PRIu64 ", \"markets\": [", diff.from_seq,
                diff.to_seq);
  bool first_market = true;
  for (const MarketDiff& market : diff.markets) {
    append_printf(out, "%s{\"market\": %" PRIu64, first_market ? "" : ", ", market.market);
    first_market = false;
    if (market.status_changed) {
      out += ", ";
      append_status_pair_json(out, market.old_status, market.new_status);
    }
    out += ", ";
    append_selection_changes_json(out, market.selections);
    out += "}";
  }
  out += "]}";
}

void append_diff_text(std::string& out, const StateDiff& diff) {
  append_printf(out, "changes from seq %" PRIu64 " to seq %" PRIu64 ": %zu market(s)\n",
                diff.from_seq, diff.to_seq, diff.markets.size());
  for (const MarketDiff& market : diff.markets) {
    const MarketRecord* record = diff.to_state.find(market.market);
    append_printf(out, "market %" PRIu64 " %s", market.market,
                  record != nullptr ? record->name.c_str() : "");
    if (market.status_changed) {
      append_printf(out, "  status %s -> %s",
                    market.old_status ? to_string(*market.old_status).data() : "(new market)",
                    to_string(market.new_status).data());
    }
    out += "\n";
    for (const SelectionChange& s : market.selections) {
      const SelectionState* selection =
          record != nullptr ? record->find_selection(s.selection) : nullptr;
      append_printf(out, "  %-24s %8s -> %s\n",
                    selection != nullptr && !selection->name.empty()
                        ? selection->name.c_str()
                        : ("selection " + std::to_string(s.selection)).c_str(),
                    price_change_text(s.old_price_e4, "(new)").c_str(),
                    price_change_text(s.new_price_e4, "(removed)").c_str());
    }
  }
}

}  // namespace oddsbus::engine
