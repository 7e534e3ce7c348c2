#include "engine/node_roles.h"

#include <cassert>
#include <cinttypes>
#include <map>

#include "engine/restore.h"

namespace oddsbus::engine {

namespace {

constexpr uint64_t kWatchEveryNs = 1'000'000;
constexpr uint64_t kSelectorTickNs = 50'000'000;

RoleCoreConfig core_config(const NodeConfig& config) {
  RoleCoreConfig core;
  core.node = config.node;
  core.has_peer = !config.peer_pub.empty() || !config.peer_recovery.empty();
  core.sync = config.sync_replication;
  core.failover_after_ns = config.failover_after_ns;
  core.alone_after_ns = config.alone_after_ns;
  // do_work() turns take milliseconds; a third of the failover window without one is a pause.
  core.own_pause_ns = config.failover_after_ns / 3;
  return core;
}

}  // namespace

NodeRoles::NodeRoles(const NodeRoleDeps& deps, const NodeConfig& config, NodeRole start,
                     const Clocks& clocks)
    : deps_(deps),
      config_(config),
      core_(core_config(config), start, deps.sequencer.last_seq(), deps.sequencer.epoch(),
            clocks.monotonic_ns),
      role_(start) {
  deps_.gate.set_now(clocks.monotonic_ns);
  deps_.gate.attach(core_, out_);
  if (start == NodeRole::kSecondary) {
    become_secondary("started as secondary");
  } else {
    become_primary();
  }
}

void NodeRoles::become_primary() {
  if (!config_.peer_pub.empty()) {
    watch_ = std::make_unique<PeerWatch>(deps_.context, config_.peer_pub, deps_.curve.get());
  }
  role_.store(NodeRole::kPrimary, std::memory_order_release);
  if (deps_.primary_flag != nullptr) deps_.primary_flag->store(true);
  if (deps_.desk != nullptr) deps_.desk->set_primary();
}

std::expected<void, std::string> NodeRoles::set_aside_held(uint64_t from) {
  const std::string aside = deps_.journal.dir() + "/set-aside/epoch-" +
                            std::to_string(deps_.sequencer.epoch()) + "-held-from-" +
                            std::to_string(from) + ".batches";
  auto moved = deps_.journal.set_aside_from(from, aside);
  if (!moved) return std::unexpected(moved.error());
  auto restored = restore_sequencer(deps_.journal);
  if (!restored) return std::unexpected(restored.error());
  deps_.sequencer = std::move(**restored);
  log(LogLevel::kWarn,
      "node %u: fenced while holding: %" PRIu64 " frames from seq %" PRIu64
      " that no secondary acknowledged set aside in %s",
      config_.node, *moved, from, aside.c_str());
  return {};
}

void NodeRoles::become_secondary(const char* why) {
  deps_.gate.discard_held();
  watch_.reset();
  ReplicaConfig replica_config;
  replica_config.peer_pub = config_.peer_pub;
  replica_config.peer_recovery = config_.peer_recovery;
  replica_config.sync_acks = config_.sync_replication;
  replica_config.heartbeat_interval_ns = config_.heartbeat_interval_ns;
  replica_config.curve = deps_.curve;
  replica_ = std::make_unique<Replica>(deps_.context, deps_.journal, deps_.sequencer,
                                       &deps_.publisher, replica_config);
  role_.store(NodeRole::kSecondary, std::memory_order_release);
  if (deps_.primary_flag != nullptr) deps_.primary_flag->store(false);
  if (deps_.desk != nullptr) deps_.desk->set_not_primary(config_.peer_desk_url);
  log(LogLevel::kWarn,
      "node %u: secondary (%s) at seq %" PRIu64 ", epoch %u; replicating from %s and %s",
      config_.node, why, deps_.sequencer.last_seq(), deps_.sequencer.epoch(),
      config_.peer_pub.c_str(), config_.peer_recovery.c_str());
}

size_t NodeRoles::drain_warm(uint64_t now_ns) {
  // Markets the replicated history evicted: the warm selector forgets them, or it would define
  // them again at a takeover (issue 15).
  evicted_.clear();
  deps_.sequencer.take_evicted(evicted_);
  if (deps_.selector != nullptr) {
    for (const uint64_t market : evicted_) deps_.selector->forget_market(market);
  }
  const size_t drained = deps_.queues.drain(4096, [&](size_t, feeds::Event& e) {
    if (deps_.selector != nullptr) {
      deps_.selector->on_event(e, now_ns, scratch_);
      scratch_.clear();
    }
  });
  if (deps_.selector != nullptr && now_ns - last_tick_ns_ >= kSelectorTickNs) {
    last_tick_ns_ = now_ns;
    deps_.selector->on_tick(now_ns, scratch_);
    scratch_.clear();
    deps_.selector->notices().clear();
  }
  counters_.warm_events.fetch_add(drained, std::memory_order_relaxed);
  return drained;
}

std::expected<void, std::string> NodeRoles::take_over(const RoleAction& action,
                                                      const Clocks& clocks) {
  replica_.reset();
  if (auto ok = deps_.journal.set_epoch(action.epoch); !ok) return ok;
  BatchWriter batch(4096);
  deps_.sequencer.begin_batch(batch);
  const uint64_t seq = deps_.sequencer.change_epoch(action.epoch, clocks.wall_ns, batch);
  // The core counts from the seqs it was fed: it names the seq the sequencer gives next.
  assert(seq == action.seq);
  if (auto ok = deps_.journal.append(seq, seq, batch.bytes()); !ok) return ok;
  // Around the gate: nothing may hold the frame that says who sequences now.
  deps_.publisher.publish(batch.bytes());
  become_primary();
  counters_.takeovers.fetch_add(1, std::memory_order_relaxed);

  // The journal's desk overrides hold on the new primary too: rebuilt before reconciling, so a
  // held market's feed differences are held back, not published.
  if (const size_t held = deps_.agent.restore_desk(clocks); held > 0) {
    log(LogLevel::kInfo, "node %u: %zu desk override(s) held, as the journal says", config_.node,
        held);
  }
  if (deps_.selector != nullptr) {
    std::vector<feeds::Event> events;
    deps_.selector->reconcile(deps_.sequencer.state(), clocks.monotonic_ns, events);
    deps_.selector->notices().clear();
    if (!events.empty()) {
      if (auto ok = deps_.agent.sequence_now(events, clocks); !ok) return ok;
    }
    counters_.reconciled_events.fetch_add(events.size(), std::memory_order_relaxed);
    log(LogLevel::kInfo, "node %u: reconciled %zu differences between the feeds and the journal",
        config_.node, events.size());
  }
  return {};
}

void NodeRoles::log_notice(const RoleNotice& notice, uint64_t now_ns) {
  switch (notice.kind) {
    case RoleNotice::Kind::kTookOver:
      log(LogLevel::kWarn,
          "node %u: TAKEOVER: primary silent for %" PRIu64
          " ms; now primary in epoch %u from seq %" PRIu64,
          config_.node, notice.ms, notice.epoch, notice.seq);
      return;
    case RoleNotice::Kind::kFenced:
      log(LogLevel::kError,
          "node %u: FENCED: peer publishes epoch %u, ours is %u; stopped sequencing at seq "
          "%" PRIu64,
          config_.node, notice.epoch, deps_.sequencer.epoch(), notice.seq);
      return;
    case RoleNotice::Kind::kStartedAlone:
      log(LogLevel::kError,
          "node %u: SYNC REPLICATION SUSPENDED: took over from a silent primary, so no secondary "
          "acknowledges yet; publishing WITHOUT replication until one catches up",
          config_.node);
      return;
    case RoleNotice::Kind::kWentAlone:
      if (!alone_log_.allow(now_ns)) return;
      log(LogLevel::kError,
          "node %u: SYNC REPLICATION SUSPENDED: the secondary acknowledged nothing past seq "
          "%" PRIu64 " for %" PRIu64
          " ms; publishing WITHOUT replication: a takeover now could lose frames subscribers saw "
          "(%" PRIu64 " more suppressed)",
          config_.node, notice.seq, notice.ms, alone_log_.suppressed());
      return;
    case RoleNotice::Kind::kSyncRestored:
      if (!alone_log_.allow(now_ns)) return;
      log(LogLevel::kWarn,
          "node %u: sync replication restored: the secondary acknowledged seq %" PRIu64
          "; publishing waits for its acks again (%" PRIu64 " more suppressed)",
          config_.node, notice.seq, alone_log_.suppressed());
      return;
    case RoleNotice::Kind::kSetAside:
      // The replica set the frames aside and logged where to; this is the core's view of it.
      log(LogLevel::kInfo, "node %u: role core: committed history now ends before seq %" PRIu64,
          config_.node, notice.seq);
      return;
  }
}

std::expected<void, std::string> NodeRoles::carry_out(const Clocks& clocks) {
  std::expected<void, std::string> result;
  size_t logged = 0;
  const auto log_new_notices = [&] {
    for (; logged < out_.notices.size(); ++logged) {
      log_notice(out_.notices[logged], clocks.monotonic_ns);
    }
  };
  // By index, and each action copied: carrying one out may commit through the gate, which
  // appends to out_.
  for (size_t i = 0; i < out_.actions.size() && result; ++i) {
    log_new_notices();  // the decision is logged before what it sets off
    const RoleAction action = out_.actions[i];
    switch (action.kind) {
      case RoleAction::Kind::kTakeOver:
        result = take_over(action, clocks);
        break;
      case RoleAction::Kind::kFence:
        counters_.fencings.fetch_add(1, std::memory_order_relaxed);
        become_secondary("fenced by a higher epoch");
        break;
      case RoleAction::Kind::kSetAside:
        break;  // done by the replica, which found the divergence (see feed_replication)
      case RoleAction::Kind::kSetAsideHeld:
        result = set_aside_held(action.seq);
        break;
      case RoleAction::Kind::kRelease:
        deps_.gate.release_through(action.seq);
        break;
    }
  }
  log_new_notices();
  out_.clear();
  deps_.gate.show(core_);
  return result;
}

void NodeRoles::feed_replication(uint64_t last_seq_before, const ReplicaCounters& before,
                                 uint64_t now_ns) {
  const ReplicaCounters& after = replica_->counters();
  if (after.divergences > before.divergences) {
    // The replica set our frames aside from some seq S up to the last seq we had (it logs S):
    // count back from it. Frames it journaled earlier in the same turn would make this low,
    // which only the notice shows; on_replicated() below sets the committed seq exactly.
    const uint64_t aside = after.frames_set_aside - before.frames_set_aside;
    core_.on_diverged(last_seq_before >= aside ? last_seq_before - aside + 1 : 1, out_);
  }
  if (replica_->last_heard_ns() != 0) {
    core_.on_heard(replica_->highest_epoch_heard(), replica_->last_heard_ns());
  }
  core_.on_primary_position(replica_->primary_epoch(), replica_->primary_last_seq());
  if (deps_.sequencer.last_seq() != core_.committed_seq() ||
      deps_.sequencer.epoch() > core_.epoch()) {
    core_.on_replicated(deps_.sequencer.last_seq(), deps_.sequencer.epoch(), now_ns, out_);
  }
}

std::expected<size_t, std::string> NodeRoles::do_work(const Clocks& clocks) {
  const uint64_t now_ns = clocks.monotonic_ns;
  deps_.gate.set_now(now_ns);
  if (role() == NodeRole::kPrimary) {
    core_.on_ack(deps_.gate.acked_seq(), now_ns, out_);
    core_.on_tick(now_ns, out_);
    if (auto ok = carry_out(clocks); !ok) return std::unexpected(ok.error());
    auto done = deps_.agent.do_work(clocks);  // commits pass the gate, which asks the core
    if (done && *done > 0 && deps_.recovery != nullptr) deps_.recovery->wake();
    if (done && watch_ && (*done == 0 || now_ns - last_watch_ns_ >= kWatchEveryNs)) {
      last_watch_ns_ = now_ns;
      if (const uint32_t peer_epoch = watch_->poll(); peer_epoch != 0) {
        core_.on_peer_epoch(peer_epoch, now_ns, out_);
      }
    }
    if (auto ok = carry_out(clocks); !ok) return std::unexpected(ok.error());
    return done;
  }
  const uint64_t last_seq_before = deps_.sequencer.last_seq();
  const ReplicaCounters before = replica_->counters();
  auto replicated = replica_->do_work(clocks, 1);
  if (!replicated) return replicated;
  feed_replication(last_seq_before, before, now_ns);
  if (*replicated > 0 && deps_.recovery != nullptr) deps_.recovery->wake();
  const size_t warm = drain_warm(now_ns);
  core_.on_tick(now_ns, out_);
  if (auto ok = carry_out(clocks); !ok) return std::unexpected(ok.error());
  return *replicated + warm;
}

}  // namespace oddsbus::engine
