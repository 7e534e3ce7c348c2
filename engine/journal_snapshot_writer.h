// The node's snapshot writer (issue 13, "Journal snapshots"; issue 15, "Retention"): an agent on
// its own thread that follows the journal the sequencer writes, folds its frames into a
// SnapshotState of its own, and every `every_frames` frames or `every_ns` (monotonic) writes that
// state into the journal as a snapshot (engine/journal_snapshot.h). With a retention policy it
// then prunes the log behind a snapshot, in bounded steps (engine/retention.h says which).
//
// Why its own thread and fold: the sequencer's hot path must not stall. Encoding a snapshot costs
// time in the number of markets; here it costs this thread only. The sequencer's appends wait
// only while this thread's short write transactions (the put of an encoded record, one bounded
// prune step) hold LMDB's writer lock; the counters time both (put_ns_max, prune_ns_max).
//
// Rewrites: a set-aside (fencing) removes the log's tail and the snapshots past it and raises the
// journal's generation (engine/journal.h). A snapshot is put with the generation its fold began
// under, so one folded from a history that is gone is refused (kStale), and the writer folds
// again from the newest surviving snapshot.
//
// Snapshots are taken at record ends only (the writer folds whole records), so a log pruned
// behind one begins exactly at the next record.
//
// Thread safety: do_work() and snapshot_now() from one thread (the "snapshots" thread, or the
// caller in ingest and tests). counters() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <expected>
#include <string>

#include "engine/journal.h"
#include "engine/journal_snapshot.h"
#include "engine/retention.h"
#include "schemas/batch.h"

namespace oddsbus::engine {

struct SnapshotPolicy {
  uint64_t every_frames = 10000;          // 0: not by count
  uint64_t every_ns = 60'000'000'000ull;  // 0: not by time
};

struct alignas(64) SnapshotWriterCounters {
  std::atomic<uint64_t> written{0};
  std::atomic<uint64_t> stale{0};            // refused: the log was rewritten under the fold
  std::atomic<uint64_t> failures{0};         // put or prune errors (logged)
  std::atomic<uint64_t> corrupt_skipped{0};  // damaged snapshots passed over when (re)starting
  std::atomic<uint64_t> refolds{0};          // folds begun again after a rewrite
  std::atomic<uint64_t> frames_followed{0};
  std::atomic<uint64_t> last_snapshot_seq{0};
  std::atomic<uint64_t> encode_ns_max{0};  // this thread only
  std::atomic<uint64_t> put_ns_max{0};     // holds LMDB's writer lock: appends may wait
  std::atomic<uint64_t> records_pruned{0};
  std::atomic<uint64_t> prune_ns_max{0};    // one bounded step; holds the writer lock
  std::atomic<uint64_t> pruned_through{0};  // the snapshot the log was last pruned behind
};

class SnapshotWriter {
 public:
  SnapshotWriter(Journal& journal, const SnapshotPolicy& policy, const RetentionPolicy& retention);

  // One turn at monotonic time `now_ns` and wall time `wall_ns`: follows up to a bounded number
  // of new records, writes a snapshot when one is due, and takes one retention step. Returns how
  // much it did (0: idle), or an error it could not go past (the log is damaged).
  std::expected<size_t, std::string> do_work(uint64_t now_ns, uint64_t wall_ns);

  // Follows the journal to its end and writes a snapshot there if it holds none yet (the end of
  // an ingest). Returns whether it wrote one.
  std::expected<bool, std::string> snapshot_now(uint64_t now_ns);

  const SnapshotWriterCounters& counters() const { return counters_; }

 private:
  // Starts the fold again at the newest snapshot (or seq 1) under the current generation.
  std::expected<void, std::string> refold();
  // Folds up to max_records records after the fold's seq; stops early once a snapshot is due by
  // count. Returns the records folded.
  std::expected<size_t, std::string> follow(size_t max_records);
  std::expected<bool, std::string> write_snapshot(uint64_t now_ns);
  std::expected<size_t, std::string> retention_step(uint64_t wall_ns);

  Journal& journal_;
  SnapshotPolicy policy_;
  Retention retention_;
  bool folding_ = false;  // refold() has run under generation_
  uint64_t generation_ = 0;
  SnapshotState fold_;
  uint64_t fold_stamp_ns_ = 0;  // sequenced_ns of the fold's last frame
  uint64_t last_snapshot_seq_ = 0;
  uint64_t last_snapshot_ns_ = 0;  // monotonic
  BatchReader reader_;
  SnapshotWriterCounters counters_;
};

}  // namespace oddsbus::engine
