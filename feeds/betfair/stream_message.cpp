#include "feeds/betfair/stream_message.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include <simdjson.h>

#include "feeds/json_line.h"
#include "feeds/mapping.h"
#include "schemas/odds.h"

namespace oddsbus::feeds::betfair {

namespace ondemand = simdjson::ondemand;

struct StreamParser::State {
  json::JsonLine line;
};

void StreamMessage::clear() {
  op = Op::kConnection;
  failure = false;
  connection_closed = false;
  clk = {};
  initial_clk = {};
  has_pt = false;
  pt_ms = 0;
  heartbeat = false;
  sub_image = false;
  segment_start = true;
  segment_end = true;
  has_status = false;
  status = 0;
  markets.clear();
  runner_changes.clear();
  definition_runners.clear();
  atb.clear();
  batb.clear();
}

namespace {

using Result = std::expected<void, Rejection>;

using json::bad_value;
using json::is_type_error;
using json::malformed;
using json::reject;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

uint32_t to_index(size_t size) { return static_cast<uint32_t>(size); }

// Iterates an object's fields, calling on_field(key, value) for each; stops at the first error.
template <typename OnField>
Result for_each_field(ondemand::object& object, OnField&& on_field) {
  for (auto member : object) {
    ondemand::field field;
    if (auto error = std::move(member).get(field)) return malformed(error);
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return malformed(error);
    ondemand::value value = field.value();
    if (auto read = on_field(key, value); !read) return read;
  }
  return {};
}

template <typename OnElement>
Result for_each_element(ondemand::value& value, std::string_view field, OnElement&& on_element) {
  ondemand::array array;
  if (auto error = value.get_array().get(array)) return bad_value(error, field, "an array");
  for (auto item : array) {
    ondemand::value element;
    if (auto error = item.get(element)) return malformed(error);
    if (auto read = on_element(element); !read) return read;
  }
  return {};
}

Result read_object(ondemand::value& value, std::string_view field, ondemand::object& out) {
  if (auto error = value.get_object().get(out)) return bad_value(error, field, "an object");
  return {};
}

Result read_string(ondemand::value& value, std::string_view field, std::string_view& out) {
  if (auto error = value.get_string().get(out)) return bad_value(error, field, "a string");
  return {};
}

Result read_bool(ondemand::value& value, std::string_view field, bool& out) {
  if (auto error = value.get_bool().get(out)) return bad_value(error, field, "true or false");
  return {};
}

Result read_u64(ondemand::value& value, std::string_view field, uint64_t& out) {
  if (auto error = value.get_uint64().get(out)) {
    return bad_value(error, field, "an unsigned integer");
  }
  return {};
}

// A selection id: a JSON integer, also kept as its text (the mapping's key).
Result read_id(ondemand::value& value, std::string_view field, uint64_t& id,
               std::string_view& text) {
  text = trim(value.raw_json_token());
  return read_u64(value, field, id);
}

// A JSON number's own text, checked to be a number (its value is checked by parse_price).
Result read_number_text(ondemand::value& value, std::string_view field, std::string_view& token) {
  token = trim(value.raw_json_token());
  const bool number =
      !token.empty() && (token.front() == '-' || (token.front() >= '0' && token.front() <= '9'));
  if (!number) {
    return reject(RejectReason::kBadFieldType, std::string(field) + ": expected a number");
  }
  return {};
}

// A price, exactly: from the JSON number's own text, never through a binary float.
Result parse_price(std::string_view token, std::string_view field, Price& out) {
  auto odds = token.size() <= Price::kMaxText ? parse_decimal_odds(token)
                                              : std::unexpected(OddsError::kMalformed);
  if (!odds) {
    return reject(RejectReason::kBadOdds, std::string(field) + ": '" + std::string(token) +
                                              "' is " + std::string(to_string(odds.error())));
  }
  out = Price::of(odds->price_e4, token);
  return {};
}

Result read_price(ondemand::value& value, std::string_view field, Price& out) {
  std::string_view token;
  if (auto ok = read_number_text(value, field, token); !ok) return ok;
  return parse_price(token, field, out);
}

// A runner's handicap (`hc`): a decimal number, or null for none (RunnerChange.hc and
// RunnerDefinition.hc, "null if not applicable", ESASwaggerSchema.json). `out` keeps its text.
Result read_handicap(ondemand::value& value, std::string_view field, std::string_view& out) {
  const std::string_view token = trim(value.raw_json_token());
  if (token == "null") {
    out = {};
    return {};
  }
  if (token.empty() || token.front() == '"' || !canonical_handicap(token)) {
    return reject(RejectReason::kBadFieldType, std::string(field) + ": expected a decimal number");
  }
  out = token;
  return {};
}

// A size: only whether it is zero matters (zero removes the price or level).
Result read_size(ondemand::value& value, std::string_view field, bool& zero) {
  double size = 0;
  if (auto error = value.get_double().get(size)) return bad_value(error, field, "a number");
  if (!(size >= 0) || !std::isfinite(size)) {
    return reject(RejectReason::kBadFieldType, std::string(field) + ": negative size");
  }
  zero = size == 0;
  return {};
}

Result read_atb(ondemand::value& value, StreamMessage& out) {
  return for_each_element(value, "atb", [&](ondemand::value& pair) -> Result {
    AtbDelta delta;
    size_t count = 0;
    auto read = for_each_element(pair, "atb[]", [&](ondemand::value& element) -> Result {
      switch (count++) {
        case 0:
          return read_price(element, "atb[][0]", delta.price);
        case 1:
          return read_size(element, "atb[][1]", delta.remove);
        default:
          return {};
      }
    });
    if (!read) return read;
    if (count != 2) return reject(RejectReason::kBadFieldType, "atb[]: expected [price, size]");
    out.atb.push_back(delta);
    return {};
  });
}

// A level-based ladder empties a level by sending it with size 0, and then its price is 0 too
// ([1, 0, 0]): "keyed by level (0 vol is remove)" (RunnerChange.batb in ESASwaggerSchema.json,
// github.com/betfair/stream-api-sample-code). So a removal's price is not read as odds; any other
// level's price must be real odds.
Result read_batb(ondemand::value& value, StreamMessage& out) {
  return for_each_element(value, "batb", [&](ondemand::value& triple) -> Result {
    BatbDelta delta;
    std::string_view price;
    size_t count = 0;
    auto read = for_each_element(triple, "batb[]", [&](ondemand::value& element) -> Result {
      switch (count++) {
        case 0: {
          uint64_t level = 0;
          if (auto ok = read_u64(element, "batb[][0]", level); !ok) return ok;
          delta.level = static_cast<uint32_t>(
              std::min<uint64_t>(level, std::numeric_limits<uint32_t>::max()));
          return {};
        }
        case 1:
          return read_number_text(element, "batb[][1]", price);
        case 2:
          return read_size(element, "batb[][2]", delta.remove);
        default:
          return {};
      }
    });
    if (!read) return read;
    if (count != 3) {
      return reject(RejectReason::kBadFieldType, "batb[]: expected [level, price, size]");
    }
    if (!delta.remove) {
      if (auto ok = parse_price(price, "batb[][1]", delta.price); !ok) return ok;
    }
    out.batb.push_back(delta);
    return {};
  });
}

Result read_runner_change(ondemand::value& value, StreamMessage& out) {
  ondemand::object object;
  if (auto ok = read_object(value, "rc[]", object); !ok) return ok;
  RunnerChange change;
  bool has_id = false;
  bool has_atb = false;
  bool has_batb = false;
  bool has_hc = false;
  change.atb_begin = change.atb_end = to_index(out.atb.size());
  change.batb_begin = change.batb_end = to_index(out.batb.size());
  auto read = for_each_field(object, [&](std::string_view key, ondemand::value& v) -> Result {
    if (key == "id" && !has_id) {
      has_id = true;
      return read_id(v, "rc[].id", change.id, change.id_text);
    }
    if (key == "atb" && !has_atb) {
      has_atb = true;
      change.atb_begin = to_index(out.atb.size());
      auto ok = read_atb(v, out);
      change.atb_end = to_index(out.atb.size());
      return ok;
    }
    if (key == "batb" && !has_batb) {
      has_batb = true;
      change.batb_begin = to_index(out.batb.size());
      auto ok = read_batb(v, out);
      change.batb_end = to_index(out.batb.size());
      return ok;
    }
    if (key == "hc" && !has_hc) {
      has_hc = true;
      return read_handicap(v, "rc[].hc", change.hc);
    }
    if (key == "ltp" && !change.has_ltp) {
      change.has_ltp = true;
      return read_price(v, "rc[].ltp", change.ltp);
    }
    return {};
  });
  if (!read) return read;
  if (!has_id) return reject(RejectReason::kMissingField, "rc[].id");
  out.runner_changes.push_back(change);
  return {};
}

Result read_definition_runner(ondemand::value& value, StreamMessage& out) {
  ondemand::object object;
  if (auto ok = read_object(value, "marketDefinition.runners[]", object); !ok) return ok;
  DefinitionRunner runner;
  bool has_id = false;
  bool has_status = false;
  bool has_hc = false;
  auto read = for_each_field(object, [&](std::string_view key, ondemand::value& v) -> Result {
    if (key == "id" && !has_id) {
      has_id = true;
      return read_id(v, "marketDefinition.runners[].id", runner.id, runner.id_text);
    }
    if (key == "hc" && !has_hc) {
      has_hc = true;
      return read_handicap(v, "marketDefinition.runners[].hc", runner.hc);
    }
    if (key == "status" && !has_status) {
      has_status = true;
      std::string_view status;
      if (auto ok = read_string(v, "marketDefinition.runners[].status", status); !ok) return ok;
      runner.winner = status == "WINNER";
      runner.removed = status == "REMOVED" || status == "REMOVED_VACANT";
    }
    return {};
  });
  if (!read) return read;
  if (!has_id) return reject(RejectReason::kMissingField, "marketDefinition.runners[].id");
  out.definition_runners.push_back(runner);
  return {};
}

DefinitionStatus to_definition_status(std::string_view text) {
  if (text == "OPEN") return DefinitionStatus::kOpen;
  if (text == "SUSPENDED") return DefinitionStatus::kSuspended;
  if (text == "CLOSED") return DefinitionStatus::kClosed;
  return DefinitionStatus::kOther;
}

Result read_definition(ondemand::value& value, MarketChange& change, StreamMessage& out) {
  ondemand::object object;
  if (auto ok = read_object(value, "marketDefinition", object); !ok) return ok;
  bool has_status = false;
  bool has_runners = false;
  auto read = for_each_field(object, [&](std::string_view key, ondemand::value& v) -> Result {
    if (key == "status" && !has_status) {
      has_status = true;
      std::string_view status;
      if (auto ok = read_string(v, "marketDefinition.status", status); !ok) return ok;
      change.status = to_definition_status(status);
      return {};
    }
    if (key == "runners" && !has_runners) {
      has_runners = true;
      change.definition_runners_begin = to_index(out.definition_runners.size());
      auto ok = for_each_element(v, "marketDefinition.runners", [&](ondemand::value& runner) {
        return read_definition_runner(runner, out);
      });
      change.definition_runners_end = to_index(out.definition_runners.size());
      return ok;
    }
    return {};
  });
  if (!read) return read;
  change.has_definition = true;
  return {};
}

Result read_market_change(ondemand::value& value, StreamMessage& out) {
  ondemand::object object;
  if (auto ok = read_object(value, "mc[]", object); !ok) return ok;
  MarketChange change;
  bool has_id = false;
  bool has_image = false;
  bool has_definition = false;
  bool has_runner_changes = false;
  const uint32_t runners_at = to_index(out.definition_runners.size());
  change.definition_runners_begin = change.definition_runners_end = runners_at;
  change.runner_changes_begin = change.runner_changes_end = to_index(out.runner_changes.size());
  auto read = for_each_field(object, [&](std::string_view key, ondemand::value& v) -> Result {
    if (key == "id" && !has_id) {
      has_id = true;
      return read_string(v, "mc[].id", change.id);
    }
    if (key == "img" && !has_image) {
      has_image = true;
      return read_bool(v, "mc[].img", change.image);
    }
    if (key == "marketDefinition" && !has_definition) {
      has_definition = true;
      return read_definition(v, change, out);
    }
    if (key == "rc" && !has_runner_changes) {
      has_runner_changes = true;
      change.runner_changes_begin = to_index(out.runner_changes.size());
      auto ok = for_each_element(
          v, "rc", [&](ondemand::value& runner) { return read_runner_change(runner, out); });
      change.runner_changes_end = to_index(out.runner_changes.size());
      return ok;
    }
    if (key == "con") {
      bool conflated = false;  // informative only
      return read_bool(v, "mc[].con", conflated);
    }
    return {};
  });
  if (!read) return read;
  if (!has_id) return reject(RejectReason::kMissingField, "mc[].id");
  out.markets.push_back(change);
  return {};
}

// The fields of an `mcm` message (its `op` already read).
Result read_market_change_message(ondemand::object& object, StreamMessage& out) {
  bool seen_clk = false, seen_initial_clk = false, seen_ct = false, seen_mc = false;
  bool seen_segment = false;
  return for_each_field(object, [&](std::string_view key, ondemand::value& v) -> Result {
    if (key == "clk" && !seen_clk) {
      seen_clk = true;
      return read_string(v, "clk", out.clk);
    }
    if (key == "initialClk" && !seen_initial_clk) {
      seen_initial_clk = true;
      return read_string(v, "initialClk", out.initial_clk);
    }
    if (key == "pt" && !out.has_pt) {
      out.has_pt = true;
      if (auto ok = read_u64(v, "pt", out.pt_ms); !ok) return ok;
      if (out.pt_ms > std::numeric_limits<uint64_t>::max() / 1'000'000) {
        return reject(RejectReason::kBadFieldType, "pt: does not fit in u64 nanoseconds");
      }
      return {};
    }
    if (key == "ct" && !seen_ct) {
      seen_ct = true;
      std::string_view change_type;
      if (auto ok = read_string(v, "ct", change_type); !ok) return ok;
      out.heartbeat = change_type == "HEARTBEAT";
      out.sub_image = change_type == "SUB_IMAGE";
      return {};
    }
    if (key == "segmentType" && !seen_segment) {
      seen_segment = true;
      std::string_view segment;
      if (auto ok = read_string(v, "segmentType", segment); !ok) return ok;
      out.segment_start = segment == "SEG_START";
      out.segment_end = segment == "SEG_END";
      return {};
    }
    if (key == "status" && !out.has_status) {
      out.has_status = true;
      return read_u64(v, "status", out.status);
    }
    if (key == "mc" && !seen_mc) {
      seen_mc = true;
      return for_each_element(
          v, "mc", [&](ondemand::value& market) { return read_market_change(market, out); });
    }
    return {};
  });
}

// The fields of a `status` message.
Result read_status_message(ondemand::object& object, StreamMessage& out) {
  bool seen_code = false, seen_closed = false;
  return for_each_field(object, [&](std::string_view key, ondemand::value& v) -> Result {
    if (key == "statusCode" && !seen_code) {
      seen_code = true;
      std::string_view code;
      if (auto ok = read_string(v, "statusCode", code); !ok) return ok;
      out.failure = code == "FAILURE";
      return {};
    }
    if (key == "connectionClosed" && !seen_closed) {
      seen_closed = true;
      return read_bool(v, "connectionClosed", out.connection_closed);
    }
    return {};
  });
}

}  // namespace

StreamParser::StreamParser() : state_(std::make_unique<State>()) {}
StreamParser::~StreamParser() = default;
StreamParser::StreamParser(StreamParser&&) noexcept = default;
StreamParser& StreamParser::operator=(StreamParser&&) noexcept = default;

std::expected<void, Rejection> StreamParser::parse(std::string_view text, StreamMessage& out) {
  out.clear();
  State& state = *state_;
  auto opened = state.line.open(text);
  if (!opened) return std::unexpected(opened.error());
  ondemand::object object = *opened;
  // `op` decides how to read the rest. Betfair sends it first, where finding it costs nothing.
  std::string_view op;
  if (auto error = object.find_field_unordered("op").get_string().get(op)) {
    if (error == simdjson::NO_SUCH_FIELD) return reject(RejectReason::kMissingField, "op");
    return bad_value(error, "op", "a string");
  }
  if (op == "mcm") {
    out.op = Op::kMarketChange;
  } else if (op == "status") {
    out.op = Op::kStatus;
  } else if (op == "connection") {
    out.op = Op::kConnection;
  } else {
    return reject(RejectReason::kUnknownMessage, "op: '" + std::string(op) + "'");
  }
  if (auto error = object.reset().error()) return malformed(error);
  Result read = out.op == Op::kMarketChange ? read_market_change_message(object, out)
                : out.op == Op::kStatus
                    ? read_status_message(object, out)
                    : for_each_field(object, [](auto, auto&) -> Result { return {}; });
  if (!read) return read;
  if (auto end = state.line.check_end(); !end) return end;
  return {};
}

}  // namespace oddsbus::feeds::betfair
