#include "engine/market_history.h"

#include <algorithm>

#include <cinttypes>

#include "engine/frame_market.h"
#include "engine/journal_damage.h"
#include "engine/journal_scan.h"
#include "engine/journal_snapshot.h"
#include "engine/price_text.h"
#include "engine/time_text.h"
#include "schemas/append_printf.h"
#include "schemas/frame_json.h"
#include "schemas/state_json.h"

namespace oddsbus::engine {

using oddsbus::to_string;  // MarketStatus and StatusReason, beside ChangeKind

namespace {

ChangeKind kind_of(fb::Payload payload) {
  switch (payload) {
    case fb::Payload::MarketDefinition:
      return ChangeKind::kDefinition;
    case fb::Payload::MarketStatusUpdate:
      return ChangeKind::kStatus;
    case fb::Payload::EventSuspension:
      return ChangeKind::kEventSuspension;
    case fb::Payload::Settlement:
      return ChangeKind::kSettlement;
    case fb::Payload::SettlementRollback:
      return ChangeKind::kSettlementRollback;
    case fb::Payload::EpochChange:
      return ChangeKind::kEpochChange;
    case fb::Payload::MarketEviction:
      return ChangeKind::kEviction;
    default:
      return ChangeKind::kPrice;
  }
}

void append_price_or_null(std::string& out, std::optional<uint32_t> price_e4) {
  if (price_e4) {
    append_printf(out, "%u", *price_e4);
  } else {
    out += "null";
  }
}

void append_string_or_null(std::string& out, const std::string& s) {
  if (s.empty()) {
    out += "null";
  } else {
    append_json_string(out, s);
  }
}

}  // namespace

std::vector<SelectionChange> selection_changes(const MarketRecord* before,
                                               const MarketRecord& after) {
  std::vector<SelectionChange> changes;
  const std::vector<SelectionState> none;
  const auto& old_list = before != nullptr ? before->selections : none;
  size_t i = 0, j = 0;
  while (i < old_list.size() || j < after.selections.size()) {
    if (j == after.selections.size() ||
        (i < old_list.size() && old_list[i].id < after.selections[j].id)) {
      changes.push_back({old_list[i].id, old_list[i].price_e4, std::nullopt});
      ++i;
    } else if (i == old_list.size() || after.selections[j].id < old_list[i].id) {
      changes.push_back({after.selections[j].id, std::nullopt, after.selections[j].price_e4});
      ++j;
    } else {
      if (old_list[i].price_e4 != after.selections[j].price_e4) {
        changes.push_back({old_list[i].id, old_list[i].price_e4, after.selections[j].price_e4});
      }
      ++i;
      ++j;
    }
  }
  return changes;
}

void append_status_pair_json(std::string& out, std::optional<fb::MarketStatus> old_status,
                             fb::MarketStatus new_status) {
  out += "\"status\": [";
  if (old_status) {
    append_printf(out, "\"%s\"", to_string(*old_status).data());
  } else {
    out += "null";
  }
  append_printf(out, ", \"%s\"]", to_string(new_status).data());
}

void append_selection_changes_json(std::string& out, const std::vector<SelectionChange>& changes) {
  out += "\"selections\": [";
  bool first = true;
  for (const SelectionChange& s : changes) {
    append_printf(out, "%s{\"selection\": %" PRIu64 ", \"price_e4\": [", first ? "" : ", ",
                  s.selection);
    append_price_or_null(out, s.old_price_e4);
    out += ", ";
    append_price_or_null(out, s.new_price_e4);
    out += "]}";
    first = false;
  }
  out += "]";
}

std::string price_change_text(std::optional<uint32_t> price_e4, const char* absent) {
  if (!price_e4) return absent;
  return *price_e4 == 0 ? "-" : format_price_e4(*price_e4);
}

std::string_view to_string(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kDefinition:
      return "definition";
    case ChangeKind::kPrice:
      return "price";
    case ChangeKind::kStatus:
      return "status";
    case ChangeKind::kEventSuspension:
      return "event_suspension";
    case ChangeKind::kSettlement:
      return "settlement";
    case ChangeKind::kSettlementRollback:
      return "settlement_rollback";
    case ChangeKind::kEpochChange:
      return "epoch_change";
    case ChangeKind::kEviction:
      return "evicted";
  }
  return "unknown";
}

