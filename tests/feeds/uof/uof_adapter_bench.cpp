// Throughput of UofAdapter on a realistic odds_change (a football match: ~50 markets, most of them
// unmapped, as a real feed sends every market of the event) against the bare pugixml parse of the
// same bytes. A benchmark, not a test: it prints rates and ratios and asserts nothing.
//   uof_adapter_bench [iterations per round] [adapter|adapter-small|adapter-large|small|large]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pugixml.hpp>
#include <string>
#include <vector>

#include "feeds/uof/uof_adapter.h"

namespace {

using oddsbus::feeds::Event;
using oddsbus::feeds::Mapping;
using oddsbus::feeds::uof::UofAdapter;

std::string outcome(int id, int odds_e2, bool active = true) {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                R"(<outcome id="%d" odds="%d.%02d" probabilities="0.%04d" active="%d"/>)", id,
                odds_e2 / 100, odds_e2 % 100, 10000 * 100 / (odds_e2 + 5) % 10000, active ? 1 : 0);
  return buf;
}

// `shift` moves every price a little, so that alternating two messages changes the mapped prices.
std::string odds_change(int shift) {
  std::string m =
      R"(<?xml version="1.0" encoding="UTF-8" standalone="yes"?><odds_change product="1" )"
      R"(event_id="sr:match:12345" timestamp="1700000001000"><sport_event_status status="1" )"
      R"(reporting="1" match_status="6" home_score="1" away_score="0"><clock match_time="23:41"/>)"
      R"(</sport_event_status><odds_generation_properties expected_totals="2.75" )"
      R"(expected_supremacy="0.4"/><odds betting_status="1">)";
  const auto market = [&](int id, const std::string& specifiers, const std::vector<int>& ids,
                          int base) {
    m += R"(<market favourite="1" status="1" id=")" + std::to_string(id) + "\"";
    if (!specifiers.empty()) m += R"( specifiers=")" + specifiers + "\"";
    m += ">";
    for (size_t i = 0; i < ids.size(); ++i) m += outcome(ids[i], base + 37 * int(i) + shift);
    m += "</market>";
  };
  market(1, "", {1, 2, 3}, 180);
  market(10, "", {9, 10, 11}, 120);
  market(29, "", {74, 76}, 170);
  for (int half = 0; half <= 12; ++half) {  // totals 0.5 .. 6.5
    char spec[32];
    std::snprintf(spec, sizeof spec, "total=%d.5", half / 2);
    if (half % 2 == 0) market(18, spec, {12, 13}, 150 + 20 * half);
  }
  for (int h = -3; h <= 3; ++h) {  // asian handicaps
    market(16, "hcp=" + std::to_string(h) + ".25", {1714, 1715}, 160 + 10 * (h + 3));
  }
  for (int h = 0; h < 6; ++h)
    market(68, "total=" + std::to_string(h) + ".5", {12, 13}, 140 + 15 * h);
  for (int goal = 1; goal <= 5; ++goal) {
    market(8, "goalnr=" + std::to_string(goal), {6, 7, 8}, 210);
  }
  std::vector<int> scores;
  for (int i = 0; i < 20; ++i) scores.push_back(110 + i);
  market(41, "score=1:0", scores, 700);
  for (int p = 0; p < 10; ++p) {
    market(40, "player=sr:player:" + std::to_string(100000 + p), {1716, 1717}, 300 + p);
  }
  m += "</odds></odds_change>";
  return m;
}

// One 1X2 market whose home price alternates: one price event per message, the shape of a
// simulated feed (feeds/sim) and of many live updates.
std::string small_odds_change(int shift) {
  return R"(<odds_change product="1" event_id="sr:match:12345" timestamp="1700000001000"><odds>)"
         R"(<market id="1" status="1">)" +
         outcome(1, 180 + shift) + outcome(2, 340) + outcome(3, 420) +
         "</market></odds></odds_change>";
}

