#include "engine/journal.h"

#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <system_error>

#include "schemas/batch.h"

namespace oddsbus::engine {
namespace {

namespace fs = std::filesystem;

std::string lmdb_error(const std::string& what, int rc) { return what + ": " + mdb_strerror(rc); }

MDB_val as_val(const void* data, size_t size) { return MDB_val{size, const_cast<void*>(data)}; }

// Aborts a transaction unless it was committed.
struct TxnGuard {
  MDB_txn* txn = nullptr;
  ~TxnGuard() {
    if (txn != nullptr) mdb_txn_abort(txn);
  }
  int commit() {
    const int rc = mdb_txn_commit(txn);
    txn = nullptr;
    return rc;
  }
};

std::expected<void, std::string> put_u32(MDB_txn* txn, MDB_dbi dbi, const char* key,
                                         uint32_t value) {
  MDB_val k = as_val(key, std::strlen(key));
  MDB_val v = as_val(&value, sizeof value);
  if (const int rc = mdb_put(txn, dbi, &k, &v, 0); rc != 0) {
    return std::unexpected(lmdb_error(std::string("writing journal metadata ") + key, rc));
  }
  return {};
}

uint32_t get_u32(MDB_txn* txn, MDB_dbi dbi, const char* key) {
  MDB_val k = as_val(key, std::strlen(key));
  MDB_val v;
  uint32_t value = 0;
  if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == sizeof value) {
    std::memcpy(&value, v.mv_data, sizeof value);
  }
  return value;
}

}  // namespace

std::expected<std::unique_ptr<Journal>, std::string> Journal::open(const JournalConfig& config) {
  std::unique_ptr<Journal> journal(new Journal());
  if (auto ok = journal->init(config); !ok) return std::unexpected(ok.error());
  return journal;
}

Journal::~Journal() {
  if (env_ != nullptr) mdb_env_close(env_);
}

