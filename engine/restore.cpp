#include "engine/restore.h"

#include "engine/journal_scan.h"
#include "engine/journal_snapshot.h"

namespace oddsbus::engine {

std::expected<std::unique_ptr<Sequencer>, std::string> restore_sequencer(const Journal& journal) {
  SequencerConfig config;
  config.channel = journal.info().channel;
  config.node = journal.info().node;
  config.epoch = journal.epoch();
  auto sequencer = std::make_unique<Sequencer>(config);
  // From the nearest snapshot (a damaged one is skipped with a warning), else from seq 1.
  auto start = fold_start(journal, journal.last_seq());
  if (!start) return std::unexpected(start.error());
  const ScanStart scan_start = start->scan();
  if (start->snapshot) {
    sequencer->restore_snapshot(std::move(start->snapshot->state), start->snapshot->epoch_start,
                                std::move(start->snapshot->desk));
    // The history's EpochChange lies before the snapshot: read it for the epoch it continued.
    const uint64_t epoch_start = sequencer->history().start;
    if (epoch_start > 1 && epoch_start <= scan_start.after_seq) {
      const ScanStart before{epoch_start - 1, 0};
      (void)scan_frames(journal, before, epoch_start, epoch_start, [&](const fb::Frame& frame) {
        sequencer->note_epoch_change(frame);
        return false;
      });
    }
  }
  auto scanned = scan_frames(journal, scan_start, 1, kNoLimit, [&](const fb::Frame& frame) {
    sequencer->restore(frame);
    return true;
  });
  if (!scanned) {
    return std::unexpected("journal " + journal.dir() + " is damaged at seq " +
                           std::to_string(scanned.error().seq) + ": " + scanned.error().problem +
                           "; run odds-replay verify --journal " + journal.dir());
  }
  if (sequencer->last_seq() != journal.last_seq()) {
    return std::unexpected("journal " + journal.dir() + " restored to seq " +
                           std::to_string(sequencer->last_seq()) + " but its log ends at " +
                           std::to_string(journal.last_seq()));
  }
  return sequencer;
}

}  // namespace oddsbus::engine
