#include "engine/timeline_svg.h"

#include <algorithm>
#include <cinttypes>
#include <map>
#include <vector>

#include "engine/price_text.h"
#include "engine/time_text.h"
#include "schemas/append_printf.h"

namespace oddsbus::engine {

using oddsbus::to_string;

namespace {

constexpr double kWidth = 1000;
constexpr double kHeight = 520;
constexpr double kLeft = 70;  // plot area
constexpr double kRight = 800;
constexpr double kTop = 50;
constexpr double kBottom = 440;
constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                    "#ff7f0e", "#17becf", "#8c564b", "#e377c2"};

void append_xml_text(std::string& out, std::string_view s) {
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
}

struct Point {
  uint64_t time_ns;
  uint64_t seq;
  uint32_t price_e4;  // 0: no price from here (the line breaks)
  std::string source;
};

struct Span {
  uint64_t from_ns;
  uint64_t to_ns;
  std::string label;
};

struct Marker {
  uint64_t time_ns;
  uint64_t seq;
  std::string label;
};

// "09:30:05", or "09:30:05.250" when ticks are closer than a second.
std::string clock_label(uint64_t ns, bool millis) {
  const std::string iso = format_iso8601_ns(ns - ns % 1'000'000);
  std::string hms = iso.substr(11, 8);
  if (millis) {
    char ms[8];
    std::snprintf(ms, sizeof ms, ".%03u", static_cast<unsigned>(ns / 1'000'000 % 1000));
    hms += ms;
  }
  return hms;
}

uint64_t time_tick_step(uint64_t span_ns) {
  static constexpr uint64_t kMs = 1'000'000, kS = 1000 * kMs, kMin = 60 * kS, kH = 60 * kMin;
  static constexpr uint64_t kSteps[] = {
      kMs,       2 * kMs,   5 * kMs,  10 * kMs, 20 * kMs,  50 * kMs,  100 * kMs,
      200 * kMs, 500 * kMs, kS,       2 * kS,   5 * kS,    10 * kS,   15 * kS,
      30 * kS,   kMin,      2 * kMin, 5 * kMin, 10 * kMin, 15 * kMin, 30 * kMin,
      kH,        2 * kH,    3 * kH,   6 * kH,   12 * kH,   24 * kH};
  for (const uint64_t step : kSteps) {
    if (span_ns / step <= 8) return step;
  }
  return span_ns / 8 + 1;
}

uint32_t price_tick_step(uint32_t span_e4) {
  static constexpr uint32_t kSteps[] = {1,     2,      5,      10,     20,     50,    100,
                                        200,   500,    1000,   2000,   5000,   10000, 20000,
                                        50000, 100000, 200000, 500000, 1000000};
  for (const uint32_t step : kSteps) {
    if (span_e4 / step <= 6) return step;
  }
  return span_e4 / 6 + 1;
}

}  // namespace

