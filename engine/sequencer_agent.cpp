#include "engine/sequencer_agent.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>

namespace oddsbus::engine {

SequencerAgent::SequencerAgent(Sequencer& sequencer, Journal& journal, IngestQueues& queues,
                               BatchSink* sink, const SequencerAgentConfig& config,
                               feeds::SourceSelector* selector)
    : sequencer_(sequencer),
      journal_(journal),
      queues_(queues),
      sink_(sink),
      config_(config),
      selector_(selector) {
  selected_.reserve(256);
}

void SequencerAgent::set_desk(DeskOverrides* overrides, DeskAckQueue* acks,
                              const DeskRights* rights, DeskHeldBoard* board) {
  overrides_ = overrides;
  acks_ = acks;
  rights_ = rights;
  board_ = board;
  pending_acks_.reserve(64);
  desk_events_.reserve(64);
}

size_t SequencerAgent::restore_desk(const Clocks& clocks) {
  if (overrides_ == nullptr) return 0;
  overrides_->clear();
  for (const auto& [market, held] : sequencer_.desk().held()) {
    const MarketRecord* record = sequencer_.state().find(market);
    if (record == nullptr || record->status == fb::MarketStatus::Settled) continue;
    uint64_t expires = 0;
    if (held.expires_ns != 0) {
      // Wall to monotonic: what is left of the override from now on (nothing when it passed).
      const uint64_t left = held.expires_ns > clocks.wall_ns ? held.expires_ns - clocks.wall_ns : 0;
      expires = std::max<uint64_t>(clocks.monotonic_ns + left, 1);
    }
    const std::string_view source =
        selector_ != nullptr ? selector_->active_source(market) : std::string_view{};
    overrides_->adopt(held, source, expires);
  }
  board_version_ = UINT64_MAX;
  post_held();
  return overrides_->size();
}

void SequencerAgent::post_held() {
  const DeskLedger& ledger = sequencer_.desk();
  if (ledger.version() == board_version_) return;
  board_version_ = ledger.version();
  counters_.desk_held_markets.store(ledger.held().size(), std::memory_order_relaxed);
  if (board_ == nullptr) return;
  std::vector<desk::HeldEntry> entries;
  entries.reserve(ledger.held().size());
  for (const auto& [market, h] : ledger.held()) {
    entries.push_back(
        desk::HeldEntry{market, h.identity, h.client, h.request_id, h.since_ns, h.expires_ns});
  }
  board_->set(std::move(entries));
}

std::expected<uint64_t, feeds::RejectReason> SequencerAgent::sequence_one(
    const feeds::Event& e, const Clocks& clocks, const FrameDeskMark* mark) {
  auto result = sequencer_.sequence(e, clocks.wall_ns, batch_, mark);
  if (!result) {
    const auto reason = static_cast<size_t>(result.error());
    counters_.rejected[reason].fetch_add(1, std::memory_order_relaxed);
    if (reject_log_.allow(clocks.monotonic_ns)) {
      log(LogLevel::kWarn,
          "rejected event for market %" PRIu64 " from %s: %s (%" PRIu64
          " more rejections suppressed)",
          e.market, e.source.empty() ? "-" : e.source.c_str(),
          feeds::to_string(result.error()).data(), reject_log_.suppressed());
    }
  } else if (*result == 0) {
    counters_.source_heartbeats.fetch_add(1, std::memory_order_relaxed);
  }
  return result;
}

void SequencerAgent::sequence_feed(const feeds::Event& e, const Clocks& clocks) {
  if (overrides_ == nullptr) {
    sequence_one(e, clocks);
    return;
  }
  if (overrides_->hold(e)) {
    counters_.desk_held.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (e.type == feeds::EventType::kSettle && overrides_->holds(e.market)) {
    // The feed settles a market the desk holds: control ends, and the journal says so.
    FrameDeskMark mark;
    mark.change = fb::OverrideChange::SettlementEnd;
    if (sequence_one(e, clocks, &mark)) overrides_->on_settled(e.market);
    return;
  }
  sequence_one(e, clocks);
}

void SequencerAgent::sequence_desk(const feeds::Event& e, const Clocks& clocks) {
  counters_.desk_requests.fetch_add(1, std::memory_order_relaxed);
  DeskAck ack;
  ack.token = e.request_token;
  const auto rejected = [&](desk::RejectReason reason, std::string detail = {}) {
    ack.ok = false;
    ack.reason = reason;
    ack.detail = std::move(detail);
    pending_acks_.push_back(ack);
  };
  const auto applied = [&](uint64_t seq) {
    ack.ok = true;
    ack.seq = seq;
    ack.epoch = sequencer_.epoch();
    pending_acks_.push_back(ack);
  };
  static const feeds::DeskRequestOrigin kNoOrigin;
  const feeds::DeskRequestOrigin& origin = e.desk ? *e.desk : kNoOrigin;
  const auto command = static_cast<desk::Command>(origin.command);
  const MarketRecord* record = sequencer_.state().find(e.market);

  if (rights_ != nullptr) {
    desk::Request asked;
    asked.client = origin.client;
    asked.command = command;
    asked.market = e.market;
    asked.event = e.event;
    const uint64_t market_event = record != nullptr ? record->event : 0;
    if (auto refused = rights_->refuse(origin.authenticated ? origin.identity : std::string_view{},
                                       asked, market_event)) {
      counters_.desk_forbidden.fetch_add(1, std::memory_order_relaxed);
      return rejected(desk::RejectReason::kForbidden, std::move(*refused));
    }
  }
  // A request the journal already holds (sequenced before a restart or a takeover): its ack.
  if (const DeskRequestRecord* known = sequencer_.desk().find_request(
          DeskLedger::key(origin.identity, origin.client, origin.request_id))) {
    if (known->request != origin.request) {
      return rejected(desk::RejectReason::kBadRequest,
                      "request id " + origin.request_id + " of client " + origin.client +
                          " was already used for a different request");
    }
    counters_.desk_replayed.fetch_add(1, std::memory_order_relaxed);
    ack.ok = true;
    ack.seq = known->seq;
    ack.epoch = known->epoch;
    pending_acks_.push_back(ack);
    return;
  }

  FrameDeskMark mark;
  mark.identity = origin.identity;
  mark.client = origin.client;
  mark.request_id = origin.request_id;
  mark.request = origin.request;
  if (command == desk::Command::kSuspendEvent) return suspend_event(e, mark, ack, clocks);
  if (record == nullptr) return rejected(desk::RejectReason::kUnknownMarket);

  if (e.desk_release) {
    desk_events_.clear();
    if (!overrides_->release(e.market, record, desk_events_)) {
      return rejected(desk::RejectReason::kNotOverridden);
    }
    mark.change = fb::OverrideChange::Release;
    uint64_t last = 0;
    for (const feeds::Event& restore : desk_events_) {
      if (auto seq = sequence_one(restore, clocks, &mark); seq && *seq != 0) last = *seq;
    }
    // A release always ends in frames (its status frame at least); none means it went wrong.
    return last != 0 ? applied(last) : rejected(desk::RejectReason::kInternal);
  }

  if (e.type == feeds::EventType::kSettle) {
    if (overrides_->holds(e.market)) mark.change = fb::OverrideChange::SettlementEnd;
    auto seq = sequence_one(e, clocks, &mark);
    if (!seq) return rejected(desk::from_sequencer(seq.error()));
    overrides_->on_settled(e.market);
    return applied(*seq);
  }

  // A price or status: the desk takes the market (remembering how its feeds left it) first.
  if (record->status == fb::MarketStatus::Settled) {
    return rejected(desk::RejectReason::kMarketSettled);
  }
  const bool was_held = overrides_->holds(e.market);
  const std::string_view feed_source =
      selector_ != nullptr ? selector_->active_source(e.market) : std::string_view{};
  if (!was_held &&
      !overrides_->take(*record, feed_source, clocks.monotonic_ns, e.override_for_ns)) {
    return rejected(desk::RejectReason::kOverrideLimit);
  }
  mark.change = fb::OverrideChange::Take;
  mark.expires_ns = e.override_for_ns == 0 ? 0 : clocks.wall_ns + e.override_for_ns;
  auto seq = sequence_one(e, clocks, &mark);
  if (!seq) {
    if (!was_held) overrides_->forget(e.market);
    return rejected(desk::from_sequencer(seq.error()));
  }
  if (was_held)
    overrides_->take(*sequencer_.state().find(e.market), feed_source, clocks.monotonic_ns,
                     e.override_for_ns);
  applied(*seq);
}

void SequencerAgent::suspend_event(const feeds::Event& e, const FrameDeskMark& desk_mark,
                                   DeskAck& ack, const Clocks& clocks) {
  // Every market of the event not yet settled comes under desk control, as a suspend would take
  // it (DeskLedger::apply folds the same set from the frame).
  std::vector<uint64_t> taken;
  for (const auto& [market, record] : sequencer_.state().markets()) {
    if (record.event != e.event || record.status == fb::MarketStatus::Settled) continue;
    if (overrides_->holds(market)) continue;
    const std::string_view source =
        selector_ != nullptr ? selector_->active_source(market) : std::string_view{};
    if (!overrides_->take(record, source, clocks.monotonic_ns, e.override_for_ns)) {
      for (const uint64_t m : taken) overrides_->forget(m);
      ack.ok = false;
      ack.reason = desk::RejectReason::kOverrideLimit;
      pending_acks_.push_back(ack);
      return;
    }
    taken.push_back(market);
  }
  FrameDeskMark mark = desk_mark;
  mark.change = fb::OverrideChange::Take;
  mark.expires_ns = e.override_for_ns == 0 ? 0 : clocks.wall_ns + e.override_for_ns;
  auto seq =
      sequencer_.suspend_event(e.event, fb::StatusReason::Trader, clocks.wall_ns, batch_, &mark);
  if (!seq) {
    for (const uint64_t m : taken) overrides_->forget(m);
    ack.ok = false;
    ack.reason = desk::from_sequencer(seq.error());
    ack.detail = "no market of event " + std::to_string(e.event);
    pending_acks_.push_back(ack);
    return;
  }
  // Markets held before renew their expiry, as a second suspend of one market would.
  for (const auto& [market, record] : sequencer_.state().markets()) {
    if (record.event != e.event || record.status == fb::MarketStatus::Settled) continue;
    if (std::find(taken.begin(), taken.end(), market) != taken.end()) continue;
    overrides_->take(record, {}, clocks.monotonic_ns, e.override_for_ns);
  }
  ack.ok = true;
  ack.seq = *seq;
  ack.epoch = sequencer_.epoch();
  pending_acks_.push_back(ack);
}

void SequencerAgent::expire_overrides(const Clocks& clocks) {
  const uint64_t now_ns = clocks.monotonic_ns;
  if (overrides_ == nullptr || overrides_->next_expiry_ns() == 0 ||
      now_ns < overrides_->next_expiry_ns()) {
    return;
  }
  desk_events_.clear();
  const size_t expired = overrides_->on_tick(now_ns, sequencer_.state(), desk_events_);
  counters_.desk_expiries.fetch_add(expired, std::memory_order_relaxed);
  log(LogLevel::kInfo, "desk: %zu market override(s) expired; handed back to their feeds", expired);
  FrameDeskMark mark;  // no desk asked: the frames say only that an override expired
  mark.change = fb::OverrideChange::Expire;
  for (const feeds::Event& restore : desk_events_) sequence_one(restore, clocks, &mark);
}

void SequencerAgent::evict_finished(const Clocks& clocks) {
  if (config_.evict_after_ns == 0 || batch_.count() >= config_.max_batch_frames) return;
  due_.clear();
  if (sequencer_.due_evictions(clocks.wall_ns, config_.evict_after_ns,
                               config_.max_batch_frames - batch_.count(), due_) == 0) {
    return;
  }
  for (const uint64_t market : due_) {
    // Kept: a mapped market (a restart defines it again from the mapping), a held one.
    if (selector_ != nullptr && selector_->mapped(market)) continue;
    if (overrides_ != nullptr && overrides_->holds(market)) continue;
    if (sequencer_.evict(market, clocks.wall_ns, batch_)) {
      counters_.evictions.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void SequencerAgent::forget_evicted() {
  due_.clear();
  sequencer_.take_evicted(due_);
  if (selector_ == nullptr) return;
  for (const uint64_t market : due_) selector_->forget_market(market);
}

void SequencerAgent::flush_acks() {
  if (pending_acks_.empty()) return;
  if (acks_ == nullptr) {  // no desk service: nobody to answer (cannot happen: no requests)
    pending_acks_.clear();
    return;
  }
  for (const DeskAck& ack : pending_acks_) acks_->push(ack);
  acks_->notify();
  pending_acks_.clear();
}

void SequencerAgent::log_notices(uint64_t monotonic_ns) {
  if (selector_ == nullptr) return;
  auto& notices = selector_->notices();
  for (const feeds::SelectorNotice& n : notices) {
    if (!notice_log_.allow(monotonic_ns)) continue;
    using Kind = feeds::SelectorNotice::Kind;
    const char* what = n.kind == Kind::kSwitched         ? "active source is now"
                       : n.kind == Kind::kSuspendedStale ? "suspended feed-stale: no healthy source"
                       : n.kind == Kind::kReopened       ? "reopened from"
                       : n.kind == Kind::kDisagreement   ? "prices disagree with active source:"
                                                         : "prices agree again:";
    log(n.kind == Kind::kSwitched || n.kind == Kind::kReopened || n.kind == Kind::kAgreed
            ? LogLevel::kInfo
            : LogLevel::kWarn,
        "market %" PRIu64 ": %s %s %s (%" PRIu64 " notices suppressed)", n.market, what,
        n.source.c_str(), n.detail.c_str(), notice_log_.suppressed());
  }
  notices.clear();
}

std::expected<void, std::string> SequencerAgent::commit(const Clocks& clocks) {
  if (batch_.empty()) return {};
  const auto start = std::chrono::steady_clock::now();
  const uint64_t first = batch_.first_seq();
  const uint64_t last = first + batch_.count() - 1;
  if (auto ok = journal_.append(first, last, batch_.bytes()); !ok) return ok;
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const auto elapsed_ns =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
  counters_.commit_ns_total.fetch_add(elapsed_ns, std::memory_order_relaxed);
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(kCommitLatencyBoundsNs.begin(), kCommitLatencyBoundsNs.end(), elapsed_ns) -
      kCommitLatencyBoundsNs.begin());
  counters_.commit_latency[bucket].fetch_add(1, std::memory_order_relaxed);
  if (sink_ != nullptr) sink_->publish(batch_.bytes());
  last_publish_ns_ = clocks.monotonic_ns;
  counters_.frames.fetch_add(batch_.count(), std::memory_order_relaxed);
  counters_.batches.fetch_add(1, std::memory_order_relaxed);
  return {};
}

std::expected<void, std::string> SequencerAgent::sequence_now(
    const std::vector<feeds::Event>& events, const Clocks& clocks) {
  sequencer_.begin_batch(batch_);
  // Through the desk's hold: a held market's reconciliation or start-up status waits for its
  // release as any feed event does.
  for (const feeds::Event& e : events) sequence_feed(e, clocks);
  auto committed = commit(clocks);
  post_held();
  return committed;
}

std::expected<size_t, std::string> SequencerAgent::do_work(const Clocks& clocks) {
  const uint64_t now_ns = clocks.monotonic_ns;
  sequencer_.begin_batch(batch_);
  const size_t consumed = queues_.drain(config_.max_batch_frames, [&](size_t, feeds::Event& e) {
    if (e.request_token != 0 && overrides_ != nullptr) {
      sequence_desk(e, clocks);
      return;
    }
    if (selector_ == nullptr) {
      sequence_feed(e, clocks);
      return;
    }
    selected_.clear();
    selector_->on_event(e, now_ns, selected_);
    for (const feeds::Event& s : selected_) sequence_feed(s, clocks);
  });
  if (selector_ != nullptr && now_ns - last_tick_ns_ >= config_.selector_tick_ns) {
    last_tick_ns_ = now_ns;
    selected_.clear();
    selector_->on_tick(now_ns, selected_);
    for (const feeds::Event& s : selected_) sequence_feed(s, clocks);
  }
  expire_overrides(clocks);
  evict_finished(clocks);
  forget_evicted();
  counters_.live_markets.store(sequencer_.state().markets().size(), std::memory_order_relaxed);
  post_held();
  log_notices(now_ns);
  if (!batch_.empty()) {
    if (auto ok = commit(clocks); !ok) return std::unexpected(ok.error());
    flush_acks();  // only now: every acked frame is journaled
  } else if (sink_ != nullptr && now_ns - last_publish_ns_ >= config_.heartbeat_interval_ns) {
    sequencer_.heartbeat(clocks.wall_ns, heartbeat_batch_, /*relayed=*/false,
                         sink_->heartbeat_seq(sequencer_.last_seq()));
    sink_->publish(heartbeat_batch_.bytes());
    last_publish_ns_ = now_ns;
    counters_.heartbeats.fetch_add(1, std::memory_order_relaxed);
  }
  flush_acks();  // rejections that made no frame
  return consumed;
}

}  // namespace oddsbus::engine
