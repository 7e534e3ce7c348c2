#include "engine/sync_gate.h"

#include <cstring>

#include "schemas/batch.h"

namespace oddsbus::engine {

SyncGate::SyncGate(BatchSink& inner, const std::atomic<uint64_t>& acked_seq,
                   const SyncGateConfig& config)
    : inner_(inner),
      acked_seq_(acked_seq),
      visible_seq_(config.sync ? config.journaled_seq : kNoLimit) {}

void SyncGate::attach(RoleCore& core, RoleOutput& out) {
  core_ = &core;
  out_ = &out;
  show(core);
}

void SyncGate::publish(std::span<const uint8_t> batch) {
  if (core_ == nullptr || batch.size() < kBatchHeaderSize) {
    inner_.publish(batch);
    return;
  }
  BatchHeader header;
  std::memcpy(&header, batch.data(), sizeof header);
  if ((header.flags & kBatchHeartbeat) != 0) {
    if (header.first_seq <= core_->heartbeat_seq()) {
      inner_.publish(batch);
    } else {
      counters_.withheld_heartbeats.fetch_add(1, std::memory_order_relaxed);
    }
    return;
  }
  const uint64_t last_seq = header.first_seq + header.count - 1;
  if (core_->on_committed(last_seq, batch.size(), now_ns_, *out_)) {
    inner_.publish(batch);
  } else {
    held_.push_back({last_seq, {batch.begin(), batch.end()}});
    counters_.held_batches.fetch_add(1, std::memory_order_relaxed);
  }
  // Held bytes past the bound release everything at once, this batch included. Every kRelease
  // in out_ is carried out (again: releasing twice does nothing) before the visible seq is shown.
  carry_out_releases();
  show(*core_);
}

void SyncGate::carry_out_releases() {
  for (const RoleAction& action : out_->actions) {
    if (action.kind == RoleAction::Kind::kRelease) release_through(action.seq);
  }
}

void SyncGate::release_through(uint64_t seq) {
  while (!held_.empty() && held_.front().last_seq <= seq) {
    inner_.publish(held_.front().bytes);
    held_.pop_front();
  }
}

void SyncGate::discard_held() {
  counters_.discarded_batches.fetch_add(held_.size(), std::memory_order_relaxed);
  held_.clear();
}

void SyncGate::show(const RoleCore& core) {
  visible_seq_.store(core.visible_seq(), std::memory_order_release);
  counters_.alone.store(core.alone(), std::memory_order_relaxed);
  counters_.alone_episodes.store(core.counters().alone_episodes, std::memory_order_relaxed);
  counters_.replication_lag.store(core.replication_lag(), std::memory_order_relaxed);
}

}  // namespace oddsbus::engine
