// Retention (issue 15): which snapshot the journal's log may be pruned behind. A frame is pruned
// only when it is older than every limit given (the count and the age) and lies wholly before a
// snapshot, so `state`, `verify` and a restart still have a place to start (engine/journal.h,
// Journal::prune_through). The journal therefore holds at least `retain_frames` frames and every
// frame stamped within `retain_age_ns`, plus up to one snapshot interval more.
//
// Sans-I/O: told the snapshots the journal holds (their seq and the sequencer stamp of their last
// frame) and asked with the last seq and the wall clock. Not thread-safe: the snapshot writer
// owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <expected>
#include <string>
#include <string_view>

namespace oddsbus::engine {

struct RetentionPolicy {
  uint64_t retain_frames = 0;     // 0: no limit by count
  uint64_t retain_age_ns = 0;     // 0: no limit by age
  size_t records_per_step = 256;  // log records deleted per write transaction, at most
  bool enabled() const { return retain_frames > 0 || retain_age_ns > 0; }
};

// "500ms", "90s", "15m", "2h", "7d" (a bare number is seconds). A one-line reason otherwise.
std::expected<uint64_t, std::string> parse_duration_ns(std::string_view text);

class Retention {
 public:
  explicit Retention(const RetentionPolicy& policy) : policy_(policy) {}

  const RetentionPolicy& policy() const { return policy_; }

  // A snapshot at `seq` whose last frame was stamped `stamp_ns`; seqs must ascend.
  void note_snapshot(uint64_t seq, uint64_t stamp_ns);
  // Forgets every snapshot (the journal was rewritten; they are noted again).
  void clear() { snapshots_.clear(); }

  // The newest snapshot the log may be pruned behind with the log ending at `last_seq` at wall
  // time `wall_ns`; 0 when none may (retention off, or no snapshot old enough).
  uint64_t prune_target(uint64_t last_seq, uint64_t wall_ns) const;

  // The log was pruned behind `seq`: snapshots below it are gone.
  void pruned_through(uint64_t seq);

 private:
  struct Known {
    uint64_t seq;
    uint64_t stamp_ns;
  };
  RetentionPolicy policy_;
  std::deque<Known> snapshots_;
};

}  // namespace oddsbus::engine
