// Test support: a seeded generator of oddsjson streams (DESIGN section 10) for the lose-nothing
// property (issue 10, tests/integration/lose_nothing_test.cpp). The same seed and config give the
// same lines, byte for byte, on every platform (own SplitMix64, no std distributions).
//
// What a stream holds, interleaved over `markets` markets (ids 1001.., events 501..):
//  - market definitions (2 to 4 selections), each before any other line of its market;
//  - prices in all three odds formats, from a small palette, so the same line recurs;
//  - status changes (suspended with or without a reason, open) and repeats of a market's
//    recent lines: A, B, A with byte-identical A, the everyday case (issue 10, defect 1);
//  - settlements (settle lines and "settled" statuses) and closings, each the last state change
//    of its market; a settled market may still receive prices, which are rejected;
//  - heartbeats, with and without "ts";
//  - malformed or rejected lines: bad JSON, unknown type, missing or ill-typed fields, bad odds,
//    unknown markets (ids 9001.., never defined), unknown selections, prices after settlement;
//  - "pseq" on `pseq_percent` percent of the well-formed lines (a fresh number every time, so a
//    repeated line with pseq is not byte-identical to its first occurrence).
//
// A `mappable` stream is one that an engine whose mapping defines the markets (the mapping from
// mapping_toml()) must end in the same state as `odds-engine ingest`: every definition is the
// mapping's (same selections, status open, never repeated or redefined), every market gets at
// least one line that is not its definition, and no line names a defined market before its
// definition. An unmappable stream may also redefine markets (with a status, with one more
// selection), repeat definitions, and mention a market before defining it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace oddsbus::testing {

struct OddsJsonStreamConfig {
  int markets = 6;
  int lines = 400;  // generated lines; a few more may be appended to satisfy `mappable`
  bool mappable = false;
  int pseq_percent = 0;  // 0..100
};

struct StreamMarket {
  uint64_t id = 0;
  uint64_t event = 0;
  int selections = 0;  // selection ids 1..selections
};

// What the generator put in, for tests of the generator and for a failing case's message.
struct OddsJsonStreamStats {
  int definitions = 0;
  int prices = 0;
  int decimal = 0, fractional = 0, american = 0;  // prices by odds format
  int statuses = 0;
  int repeats = 0;      // lines that repeat an earlier line of their market (byte for byte
                        // unless stamped with a pseq)
  int settlements = 0;  // settle lines and "settled" statuses
  int closings = 0;
  int heartbeats = 0;
  int malformed = 0;  // lines ingest must reject (including prices after settlement)
};

struct OddsJsonStream {
  std::vector<std::string> lines;     // without terminators
  std::vector<StreamMarket> markets;  // every market the stream defines, ascending by id
  OddsJsonStreamStats stats;

  // The lines, each followed by '\n' (what `odds-engine ingest` reads).
  std::string text() const {
    std::string out;
    for (const std::string& line : lines) out += line + "\n";
    return out;
  }

  // A mapping (DESIGN section 10) that defines every market of the stream with `feed` as its only
  // source, provider ids equal to canonical ids (an in-house oddsjson feed).
  std::string mapping_toml(std::string_view feed) const {
    std::string text;
    for (const StreamMarket& m : markets) {
      const std::string id = std::to_string(m.id);
      text += "[[market]]\nid = " + id + "\nevent = " + std::to_string(m.event) +
              "\nname = \"Market " + id + "\"\nsources = [\"" + std::string(feed) +
              "\"]\nselections = [";
      std::string provider_selections;
      for (int s = 1; s <= m.selections; ++s) {
        const std::string sel = std::to_string(s);
        text += std::string(s > 1 ? ", " : "") + "{ id = " + sel + ", name = \"S" + sel + "\" }";
        provider_selections += std::string(s > 1 ? ", " : "") + "\"" + sel + "\" = " + sel;
      }
      text += "]\n\n[market.provider.\"" + std::string(feed) + "\"]\nmarket = \"" + id +
              "\"\nselections = { " + provider_selections + " }\n\n";
    }
    return text;
  }
};

namespace stream_generator_detail {

// SplitMix64: tiny, seedable, the same everywhere.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return next() % n; }
  bool percent(int p) { return static_cast<int>(below(100)) < p; }

 private:
  uint64_t state_;
};

// Odds with several exact spellings each: decimal, fractional, American (DESIGN section 10).
struct PaletteEntry {
  std::vector<std::string_view> decimal, fractional, american;
};
inline const std::vector<PaletteEntry>& palette() {
  static const std::vector<PaletteEntry> entries = {
      {{"2.5", "2.50"}, {"3/2"}, {"+150"}}, {{"2.0", "2.00"}, {"evens", "1/1"}, {"+100"}},
      {{"3.0"}, {"2/1"}, {"+200"}},         {{"1.5"}, {"1/2"}, {"-200"}},
      {{"1.9091"}, {"10/11"}, {"-110"}},    {{"4.0"}, {"3/1"}, {"+300"}},
      {{"1.25"}, {"1/4"}, {"-400"}},        {{"11.0", "11"}, {"10/1"}, {"+1000"}},
      {{"1.01"}, {"1/100"}, {"-10000"}},
  };
  return entries;
}

