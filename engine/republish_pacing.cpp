#include "engine/republish_pacing.h"

#include <charconv>
#include <cmath>

namespace oddsbus::engine {

std::expected<RepublishSpeed, std::string> parse_republish_speed(std::string_view text) {
  if (text == "max") return RepublishSpeed{1.0, true};
  double factor = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), factor);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(factor) ||
      factor <= 0) {
    return std::unexpected("--speed: \"" + std::string(text) +
                           "\" is neither a positive number (1 = as journaled, 10 = ten times "
                           "faster) nor max");
  }
  return RepublishSpeed{factor, false};
}

uint64_t PacingSchedule::next(uint64_t stamp_ns) {
  if (started_ && stamp_ns > previous_stamp_ns_) forward_ns_ += stamp_ns - previous_stamp_ns_;
  started_ = true;
  previous_stamp_ns_ = stamp_ns;
  if (speed_.max) return 0;
  // Scaled from the running sum, not gap by gap, so rounding never accumulates over a long
  // journal.
  const double offset = std::round(static_cast<double>(forward_ns_) / speed_.factor);
  return offset >= 9.0e18 ? uint64_t{9'000'000'000'000'000'000u} : static_cast<uint64_t>(offset);
}

}  // namespace oddsbus::engine
