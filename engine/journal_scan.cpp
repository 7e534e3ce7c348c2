#include "engine/journal_scan.h"

#include <optional>

#include "schemas/batch.h"

namespace oddsbus::engine {

std::expected<ScanStats, JournalFault> scan_frames(const Journal& journal, uint64_t from_seq,
                                                   uint64_t to_seq, FrameVisit visit, void* ctx) {
  return scan_frames(journal, ScanStart{}, from_seq, to_seq, visit, ctx);
}

std::expected<ScanStats, JournalFault> scan_frames(const Journal& journal, const ScanStart& start,
                                                   uint64_t from_seq, uint64_t to_seq,
                                                   FrameVisit visit, void* ctx) {
  ScanStats stats;
  std::optional<JournalFault> fault;
  BatchReader reader;
  uint64_t expected_seq = start.after_seq + 1;
  uint32_t epoch = start.epoch;
  bool first_record = true;
  // Visits checked frames in order; false when the scan is to stop.
  auto visit_frames = [&](std::span<const fb::Frame* const> frames) {
    for (const fb::Frame* frame : frames) {
      if (frame->seq() <= start.after_seq) continue;  // folded into the snapshot
      if (frame->seq() > to_seq) {
        return false;
      }
      if (frame->epoch() < epoch) {
        fault = JournalFault{frame->seq(), "epoch goes back from " + std::to_string(epoch) +
                                               " to " + std::to_string(frame->epoch())};
        return false;
      }
      epoch = frame->epoch();
      expected_seq = frame->seq() + 1;
      if (frame->seq() < from_seq) continue;
      stats.last_seq = frame->seq();
      stats.last_epoch = epoch;
      ++stats.frames;
      if (!visit(ctx, *frame)) {
        return false;
      }
    }
    return true;
  };
  JournalReader records(journal);
  auto scanned = records.scan(expected_seq, [&](uint64_t key, std::span<const uint8_t> bytes) {
    if (expected_seq > to_seq) {
      return false;
    }
    // After a snapshot, the record holding its next seq may begin before it.
    const bool straddles = first_record && start.after_seq > 0 && key < expected_seq;
    first_record = false;
    if (key != expected_seq && !straddles) {
      fault = JournalFault{expected_seq, key > expected_seq
                                             ? "gap: seq " + std::to_string(expected_seq) +
                                                   " missing, next record starts at " +
                                                   std::to_string(key)
                                             : "record " + std::to_string(key) + " overlaps"};
      return false;
    }
    auto opened = reader.open(bytes);
    if ((opened || !reader.frames().empty()) &&
        (reader.header().first_seq != key || reader.heartbeat() ||
         reader.header().channel != journal.info().channel)) {
      fault = JournalFault{key, "record header does not match its key or channel"};
      return false;
    }
    if (!visit_frames(reader.frames())) return false;
    if (!opened) {
      // The frames before the bad one were good and visited; the fault matters only if the scan
      // needed to go past it.
      if (opened.error().seq <= to_seq) {
        fault =
            JournalFault{opened.error().seq,
                         "corrupt frame (" + std::string(to_string(opened.error().error)) + ")"};
      }
      return false;
    }
    ++stats.batches;
    return true;
  });
  if (!scanned) return std::unexpected(JournalFault{expected_seq, scanned.error()});
  if (fault) return std::unexpected(*fault);
  return stats;
}

}  // namespace oddsbus::engine
