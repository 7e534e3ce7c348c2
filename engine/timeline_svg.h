// A picture of one market's history (odds-replay timeline): each selection's price over time as a
// step line, the spans when the market was not open shaded, source switches and epoch changes
// marked with labelled vertical lines, time and price axes with labels, and a legend. Plain SVG
// 1.1 written here (no library); the HTML form wraps the same SVG in a page.
//
// Structure, for readers and tests: <g class="series" data-selection="ID" data-points="N"> per
// selection holds its step line (<path class="step">) and one <circle class="point"> per price it
// showed in the range (the price in effect at the range's start, then each change), each with a
// <title> tooltip (time, seq, price, source). <rect class="suspended">, <line
// class="source-switch">, <line class="epoch-change"> mark the rest. Pure; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/market_history.h"

namespace oddsbus::engine {

struct TimelineRange {
  std::optional<uint64_t> from_ns;  // default: the first change shown
  std::optional<uint64_t> to_ns;    // default: the last change shown
};

// The SVG document for `history` (with its `before` and `after` records).
std::string timeline_svg(const MarketHistoryResult& history, const TimelineRange& range);

// A small HTML page holding the same SVG, with a heading and the range in words.
std::string timeline_html(const MarketHistoryResult& history, const TimelineRange& range);

}  // namespace oddsbus::engine