std::expected<void, std::string> Journal::init(const JournalConfig& config) {
  dir_ = config.dir;
  read_only_ = config.read_only;
  const bool may_create = config.create && !config.read_only;
  std::error_code ec;
  const fs::path dir(config.dir);
  const bool exists = fs::exists(dir, ec);
  const bool has_data = exists && fs::exists(dir / "data.mdb", ec);
  bool creating = false;
  if (!exists) {
    if (!may_create) {
      return std::unexpected("journal directory " + config.dir +
                             " does not exist; give the directory of an existing journal");
    }
    if (!fs::create_directories(dir, ec)) {
      return std::unexpected("cannot create journal directory " + config.dir + ": " + ec.message());
    }
    creating = true;
  } else if (!fs::is_directory(dir, ec)) {
    return std::unexpected("journal path " + config.dir + " is not a directory");
  } else if (!has_data) {
    if (!fs::is_empty(dir, ec)) {
      return std::unexpected("directory " + config.dir +
                             " is not empty and holds no oddsbus journal; refusing to use it "
                             "(give an empty or new directory)");
    }
    if (!may_create) {
      return std::unexpected("directory " + config.dir + " holds no oddsbus journal");
    }
    creating = true;
  }

  if (int rc = mdb_env_create(&env_); rc != 0)
    return std::unexpected(lmdb_error("mdb_env_create", rc));
  mdb_env_set_maxdbs(env_, 4);
  mdb_env_set_mapsize(env_, config.map_size);
  unsigned flags = MDB_NOTLS;
  if (config.read_only) flags |= MDB_RDONLY;
  if (config.durability == Durability::kNoSync) flags |= MDB_NOSYNC | MDB_NOMETASYNC;
  if (int rc = mdb_env_open(env_, config.dir.c_str(), flags, 0644); rc != 0) {
    return std::unexpected(lmdb_error("cannot open journal " + config.dir, rc));
  }

  TxnGuard txn;
  if (int rc = mdb_txn_begin(env_, nullptr, config.read_only ? MDB_RDONLY : 0, &txn.txn); rc != 0) {
    return std::unexpected(lmdb_error("cannot begin a transaction on " + config.dir, rc));
  }
  const unsigned create_flag = creating ? MDB_CREATE : 0;
  if (int rc = mdb_dbi_open(txn.txn, "meta", create_flag, &meta_); rc != 0) {
    return std::unexpected("directory " + config.dir +
                           " holds an LMDB environment that is not an oddsbus journal (" +
                           mdb_strerror(rc) + "); refusing to use it");
  }
  MDB_val format_key = as_val("format", 6);
  MDB_val format_value;
  const std::string_view expected_format(kJournalFormat);
  if (creating) {
    MDB_val v = as_val(expected_format.data(), expected_format.size());
    if (int rc = mdb_put(txn.txn, meta_, &format_key, &v, 0); rc != 0) {
      return std::unexpected(lmdb_error("writing journal format", rc));
    }
    if (auto ok = put_u32(txn.txn, meta_, "node", config.node); !ok) return ok;
    if (auto ok = put_u32(txn.txn, meta_, "channel", config.channel); !ok) return ok;
    if (auto ok = put_u32(txn.txn, meta_, "epoch", 1); !ok) return ok;
  } else {
    if (mdb_get(txn.txn, meta_, &format_key, &format_value) != 0 ||
        std::string_view(static_cast<const char*>(format_value.mv_data), format_value.mv_size) !=
            expected_format) {
      return std::unexpected("directory " + config.dir + " is not an " +
                             std::string(kJournalFormat) + " journal; refusing to use it");
    }
  }
  if (int rc = mdb_dbi_open(txn.txn, "log", create_flag | MDB_INTEGERKEY, &log_); rc != 0) {
    return std::unexpected(lmdb_error("journal " + config.dir + " has no log", rc));
  }
  // Snapshots came later: a journal written before them gains the database when opened for
  // writing, and read-only has none.
  const unsigned snapshots_flags = (config.read_only ? 0u : unsigned{MDB_CREATE}) | MDB_INTEGERKEY;
  if (int rc = mdb_dbi_open(txn.txn, "snapshots", snapshots_flags, &snapshots_); rc != 0) {
    if (rc != MDB_NOTFOUND) return std::unexpected(lmdb_error("journal " + config.dir, rc));
    snapshots_ = 0;
  }
  info_.node = get_u32(txn.txn, meta_, "node");
  info_.channel = get_u32(txn.txn, meta_, "channel");
  info_.epoch = get_u32(txn.txn, meta_, "epoch");
  if (auto ok = load_last_seq(txn.txn); !ok) return ok;
  // Committing (even a read-only transaction) keeps the database handles open for later ones.
  if (int rc = txn.commit(); rc != 0) return std::unexpected(lmdb_error("opening journal", rc));
  return {};
}

std::expected<void, std::string> Journal::load_last_seq(MDB_txn* txn) {
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn, log_, &cursor); rc != 0) {
    return std::unexpected(lmdb_error("reading journal log", rc));
  }
  MDB_val key;
  MDB_val value;
  info_.last_seq = 0;
  const int rc = mdb_cursor_get(cursor, &key, &value, MDB_LAST);
  if (rc == 0) {
    BatchHeader header;
    if (value.mv_size < sizeof header) {
      mdb_cursor_close(cursor);
      return std::unexpected("journal " + dir_ +
                             " ends in a damaged record; run odds-replay verify to locate it");
    }
    std::memcpy(&header, value.mv_data, sizeof header);
    uint64_t first = 0;
    std::memcpy(&first, key.mv_data, sizeof first);
    if (header.magic != kBatchMagic || header.count == 0 || header.first_seq != first) {
      mdb_cursor_close(cursor);
      return std::unexpected("journal " + dir_ +
                             " ends in a damaged record; run odds-replay verify to locate it");
    }
    info_.last_seq = header.first_seq + header.count - 1;
  }
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND) return std::unexpected(lmdb_error("reading journal log", rc));
  return {};
}

std::expected<void, std::string> Journal::grow_map() {
  // No read transaction of this process may be active while the map is replaced (journal.h).
  std::unique_lock lock(map_lock_);
  MDB_envinfo env_info;
  mdb_env_info(env_, &env_info);
  if (int rc = mdb_env_set_mapsize(env_, env_info.me_mapsize * 2); rc != 0) {
    return std::unexpected(lmdb_error("growing journal map", rc));
  }
  return {};
}