std::optional<MarketChange> MarketHistory::apply(const fb::Frame& frame) {
  const fb::Payload type = frame.payload_type();
  if (type == fb::Payload::Heartbeat) return std::nullopt;
  const MarketRecord* current = record();
  MarketChange change;
  change.seq = frame.seq();
  change.epoch = frame.epoch();
  change.time_ns = frame.sequenced_ns();
  change.kind = kind_of(type);
  if (type == fb::Payload::EpochChange) {
    state_.apply(frame);
    if (current == nullptr) return std::nullopt;
    change.old_epoch = frame.payload_as_EpochChange()->previous_epoch();
    change.source = price_source_;
    change.new_status = current->status;
    return change;
  }
  const bool touches = market_of(frame) == market_ ||
                       (type == fb::Payload::EventSuspension && current != nullptr &&
                        frame.payload_as_EventSuspension()->event() == current->event);
  if (!touches) return std::nullopt;

  if (type == fb::Payload::MarketEviction) {
    if (current == nullptr) return std::nullopt;
    change.old_status = current->status;
    change.new_status = current->status;  // as it was when it left the live state
    change.reason = current->reason;
    change.source = price_source_;
    state_.apply(frame);
    price_source_.clear();  // a market defined again later starts anew
    return change;
  }
  std::optional<MarketRecord> before;
  if (current != nullptr) before = *current;
  state_.apply(frame);
  const MarketRecord* after = record();
  if (after == nullptr) return std::nullopt;  // a frame for a market not yet defined

  change.new_status = after->status;
  change.reason = after->reason;
  change.old_status = before ? std::optional(before->status) : std::nullopt;
  change.status_changed = !before || before->status != after->status;
  change.selections = selection_changes(before ? &*before : nullptr, *after);
  change.source = price_source_;
  if (type == fb::Payload::PriceUpdate) {
    const auto* update = frame.payload_as_PriceUpdate();
    const std::string source = update->source() ? update->source()->str() : std::string();
    if (!price_source_.empty() && source != price_source_) {
      change.source_switched = true;
      change.old_source = price_source_;
    }
    price_source_ = source;
    change.source = source;
    change.desk = source == "desk";
  } else if (change.reason == fb::StatusReason::Trader && change.status_changed) {
    change.source = "desk";
    change.desk = true;
  }
  if (const fb::DeskOrigin* desk = frame.desk()) {
    change.desk_identity = desk->identity() ? desk->identity()->str() : std::string();
    change.desk_client = desk->client() ? desk->client()->str() : std::string();
    change.desk_request_id = desk->request_id() ? desk->request_id()->str() : std::string();
    change.desk = true;
  }
  if (const fb::DeskOverride* mark = frame.desk_override()) {
    change.override_change = mark->change();
  }
  const bool always = type == fb::Payload::Settlement || type == fb::Payload::SettlementRollback ||
                      change.override_change != fb::OverrideChange::None;
  if (!always && !change.status_changed && change.selections.empty() && !change.source_switched) {
    return std::nullopt;  // restates what the market already showed
  }
  return change;
}

void MarketHistory::start_from(const SnapshotState& snapshot) {
  std::map<uint64_t, MarketRecord> held;
  if (const MarketRecord* record = snapshot.state.find(market_)) held.emplace(market_, *record);
  state_.load(snapshot.state.seq(), snapshot.state.epoch(), std::move(held));
  const auto source = snapshot.price_sources.find(market_);
  price_source_ = source != snapshot.price_sources.end() ? source->second : std::string();
}

std::expected<MarketHistoryResult, std::string> market_history(const Journal& journal,
                                                               uint64_t market, uint64_t from_seq,
                                                               uint64_t to_seq,
                                                               const ReadProgress& progress) {
  MarketHistoryResult result;
  result.market = market;
  result.from_seq = from_seq;
  MarketHistory history(market);
  bool before_taken = false;
  const uint64_t last = journal.last_seq();
  // Start from the nearest snapshot before from_seq: `before` must be the market as it was then.
  const uint64_t start_at = std::min({from_seq > 0 ? from_seq - 1 : 0, to_seq, last});
  auto start = fold_start(journal, start_at);
  if (!start) return std::unexpected(start.error());
  const ScanStart scan_start = start->scan();
  if (start->snapshot) history.start_from(*start->snapshot);
  auto scanned = scan_frames(journal, scan_start, 1, to_seq, [&](const fb::Frame& frame) {
    if (!before_taken && frame.seq() >= from_seq) {
      before_taken = true;
      if (history.record() != nullptr) result.before = *history.record();
      result.source_before = history.price_source();
    }
    auto change = history.apply(frame);
    if (change && frame.seq() >= from_seq) result.changes.push_back(std::move(*change));
    progress.at(frame.seq(), last);
    return true;
  });
  if (!scanned) {
    return std::unexpected(damage_message(journal, scanned.error()));
  }
  if (!before_taken) {
    if (history.record() != nullptr) result.before = *history.record();
    result.source_before = history.price_source();
  }
  result.to_seq = scanned->frames > 0 ? scanned->last_seq : scan_start.after_seq;
  if (history.record() == nullptr) {
    return std::unexpected("market " + std::to_string(market) + " is not in journal " +
                           journal.dir() + " up to seq " + std::to_string(scanned->last_seq) +
                           " (odds-replay state --journal " + journal.dir() +
                           " lists its markets)");
  }
  result.after = *history.record();
  return result;
}

