#include "engine/node_roles.h"

#include <cinttypes>

#include "schemas/log.h"

namespace oddsbus::engine {

namespace {
constexpr uint64_t kWatchEveryNs = 1'000'000;
constexpr uint64_t kSelectorTickNs = 50'000'000;
}  // namespace

NodeRoles::NodeRoles(const NodeRoleDeps& deps, const NodeConfig& config, NodeRole start,
                     const Clocks& clocks)
    : deps_(deps), config_(config), role_(start) {
  if (start == NodeRole::kSecondary) {
    become_secondary(clocks.monotonic_ns, "started as secondary");
  } else {
    if (!config_.peer_pub.empty())
      watch_ = std::make_unique<PeerWatch>(deps_.context, config_.peer_pub);
    if (deps_.primary_flag != nullptr) deps_.primary_flag->store(true);
    if (deps_.desk != nullptr) deps_.desk->set_primary();
  }
}

void NodeRoles::become_secondary(uint64_t monotonic_ns, const char* why) {
  deps_.gate.discard_held();
  watch_.reset();
  ReplicaConfig replica_config;
  replica_config.peer_pub = config_.peer_pub;
  replica_config.peer_recovery = config_.peer_recovery;
  replica_config.sync_acks = config_.sync_replication;
  replica_config.heartbeat_interval_ns = config_.heartbeat_interval_ns;
  replica_ = std::make_unique<Replica>(deps_.context, deps_.journal, deps_.sequencer,
                                       &deps_.publisher, replica_config);
  secondary_since_ns_ = monotonic_ns;
  role_.store(NodeRole::kSecondary, std::memory_order_release);
  if (deps_.primary_flag != nullptr) deps_.primary_flag->store(false);
  if (deps_.desk != nullptr) deps_.desk->set_not_primary(config_.peer_desk_url);
  log(LogLevel::kWarn,
      "node %u: secondary (%s) at seq %" PRIu64 ", epoch %u; replicating from %s and %s",
      config_.node, why, deps_.sequencer.last_seq(), deps_.sequencer.epoch(),
      config_.peer_pub.c_str(), config_.peer_recovery.c_str());
}

size_t NodeRoles::drain_warm(uint64_t now_ns) {
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

std::expected<void, std::string> NodeRoles::take_over(const Clocks& clocks) {
  const uint64_t now_ns = clocks.monotonic_ns;
  const uint32_t epoch =
      std::max(deps_.sequencer.epoch(), replica_ ? replica_->highest_epoch_heard() : 0u) + 1;
  const uint64_t silent_ms =
      (now_ns - std::max(secondary_since_ns_, replica_ ? replica_->last_heard_ns() : 0)) /
      1'000'000;
  replica_.reset();
  if (auto ok = deps_.journal.set_epoch(epoch); !ok) return ok;
  BatchWriter batch(4096);
  deps_.sequencer.begin_batch(batch);
  const uint64_t seq = deps_.sequencer.change_epoch(epoch, clocks.wall_ns, batch);
  if (auto ok = deps_.journal.append(seq, seq, batch.bytes()); !ok) return ok;
  deps_.publisher.publish(batch.bytes());
  deps_.gate.start_alone();
  role_.store(NodeRole::kPrimary, std::memory_order_release);
  if (deps_.primary_flag != nullptr) deps_.primary_flag->store(true);
  if (deps_.desk != nullptr) deps_.desk->set_primary();
  counters_.takeovers.fetch_add(1, std::memory_order_relaxed);
  log(LogLevel::kWarn,
      "node %u: TAKEOVER: primary silent for %" PRIu64
      " ms; now primary in epoch %u from seq %" PRIu64,
      config_.node, silent_ms, epoch, seq);

  if (deps_.selector != nullptr) {
    std::map<uint64_t, feeds::SourceSelector::PublishedMarket> published;
    for (const auto& [id, record] : deps_.sequencer.state().markets()) {
      feeds::SourceSelector::PublishedMarket& p = published[id];
      p.status = record.status;
      p.reason = record.reason;
      p.event = record.event;
      p.name = record.name;
      for (const SelectionState& s : record.selections) {
        if (s.price_e4 > 0) p.prices.emplace_back(s.id, s.price_e4);
        p.selections.push_back({s.id, s.name});
      }
    }
    std::vector<feeds::Event> events;
    deps_.selector->reconcile(published, now_ns, events);
    deps_.selector->notices().clear();
    if (!events.empty()) {
      if (auto ok = deps_.agent.sequence_now(events, clocks); !ok) return ok;
    }
    counters_.reconciled_events.fetch_add(events.size(), std::memory_order_relaxed);
    log(LogLevel::kInfo, "node %u: reconciled %zu differences between the feeds and the journal",
        config_.node, events.size());
  }
  if (!config_.peer_pub.empty())
    watch_ = std::make_unique<PeerWatch>(deps_.context, config_.peer_pub);
  return {};
}

std::expected<size_t, std::string> NodeRoles::do_work(const Clocks& clocks) {
  const uint64_t now_ns = clocks.monotonic_ns;
  if (role() == NodeRole::kPrimary) {
    auto done = deps_.agent.do_work(clocks);
    if (done && *done > 0 && deps_.recovery != nullptr) deps_.recovery->wake();
    deps_.gate.poll(now_ns);
    if (!done) return done;
    if (watch_ && (*done == 0 || now_ns - last_watch_ns_ >= kWatchEveryNs)) {
      last_watch_ns_ = now_ns;
      const uint32_t peer_epoch = watch_->poll();
      if (peer_epoch > deps_.sequencer.epoch()) {
        counters_.fencings.fetch_add(1, std::memory_order_relaxed);
        log(LogLevel::kError,
            "node %u: FENCED: peer publishes epoch %u, ours is %u; stopped sequencing at seq "
            "%" PRIu64,
            config_.node, peer_epoch, deps_.sequencer.epoch(), deps_.sequencer.last_seq());
        become_secondary(now_ns, "fenced by a higher epoch");
      }
    }
    return done;
  }
  auto replicated = replica_->do_work(clocks, 1);
  if (!replicated) return replicated;
  if (*replicated > 0) deps_.gate.on_replicated();  // the journal is the primary's history now
  if (*replicated > 0 && deps_.recovery != nullptr) deps_.recovery->wake();
  const size_t warm = drain_warm(now_ns);
  const uint64_t heard = std::max(secondary_since_ns_, replica_->last_heard_ns());
  if (now_ns - heard >= config_.failover_after_ns) {
    if (auto ok = take_over(clocks); !ok) return std::unexpected(ok.error());
  }
  return *replicated + warm;
}

}  // namespace oddsbus::engine
