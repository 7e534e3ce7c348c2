// Fuzz target: the betfair-stream adapter (feeds/betfair/stream_adapter.h) through make_adapter.
// An input is a stream: messages separated by LF or CRLF, applied in order to one fresh adapter.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/adapter_fuzz.h"

namespace {

// Two mapped markets under feed "bf"; runner 1099 and market 1.999999999 are left unmapped so
// that the unknown-id paths are reachable (the seeds use them).
constexpr const char* kMapping = R"toml(
[[market]]
id = 9001
event = 901
name = "Match Odds"
sources = ["bf"]
selections = [{ id = 1, name = "Home" }, { id = 2, name = "Away" }, { id = 3, name = "Draw" }]

[market.provider.bf]
market = "1.100000001"
selections = { "1001" = 1, "1002" = 2, "1003" = 3 }

[[market]]
id = 200806927
event = 31573045
name = "Tennis: Match Odds"
sources = ["bf"]
selections = [{ id = 1, name = "Runner 228749" }, { id = 2, name = "Runner 2857977" }]

[market.provider.bf]
market = "1.200806927"
selections = { "228749" = 1, "2857977" = 2 }
)toml";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace oddsbus;
  fuzz::run_adapter("betfair-stream", "bf", fuzz::mapping_from(kMapping), data, size);
  return 0;
}