enum class Life : uint8_t { kUndefined, kLive, kSettled, kClosed };

struct MarketPlan {
  StreamMarket market;
  Life life = Life::kUndefined;
  bool needs_event = true;          // mappable: no line but its definition yet
  std::vector<std::string> recent;  // recent repeatable bodies (without pseq), newest last
};

}  // namespace stream_generator_detail

inline OddsJsonStream generate_oddsjson_stream(uint64_t seed, const OddsJsonStreamConfig& config) {
  using namespace stream_generator_detail;
  Random rng(seed * 0x2545f4914f6cdd1dULL + 1);
  OddsJsonStream out;
  OddsJsonStreamStats& stats = out.stats;
  std::vector<MarketPlan> plans(static_cast<size_t>(config.markets));
  for (size_t i = 0; i < plans.size(); ++i) {
    plans[i].market = {1001 + i, 501 + i, 2 + static_cast<int>(rng.below(3))};
  }
  uint64_t pseq = 0;
  uint64_t ts_ms = 1'795'000'000'000ULL + rng.below(1'000'000);

  auto emit = [&](const std::string& body, bool may_stamp) {
    if (may_stamp && config.pseq_percent > 0 && rng.percent(config.pseq_percent)) {
      out.lines.push_back("{\"pseq\":" + std::to_string(++pseq) + "," + body.substr(1));
    } else {
      out.lines.push_back(body);
    }
  };
  auto remember = [](MarketPlan& p, const std::string& body) {
    p.recent.push_back(body);
    if (p.recent.size() > 4) p.recent.erase(p.recent.begin());
  };
  auto market_field = [](const MarketPlan& p) {
    return "\"market\":" + std::to_string(p.market.id);
  };
  auto definition = [&](const MarketPlan& p, int selections, std::string_view status) {
    std::string body = "{\"type\":\"market\"," + market_field(p) +
                       ",\"event\":" + std::to_string(p.market.event) + ",\"name\":\"Market " +
                       std::to_string(p.market.id) + "\"";
    if (!status.empty()) body += ",\"status\":\"" + std::string(status) + "\"";
    body += ",\"selections\":[";
    for (int s = 1; s <= selections; ++s) {
      body += std::string(s > 1 ? "," : "") + "{\"id\":" + std::to_string(s) + ",\"name\":\"S" +
              std::to_string(s) + "\"}";
    }
    return body + "]}";
  };
  auto price = [&](const MarketPlan& p, uint64_t selection) {
    const PaletteEntry& entry = palette()[rng.below(palette().size())];
    const uint64_t format = rng.below(3);
    const auto& spellings = format == 0   ? entry.decimal
                            : format == 1 ? entry.fractional
                                          : entry.american;
    ++(format == 0 ? stats.decimal : format == 1 ? stats.fractional : stats.american);
    ++stats.prices;
    return "{\"type\":\"price\"," + market_field(p) +
           ",\"selection\":" + std::to_string(selection) + ",\"odds\":\"" +
           std::string(spellings[rng.below(spellings.size())]) + "\"}";
  };
  auto status = [&](const MarketPlan& p, std::string_view word, std::string_view reason) {
    ++stats.statuses;
    std::string body =
        "{\"type\":\"status\"," + market_field(p) + ",\"status\":\"" + std::string(word) + "\"";
    if (!reason.empty()) body += ",\"reason\":\"" + std::string(reason) + "\"";
    return body + "}";
  };
  auto malformed = [&]() -> std::string {
    ++stats.malformed;
    const MarketPlan& p = plans[rng.below(plans.size())];
    // A mappable stream names no mapped market before its definition, even in a bad line.
    const std::string live = std::to_string(
        config.mappable && p.life == Life::kUndefined ? 9001 + rng.below(3) : p.market.id);
    switch (rng.below(9)) {
      case 0:
        return "{\"type\":\"price\",\"market\":" + live + ",\"selection\":1";
      case 1:
        return "this is not json";
      case 2:
        return "{\"type\":\"odds\",\"market\":" + live + "}";
      case 3:
        return "{\"type\":\"status\",\"market\":" + live + "}";
      case 4:
        return "{\"type\":\"price\",\"market\":\"" + live + "\",\"selection\":1,\"odds\":\"2.0\"}";
      case 5:
        return "{\"type\":\"price\",\"market\":" + live + ",\"selection\":1,\"odds\":\"" +
               std::string(rng.percent(50) ? "0.5" : "abc") + "\"}";
      case 6:
        return "{\"type\":\"price\",\"market\":" + live + ",\"selection\":9,\"odds\":\"2.0\"}";
      case 7:
        return "{\"type\":\"price\",\"market\":" + std::to_string(9001 + rng.below(3)) +
               ",\"selection\":1,\"odds\":\"2.0\"}";
      default:
        return "{\"type\":\"status\",\"market\":" + std::to_string(9001 + rng.below(3)) +
               ",\"status\":\"open\"}";
    }
  };
  // Case 6 is rejected as long as no market has a ninth selection: true, they have at most 5.

  auto market_step = [&](MarketPlan& p, int step) {
    if (p.life == Life::kUndefined) {
      if (!config.mappable && rng.percent(10)) {
        // Mentioned before it is defined: rejected as an unknown market.
        ++stats.malformed;
        emit(price(p, 1), true);
        return;
      }
      p.life = Life::kLive;
      ++stats.definitions;
      std::string_view initial =
          config.mappable ? (rng.percent(50) ? "open" : "") : (rng.percent(20) ? "suspended" : "");
      const std::string body = definition(p, p.market.selections, initial);
      emit(body, true);
      if (!config.mappable) remember(p, body);
      out.markets.push_back(p.market);
      return;
    }
    if (p.life == Life::kSettled) {
      ++stats.malformed;  // a price for a settled market is rejected
      emit(price(p, 1 + rng.below(static_cast<uint64_t>(p.market.selections))), true);
      return;
    }
    const uint64_t action = rng.below(100);
    std::string body;
    if (action < 15 && !p.recent.empty()) {
      body = p.recent[rng.below(p.recent.size())];
      ++stats.repeats;
      emit(body, true);
      p.needs_event = false;
      return;
    }
    if (action < 40) {
      const uint64_t pick = rng.below(4);
      body = status(p, pick == 0 ? "open" : "suspended",
                    pick == 1   ? "trader"
                    : pick == 2 ? "provider"
                                : "");
    } else if (action < 44 && !config.mappable) {
      // A redefinition: with a status, or with one more selection (kept for the mapping).
      if (rng.percent(50) && p.market.selections < 5) {
        ++p.market.selections;
        for (StreamMarket& m : out.markets) {
          if (m.id == p.market.id) m.selections = p.market.selections;
        }
      }
      ++stats.definitions;
      body = definition(p, p.market.selections, rng.percent(50) ? "suspended" : "");
    } else if (action < 46 && step * 2 > config.lines) {
      const uint64_t how = rng.below(3);
      if (how == 2) {
        ++stats.closings;
        body = status(p, "closed", "");
        p.life = Life::kClosed;
      } else {
        ++stats.settlements;
        if (how == 0) {
          body = "{\"type\":\"settle\"," + market_field(p) + ",\"winners\":[" +
                 std::to_string(1 + rng.below(static_cast<uint64_t>(p.market.selections))) + "]}";
        } else {
          body = status(p, "settled", "");
        }
        p.life = Life::kSettled;
      }
    } else {
      body = price(p, 1 + rng.below(static_cast<uint64_t>(p.market.selections)));
    }
    emit(body, true);
    p.needs_event = false;
    if (p.life == Life::kLive) remember(p, body);
  };

  for (int step = 0; step < config.lines; ++step) {
    const uint64_t kind = rng.below(100);
    if (kind < 4) {
      ++stats.heartbeats;
      emit(rng.percent(50) ? std::string("{\"type\":\"heartbeat\"}")
                           : "{\"type\":\"heartbeat\",\"ts\":" + std::to_string(ts_ms + step) + "}",
           false);
      continue;
    }
    if (kind < 10) {
      out.lines.push_back(malformed());
      continue;
    }
    // A market that can still change; closed markets hear nothing more.
    MarketPlan* p = nullptr;
    for (int tries = 0; tries < 8 && p == nullptr; ++tries) {
      MarketPlan& candidate = plans[rng.below(plans.size())];
      if (candidate.life != Life::kClosed) p = &candidate;
    }
    if (p == nullptr) {
      out.lines.push_back(malformed());
      continue;
    }
    market_step(*p, step);
  }
  // Every market is defined, and (mappable) has heard something besides its definition.
  for (MarketPlan& p : plans) {
    if (p.life == Life::kUndefined) {
      p.life = Life::kLive;
      ++stats.definitions;
      emit(definition(p, p.market.selections, config.mappable ? "open" : ""), true);
      out.markets.push_back(p.market);
    }
    if (config.mappable && p.needs_event) {
      emit(price(p, 1 + rng.below(static_cast<uint64_t>(p.market.selections))), true);
      p.needs_event = false;
    }
  }
  std::sort(out.markets.begin(), out.markets.end(),
            [](const StreamMarket& a, const StreamMarket& b) { return a.id < b.id; });
  return out;
}

}  // namespace oddsbus::testing
