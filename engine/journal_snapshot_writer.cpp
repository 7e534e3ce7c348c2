#include "engine/journal_snapshot_writer.h"

#include <chrono>
#include <cinttypes>

#include "engine/journal_cursor.h"
#include "schemas/log.h"

namespace oddsbus::engine {
namespace {

constexpr size_t kMaxRecordsPerTurn = 256;

uint64_t elapsed_ns(std::chrono::steady_clock::time_point since) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - since)
          .count());
}

void note_max(std::atomic<uint64_t>& max, uint64_t value) {
  if (value > max.load(std::memory_order_relaxed)) max.store(value, std::memory_order_relaxed);
}

void bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace

SnapshotWriter::SnapshotWriter(Journal& journal, const SnapshotPolicy& policy,
                               const RetentionPolicy& retention)
    : journal_(journal), policy_(policy), retention_(retention) {}

std::expected<void, std::string> SnapshotWriter::refold() {
  generation_ = journal_.generation();  // read first: a later rewrite shows as a change
  auto start = nearest_snapshot(journal_, UINT64_MAX);
  if (!start) return std::unexpected(start.error());
  bump(counters_.corrupt_skipped, start->corrupt_skipped);
  fold_.clear();
  fold_stamp_ns_ = 0;
  last_snapshot_seq_ = 0;
  retention_.clear();
  if (start->snapshot) {
    fold_ = std::move(*start->snapshot);
    last_snapshot_seq_ = fold_.state.seq();
  }
  // What retention knows: every snapshot up to the fold's, with the stamp of its last frame.
  auto seqs = snapshot_seqs(journal_);
  if (!seqs) return std::unexpected(seqs.error());
  FrameCursor cursor(journal_);
  for (uint64_t seq : *seqs) {
    if (seq > last_snapshot_seq_) break;
    auto frames = cursor.record_holding(seq);
    if (!frames) continue;  // not readable: not a place to prune behind
    for (const fb::Frame* frame : *frames) {
      if (frame->seq() == seq) retention_.note_snapshot(seq, frame->sequenced_ns());
      if (seq == last_snapshot_seq_ && frame->seq() == seq) fold_stamp_ns_ = frame->sequenced_ns();
    }
  }
  folding_ = true;
  counters_.last_snapshot_seq.store(last_snapshot_seq_, std::memory_order_relaxed);
  return {};
}

std::expected<size_t, std::string> SnapshotWriter::follow(size_t max_records) {
  size_t records = 0;
  std::string fault;
  bool rewritten = false;
  JournalReader reader(journal_);
  const uint64_t from = fold_.state.seq() + 1;
  auto scanned = reader.scan(from, [&](uint64_t key, std::span<const uint8_t> bytes) {
    const uint64_t next = fold_.state.seq() + 1;
    auto opened = reader_.open(bytes);
    if (!opened) {
      fault = "journal " + journal_.dir() + " is damaged at seq " +
              std::to_string(opened.error().seq) + "; no snapshot is taken past it";
      return false;
    }
    const uint64_t last = reader_.header().first_seq + reader_.header().count - 1;
    if (last < next) return true;  // wholly folded (the log's last record, already read)
    if (key > next && next == 1) {
      fault = "journal " + journal_.dir() + " was pruned (its log begins at seq " +
              std::to_string(key) + ") and holds no usable snapshot to start from";
      return false;
    }
    if (key > next) {
      rewritten = true;  // the frames after the fold are not where they were
      return false;
    }
    for (const fb::Frame* frame : reader_.frames()) {
      if (frame->seq() < next) continue;
      fold_.apply(*frame);
      fold_stamp_ns_ = frame->sequenced_ns();
    }
    bump(counters_.frames_followed, last - next + 1);
    ++records;
    const bool due =
        policy_.every_frames > 0 && fold_.state.seq() - last_snapshot_seq_ >= policy_.every_frames;
    return !due && records < max_records;
  });
  if (!scanned) return std::unexpected(scanned.error());
  if (!fault.empty()) return std::unexpected(fault);
  if (rewritten) folding_ = false;
  return records;
}