std::expected<void, std::string> Journal::append(uint64_t first_seq, uint64_t last_seq,
                                                 std::span<const uint8_t> batch) {
  if (read_only_) return std::unexpected("journal " + dir_ + " is open read-only");
  if (first_seq != info_.last_seq + 1 || last_seq < first_seq) {
    return std::unexpected("refusing to append seq " + std::to_string(first_seq) + ".." +
                           std::to_string(last_seq) + " after last seq " +
                           std::to_string(info_.last_seq));
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    TxnGuard txn;
    if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn.txn); rc != 0) {
      return std::unexpected(lmdb_error("journal append", rc));
    }
    MDB_val key = as_val(&first_seq, sizeof first_seq);
    MDB_val value = as_val(batch.data(), batch.size());
    int rc = mdb_put(txn.txn, log_, &key, &value, MDB_APPEND);
    if (rc == 0) rc = txn.commit();
    if (rc == 0) {
      info_.last_seq = last_seq;
      if (observer_ != nullptr) observer_->on_appended(first_seq, last_seq, batch);
      return {};
    }
    if (rc != MDB_MAP_FULL || attempt > 0) return std::unexpected(lmdb_error("journal append", rc));
    if (txn.txn != nullptr) {  // the map can only grow with no transaction open
      mdb_txn_abort(txn.txn);
      txn.txn = nullptr;
    }
    if (auto grown = grow_map(); !grown) return grown;
  }
  return std::unexpected("journal append: map still full after growing");
}

std::expected<void, std::string> Journal::set_epoch(uint32_t epoch) {
  TxnGuard txn;
  if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn.txn); rc != 0) {
    return std::unexpected(lmdb_error("journal epoch", rc));
  }
  if (auto ok = put_u32(txn.txn, meta_, "epoch", epoch); !ok) return ok;
  if (int rc = txn.commit(); rc != 0) return std::unexpected(lmdb_error("journal epoch", rc));
  info_.epoch = epoch;
  return {};
}

namespace {

// The last seq of the log as `txn` sees it (0: empty); nullopt when the last record is damaged.
std::optional<uint64_t> log_last_seq(MDB_txn* txn, MDB_dbi log) {
  MDB_cursor* cursor = nullptr;
  if (mdb_cursor_open(txn, log, &cursor) != 0) return std::nullopt;
  MDB_val key;
  MDB_val value;
  std::optional<uint64_t> last = 0;
  if (mdb_cursor_get(cursor, &key, &value, MDB_LAST) == 0) {
    BatchHeader header;
    if (value.mv_size < sizeof header) {
      last = std::nullopt;
    } else {
      std::memcpy(&header, value.mv_data, sizeof header);
      last = header.magic == kBatchMagic && header.count > 0
                 ? std::optional(header.first_seq + header.count - 1)
                 : std::nullopt;
    }
  }
  mdb_cursor_close(cursor);
  return last;
}

}  // namespace

std::expected<Journal::SnapshotPut, std::string> Journal::put_snapshot(
    uint64_t seq, uint64_t generation, std::span<const uint8_t> record) {
  if (read_only_ || snapshots_ == 0) return std::unexpected("journal " + dir_ + " is read-only");
  // Shared like a scan: the map must not grow while this transaction lives (see journal.h).
  std::shared_lock lock(map_lock_);
  TxnGuard txn;
  if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn.txn); rc != 0) {
    return std::unexpected(lmdb_error("journal snapshot", rc));
  }
  // Holding LMDB's writer lock now: a set-aside either committed before (and raised the
  // generation) or begins after this commits (and deletes the snapshot if it is past its cut).
  if (generation_.load(std::memory_order_acquire) != generation) return SnapshotPut::kStale;
  const std::optional<uint64_t> last = log_last_seq(txn.txn, log_);
  if (!last || seq == 0 || seq > *last) return SnapshotPut::kStale;
  MDB_val key = as_val(&seq, sizeof seq);
  MDB_val value = as_val(record.data(), record.size());
  int rc = mdb_put(txn.txn, snapshots_, &key, &value, 0);
  if (rc == 0) rc = txn.commit();
  if (rc != 0) return std::unexpected(lmdb_error("journal snapshot", rc));
  return SnapshotPut::kWritten;
}

