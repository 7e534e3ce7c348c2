// When `odds-replay republish` sends each journaled batch (DESIGN section 10, issue 13): the
// journal's own rhythm, scaled by a speed, so an edge run against an incident sees the frames
// arrive as they did (or 10x faster, or as fast as the sockets go).
//
// The schedule is a pure function of the batches' stamps (the sequencer's wall-clock stamp of
// each batch's last frame, the moment the batch could first have been published) and the speed:
// batch i is due (sum over j <= i of max(0, stamp_j - stamp_{j-1})) / speed after batch 0. Gaps
// are taken between consecutive batches, not from the first one, because the wall clock that
// stamped them may have stepped back (NTP, or a takeover by a node whose clock is behind): a stamp
// earlier than its predecessor adds no wait, and the batches after it keep their own spacing
// instead of waiting for the clock to catch up. With `max` every batch is due at once.
//
// Sans-I/O: no clock, no sleep; the driver (engine/journal_republisher.h) adds the offsets to its
// monotonic start time. Not thread-safe; one per republish.
// Invariants: offsets never decrease; the first is 0; under `max` all are 0.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace oddsbus::engine {

struct RepublishSpeed {
  double factor = 1.0;  // journal time per real time (> 0); 2: twice as fast
  bool max = false;     // as fast as possible: no waits at all
};

// Parses `--speed`: "max", or a positive number (1, 10, 0.5). A one-line reason otherwise.
std::expected<RepublishSpeed, std::string> parse_republish_speed(std::string_view text);

class PacingSchedule {
 public:
  explicit PacingSchedule(RepublishSpeed speed) : speed_(speed) {}

  // The offset in ns after the first batch at which the next batch, stamped `stamp_ns`, is due.
  // Call once per batch, in journal order.
  uint64_t next(uint64_t stamp_ns);

 private:
  RepublishSpeed speed_;
  bool started_ = false;
  uint64_t previous_stamp_ns_ = 0;
  uint64_t forward_ns_ = 0;  // the sum of the forward gaps so far, in journal time
};

}  // namespace oddsbus::engine
