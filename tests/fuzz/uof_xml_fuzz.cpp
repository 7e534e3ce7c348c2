// Fuzz target: the uof-xml adapter (feeds/uof/uof_adapter.h) through make_adapter. An input is a
// stream: one XML document per line, applied in order to one fresh adapter.
#include <cstddef>
#include <cstdint>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace oddsbus;
  const feeds::Mapping& mapping = fuzz::mapping_from(kMapping);
  fuzz::run_adapter("uof-xml", "sr", mapping, data, size);
  return 0;
}
