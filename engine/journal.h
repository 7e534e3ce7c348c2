// The journal: one LMDB environment per node, holding the sequenced log and the node's metadata
// (DESIGN section 4).
//
// Layout: database "log" maps first seq (u64, MDB_INTEGERKEY) -> one batch (schemas/batch.h) of
// consecutive frames; database "meta" holds "format" (kJournalFormat), "node", "channel" and
// "epoch". The last seq is derived from the last log record, so it can never disagree with the log.
// Database "snapshots" maps seq (u64, MDB_INTEGERKEY) -> one state snapshot at that seq
// (engine/journal_snapshot.h encodes it); it lives beside the log, so the log stays gap-free, and
// a journal written before snapshots existed simply has none. Retention (prune_through) removes
// the log's oldest records, only behind a snapshot, so the log runs gap-free from
// oldest snapshot + 1 (or from seq 1 when nothing was pruned).
//
// LMDB's rules, which this class keeps:
//  - One write transaction at a time, and short: append() and set_epoch() are each one write
//    transaction; they must be called from one thread (the sequencer's). put_snapshot() and
//    prune_through() may be called from one other thread (the node's snapshot writer): LMDB
//    serializes their write transactions with append()'s (its writer mutex), and they hold the
//    map lock shared like a scan, so the map never grows under them. They read nothing the
//    sequencer thread writes outside LMDB, except generation(), an atomic.
//  - Readers never block the writer's transactions. A JournalReader owns one read transaction,
//    live only inside one scan() call (reset when the call returns, renewed by the next), and must
//    be used by one thread at a time (MDB_NOTLS lets it move between threads).
//  - The map is grown only with no read transaction active in this process. lmdb.h,
//    mdb_env_set_mapsize: it "may be called at later times if no transactions are active in this
//    process. Note that the library does not check for this condition, the caller must ensure it
//    explicitly." (it unmaps and remaps the file, so a reader's views would dangle). Each scan()
//    holds the journal's map lock shared for the life of its transaction; append() grows the map,
//    after aborting its own write transaction, under the lock held exclusively. So a grow waits for
//    the scans in progress to return, and scans that start meanwhile wait for the grow. The map is
//    reserved large at open (JournalConfig::map_size, 64 GiB of address space, sparse on disk), so
//    growing is rare. A scan callback must therefore never wait for the writer's append.
//  - An MDB_val points into the map and is valid only while its transaction lives: views handed
//    to a scan callback are valid only during the call.
//
// Durability kSync fsyncs on every commit; kNoSync leaves flushing to the OS (a process crash loses
// nothing, a machine crash may lose the tail). A directory that exists, is not empty and holds no
// oddsbus journal is refused, never overwritten.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <type_traits>

namespace oddsbus::engine {

inline constexpr const char* kJournalFormat = "oddsbus-journal/1";

enum class Durability : uint8_t { kSync, kNoSync };

// Told of every change to the log, on the writer's thread, right after it was committed (e.g.
// engine/committed_queue.h, which hands committed batches to the recovery thread). It must not
// block and must not call back into the journal. `batch` is valid only during the call.
class JournalObserver {
 public:
  virtual ~JournalObserver() = default;
  // append() committed `batch` (seq first_seq..last_seq).
  virtual void on_appended(uint64_t first_seq, uint64_t last_seq,
                           std::span<const uint8_t> batch) = 0;
  // set_aside_from(from_seq) is about to remove frames (the log's history from from_seq on is
  // rewritten; a record that straddles from_seq will hold fewer frames), and then is done with it,
  // whether it changed the log or failed. A reader that scanned between the two calls may have
  // seen either history.
  virtual void on_rewriting(uint64_t from_seq) = 0;
  virtual void on_rewritten(uint64_t from_seq) = 0;
};

struct JournalConfig {
  std::string dir;
  Durability durability = Durability::kNoSync;
  uint32_t node = 1;                  // recorded when the journal is created
  uint32_t channel = 0;               // recorded when the journal is created
  bool create = true;                 // create the journal when the directory is absent or empty
  bool read_only = false;             // open for reading only (replay); implies !create
  size_t map_size = size_t{1} << 36;  // address space reserved; grown when full
};

struct JournalInfo {
  uint32_t node = 0;
  uint32_t channel = 0;
  uint32_t epoch = 0;
  uint64_t last_seq = 0;  // 0: empty log
};

class Journal {
 public:
  // Opens or creates the journal. Errors are one-line messages that say what to do.
  static std::expected<std::unique_ptr<Journal>, std::string> open(const JournalConfig& config);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends one batch in one write transaction (group commit). first_seq must be last_seq() + 1
  // and last_seq the batch's last frame; anything else is refused and nothing is written.
  std::expected<void, std::string> append(uint64_t first_seq, uint64_t last_seq,
                                          std::span<const uint8_t> batch);

  std::expected<void, std::string> set_epoch(uint32_t epoch);

  // Fencing (DESIGN section 4): moves every frame from `from_seq` on out of the log, for a node
  // whose history lost to a higher epoch. The frames are first appended to `aside_path` (created
  // with its directories; fsynced) as length-prefixed batches (u64 little-endian byte count, then
  // one batch of schemas/batch.h), then removed in one write transaction; a record that holds
  // frames on both sides of from_seq keeps the earlier ones. Afterwards last_seq() is
  // from_seq - 1. Returns how many frames were set aside (0: none held, nothing written).
  // Never deletes a frame it could not first write aside.
  // Snapshots from from_seq on are invalid afterwards and are deleted in the same transaction;
  // generation() is raised before it commits.
  std::expected<uint64_t, std::string> set_aside_from(uint64_t from_seq,
                                                      const std::string& aside_path);

