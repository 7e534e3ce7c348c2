// The `replay` suite of odds-bench (DESIGN section 8, issue 13): how fast odds-replay answers an
// investigator's queries on a generated journal (--frames price frames over --markets markets, in
// records of 50 frames stamped 1 ms apart, with suspensions and one takeover), against the
// baselines measured in the same run: a full fold from seq 1 (what every state query cost before
// the time index and snapshots), and the raw LMDB read of the same records (the floor).
//
// Queries, each through the library call the odds-replay command makes: state at the last seq
// (the full fold), state at the middle seq and at the middle time (time index), the time-to-seq
// lookup alone by binary search vs a linear scan of stamps, one market's history, a diff over the
// second half, and a JSON-lines export to /dev/null. Every query runs `repeat` times, interleaved;
// the table quotes medians and ratios against the baselines. A query that fails, or whose answer
// disagrees with the fold's (the state at the middle time must be the state at the middle seq),
// fails the run; a missed target never does.
#pragma once

#include <cstdint>
#include <filesystem>

namespace oddsbus::bench {

struct ReplayOptions {
  std::filesystem::path dir;  // parent of the scratch journal
  uint64_t frames = 200'000;
  uint64_t markets = 1000;
  unsigned repeat = 5;
};

// Runs the suite, printing to stdout. Returns the process exit status: 0, or 1 after printing why
// to stderr.
int run_replay_suite(const ReplayOptions& options);

}  // namespace oddsbus::bench
