#include "engine/sync_gate.h"

#include <algorithm>
#include <cinttypes>
#include <cstring>

#include "schemas/batch.h"
#include "schemas/log.h"

namespace oddsbus::engine {

SyncGate::SyncGate(BatchSink& inner, const std::atomic<uint64_t>& acked_seq,
                   const SyncGateConfig& config)
    : inner_(inner),
      acked_seq_(acked_seq),
      config_(config),
      visible_seq_(config.sync ? config.journaled_seq : kNoLimit) {}

void SyncGate::publish(std::span<const uint8_t> batch) {
  if (!config_.sync || batch.size() < kBatchHeaderSize) {
    inner_.publish(batch);
    return;
  }
  BatchHeader header;
  std::memcpy(&header, batch.data(), sizeof header);
  if ((header.flags & kBatchHeartbeat) != 0) {
    if (counters_.alone.load(std::memory_order_relaxed)) {
      // A heartbeat carries the last seq: after a takeover, it says what must be acknowledged
      // before the gate waits for acks again.
      committed_ = std::max(committed_, header.first_seq);
      committed_known_ = true;
    }
    if (held_.empty()) {
      inner_.publish(batch);
    } else {
      counters_.withheld_heartbeats.fetch_add(1, std::memory_order_relaxed);
    }
    return;
  }
  committed_ = header.first_seq + header.count - 1;
  committed_known_ = true;
  if (counters_.alone.load(std::memory_order_relaxed)) {
    inner_.publish(batch);
    return;
  }
  if (held_.empty() && acked_seq_.load(std::memory_order_acquire) >= committed_) {
    inner_.publish(batch);
    visible_seq_.store(committed_, std::memory_order_release);
    return;
  }
  held_.push_back({committed_, now_ns_, {batch.begin(), batch.end()}});
  held_bytes_ += batch.size();
  counters_.held_batches.fetch_add(1, std::memory_order_relaxed);
}

void SyncGate::release_through(uint64_t seq) {
  while (!held_.empty() && held_.front().last_seq <= seq) {
    inner_.publish(held_.front().bytes);
    visible_seq_.store(held_.front().last_seq, std::memory_order_release);
    held_bytes_ -= held_.front().bytes.size();
    held_.pop_front();
  }
}

void SyncGate::go_alone() {
  counters_.alone.store(true, std::memory_order_relaxed);
  counters_.alone_episodes.fetch_add(1, std::memory_order_relaxed);
  release_through(UINT64_MAX);
  visible_seq_.store(kNoLimit, std::memory_order_release);
}

void SyncGate::on_replicated() {
  if (config_.sync) visible_seq_.store(kNoLimit, std::memory_order_release);
}

void SyncGate::discard_held() {
  held_.clear();
  held_bytes_ = 0;
}

void SyncGate::start_alone() {
  if (!config_.sync || counters_.alone.load(std::memory_order_relaxed)) return;
  // The epoch change was journaled and published around the gate: what was committed is
  // unknown until the next batch or heartbeat passes, and acks must not end this episode first.
  committed_known_ = false;
  log(LogLevel::kError,
      "SYNC REPLICATION SUSPENDED: took over from a silent primary, so no secondary acknowledges "
      "yet; publishing WITHOUT replication until one catches up");
  go_alone();
}

void SyncGate::poll(uint64_t now_ns) {
  now_ns_ = now_ns;
  if (!config_.sync) return;
  const uint64_t acked = acked_seq_.load(std::memory_order_acquire);
  counters_.replication_lag.store(committed_ > acked ? committed_ - acked : 0,
                                  std::memory_order_relaxed);
  if (counters_.alone.load(std::memory_order_relaxed)) {
    if (committed_known_ && acked >= committed_) {
      counters_.alone.store(false, std::memory_order_relaxed);
      // Everything committed was published while alone; from here on it waits for acks.
      visible_seq_.store(committed_, std::memory_order_release);
      log(LogLevel::kWarn,
          "sync replication restored: the secondary acknowledged seq %" PRIu64
          "; publishing waits for its acks again",
          acked);
    }
    return;
  }
  release_through(acked);
  if (held_.empty()) return;
  for (Held& h : held_) {  // held before the first poll: the clock starts now
    if (h.since_ns != 0) break;
    h.since_ns = now_ns;
  }
  const bool silent = now_ns - held_.front().since_ns >= config_.alone_after_ns;
  if (!silent && held_bytes_ <= config_.max_held_bytes) return;
  log(LogLevel::kError,
      "SYNC REPLICATION SUSPENDED: the secondary acknowledged nothing past seq %" PRIu64
      " for %" PRIu64
      " ms (%zu batches held); publishing WITHOUT replication: a takeover now "
      "could lose frames subscribers saw",
      acked, (now_ns - held_.front().since_ns) / 1'000'000, held_.size());
  go_alone();
}

}  // namespace oddsbus::engine
