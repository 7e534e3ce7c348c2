// Finds frames by wall-clock time: binary search over a journal's records by their frames'
// sequencer stamps (Frame::sequenced_ns), reading O(log records) records instead of the log.
//
// What a time means. Frames are stamped by the sequencer's wall clock, which can step backwards
// (an NTP step, a takeover by a node whose clock is behind). A query treats the log's clock as the
// running maximum of its stamps (a clock that never goes back), so:
//   first_at_or_after(T) = the first seq, in seq order, whose frame is stamped at or after T
//                          (last_seq + 1 when none is);
//   last_at_or_before(T) = first_at_or_after(T + 1) - 1: the end of the longest prefix of the log
//                          whose frames are all stamped at or before T (0: none). This is what
//                          "the state at T" means, and it never includes a frame stamped after T.
// The search is exact while stamps never decrease. When they can, it is exact as long as no frame
// is stamped `clock_step_window_ns` or more before an earlier frame: after the binary search it
// scans back from its answer over the frames stamped within the window before T, a scan bounded by
// that window, and moves the answer to any earlier frame stamped at or after T. A step back larger
// than the window can make the answer a later frame with the same property (its predecessor is
// stamped before T), never an earlier one that is not. Cost: O(log records) records for the
// search, plus the records stamped within the window before T for the scan back.
//
// Thread safety: none; one index per thread. It holds no read transaction between calls (it reads
// through a FrameCursor), so it may be used on a journal a live node is writing; the log's end is
// read at each call.
#pragma once

#include <cstdint>
#include <expected>

#include "engine/journal.h"
#include "engine/journal_cursor.h"
#include "engine/journal_scan.h"

namespace oddsbus::engine {

struct TimeIndexConfig {
  // See above. The scan back reads the frames stamped within this window before T, so it costs
  // window x frame rate frames: 1 s covers a takeover by a node whose clock is behind by the
  // usual NTP skew (milliseconds) with a wide margin, at a few hundred records on a busy journal.
  uint64_t clock_step_window_ns = 1'000'000'000ull;
};

class JournalTimeIndex {
 public:
  explicit JournalTimeIndex(const Journal& journal, const TimeIndexConfig& config = {});

  std::expected<uint64_t, JournalFault> first_at_or_after(uint64_t time_ns);
  std::expected<uint64_t, JournalFault> last_at_or_before(uint64_t time_ns);

  // Records read by all calls so far (each is one short read transaction).
  uint64_t records_read() const { return cursor_.records_read(); }

 private:
  // The journal's last seq as written now (0: empty).
  std::expected<uint64_t, JournalFault> end_seq();

  const Journal& journal_;
  TimeIndexConfig config_;
  FrameCursor cursor_;
};

}  // namespace oddsbus::engine
