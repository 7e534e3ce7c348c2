#include "feeds/oddsjson/parser.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <simdjson.h>
#include "feeds/json_line.h"

namespace oddsbus::feeds::oddsjson {

namespace ondemand = simdjson::ondemand;

struct Parser::State {
  json::JsonLine line;
};

namespace {

// The fields the format defines. Each is read at most once, in whatever order the line has them.
enum Field : uint8_t {
  kType,
  kMarket,
  kEvent,
  kSelection,
  kOdds,
  kStatus,
  kReason,
  kName,
  kSelections,
  kWinners,
  kProvider,
  kPseq,
  kTs,
  kFieldCount
};

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "type", "market",     "event",   "selection", "odds", "status", "reason",
    "name", "selections", "winners", "provider",  "pseq", "ts"};

using json::bad_value;
using json::is_type_error;
using json::malformed;
using json::reject;

// Fields as read from the line, before the type says which of them matter.
struct Fields {
  std::array<bool, kFieldCount> present{};
  std::array<uint64_t, kFieldCount> number{};
  std::array<std::string_view, kFieldCount> text{};  // valid until the next iterate()
};

std::expected<void, Rejection> read_u64(ondemand::value& value, Field field, Fields& fields) {
  if (auto error = value.get_uint64().get(fields.number[field])) {
    return bad_value(error, kFieldNames[field], "an unsigned 64-bit integer");
  }
  return {};
}

std::expected<void, Rejection> read_string(ondemand::value& value, Field field, Fields& fields) {
  if (auto error = value.get_string().get(fields.text[field])) {
    return bad_value(error, kFieldNames[field], "a string");
  }
  return {};
}

std::expected<void, Rejection> read_selection(ondemand::value& element,
                                              std::vector<SelectionDefinition>& out) {
  ondemand::object object;
  if (auto error = element.get_object().get(object)) {
    return bad_value(error, "selections[]", "an object {id, name}");
  }
  SelectionDefinition& selection = out.emplace_back();
  bool has_id = false;
  bool has_name = false;
  for (auto member : object) {
    ondemand::field field;
    if (auto error = std::move(member).get(field)) return malformed(error);
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return malformed(error);
    if (key == "id") {
      if (auto error = field.value().get_uint64().get(selection.id)) {
        return bad_value(error, "selections[].id", "an unsigned 64-bit integer");
      }
      has_id = true;
    } else if (key == "name") {
      std::string_view name;
      if (auto error = field.value().get_string().get(name)) {
        return bad_value(error, "selections[].name", "a string");
      }
      selection.name.assign(name);
      has_name = true;
    }
  }
  if (!has_id) return reject(RejectReason::kMissingField, "selections[].id");
  if (!has_name) return reject(RejectReason::kMissingField, "selections[].name");
  return {};
}

std::expected<void, Rejection> read_selections(ondemand::value& value, Event& out) {
  ondemand::array array;
  if (auto error = value.get_array().get(array)) {
    return bad_value(error, "selections", "an array");
  }
  for (auto item : array) {
    ondemand::value element;
    if (auto error = item.get(element)) return malformed(error);
    if (auto read = read_selection(element, out.selections); !read) return read;
  }
  std::sort(out.selections.begin(), out.selections.end(),
            [](const SelectionDefinition& a, const SelectionDefinition& b) { return a.id < b.id; });
  const auto repeated = std::adjacent_find(
      out.selections.begin(), out.selections.end(),
      [](const SelectionDefinition& a, const SelectionDefinition& b) { return a.id == b.id; });
  if (repeated != out.selections.end()) {
    return reject(RejectReason::kBadFieldType,
                  "selections: id " + std::to_string(repeated->id) + " appears twice");
  }
  return {};
}

std::expected<void, Rejection> read_winners(ondemand::value& value, Event& out) {
  ondemand::array array;
  if (auto error = value.get_array().get(array)) return bad_value(error, "winners", "an array");
  for (auto item : array) {
    ondemand::value element;
    if (auto error = item.get(element)) return malformed(error);
    uint64_t id = 0;
    if (auto error = element.get_uint64().get(id)) {
      return bad_value(error, "winners[]", "an unsigned 64-bit integer");
    }
    out.winners.push_back(id);
  }
  std::sort(out.winners.begin(), out.winners.end());
  out.winners.erase(std::unique(out.winners.begin(), out.winners.end()), out.winners.end());
  return {};
}

std::expected<void, Rejection> read_field(std::string_view key, ondemand::value& value,
                                          Fields& fields, Event& out) {
  Field field = kFieldCount;
  for (uint8_t i = 0; i < kFieldCount; ++i) {
    if (kFieldNames[i] == key) field = static_cast<Field>(i);
  }
  if (field == kFieldCount) return {};   // not ours: ignored
  if (fields.present[field]) return {};  // a repeated key: the first one counts
  fields.present[field] = true;
  switch (field) {
    case kMarket:
    case kEvent:
    case kSelection:
    case kPseq:
    case kTs:
      return read_u64(value, field, fields);
    case kType:
    case kOdds:
    case kStatus:
    case kReason:
    case kName:
    case kProvider:
      return read_string(value, field, fields);
    case kSelections:
      return read_selections(value, out);
    case kWinners:
      return read_winners(value, out);
    case kFieldCount:
      break;
  }
  return {};
}

std::expected<fb::MarketStatus, Rejection> to_status(std::string_view text) {
  if (text == "open") return fb::MarketStatus::Open;
  if (text == "suspended") return fb::MarketStatus::Suspended;
  if (text == "closed") return fb::MarketStatus::Closed;
  if (text == "settled") return fb::MarketStatus::Settled;
  return reject(RejectReason::kBadStatus, "status: '" + std::string(text) + "'");
}

std::expected<fb::StatusReason, Rejection> to_reason(std::string_view text) {
  if (text == "trader") return fb::StatusReason::Trader;
  if (text == "provider") return fb::StatusReason::Provider;
  if (text == "feed-stale") return fb::StatusReason::FeedStale;
  return reject(RejectReason::kBadFieldType, "reason: unknown '" + std::string(text) + "'");
}

void clear(Event& out) {
  out.type = EventType::kHeartbeat;
  out.market = 0;
  out.event = 0;
  out.selection = 0;
  out.odds = Odds{};
  out.odds_text.clear();
  out.status = fb::MarketStatus::Open;
  out.reason = fb::StatusReason::None;
  out.name.clear();
  out.selections.clear();
  out.winners.clear();
  out.provider.clear();
  out.pseq = 0;
  out.has_pseq = false;
  out.source_ns = 0;
  out.source.clear();
}

// Checks that the fields `type` needs are present (their types were checked while reading).
std::expected<void, Rejection> require(const Fields& fields, std::initializer_list<Field> needed) {
  for (const Field field : needed) {
    if (!fields.present[field]) {
      return reject(RejectReason::kMissingField, std::string(kFieldNames[field]));
    }
  }
  return {};
}

std::expected<void, Rejection> fill(const Fields& fields, Event& out) {
  const std::string_view type = fields.text[kType];
  if (type == "price") {
    out.type = EventType::kPrice;
    if (auto ok = require(fields, {kMarket, kSelection, kOdds}); !ok) return ok;
    out.odds_text.assign(fields.text[kOdds]);
    auto odds = parse_odds(out.odds_text);
    if (!odds) {
      return reject(RejectReason::kBadOdds,
                    "odds: '" + out.odds_text + "' is " + std::string(to_string(odds.error())));
    }
    out.odds = *odds;
    out.selection = fields.number[kSelection];
  } else if (type == "market") {
    out.type = EventType::kMarket;
    if (auto ok = require(fields, {kMarket, kEvent, kName, kSelections}); !ok) return ok;
    out.event = fields.number[kEvent];
    out.name.assign(fields.text[kName]);
    if (fields.present[kStatus]) {
      auto status = to_status(fields.text[kStatus]);
      if (!status) return std::unexpected(std::move(status.error()));
      out.status = *status;
    }
  } else if (type == "status") {
    out.type = EventType::kStatus;
    if (auto ok = require(fields, {kMarket, kStatus}); !ok) return ok;
    auto status = to_status(fields.text[kStatus]);
    if (!status) return std::unexpected(std::move(status.error()));
    out.status = *status;
    if (fields.present[kReason]) {
      auto reason = to_reason(fields.text[kReason]);
      if (!reason) return std::unexpected(std::move(reason.error()));
      out.reason = *reason;
    }
  } else if (type == "settle") {
    out.type = EventType::kSettle;
    if (auto ok = require(fields, {kMarket, kWinners}); !ok) return ok;
  } else if (type == "heartbeat") {
    out.type = EventType::kHeartbeat;
  } else {
    return reject(RejectReason::kUnknownType, "type: '" + std::string(type) + "'");
  }
  if (out.type != EventType::kHeartbeat) out.market = fields.number[kMarket];
  // Arrays are read into `out` as they are met; drop those the type does not carry.
  if (out.type != EventType::kMarket) out.selections.clear();
  if (out.type != EventType::kSettle) out.winners.clear();

  if (fields.present[kProvider]) out.provider.assign(fields.text[kProvider]);
  if (fields.present[kPseq]) {
    out.pseq = fields.number[kPseq];
    out.has_pseq = true;
  }
  if (fields.present[kTs]) {
    constexpr uint64_t kNsPerMs = 1'000'000;
    const uint64_t ts_ms = fields.number[kTs];
    if (ts_ms > std::numeric_limits<uint64_t>::max() / kNsPerMs) {
      return reject(RejectReason::kBadFieldType,
                    "ts: " + std::to_string(ts_ms) + " ms does not fit in u64 nanoseconds");
    }
    out.source_ns = ts_ms * kNsPerMs;
  }
  return {};
}

}  // namespace

Parser::Parser() : state_(std::make_unique<State>()) {}
Parser::~Parser() = default;
Parser::Parser(Parser&&) noexcept = default;
Parser& Parser::operator=(Parser&&) noexcept = default;

std::expected<void, Rejection> Parser::parse(std::string_view line, Event& out) {
  State& state = *state_;
  auto opened = state.line.open(line);
  if (!opened) return std::unexpected(opened.error());
  ondemand::object object = *opened;

  clear(out);
  Fields fields;
  for (auto member : object) {
    ondemand::field field;
    if (auto error = std::move(member).get(field)) return malformed(error);
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return malformed(error);
    if (auto read = read_field(key, field.value(), fields, out); !read) return read;
  }
  if (auto end = state.line.check_end(); !end) return end;
  if (!fields.present[kType]) return reject(RejectReason::kMissingField, "type");
  return fill(fields, out);
}

}  // namespace oddsbus::feeds::oddsjson
