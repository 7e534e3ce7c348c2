#include "engine/role_core.h"

#include <algorithm>

namespace oddsbus::engine {

NodeRole choose_start_role(NodeRole configured, uint64_t last_seq, uint32_t epoch,
                           const std::optional<PeerStatus>& peer) {
  if (configured == NodeRole::kSecondary || !peer) return configured;
  if (peer->primary) return NodeRole::kSecondary;
  const bool peer_ahead =
      peer->epoch > epoch || (peer->epoch == epoch && peer->last_seq > last_seq);
  return peer_ahead ? NodeRole::kSecondary : NodeRole::kPrimary;
}

RoleCore::RoleCore(const RoleCoreConfig& config, NodeRole start, uint64_t last_seq, uint32_t epoch,
                   uint64_t now_ns)
    : config_(config),
      role_(start),
      epoch_(epoch),
      highest_heard_(epoch),
      committed_(last_seq),
      visible_(kNoLimit),
      released_(last_seq),
      secondary_since_ns_(now_ns) {
  if (start == NodeRole::kPrimary && waits_for_acks()) visible_ = last_seq;
  if (start == NodeRole::kSecondary && config.sync && config.has_peer) visible_ = 0;
}

void RoleCore::on_primary_position(uint32_t epoch, uint64_t last_seq) {
  if (role_ != NodeRole::kSecondary || epoch == 0) return;
  if (epoch == epoch_ && last_seq >= committed_) visible_ = kNoLimit;
}

uint64_t RoleCore::replication_lag() const {
  if (!config_.sync || role_ != NodeRole::kPrimary) return 0;
  return committed_ > acked_ ? committed_ - acked_ : 0;
}

bool RoleCore::on_committed(uint64_t last_seq, uint64_t bytes, uint64_t now_ns, RoleOutput& out) {
  committed_ = std::max(committed_, last_seq);
  if (!waits_for_acks()) {
    released_ = committed_;
    return true;
  }
  if (held_.empty() && acked_ >= last_seq) {
    visible_ = released_ = last_seq;
    return true;
  }
  held_.push_back({last_seq, bytes, now_ns});
  held_bytes_ += bytes;
  ++counters_.held_batches;
  if (held_bytes_ > config_.max_held_bytes) go_alone(now_ns, out);
  return false;
}

void RoleCore::release_through(uint64_t seq, RoleOutput& out) {
  uint64_t released = 0;
  while (!held_.empty() && held_.front().last_seq <= seq) {
    released = held_.front().last_seq;
    held_bytes_ -= held_.front().bytes;
    held_.pop_front();
  }
  if (released == 0) return;
  released_ = released;
  out.actions.push_back({RoleAction::Kind::kRelease, epoch_, released});
  if (!alone_) visible_ = released;
}

void RoleCore::go_alone(uint64_t now_ns, RoleOutput& out) {
  const uint64_t waited_ms = held_.empty() ? 0 : (now_ns - held_.front().since_ns) / 1'000'000;
  alone_ = true;
  ++counters_.alone_episodes;
  out.notices.push_back({RoleNotice::Kind::kWentAlone, epoch_, acked_, waited_ms});
  release_through(UINT64_MAX, out);
  visible_ = kNoLimit;
}

void RoleCore::on_ack(uint64_t seq, uint64_t, RoleOutput& out) {
  if (seq > committed_) {
    ++counters_.acks_beyond_commit;
    seq = committed_;
  }
  acked_ = std::max(acked_, seq);
  if (role_ != NodeRole::kPrimary || !config_.sync) return;
  if (alone_) {
    if (acked_ < committed_) return;
    // Everything committed was published while alone; from here on it waits for acks.
    alone_ = false;
    visible_ = committed_;
    out.notices.push_back({RoleNotice::Kind::kSyncRestored, epoch_, acked_, 0});
    return;
  }
  release_through(acked_, out);
}

void RoleCore::on_peer_epoch(uint32_t epoch, uint64_t now_ns, RoleOutput& out) {
  highest_heard_ = std::max(highest_heard_, epoch);
  if (role_ != NodeRole::kPrimary || epoch <= epoch_) return;
  // Held batches were never acknowledged, so no subscriber saw them: they are dropped, and set
  // aside from the journal (kSetAsideHeld): the new primary's history decides what follows the
  // last released seq, and replication brings back whatever of them it kept.
  if (!held_.empty()) {
    const uint64_t from = released_ + 1;
    committed_ = released_;
    acked_ = std::min(acked_, committed_);
    ++counters_.set_asides;
    out.actions.push_back({RoleAction::Kind::kSetAsideHeld, epoch_, from});
    out.notices.push_back({RoleNotice::Kind::kSetAside, epoch_, from, 0});
  }
  held_.clear();
  held_bytes_ = 0;
  alone_ = false;
  role_ = NodeRole::kSecondary;
  secondary_since_ns_ = now_ns;
  last_heard_ns_ = now_ns;
  ++counters_.fencings;
  out.actions.push_back({RoleAction::Kind::kFence, epoch, committed_});
  out.notices.push_back({RoleNotice::Kind::kFenced, epoch, committed_, 0});
}

void RoleCore::on_heard(uint32_t epoch, uint64_t now_ns) {
  highest_heard_ = std::max(highest_heard_, epoch);
  last_heard_ns_ = std::max(last_heard_ns_, now_ns);
}

void RoleCore::on_replicated(uint64_t last_seq, uint32_t epoch, uint64_t now_ns, RoleOutput&) {
  committed_ = released_ = last_seq;
  epoch_ = std::max(epoch_, epoch);
  on_heard(epoch, now_ns);
  // The journal now holds only the primary's history (a divergent tail was set aside first).
  visible_ = kNoLimit;
}

void RoleCore::on_diverged(uint64_t from, RoleOutput& out) {
  committed_ = from > 0 ? from - 1 : 0;
  released_ = std::min(released_, committed_);
  acked_ = std::min(acked_, committed_);
  ++counters_.set_asides;
  out.actions.push_back({RoleAction::Kind::kSetAside, epoch_, from});
  out.notices.push_back({RoleNotice::Kind::kSetAside, epoch_, from, 0});
}

void RoleCore::take_over(uint64_t now_ns, RoleOutput& out) {
  const uint64_t silent_ms = (now_ns - std::max(secondary_since_ns_, last_heard_ns_)) / 1'000'000;
  // One more than any epoch this node journaled or heard of: never an epoch someone used.
  epoch_ = std::max(epoch_, highest_heard_) + (config_.planted_keep_epoch ? 0 : 1);
  highest_heard_ = epoch_;
  role_ = NodeRole::kPrimary;
  committed_ += 1;  // the EpochChange frame, published at once
  released_ = committed_;
  acked_ = 0;
  ++counters_.takeovers;
  out.actions.push_back({RoleAction::Kind::kTakeOver, epoch_, committed_});
  out.notices.push_back({RoleNotice::Kind::kTookOver, epoch_, committed_, silent_ms});
  visible_ = kNoLimit;
  if (config_.sync && config_.has_peer) {
    // The peer that would acknowledge is the primary that just died.
    alone_ = true;
    ++counters_.alone_episodes;
    out.notices.push_back({RoleNotice::Kind::kStartedAlone, epoch_, committed_, 0});
  }
}

void RoleCore::on_tick(uint64_t now_ns, RoleOutput& out) {
  const bool paused = config_.own_pause_ns != 0 && last_tick_ns_ != 0 && now_ns > last_tick_ns_ &&
                      now_ns - last_tick_ns_ > config_.own_pause_ns;
  last_tick_ns_ = std::max(last_tick_ns_, now_ns);
  if (role_ == NodeRole::kSecondary) {
    if (!config_.has_peer) return;
    if (paused) {
      secondary_since_ns_ = now_ns;  // the primary gets a whole failover window from here
      return;
    }
    const uint64_t heard = std::max(secondary_since_ns_, last_heard_ns_);
    if (now_ns >= heard && now_ns - heard >= config_.failover_after_ns) take_over(now_ns, out);
    return;
  }
  if (!waits_for_acks() || held_.empty()) return;
  if (now_ns >= held_.front().since_ns &&
      now_ns - held_.front().since_ns >= config_.alone_after_ns) {
    go_alone(now_ns, out);
  }
}

}  // namespace oddsbus::engine
