// The `feeds` suite of odds-bench (DESIGN section 8): parsed messages per second for each provider
// format through its real adapter, against the bare parse of the same bytes by the library the
// adapter uses (simdjson, pugixml), on pre-generated in-memory corpora: the feed simulator's stream
// in each format and, when present, a real Betfair capture. Adapter and bare runs alternate side by
// side for `repeat` rounds; one table of medians, the ratios against their target, and a one-line
// JSON summary.
//
// A missed target is reported, never a failure. A corpus the adapter or the library rejects any
// message of (or whose ids the mapping does not know) is a failure: its numbers would not measure
// parsing.
#pragma once

#include <cstdint>
#include <filesystem>

namespace oddsbus::bench {

struct FeedsOptions {
  uint64_t messages = 200'000;  // per simulated format; the capture is repeated to at least this
  unsigned repeat = 5;
  std::filesystem::path capture;  // a Betfair stream capture; its row is skipped when absent
};

// Runs the suite, printing to stdout. Returns the process exit status: 0, or 1 after printing why
// to stderr.
int run_feeds_suite(const FeedsOptions& options);

}  // namespace oddsbus::bench
