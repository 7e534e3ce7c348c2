// Writes the arbiter's notices (edge/arbiter.h) to the log, rate-limited per kind: a flood of one
// kind (corrupt batches, fenced frames) cannot hide another, nor flood the log. State changes
// (mode, epoch, snapshot, divergence) get a shorter interval than faults, since each matters.
//
// Thread safety: owned by the thread that owns the arbiter (a LogLimiter is single-threaded).
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "edge/arbiter.h"
#include "schemas/log.h"

namespace oddsbus::edge {

class ArbiterNoticeLog {
 public:
  ArbiterNoticeLog();
  // Logs each notice unless its kind's limiter holds it back (then the next line of that kind says
  // how many were skipped).
  void write(std::span<const ArbiterNotice> notices, uint64_t now_ns);

 private:
  static constexpr size_t kKinds = static_cast<size_t>(ArbiterNotice::Kind::kOverflow) + 1;
  std::array<LogLimiter, kKinds> limiters_;
};

}  // namespace oddsbus::edge
