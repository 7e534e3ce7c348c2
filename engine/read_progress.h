// Progress of a long journal read, for a tool to show on stderr (odds-replay): the engine reports
// how far it got now and then, and the tool decides whether enough time has passed to print.
// A plain function pointer with context, called every kProgressEvery frames: free when unset.
#pragma once

#include <cstdint>

namespace oddsbus::engine {

inline constexpr uint64_t kProgressEvery = 1 << 16;

struct ReadProgress {
  // `seq`: the seq just read; `last_seq`: the journal's last seq when it was opened (a live
  // journal may have grown since).
  void (*report)(void* ctx, uint64_t seq, uint64_t last_seq) = nullptr;
  void* ctx = nullptr;

  void at(uint64_t seq, uint64_t last_seq) const {
    if (report != nullptr && seq % kProgressEvery == 0) report(ctx, seq, last_seq);
  }
};

}  // namespace oddsbus::engine
