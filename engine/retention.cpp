#include "engine/retention.h"

#include <charconv>

namespace oddsbus::engine {

std::expected<uint64_t, std::string> parse_duration_ns(std::string_view text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const std::string_view unit(end, text.data() + text.size() - end);
  uint64_t scale = 0;
  if (unit == "ms") {
    scale = 1'000'000ull;
  } else if (unit.empty() || unit == "s") {
    scale = 1'000'000'000ull;
  } else if (unit == "m") {
    scale = 60'000'000'000ull;
  } else if (unit == "h") {
    scale = 3'600'000'000'000ull;
  } else if (unit == "d") {
    scale = 86'400'000'000'000ull;
  }
  if (ec != std::errc() || end == text.data() || scale == 0 || value == 0 ||
      value > UINT64_MAX / scale) {
    return std::unexpected(
        "'" + std::string(text) +
        "' is not a duration (a positive number with ms, s, m, h or d, e.g. 7d)");
  }
  return value * scale;
}

void Retention::note_snapshot(uint64_t seq, uint64_t stamp_ns) {
  if (!snapshots_.empty() && seq <= snapshots_.back().seq) return;
  snapshots_.push_back({seq, stamp_ns});
}

uint64_t Retention::prune_target(uint64_t last_seq, uint64_t wall_ns) const {
  if (!policy_.enabled()) return 0;
  uint64_t target = 0;
  for (const Known& known : snapshots_) {
    const bool by_count =
        policy_.retain_frames == 0 || known.seq + policy_.retain_frames <= last_seq;
    const bool by_age =
        policy_.retain_age_ns == 0 || known.stamp_ns + policy_.retain_age_ns <= wall_ns;
    if (!by_count || !by_age) break;  // later snapshots are newer still
    target = known.seq;
  }
  return target;
}

void Retention::pruned_through(uint64_t seq) {
  while (!snapshots_.empty() && snapshots_.front().seq < seq) snapshots_.pop_front();
}

}  // namespace oddsbus::engine
