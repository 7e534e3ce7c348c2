// The oddsjson adapter (DESIGN section 10): turns one JSON line into a normalised Event.
//
// Checks only what one line can show: JSON shape, required fields, field types, status and reason
// words, odds text. Whether the market or selection exists, or the market is settled, is the
// sequencer's business.
//
// Field rules:
//   - ids, "pseq" and "ts" are JSON unsigned integers that fit u64; a negative, fractional,
//     exponent-form or too-large number, or any other JSON type, is kBadFieldType;
//   - a field the format defines is type-checked on every line that carries it, even a line type
//     that does not use it; fields the format does not define are ignored;
//   - market: market, event, name, selections ([{id, name}], sorted by id in the Event; a repeated
//     id is kBadFieldType), optional status (default open);
//   - price: market, selection, odds (a JSON string; parse_odds failure is kBadOdds);
//   - status: market, status, optional reason ("trader", "provider", "feed-stale"; any other word
//     is kBadFieldType);
//   - settle: market, winners ([u64], sorted ascending and de-duplicated in the Event);
//   - heartbeat: nothing;
//   - optional on every line: provider (string), pseq (u64), ts (ms since the Unix epoch; one whose
//     nanoseconds overflow u64 is kBadFieldType).
// A line that is not one JSON object (or has content after it) is kMalformedJson; a missing "type"
// or required field is kMissingField; an unknown "type" is kUnknownType. Rejection::detail names
// the field. A trailing '\r' is JSON whitespace and is accepted.
#pragma once

#include <expected>
#include <memory>
#include <string_view>

#include "feeds/event.h"
#include "feeds/rejection.h"

namespace oddsbus::feeds::oddsjson {

// Not thread-safe: one Parser per thread. It owns a reusable simdjson parser and a padded copy
// buffer, so once warmed up to the longest line seen, parsing a price line allocates nothing.
class Parser {
 public:
  Parser();
  ~Parser();
  Parser(Parser&&) noexcept;
  Parser& operator=(Parser&&) noexcept;

  // Parses one line (without its terminator). On success overwrites every field of `out` (including
  // clearing `source`, which the caller sets) and returns {}. On failure returns why, and `out` is
  // left valid but unspecified (for a kBadOdds rejection, out.odds_text holds the odds as
  // received).
  std::expected<void, Rejection> parse(std::string_view line, Event& out);

 private:
  struct State;  // simdjson stays a private dependency of oddsbus_feeds
  std::unique_ptr<State> state_;
};

}  // namespace oddsbus::feeds::oddsjson
