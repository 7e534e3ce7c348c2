// The `live-state` suite of odds-bench (issue 15, bounded live state): memory while markets come
// and go. A generated stream defines --live-markets markets one after another (three selections,
// two prices each, then a settlement), the sequencer clock moving 1 ms a market, through the
// sequencer (engine/sequencer.h) and a second fold of the same frames (what a replica, an edge
// and replay hold). Run twice, each in its own child process, side by side: with --evict-after
// 10 s of that clock (about 10,000 markets live at once) and, as the baseline, without eviction.
// Prints the resident set size (VmRSS) at ten checkpoints and at the end, the markets held, and
// the ratio of the last RSS to the one at the first checkpoint for both runs. Journal growth is
// not measured here: retention bounds it (engine/retention.h). Exit 1 if a run failed or the
// evicting run's two folds disagree.
#pragma once

#include <cstdint>

namespace oddsbus::bench {

struct LiveStateOptions {
  uint64_t markets = 1'000'000;
};

int run_live_state_suite(const LiveStateOptions& options);

}  // namespace oddsbus::bench