std::string timeline_svg(const MarketHistoryResult& history, const TimelineRange& range) {
  // Selections: those of the market at the end, then any only the start had.
  std::map<uint64_t, std::string> names;
  if (history.before) {
    for (const SelectionState& s : history.before->selections) names[s.id] = s.name;
  }
  if (history.after) {
    for (const SelectionState& s : history.after->selections) names[s.id] = s.name;
  }

  // The time range.
  uint64_t t0 = range.from_ns.value_or(0);
  uint64_t t1 = range.to_ns.value_or(0);
  if (!range.from_ns) {
    t0 = history.changes.empty() ? (history.after ? history.after->updated_ns : 0)
                                 : history.changes.front().time_ns;
  }
  if (!range.to_ns) {
    t1 = history.changes.empty() ? t0 : history.changes.back().time_ns;
    // A little room after the last change, so its step is visible.
    t1 += std::max<uint64_t>((t1 - std::min(t0, t1)) / 20, 1'000'000'000ull);
  }
  if (t1 <= t0) t1 = t0 + 1'000'000'000ull;

  // Series, spans and markers from the changes.
  std::map<uint64_t, std::vector<Point>> series;
  std::string source = history.source_before;
  if (history.before) {
    for (const SelectionState& s : history.before->selections) {
      if (s.price_e4 != 0) series[s.id].push_back({t0, history.from_seq - 1, s.price_e4, source});
    }
  }
  std::vector<Span> spans;
  std::vector<Marker> switches;
  std::vector<Marker> epochs;
  bool closed = history.before && history.before->status != fb::MarketStatus::Open;
  uint64_t closed_since = t0;
  std::string closed_label =
      history.before ? std::string(to_string(history.before->status)) +
                           (history.before->reason != fb::StatusReason::None
                                ? " (" + std::string(to_string(history.before->reason)) + ")"
                                : "")
                     : "";
  for (const MarketChange& change : history.changes) {
    for (const SelectionChange& s : change.selections) {
      const uint32_t price = s.new_price_e4.value_or(0);
      auto& points = series[s.selection];
      if (price == 0 && (points.empty() || points.back().price_e4 == 0)) continue;
      points.push_back({change.time_ns, change.seq, price, change.source});
    }
    if (change.status_changed) {
      const bool now_closed = change.new_status != fb::MarketStatus::Open;
      if (closed && !now_closed) spans.push_back({closed_since, change.time_ns, closed_label});
      if (now_closed && !closed) closed_since = change.time_ns;
      if (now_closed) {
        closed_label = std::string(to_string(change.new_status));
        if (change.reason != fb::StatusReason::None) {
          closed_label += " (" + std::string(to_string(change.reason)) + ")";
        }
      }
      closed = now_closed;
    }
    if (change.source_switched) {
      switches.push_back({change.time_ns, change.seq, change.old_source + " -> " + change.source});
    }
    if (change.kind == ChangeKind::kEpochChange) {
      epochs.push_back(
          {change.time_ns, change.seq,
           "epoch " + std::to_string(change.old_epoch) + " -> " + std::to_string(change.epoch)});
    }
  }
  if (closed) spans.push_back({closed_since, t1, closed_label});

  // The price range over every point.
  uint32_t lo = UINT32_MAX, hi = 0;
  for (const auto& [id, points] : series) {
    for (const Point& p : points) {
      if (p.price_e4 == 0) continue;
      lo = std::min(lo, p.price_e4);
      hi = std::max(hi, p.price_e4);
    }
  }
  if (lo > hi) lo = 10000, hi = 20000;
  const uint32_t pad = std::max<uint32_t>((hi - lo) / 10, 500);
  const uint32_t y_lo = lo > 10000 + pad ? lo - pad : 10000;
  const uint32_t y_hi = hi + pad;

  auto x_of = [&](uint64_t t) {
    const uint64_t clamped = std::clamp(t, t0, t1);
    return kLeft +
           (kRight - kLeft) * static_cast<double>(clamped - t0) / static_cast<double>(t1 - t0);
  };
  auto y_of = [&](uint32_t e4) {
    return kBottom -
           (kBottom - kTop) * static_cast<double>(e4 - y_lo) / static_cast<double>(y_hi - y_lo);
  };

  std::string out;
  append_printf(out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
                "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" "
                "font-size=\"12\" data-market=\"%" PRIu64 "\">\n",
                kWidth, kHeight, kWidth, kHeight, history.market);
  out += "<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  out += "<text class=\"title\" x=\"70\" y=\"24\" font-size=\"16\" font-weight=\"bold\">";
  append_printf(out, "Market %" PRIu64, history.market);
  if (history.after && !history.after->name.empty()) {
    out += " ";
    append_xml_text(out, history.after->name);
  }
  out += ": price over time (decimal odds)</text>\n";

  // Shaded spans first, so lines draw over them.
  for (const Span& span : spans) {
    const double x = x_of(span.from_ns);
    append_printf(out,
                  "<rect class=\"suspended\" x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\" "
                  "fill=\"#999999\" fill-opacity=\"0.25\"><title>",
                  x, kTop, std::max(x_of(span.to_ns) - x, 1.0), kBottom - kTop);
    append_xml_text(out, span.label);
    out += " from " + format_iso8601_ns(span.from_ns) + " to " + format_iso8601_ns(span.to_ns);
    out += "</title></rect>\n";
  }

  // Axes, grid and tick labels.
  append_printf(out,
                "<g class=\"axes\" stroke=\"#333333\"><line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" "
                "y2=\"%.0f\"/><line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\"/></g>\n",
                kLeft, kBottom, kRight, kBottom, kLeft, kTop, kLeft, kBottom);
  const uint64_t t_step = time_tick_step(t1 - t0);
  const bool millis = t_step < 1'000'000'000ull;
  out += "<g class=\"x-ticks\">\n";
  for (uint64_t t = (t0 + t_step - 1) / t_step * t_step; t <= t1; t += t_step) {
    const double x = x_of(t);
    append_printf(out,
                  "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#dddddd\"/>"
                  "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n",
                  x, kTop, x, kBottom + 5, x, kBottom + 20, clock_label(t, millis).c_str());
  }
  out += "</g>\n";
  append_printf(out,
                "<text class=\"x-label\" x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">time (UTC), "
                "%s to %s</text>\n",
                (kLeft + kRight) / 2, kBottom + 45, format_iso8601_ns(t0).c_str(),
                format_iso8601_ns(t1).c_str());
  const uint32_t p_step = price_tick_step(y_hi - y_lo);
  out += "<g class=\"y-ticks\">\n";
  for (uint32_t p = (y_lo + p_step - 1) / p_step * p_step; p <= y_hi; p += p_step) {
    const double y = y_of(p);
    append_printf(out,
                  "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#dddddd\"/>"
                  "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                  kLeft - 5, y, kRight, y, kLeft - 8, y + 4, format_price_e4(p).c_str());
  }
  out += "</g>\n";
  append_printf(out,
                "<text class=\"y-label\" x=\"18\" y=\"%.0f\" text-anchor=\"middle\" "
                "transform=\"rotate(-90 18 %.0f)\">price (decimal odds)</text>\n",
                (kTop + kBottom) / 2, (kTop + kBottom) / 2);

  // Markers.
  auto marker = [&](const Marker& m, const char* cls, const char* colour, double label_y) {
    const double x = x_of(m.time_ns);
    append_printf(out,
                  "<g class=\"%s-marker\"><line class=\"%s\" x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" "
                  "y2=\"%.0f\" stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\"><title>",
                  cls, cls, x, kTop, x, kBottom, colour);
    append_xml_text(out, m.label);
    append_printf(out, " at seq %" PRIu64 ", %s</title></line>", m.seq,
                  format_iso8601_ns(m.time_ns).c_str());
    append_printf(out, "<text x=\"%.1f\" y=\"%.0f\" fill=\"%s\" font-size=\"10\">", x + 3, label_y,
                  colour);
    append_xml_text(out, m.label);
    out += "</text></g>\n";
  };
  // Labels take turns on three rows, so marks close together stay readable.
  for (size_t i = 0; i < switches.size(); ++i) {
    marker(switches[i], "source-switch", "#555555", kTop + 12 + 12.0 * static_cast<double>(i % 3));
  }
  for (size_t i = 0; i < epochs.size(); ++i) {
    marker(epochs[i], "epoch-change", "#b00000", kBottom - 8 - 12.0 * static_cast<double>(i % 3));
  }

  // One step line per selection.
  size_t colour_index = 0;
  for (const auto& [id, name] : names) {
    const char* colour = kPalette[colour_index++ % (sizeof kPalette / sizeof kPalette[0])];
    const auto found = series.find(id);
    const std::vector<Point> none;
    const std::vector<Point>& points = found != series.end() ? found->second : none;
    size_t shown = 0;
    for (const Point& p : points) shown += p.price_e4 != 0;
    append_printf(out, "<g class=\"series\" data-selection=\"%" PRIu64 "\" data-points=\"%zu\">\n",
                  id, shown);
    std::string d;
    for (size_t i = 0; i < points.size(); ++i) {
      const Point& p = points[i];
      if (p.price_e4 == 0) continue;
      const double x = x_of(p.time_ns);
      const double y = y_of(p.price_e4);
      if (i == 0 || points[i - 1].price_e4 == 0) {
        append_printf(d, "%sM %.1f %.1f", d.empty() ? "" : " ", x, y);
      } else {
        append_printf(d, " H %.1f V %.1f", x, y);
      }
      const bool ends = i + 1 == points.size() || points[i + 1].price_e4 == 0;
      if (ends) {
        append_printf(d, " H %.1f",
                      i + 1 == points.size() ? x_of(t1) : x_of(points[i + 1].time_ns));
      }
    }
    if (!d.empty()) {
      append_printf(out,
                    "<path class=\"step\" d=\"%s\" fill=\"none\" stroke=\"%s\" "
                    "stroke-width=\"2\"/>\n",
                    d.c_str(), colour);
    }
    for (const Point& p : points) {
      if (p.price_e4 == 0) continue;
      append_printf(out,
                    "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>",
                    x_of(p.time_ns), y_of(p.price_e4), colour);
      append_xml_text(out, name.empty() ? "selection " + std::to_string(id) : name);
      append_printf(out, " %s at %s, seq %" PRIu64, format_price_e4(p.price_e4).c_str(),
                    format_iso8601_ns(p.time_ns).c_str(), p.seq);
      if (!p.source.empty()) {
        out += " from ";
        append_xml_text(out, p.source);
      }
      out += "</title></circle>\n";
    }
    out += "</g>\n";
  }

  // Legend.
  double y = kTop + 10;
  out += "<g class=\"legend\">\n";
  colour_index = 0;
  for (const auto& [id, name] : names) {
    const char* colour = kPalette[colour_index++ % (sizeof kPalette / sizeof kPalette[0])];
    append_printf(out,
                  "<line x1=\"815\" y1=\"%.0f\" x2=\"840\" y2=\"%.0f\" stroke=\"%s\" "
                  "stroke-width=\"2\"/><text x=\"846\" y=\"%.0f\">",
                  y, y, colour, y + 4);
    append_xml_text(out, name.empty() ? "selection" : name);
    append_printf(out, " (%" PRIu64 ")</text>\n", id);
    y += 18;
  }
  y += 8;
  append_printf(out,
                "<rect x=\"815\" y=\"%.0f\" width=\"25\" height=\"10\" fill=\"#999999\" "
                "fill-opacity=\"0.25\"/><text x=\"846\" y=\"%.0f\">not open</text>\n",
                y - 5, y + 4);
  y += 18;
  append_printf(out,
                "<line x1=\"827\" y1=\"%.0f\" x2=\"827\" y2=\"%.0f\" stroke=\"#555555\" "
                "stroke-dasharray=\"4 2\"/><text x=\"846\" y=\"%.0f\">source switch</text>\n",
                y - 6, y + 6, y + 4);
  y += 18;
  append_printf(out,
                "<line x1=\"827\" y1=\"%.0f\" x2=\"827\" y2=\"%.0f\" stroke=\"#b00000\" "
                "stroke-dasharray=\"4 2\"/><text x=\"846\" y=\"%.0f\">epoch change</text>\n",
                y - 6, y + 6, y + 4);
  out += "</g>\n</svg>\n";
  return out;
}

std::string timeline_html(const MarketHistoryResult& history, const TimelineRange& range) {
  std::string svg = timeline_svg(history, range);
  svg.erase(0, svg.find("<svg"));  // no XML declaration inside HTML
  std::string title = "Market " + std::to_string(history.market);
  if (history.after && !history.after->name.empty()) title += " " + history.after->name;
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>";
  append_xml_text(out, title);
  out +=
      " timeline</title>\n<style>body{font-family:sans-serif;margin:2em}"
      "p{color:#555}</style>\n</head>\n<body>\n<h1>";
  append_xml_text(out, title);
  append_printf(out,
                "</h1>\n<p>odds-replay timeline: seq %" PRIu64 " to %" PRIu64
                ", %zu change(s). Hover a point for its time, seq and source.</p>\n",
                history.from_seq, history.to_seq, history.changes.size());
  out += svg;
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace oddsbus::engine
