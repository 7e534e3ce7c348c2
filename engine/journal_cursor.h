// A pull-style reader of a journal's frames: next() hands out one checked frame at a time, so a
// caller can walk two journals in lockstep (compare) or jump to any seq (the time index) without
// folding from seq 1 through a callback.
//
// Each record is copied out of LMDB inside one short read transaction (JournalReader::scan that
// visits one record), so no transaction is held between calls: a live writer is never held up by
// a reader that pauses, and the map may grow between calls.
//
// Checks, from the seq the cursor was placed at: each batch's header, CRC32C and FlatBuffers
// verification (BatchReader), seq continuity across records, channel, and epochs that never go
// back. The first fault is returned, naming its seq; frames before it were handed out whole.
// Unlike scan_frames (journal_scan.h), frames before the starting seq are not read: a caller that
// must not go past damage anywhere before it uses scan_frames (or verify) instead.
//
// Thread safety: none; one cursor per thread. A frame pointer stays valid until the next call.
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <vector>

#include "engine/journal.h"
#include "engine/journal_scan.h"
#include "schemas/batch.h"

namespace oddsbus::engine {

class FrameCursor {
 public:
  explicit FrameCursor(const Journal& journal);

  // Places the cursor so that next() returns frame `seq` (1 when 0).
  void seek(uint64_t seq);

  // The next frame in seq order, or nullptr at the end of the log (as far as it is written now: a
  // later call may find frames a live writer appended since).
  std::expected<const fb::Frame*, JournalFault> next();

  // The checked frames of the record that holds `seq`, in seq order (empty when the log does not
  // hold seq). Does not move the cursor's position for next(), but invalidates its frame.
  std::expected<std::span<const fb::Frame* const>, JournalFault> record_holding(uint64_t seq);

  uint64_t records_read() const { return records_read_; }

 private:
  // Loads the record holding `seq` into bytes_/batch_; false (no error) when there is none.
  std::expected<bool, JournalFault> load(uint64_t seq);

  const Journal& journal_;
  JournalReader reader_;
  BatchReader batch_;
  std::vector<uint64_t> bytes_;  // u64 storage keeps frames 8-byte aligned
  bool loaded_ = false;
  uint64_t next_seq_ = 1;
  uint32_t epoch_ = 0;
  uint64_t records_read_ = 0;
};

}  // namespace oddsbus::engine