std::expected<bool, std::string> SnapshotWriter::write_snapshot(uint64_t now_ns) {
  const auto encode_start = std::chrono::steady_clock::now();
  const std::vector<uint8_t> record = encode_snapshot_record(fold_, journal_.info().channel);
  note_max(counters_.encode_ns_max, elapsed_ns(encode_start));
  const auto put_start = std::chrono::steady_clock::now();
  auto put = journal_.put_snapshot(fold_.state.seq(), generation_, record);
  note_max(counters_.put_ns_max, elapsed_ns(put_start));
  last_snapshot_ns_ = now_ns;
  if (!put) {
    bump(counters_.failures);
    return std::unexpected(put.error());
  }
  if (*put == Journal::SnapshotPut::kStale) {
    bump(counters_.stale);
    folding_ = false;
    return false;
  }
  last_snapshot_seq_ = fold_.state.seq();
  retention_.note_snapshot(last_snapshot_seq_, fold_stamp_ns_);
  bump(counters_.written);
  counters_.last_snapshot_seq.store(last_snapshot_seq_, std::memory_order_relaxed);
  return true;
}

std::expected<size_t, std::string> SnapshotWriter::retention_step(uint64_t wall_ns) {
  const uint64_t target = retention_.prune_target(fold_.state.seq(), wall_ns);
  if (target == 0 || target <= counters_.pruned_through.load(std::memory_order_relaxed)) return 0;
  const auto start = std::chrono::steady_clock::now();
  auto pruned = journal_.prune_through(target, retention_.policy().records_per_step);
  note_max(counters_.prune_ns_max, elapsed_ns(start));
  if (!pruned) {
    bump(counters_.failures);
    return std::unexpected(pruned.error());
  }
  bump(counters_.records_pruned, *pruned);
  if (*pruned < retention_.policy().records_per_step) {
    // Done behind this one (or it is gone: a rewrite deleted it; then nothing was pruned).
    counters_.pruned_through.store(target, std::memory_order_relaxed);
    retention_.pruned_through(target);
  }
  return *pruned;
}

std::expected<size_t, std::string> SnapshotWriter::do_work(uint64_t now_ns, uint64_t wall_ns) {
  if (!folding_ || journal_.generation() != generation_) {
    if (folding_) bump(counters_.refolds);
    if (auto ok = refold(); !ok) return std::unexpected(ok.error());
    last_snapshot_ns_ = now_ns;
  }
  auto followed = follow(kMaxRecordsPerTurn);
  if (!followed) return followed;
  size_t work = *followed;
  if (!folding_) return work + 1;  // rewritten under the fold: begin again next turn
  const uint64_t since = fold_.state.seq() - last_snapshot_seq_;
  const bool due_by_count = policy_.every_frames > 0 && since >= policy_.every_frames;
  const bool due_by_time =
      policy_.every_ns > 0 && since > 0 && now_ns - last_snapshot_ns_ >= policy_.every_ns;
  if (due_by_count || due_by_time) {
    auto wrote = write_snapshot(now_ns);
    if (!wrote) {
      log(LogLevel::kWarn, "journal %s: snapshot at seq %" PRIu64 " not written: %s",
          journal_.dir().c_str(), fold_.state.seq(), wrote.error().c_str());
    }
    ++work;
  }
  auto pruned = retention_step(wall_ns);
  if (!pruned) {
    log(LogLevel::kWarn, "journal %s: retention: %s", journal_.dir().c_str(),
        pruned.error().c_str());
  } else {
    work += *pruned;
  }
  return work;
}

std::expected<bool, std::string> SnapshotWriter::snapshot_now(uint64_t now_ns) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (!folding_ || journal_.generation() != generation_) {
      if (auto ok = refold(); !ok) return std::unexpected(ok.error());
    }
    for (;;) {
      auto followed = follow(kMaxRecordsPerTurn);
      if (!followed) return std::unexpected(followed.error());
      if (!folding_ || *followed == 0) break;
    }
    if (!folding_) continue;
    if (fold_.state.seq() == 0 || fold_.state.seq() == last_snapshot_seq_) return false;
    auto wrote = write_snapshot(now_ns);
    if (!wrote || *wrote) return wrote;
  }
  return false;
}

}  // namespace oddsbus::engine