  // Raised by every set-aside (the log's history was rewritten), before its transaction commits.
  // A snapshot folded from the log while it was g must be put with generation g.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Stores `record` (engine/journal_snapshot.h) as the snapshot at `seq`, in its own write
  // transaction. kStale, writing nothing, when the log does not hold seq or was rewritten since
  // `generation` (the state was folded from a history that is gone). Any one thread besides the
  // sequencer's (see above).
  enum class SnapshotPut : uint8_t { kWritten, kStale };
  std::expected<SnapshotPut, std::string> put_snapshot(uint64_t seq, uint64_t generation,
                                                       std::span<const uint8_t> record);

  // Retention: deletes, oldest first and at most `max_records` of them, the log records wholly at
  // or before `seq`, and the snapshots before `seq`, in one write transaction. Only behind a
  // snapshot: nothing is deleted unless the journal holds a snapshot at `seq`; the log's last
  // record is never deleted (the last seq is read from it). Returns the records deleted (0: none
  // left to delete). Same thread rules as put_snapshot().
  std::expected<size_t, std::string> prune_through(uint64_t seq, size_t max_records);

  // Writes a raw snapshot record, bypassing every check. Only for tests that build damaged
  // journals.
  std::expected<void, std::string> put_raw_snapshot_for_test(uint64_t seq,
                                                             std::span<const uint8_t> record);

  // Backup (issue 15): writes a consistent copy of the journal into `out_dir` (created; it must be
  // absent or empty) with LMDB's mdb_env_copy2(MDB_CP_COMPACT): one read transaction, so the copy
  // is the journal as of one commit, free pages left out. Safe on a live journal from any thread
  // (it is a reader: it holds the map lock shared, and never blocks the writer's commits).
  // The copy is an ordinary journal: open it to restore.
  std::expected<void, std::string> copy_to(const std::string& out_dir) const;

  // Tells `observer` (null: nobody) of every later append and set-aside. Writer's thread; set it
  // before the writes it should see. It must outlive the journal or be reset first.
  void set_observer(JournalObserver* observer) { observer_ = observer; }

  const JournalInfo& info() const { return info_; }
  uint64_t last_seq() const { return info_.last_seq; }
  uint32_t epoch() const { return info_.epoch; }
  const std::string& dir() const { return dir_; }

  MDB_env* env() const { return env_; }
  MDB_dbi log_dbi() const { return log_; }
  // 0 when the journal has no snapshot database (written before snapshots, opened read-only).
  MDB_dbi snapshots_dbi() const { return snapshots_; }

  // Writes a raw log record, bypassing every check. Only for tests that build damaged journals.
  std::expected<void, std::string> put_raw_for_test(uint64_t key, std::span<const uint8_t> value);

 private:
  Journal() = default;
  std::expected<void, std::string> init(const JournalConfig& config);
  std::expected<void, std::string> load_last_seq(MDB_txn* txn);
  std::expected<void, std::string> grow_map();

  std::string dir_;
  MDB_env* env_ = nullptr;
  MDB_dbi log_ = 0;
  MDB_dbi meta_ = 0;
  MDB_dbi snapshots_ = 0;
  std::atomic<uint64_t> generation_{0};
  JournalInfo info_;
  bool read_only_ = false;
  JournalObserver* observer_ = nullptr;
  // Shared by every scan while its read transaction lives; exclusive while the map grows.
  mutable std::shared_mutex map_lock_;

  friend class JournalReader;
};

// Scans the log in key order. Owns one read transaction, renewed per scan and reset before scan()
// returns, under the journal's map lock (see above). Not thread-safe; use one per thread.
class JournalReader {
 public:
  explicit JournalReader(const Journal& journal);
  ~JournalReader();
  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;

  // Calls visit(ctx, key, bytes) for every record that may hold seq >= from_seq, in key order,
  // until it returns false. `bytes` is valid only during the call. While it runs the map cannot
  // grow, so the writer's append() may wait for it: visit must not wait for an append.
  using Visit = bool (*)(void* ctx, uint64_t key, std::span<const uint8_t> bytes);
  std::expected<void, std::string> scan(uint64_t from_seq, Visit visit, void* ctx);

  // Calls visit(ctx, seq, bytes) for the snapshots, under the same rules: ascending from the first
  // at or after `seq`, or (descending) from the last at or before `seq`. Nothing when the journal
  // has no snapshot database.
  enum class Direction : uint8_t { kUp, kDown };
  std::expected<void, std::string> scan_snapshots(uint64_t seq, Direction direction, Visit visit,
                                                  void* ctx);

  template <typename F>
  std::expected<void, std::string> scan_snapshots(uint64_t seq, Direction direction, F&& f) {
    return scan_snapshots(
        seq, direction,
        [](void* ctx, uint64_t key, std::span<const uint8_t> bytes) {
          return (*static_cast<std::remove_reference_t<F>*>(ctx))(key, bytes);
        },
        &f);
  }

  template <typename F>
  std::expected<void, std::string> scan(uint64_t from_seq, F&& f) {
    return scan(
        from_seq,
        [](void* ctx, uint64_t key, std::span<const uint8_t> bytes) {
          return (*static_cast<std::remove_reference_t<F>*>(ctx))(key, bytes);
        },
        &f);
  }

 private:
  const Journal& journal_;
  MDB_txn* txn_ = nullptr;
};

}  // namespace oddsbus::engine