std::expected<size_t, std::string> Journal::prune_through(uint64_t seq, size_t max_records) {
  if (read_only_ || snapshots_ == 0) return std::unexpected("journal " + dir_ + " is read-only");
  std::shared_lock lock(map_lock_);
  TxnGuard txn;
  if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn.txn); rc != 0) {
    return std::unexpected(lmdb_error("journal retention", rc));
  }
  MDB_val key = as_val(&seq, sizeof seq);
  MDB_val value;
  if (mdb_get(txn.txn, snapshots_, &key, &value) != 0) return size_t{0};  // only behind one
  size_t deleted = 0;
  int rc = 0;
  for (MDB_dbi dbi : {log_, snapshots_}) {
    MDB_cursor* cursor = nullptr;
    if (rc = mdb_cursor_open(txn.txn, dbi, &cursor); rc != 0) break;
    MDB_val last_key;
    uint64_t last = 0;
    if (mdb_cursor_get(cursor, &last_key, &value, MDB_LAST) == 0) {
      std::memcpy(&last, last_key.mv_data, sizeof last);
    }
    while (deleted < max_records && mdb_cursor_get(cursor, &key, &value, MDB_FIRST) == 0) {
      uint64_t k = 0;
      std::memcpy(&k, key.mv_data, sizeof k);
      if (dbi == snapshots_) {
        if (k >= seq) break;
      } else {
        BatchHeader header;
        if (k == last || value.mv_size < sizeof header) break;
        std::memcpy(&header, value.mv_data, sizeof header);
        if (header.magic != kBatchMagic || header.count == 0 ||
            header.first_seq + header.count - 1 > seq) {
          break;
        }
      }
      if (rc = mdb_cursor_del(cursor, 0); rc != 0) break;
      if (dbi == log_) ++deleted;
    }
    mdb_cursor_close(cursor);
    if (rc != 0) break;
  }
  if (rc == 0) rc = txn.commit();
  if (rc != 0) return std::unexpected(lmdb_error("journal retention", rc));
  return deleted;
}

std::expected<void, std::string> Journal::put_raw_snapshot_for_test(
    uint64_t seq, std::span<const uint8_t> record) {
  TxnGuard txn;
  if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn.txn); rc != 0) {
    return std::unexpected(lmdb_error("raw snapshot", rc));
  }
  MDB_val k = as_val(&seq, sizeof seq);
  MDB_val v = as_val(record.data(), record.size());
  if (int rc = mdb_put(txn.txn, snapshots_, &k, &v, 0); rc != 0) {
    return std::unexpected(lmdb_error("raw snapshot", rc));
  }
  if (int rc = txn.commit(); rc != 0) return std::unexpected(lmdb_error("raw snapshot", rc));
  return {};
}

std::expected<void, std::string> Journal::copy_to(const std::string& out_dir) const {
  std::error_code ec;
  const fs::path out(out_dir);
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec) || !fs::is_empty(out, ec)) {
      return std::unexpected("backup directory " + out_dir +
                             " exists and is not empty; give a new or empty directory");
    }
  } else if (!fs::create_directories(out, ec)) {
    return std::unexpected("cannot create backup directory " + out_dir + ": " + ec.message());
  }
  // A reader like a scan: the map must not be replaced while the copy's transaction lives.
  std::shared_lock lock(map_lock_);
  if (int rc = mdb_env_copy2(env_, out_dir.c_str(), MDB_CP_COMPACT); rc != 0) {
    return std::unexpected(lmdb_error("copying journal " + dir_ + " to " + out_dir, rc));
  }
  return {};
}

std::expected<void, std::string> Journal::put_raw_for_test(uint64_t key,
                                                           std::span<const uint8_t> value) {
  TxnGuard txn;
  if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn.txn); rc != 0) {
    return std::unexpected(lmdb_error("raw put", rc));
  }
  MDB_val k = as_val(&key, sizeof key);
  MDB_val v = as_val(value.data(), value.size());
  if (int rc = mdb_put(txn.txn, log_, &k, &v, 0); rc != 0) {
    return std::unexpected(lmdb_error("raw put", rc));
  }
  if (int rc = txn.commit(); rc != 0) return std::unexpected(lmdb_error("raw put", rc));
  return {};
}