void append_change_json(std::string& out, const MarketChange& change) {
  append_printf(out, "{\"seq\": %" PRIu64 ", \"epoch\": %u, \"ts\": \"", change.seq, change.epoch);
  append_iso8601_ns(out, change.time_ns);
  out += "\", \"source\": ";
  append_string_or_null(out, change.source);
  append_printf(out, ", \"type\": \"%s\"", to_string(change.kind).data());
  if (change.status_changed) {
    out += ", ";
    append_status_pair_json(out, change.old_status, change.new_status);
    const std::string_view reason = to_string(change.reason);
    if (!reason.empty()) append_printf(out, ", \"reason\": \"%s\"", reason.data());
  }
  if (!change.selections.empty()) {
    out += ", ";
    append_selection_changes_json(out, change.selections);
  }
  if (change.source_switched) {
    out += ", \"source_switch\": [";
    append_string_or_null(out, change.old_source);
    out += ", ";
    append_string_or_null(out, change.source);
    out += "]";
  }
  if (change.kind == ChangeKind::kEpochChange) {
    append_printf(out, ", \"epoch_change\": [%u, %u]", change.old_epoch, change.epoch);
  }
  if (change.desk) out += ", \"desk\": true";
  if (!change.desk_identity.empty() || !change.desk_client.empty()) {
    out += ", \"desk_identity\": ";
    append_json_string(out, change.desk_identity);
    out += ", \"desk_client\": ";
    append_json_string(out, change.desk_client);
    out += ", \"request_id\": ";
    append_json_string(out, change.desk_request_id);
  }
  if (change.override_change != fb::OverrideChange::None) {
    append_printf(out, ", \"override\": \"%s\"", to_string(change.override_change).data());
  }
  out += "}";
}

void append_change_text(std::string& out, const MarketChange& change, const MarketRecord* market) {
  append_iso8601_ns(out, change.time_ns);
  append_printf(out, "  seq %-8" PRIu64 " epoch %-3u %-12s", change.seq, change.epoch,
                change.source.empty() ? "-" : change.source.c_str());
  bool first = true;
  auto part = [&]() -> std::string& {
    out += first ? " " : "; ";
    first = false;
    return out;
  };
  if (change.kind == ChangeKind::kEpochChange) {
    append_printf(part(), "EPOCH %u -> %u (takeover)", change.old_epoch, change.epoch);
  }
  if (change.source_switched) {
    append_printf(part(), "SOURCE %s -> %s", change.old_source.c_str(), change.source.c_str());
  }
  if (change.status_changed) {
    append_printf(part(), "status %s -> %s",
                  change.old_status ? to_string(*change.old_status).data() : "(new market)",
                  to_string(change.new_status).data());
    const std::string_view reason = to_string(change.reason);
    if (!reason.empty()) append_printf(out, " (%s)", reason.data());
  }
  for (const SelectionChange& s : change.selections) {
    const SelectionState* selection =
        market != nullptr ? market->find_selection(s.selection) : nullptr;
    std::string& line = part();
    if (selection != nullptr && !selection->name.empty()) {
      append_printf(line, "%s", selection->name.c_str());
    } else {
      append_printf(line, "selection %" PRIu64, s.selection);
    }
    out += " ";
    out +=
        s.old_price_e4 ? (*s.old_price_e4 == 0 ? "-" : format_price_e4(*s.old_price_e4)) : "(new)";
    out += " -> ";
    out += s.new_price_e4 ? (*s.new_price_e4 == 0 ? "-" : format_price_e4(*s.new_price_e4))
                          : "(removed)";
  }
  if (change.kind == ChangeKind::kSettlement && first) part() += "settled";
  if (change.kind == ChangeKind::kSettlementRollback && first) part() += "settlement rolled back";
  if (change.override_change != fb::OverrideChange::None) {
    append_printf(part(), "override %s", to_string(change.override_change).data());
  }
  if (!change.desk_identity.empty() || !change.desk_client.empty()) {
    append_printf(out, " [desk %s, client %s, request %s]", change.desk_identity.c_str(),
                  change.desk_client.c_str(), change.desk_request_id.c_str());
  } else if (change.desk) {
    out += " [desk]";
  }
  out += "\n";
}

}  // namespace oddsbus::engine
