// Journal::set_aside_from: fencing's truncation, which never silently deletes a frame.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "engine/journal.h"
#include "schemas/batch.h"

namespace oddsbus::engine {
namespace {

struct HeldRecord {
  uint64_t key = 0;
  std::vector<uint8_t> bytes;
};

std::expected<void, std::string> write_aside(const std::string& path,
                                             const std::vector<std::vector<uint8_t>>& batches) {
  std::error_code ec;
  const std::filesystem::path file(path);
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return std::unexpected("cannot write set-aside frames to " + path + ": " +
                           std::strerror(errno));
  bool ok = true;
  for (const auto& batch : batches) {
    const uint64_t size = batch.size();
    ok = ok && ::write(fd, &size, sizeof size) == static_cast<ssize_t>(sizeof size);
    ok = ok && ::write(fd, batch.data(), batch.size()) == static_cast<ssize_t>(batch.size());
  }
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok)
    return std::unexpected("writing set-aside frames to " + path +
                           " failed: " + std::strerror(errno));
  return {};
}

// Re-batches frames [from, to) of `reader`'s open batch (indices into its frames).
std::vector<uint8_t> rebatch(const BatchReader& reader, size_t from, size_t to) {
  BatchWriter writer(4096);
  writer.begin(reader.header().channel, reader.header().first_seq + from);
  for (size_t i = from; i < to; ++i) writer.add(reader.frame_bytes(i));
  const auto bytes = writer.bytes();
  return {bytes.begin(), bytes.end()};
}

}  // namespace

std::expected<uint64_t, std::string> Journal::set_aside_from(uint64_t from_seq,
                                                             const std::string& aside_path) {
  if (read_only_) return std::unexpected("journal " + dir_ + " is open read-only");
  if (from_seq == 0 || from_seq > info_.last_seq) return uint64_t{0};
  std::vector<HeldRecord> held;
  {
    JournalReader reader(*this);
    auto scanned = reader.scan(from_seq, [&](uint64_t key, std::span<const uint8_t> bytes) {
      held.push_back({key, {bytes.begin(), bytes.end()}});
      return true;
    });
    if (!scanned) return std::unexpected(scanned.error());
  }
  std::vector<std::vector<uint8_t>> aside;
  std::vector<uint8_t> kept_head;  // the frames before from_seq of a straddling record
  uint64_t kept_key = 0;
  uint64_t moved = 0;
  BatchReader reader;
  for (const HeldRecord& record : held) {
    if (auto opened = reader.open(record.bytes); !opened) {
      return std::unexpected("journal " + dir_ + " is damaged at seq " +
                             std::to_string(opened.error().seq) +
                             "; nothing was set aside (run odds-replay verify)");
    }
    const uint64_t first = reader.header().first_seq;
    const uint64_t count = reader.header().count;
    if (first + count <= from_seq) continue;  // wholly before from_seq
    if (first < from_seq) {
      const size_t split = static_cast<size_t>(from_seq - first);
      kept_head = rebatch(reader, 0, split);
      kept_key = record.key;
      aside.push_back(rebatch(reader, split, count));
      moved += count - split;
    } else {
      aside.push_back(record.bytes);
      moved += count;
    }
  }
  if (moved == 0) return uint64_t{0};
  if (auto written = write_aside(aside_path, aside); !written)
    return std::unexpected(written.error());

  if (observer_ != nullptr) observer_->on_rewriting(from_seq);
  struct Rewritten {
    JournalObserver* observer;
    uint64_t from;
    ~Rewritten() {
      if (observer != nullptr) observer->on_rewritten(from);
    }
  } rewritten{observer_, from_seq};
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0) {
    return std::unexpected(std::string("journal set-aside: ") + mdb_strerror(rc));
  }
  int rc = 0;
  for (const HeldRecord& record : held) {
    if (rc != 0) break;
    if (record.key < from_seq && record.key != kept_key) continue;
    MDB_val key{sizeof record.key, const_cast<uint64_t*>(&record.key)};
    rc = mdb_del(txn, log_, &key, nullptr);
    if (rc == MDB_NOTFOUND) rc = 0;  // retention pruned it meanwhile (it was written aside)
    if (rc == 0 && record.key == kept_key && !kept_head.empty()) {
      MDB_val value{kept_head.size(), kept_head.data()};
      rc = mdb_put(txn, log_, &key, &value, 0);
    }
  }
  // Snapshots past the new end fold frames that are no longer in the log.
  if (rc == 0 && snapshots_ != 0) {
    MDB_cursor* cursor = nullptr;
    rc = mdb_cursor_open(txn, snapshots_, &cursor);
    const uint64_t cut = from_seq;
    MDB_val key{sizeof cut, const_cast<uint64_t*>(&cut)};
    MDB_val value;
    while (rc == 0 && mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE) == 0) {
      rc = mdb_cursor_del(cursor, 0);
      key = MDB_val{sizeof cut, const_cast<uint64_t*>(&cut)};
    }
    if (cursor != nullptr) mdb_cursor_close(cursor);
  }
  if (rc == 0) {
    generation_.fetch_add(1, std::memory_order_acq_rel);  // before the commit: journal.h
    rc = mdb_txn_commit(txn);
  } else {
    mdb_txn_abort(txn);
  }
  if (rc != 0) {
    return std::unexpected(std::string("journal set-aside: ") + mdb_strerror(rc) +
                           " (the frames were written to " + aside_path + ")");
  }
  info_.last_seq = from_seq - 1;
  mdb_env_sync(env_, 1);  // rare and important: flush even under nosync
  return moved;
}

}  // namespace oddsbus::engine
