// Per-message faults for one line of a simulated feed: drop, duplicate, corrupt and delay.
//
// Each line has its own seed, derived from the run's seed and the line's index, and each decision
// is a pure function of (line seed, message seq): the same seed gives the same faults whatever the
// timing, and two lines of one provider fault independently (a drop on one line is usually not a
// drop on the other). Image messages (seq 0) are never faulted.
//
// Precedence for one message: corrupt (a garbled line replaces it), else drop (nothing is sent),
// else sent, twice when duplicated (a garbled line is sent once). The delay is independent of the
// rest; the sender keeps a line's order (it is one TCP stream), so a delay also holds back what
// follows.
//
// Thread safety: immutable after construction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace oddsbus::feeds::sim {

struct FaultConfig {
  double drop = 0;            // fraction of messages not sent
  double duplicate = 0;       // fraction sent twice
  double corrupt = 0;         // fraction replaced by a garbled line
  uint32_t delay_max_ms = 0;  // each message is held back uniformly 0..max ms
};

struct FaultDecision {
  bool drop = false;
  bool duplicate = false;
  bool corrupt = false;
  uint64_t delay_ns = 0;
  uint64_t garble_key = 0;  // for corrupt_line()

  // Copies of the message (or of its garbled form) the line sends: 0, 1 or 2.
  int copies() const { return drop ? 0 : (duplicate ? 2 : 1); }
};

// The seed of line `line` (0, 1, ...) of a run seeded with `seed`.
uint64_t derive_line_seed(uint64_t seed, uint32_t line);

class FaultPlan {
 public:
  FaultPlan(const FaultConfig& config, uint64_t line_seed);

  FaultDecision decide(uint64_t seq) const;
  bool any() const;  // whether any per-message fault is configured
  const FaultConfig& config() const { return config_; }

 private:
  FaultConfig config_;
  uint64_t line_seed_;
};

// A garbled copy of `message` (its terminator, "\n" or "\r\n", kept): truncated, bytes flipped, or
// binary junk inserted, always so that it is no longer a well-formed JSON object or XML document
// and holds no line break of its own.
std::string corrupt_line(std::string_view message, uint64_t garble_key);

}  // namespace oddsbus::feeds::sim
