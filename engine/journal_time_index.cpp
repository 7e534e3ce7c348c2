#include "engine/journal_time_index.h"

#include <algorithm>

namespace oddsbus::engine {

JournalTimeIndex::JournalTimeIndex(const Journal& journal, const TimeIndexConfig& config)
    : journal_(journal), config_(config), cursor_(journal) {}

std::expected<uint64_t, JournalFault> JournalTimeIndex::end_seq() {
  // The last record's last frame; a damaged last record ends where its good frames end.
  uint64_t last = 0;
  JournalReader reader(journal_);
  BatchReader batch;
  auto read = reader.scan(kNoLimit, [&](uint64_t key, std::span<const uint8_t> bytes) {
    (void)batch.open(bytes);
    last = batch.frames().empty() ? key - 1 : key + batch.frames().size() - 1;
    return false;
  });
  if (!read) return std::unexpected(JournalFault{0, read.error()});
  return last;
}

std::expected<uint64_t, JournalFault> JournalTimeIndex::first_at_or_after(uint64_t time_ns) {
  auto end = end_seq();
  if (!end) return std::unexpected(end.error());
  // Invariants: every frame before lo that the search has read is stamped before time_ns (or lo is
  // 1); hi is last + 1 or a frame stamped at or after time_ns whose predecessor, when read, is not.
  uint64_t lo = 1;
  uint64_t hi = *end + 1;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    auto frames = cursor_.record_holding(mid);
    if (!frames) return std::unexpected(frames.error());
    if (frames->empty()) {
      return std::unexpected(JournalFault{mid, "no record holds seq " + std::to_string(mid)});
    }
    // Resolve the whole record at once: the first frame in [lo, hi) of this record stamped at or
    // after time_ns ends the search; none means the answer lies after the record.
    const uint64_t first = std::max(lo, (*frames).front()->seq());
    const uint64_t last = std::min(hi - 1, (*frames).back()->seq());
    const uint64_t base = (*frames).front()->seq();
    if ((*frames)[first - base]->sequenced_ns() >= time_ns) {
      hi = first;  // the answer is this record's first candidate or earlier
      if (first == lo) break;
      continue;
    }
    uint64_t found = 0;
    for (uint64_t seq = first + 1; seq <= last; ++seq) {
      if ((*frames)[seq - base]->sequenced_ns() >= time_ns) {
        found = seq;
        break;
      }
    }
    if (found != 0) {
      lo = hi = found;
      break;
    }
    lo = last + 1;
  }
  uint64_t answer = hi;
  // The bounded scan back (see the header): earlier frames stamped at or after time_ns exist only
  // if the clock stepped back; under the window's assumption they lie among the frames stamped
  // after time_ns - window, which the scan walks, record by record, from the answer down.
  const uint64_t floor_ns =
      time_ns > config_.clock_step_window_ns ? time_ns - config_.clock_step_window_ns : 0;
  uint64_t seq = answer - 1;
  while (seq >= 1) {
    auto frames = cursor_.record_holding(seq);
    if (!frames) return std::unexpected(frames.error());
    if (frames->empty()) break;
    const uint64_t base = (*frames).front()->seq();
    bool below_floor = false;
    for (uint64_t s = seq; s >= base; --s) {
      const uint64_t stamp = (*frames)[s - base]->sequenced_ns();
      if (stamp >= time_ns) answer = s;
      if (stamp <= floor_ns) {
        below_floor = true;
        break;
      }
      if (s == base) break;
    }
    if (below_floor || base == 1) break;
    seq = base - 1;
  }
  return answer;
}

std::expected<uint64_t, JournalFault> JournalTimeIndex::last_at_or_before(uint64_t time_ns) {
  if (time_ns == kNoLimit) {
    auto end = end_seq();
    if (!end) return std::unexpected(end.error());
    return *end;
  }
  auto first_after = first_at_or_after(time_ns + 1);
  if (!first_after) return std::unexpected(first_after.error());
  return *first_after - 1;
}

}  // namespace oddsbus::engine