JournalReader::JournalReader(const Journal& journal) : journal_(journal) {}

JournalReader::~JournalReader() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
}

std::expected<void, std::string> JournalReader::scan(uint64_t from_seq, Visit visit, void* ctx) {
  // Held until the transaction is reset below, so the map cannot grow under it (journal.h).
  std::shared_lock lock(journal_.map_lock_);
  int rc = txn_ == nullptr ? mdb_txn_begin(journal_.env(), nullptr, MDB_RDONLY, &txn_)
                           : mdb_txn_renew(txn_);
  if (rc != 0) return std::unexpected(lmdb_error("journal read", rc));
  MDB_cursor* cursor = nullptr;
  rc = mdb_cursor_open(txn_, journal_.log_dbi(), &cursor);
  if (rc != 0) {
    mdb_txn_reset(txn_);
    return std::unexpected(lmdb_error("journal read", rc));
  }
  MDB_val key = as_val(&from_seq, sizeof from_seq);
  MDB_val value;
  rc = mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE);
  uint64_t found = 0;
  if (rc == 0) std::memcpy(&found, key.mv_data, sizeof found);
  if (rc == 0 && found > from_seq) {
    // The record holding from_seq, if any, starts before it.
    if (mdb_cursor_get(cursor, &key, &value, MDB_PREV) != 0) {
      rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST);
    }
  } else if (rc == MDB_NOTFOUND) {
    rc = mdb_cursor_get(cursor, &key, &value, MDB_LAST);
  }
  while (rc == 0) {
    uint64_t k = 0;
    std::memcpy(&k, key.mv_data, sizeof k);
    if (!visit(ctx, k, {static_cast<const uint8_t*>(value.mv_data), value.mv_size})) break;
    rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  mdb_txn_reset(txn_);
  if (rc != 0 && rc != MDB_NOTFOUND) return std::unexpected(lmdb_error("journal read", rc));
  return {};
}

std::expected<void, std::string> JournalReader::scan_snapshots(uint64_t seq, Direction direction,
                                                               Visit visit, void* ctx) {
  if (journal_.snapshots_dbi() == 0) return {};
  std::shared_lock lock(journal_.map_lock_);
  int rc = txn_ == nullptr ? mdb_txn_begin(journal_.env(), nullptr, MDB_RDONLY, &txn_)
                           : mdb_txn_renew(txn_);
  if (rc != 0) return std::unexpected(lmdb_error("journal snapshot read", rc));
  MDB_cursor* cursor = nullptr;
  rc = mdb_cursor_open(txn_, journal_.snapshots_dbi(), &cursor);
  if (rc != 0) {
    mdb_txn_reset(txn_);
    return std::unexpected(lmdb_error("journal snapshot read", rc));
  }
  MDB_val key = as_val(&seq, sizeof seq);
  MDB_val value;
  rc = mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE);
  if (direction == Direction::kDown) {
    uint64_t found = 0;
    if (rc == 0) std::memcpy(&found, key.mv_data, sizeof found);
    if (rc == 0 && found > seq) {
      rc = mdb_cursor_get(cursor, &key, &value, MDB_PREV);
    } else if (rc == MDB_NOTFOUND) {
      rc = mdb_cursor_get(cursor, &key, &value, MDB_LAST);
    }
  }
  const MDB_cursor_op step = direction == Direction::kUp ? MDB_NEXT : MDB_PREV;
  while (rc == 0) {
    uint64_t k = 0;
    std::memcpy(&k, key.mv_data, sizeof k);
    if (!visit(ctx, k, {static_cast<const uint8_t*>(value.mv_data), value.mv_size})) break;
    rc = mdb_cursor_get(cursor, &key, &value, step);
  }
  mdb_cursor_close(cursor);
  mdb_txn_reset(txn_);
  if (rc != 0 && rc != MDB_NOTFOUND)
    return std::unexpected(lmdb_error("journal snapshot read", rc));
  return {};
}

}  // namespace oddsbus::engine
