// The `pipeline` suite of odds-bench (DESIGN section 8): raw ZeroMQ PUB/SUB, raw LMDB appends of
// the full path's bytes, and the full path with nosync and with sync journals, each run `repeat`
// times in interleaved rounds, then one table of medians, the ratios against their targets, and a
// one-line JSON summary.
//
// A missed target is reported, never a failure (machines are noisy). A full-path run whose
// subscriber did not apply every seq exactly once is a failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace oddsbus::bench {

struct SuiteOptions {
  uint64_t frames = 1'000'000;  // per measurement
  unsigned repeat = 3;
  size_t producers = 1;
  size_t max_batch_frames = 4096;
  std::filesystem::path dir;  // parent of the scratch directories; journals are written here
};

// Runs the suite, printing to stdout. Returns the process exit status: 0, or 1 after printing why
// to stderr (a setup error, or frames lost, duplicated or corrupted).
int run_pipeline_suite(const SuiteOptions& options);

}  // namespace oddsbus::bench
