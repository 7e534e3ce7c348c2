// Fuzz target: the uof-xml adapter (feeds/uof/uof_adapter.h) through make_adapter. An input is a
// stream: one XML document per line, applied in order to one fresh adapter.
// Also differential: the same lines through an adapter with its <odds_change> byte scanner and one
// without (pugixml for every message) must give the same results, events, counters and unknown-id
// samples, message by message.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "feeds/uof/uof_adapter.h"
#include "tests/fuzz/adapter_fuzz.h"

namespace {

// Feed "sr" maps 1X2 and two totals of match 12345 and 1X2 of match 67890; feed "sr2" maps the
// same 1X2 again, so a leak across feed names would emit a market "sr" must not know (1005).
constexpr const char* kMapping = R"toml(
[[market]]
id = 1001
event = 501
name = "Match Odds"
sources = ["sr"]
selections = [{ id = 1, name = "Home" }, { id = 2, name = "Draw" }, { id = 3, name = "Away" }]

[market.provider.sr]
event = "sr:match:12345"
market = "1"
specifiers = ""
selections = { "1" = 1, "2" = 2, "3" = 3 }

[[market]]
id = 1002
event = 501
name = "Total Goals 2.5"
sources = ["sr"]
selections = [{ id = 1, name = "Over 2.5" }, { id = 2, name = "Under 2.5" }]

[market.provider.sr]
event = "sr:match:12345"
market = "18"
specifiers = "total=2.5"
selections = { "12" = 1, "13" = 2 }

[[market]]
id = 1003
event = 501
name = "Total Goals 3.5"
sources = ["sr"]
selections = [{ id = 1, name = "Over 3.5" }, { id = 2, name = "Under 3.5" }]

[market.provider.sr]
event = "sr:match:12345"
market = "18"
specifiers = "total=3.5"
selections = { "12" = 1, "13" = 2 }

[[market]]
id = 1004
event = 502
name = "Match Odds"
sources = ["sr"]
selections = [{ id = 1, name = "Home" }, { id = 2, name = "Draw" }, { id = 3, name = "Away" }]

[market.provider.sr]
event = "sr:match:67890"
market = "1"
selections = { "1" = 1, "2" = 2, "3" = 3 }

[[market]]
id = 1005
event = 501
name = "Match Odds (second provider account)"
sources = ["sr2"]
selections = [{ id = 1, name = "Home" }, { id = 2, name = "Draw" }, { id = 3, name = "Away" }]

[market.provider.sr2]
event = "sr:match:12345"
market = "1"
selections = { "1" = 1, "2" = 2, "3" = 3 }
)toml";

bool same_event(const oddsbus::feeds::Event& a, const oddsbus::feeds::Event& b) {
  return a.type == b.type && a.market == b.market && a.event == b.event &&
         a.selection == b.selection && a.odds.price_e4 == b.odds.price_e4 &&
         a.odds.format == b.odds.format && a.odds.numerator == b.odds.numerator &&
         a.odds.denominator == b.odds.denominator && a.odds_text == b.odds_text &&
         a.status == b.status && a.reason == b.reason && a.winners == b.winners &&
         a.source_ns == b.source_ns && a.source == b.source && a.source_up == b.source_up;
}

void run_both_paths(const oddsbus::feeds::Mapping& mapping, const uint8_t* data, size_t size) {
  using namespace oddsbus::feeds;
  uof::UofAdapter fast(mapping, "sr");
  uof::UofAdapter reference(mapping, "sr");
  reference.use_scanner(false);
  LineSplitter splitter(1 << 16);
  std::vector<Event> fast_out;
  std::vector<Event> reference_out;
  auto on_message = [&](std::string_view message, bool too_long) {
    if (too_long) return;
    fast_out.clear();
    reference_out.clear();
    const auto fast_result = fast.parse(message, fast_out);
    const auto reference_result = reference.parse(message, reference_out);
    FUZZ_CHECK(fast_result.has_value() == reference_result.has_value());
    if (!fast_result) {
      FUZZ_CHECK(fast_result.error().reason == reference_result.error().reason);
      FUZZ_CHECK(fast_result.error().detail == reference_result.error().detail);
    }
    FUZZ_CHECK(fast_out.size() == reference_out.size());
    for (size_t i = 0; i < fast_out.size(); ++i) {
      FUZZ_CHECK(same_event(fast_out[i], reference_out[i]));
    }
    const AdapterCounters& a = fast.counters();
    const AdapterCounters& b = reference.counters();
    FUZZ_CHECK(a.messages == b.messages && a.events == b.events && a.heartbeats == b.heartbeats &&
               a.rejected == b.rejected && a.unknown_markets == b.unknown_markets &&
               a.unknown_selections == b.unknown_selections);
    const uof::UofCounters& u = fast.uof_counters();
    const uof::UofCounters& v = reference.uof_counters();
    FUZZ_CHECK(u.bad_odds == v.bad_odds && u.snapshot_complete == v.snapshot_complete &&
               u.fixture_change == v.fixture_change && u.source_down == v.source_down);
    FUZZ_CHECK(v.scanned == 0);
    FUZZ_CHECK(fast.unknown_ids() == reference.unknown_ids());
    FUZZ_CHECK(fast.source_up() == reference.source_up());
  };
  splitter.feed(std::string_view(reinterpret_cast<const char*>(data), size), on_message);
  splitter.feed("\n", on_message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace oddsbus;
  const feeds::Mapping& mapping = fuzz::mapping_from(kMapping);
  fuzz::run_adapter("uof-xml", "sr", mapping, data, size);
  run_both_paths(mapping, data, size);
  return 0;
}