template <typename F>
double rate(long iterations, F&& body) {
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < iterations; ++i) body(i);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return double(iterations) / took.count();
}

// Alternates two messages through a fresh adapter and through bare pugixml, and prints rates.
void measure(const char* title, const Mapping& mapping, const std::string (&messages)[2],
             long iterations, bool adapter_only) {
  UofAdapter adapter(mapping, "sr");
  std::vector<Event> out;
  out.reserve(64);
  size_t events = 0;
  pugi::xml_document document;
  size_t nodes = 0;
  std::string buffer;

  // Rounds interleave the loops and keep each one's best, so that a busy machine skews the
  // ratios less.
  constexpr int kRounds = 5;
  double adapter_rate = 0, pugixml_rate = 0, inplace_rate = 0;
  for (int round = 0; round < kRounds; ++round) {
    adapter_rate = std::max(adapter_rate, rate(iterations, [&](long i) {
                              out.clear();
                              if (!adapter.parse(messages[i & 1], out)) std::abort();
                              events += out.size();
                            }));
    if (adapter_only) continue;
    pugixml_rate =
        std::max(pugixml_rate, rate(iterations, [&](long i) {
                   if (!document.load_buffer(messages[i & 1].data(), messages[i & 1].size()))
                     std::abort();
                   nodes += document.document_element().first_child() ? 1 : 0;
                 }));
    inplace_rate =
        std::max(inplace_rate, rate(iterations, [&](long i) {
                   buffer.assign(messages[i & 1]);
                   if (!document.load_buffer_inplace(buffer.data(), buffer.size(),
                                                     pugi::parse_minimal | pugi::parse_escapes,
                                                     pugi::encoding_utf8)) {
                     std::abort();
                   }
                   nodes += document.document_element().first_child() ? 1 : 0;
                 }));
  }

  const double parsed = double(kRounds) * double(iterations);
  const double bytes = double(messages[0].size());
  std::printf("%s: %zu bytes, %.1f events/message, %.1f unknown markets/message\n", title,
              messages[0].size(), double(events) / parsed,
              double(adapter.counters().unknown_markets) / parsed);
  std::printf("  %-44s %10.0f msg/s %8.1f MB/s  1.00x\n", "UofAdapter::parse", adapter_rate,
              adapter_rate * bytes / 1e6);
  if (adapter_only) return;
  std::printf("  %-44s %10.0f msg/s %8.1f MB/s  %.2fx\n", "pugixml load_buffer (default options)",
              pugixml_rate, pugixml_rate * bytes / 1e6, pugixml_rate / adapter_rate);
  std::printf("  %-44s %10.0f msg/s %8.1f MB/s  %.2fx\n",
              "pugixml copy + load_buffer_inplace (ours)", inplace_rate, inplace_rate * bytes / 1e6,
              inplace_rate / adapter_rate);
  if (nodes == 0) std::abort();
}

}  // namespace

int main(int argc, char** argv) {
  const long iterations = std::max(1L, argc > 1 ? std::atol(argv[1]) : 100'000);
  // "adapter": only the adapter loops, for a profiler; "small"/"large": one message shape.
  const std::string_view mode = argc > 2 ? argv[2] : "";
  auto mapping = Mapping::load(std::string(ODDSBUS_TEST_DATA_DIR) + "/uof/mapping.toml");
  if (!mapping) {
    std::fprintf(stderr, "%s\n", mapping.error().c_str());
    return 1;
  }
  const bool adapter_only = mode.starts_with("adapter");
  if (!mode.ends_with("small")) {
    const std::string large[2] = {odds_change(0), odds_change(1)};
    measure("odds_change, a football match's markets", *mapping, large, iterations, adapter_only);
  }
  if (!mode.ends_with("large")) {
    const std::string small[2] = {small_odds_change(0), small_odds_change(1)};
    measure("odds_change, one market", *mapping, small, iterations * 20, adapter_only);
  }
  return 0;
}
