#include "engine/sequencer_agent.h"

#include <chrono>
#include <cinttypes>

namespace oddsbus::engine {

SequencerAgent::SequencerAgent(Sequencer& sequencer, Journal& journal, IngestQueues& queues,
                               FrameRing& ring, BatchSink* sink, const SequencerAgentConfig& config,
                               feeds::SourceSelector* selector)
    : sequencer_(sequencer),
      journal_(journal),
      queues_(queues),
      ring_(ring),
      sink_(sink),
      config_(config),
      selector_(selector) {
  selected_.reserve(256);
}

void SequencerAgent::sequence_one(const feeds::Event& e, uint64_t now_ns) {
  auto result = sequencer_.sequence(e, now_ns, batch_);
  if (!result) {
    const auto reason = static_cast<size_t>(result.error());
    counters_.rejected[reason].fetch_add(1, std::memory_order_relaxed);
    if (reject_log_.allow(now_ns)) {
      log(LogLevel::kWarn,
          "rejected event for market %" PRIu64 " from %s: %s (%" PRIu64
          " more rejections suppressed)",
          e.market, e.source.empty() ? "-" : e.source.c_str(),
          feeds::to_string(result.error()).data(), reject_log_.suppressed());
    }
  } else if (*result == 0) {
    counters_.source_heartbeats.fetch_add(1, std::memory_order_relaxed);
  }
}

void SequencerAgent::log_notices(uint64_t now_ns) {
  if (selector_ == nullptr) return;
  auto& notices = selector_->notices();
  for (const feeds::SelectorNotice& n : notices) {
    if (!notice_log_.allow(now_ns)) continue;
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

std::expected<void, std::string> SequencerAgent::commit(uint64_t now_ns) {
  if (batch_.empty()) return {};
  const auto start = std::chrono::steady_clock::now();
  const uint64_t first = batch_.first_seq();
  const uint64_t last = first + batch_.count() - 1;
  if (auto ok = journal_.append(first, last, batch_.bytes()); !ok) return ok;
  const auto elapsed = std::chrono::steady_clock::now() - start;
  counters_.commit_ns_total.fetch_add(
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()),
      std::memory_order_relaxed);
  ring_.store(first, last, batch_.bytes());
  if (sink_ != nullptr) sink_->publish(batch_.bytes());
  last_publish_ns_ = now_ns;
  counters_.frames.fetch_add(batch_.count(), std::memory_order_relaxed);
  counters_.batches.fetch_add(1, std::memory_order_relaxed);
  return {};
}

std::expected<void, std::string> SequencerAgent::sequence_now(
    const std::vector<feeds::Event>& events, uint64_t now_ns) {
  sequencer_.begin_batch(batch_);
  for (const feeds::Event& e : events) sequence_one(e, now_ns);
  return commit(now_ns);
}

std::expected<size_t, std::string> SequencerAgent::do_work(uint64_t now_ns) {
  sequencer_.begin_batch(batch_);
  const size_t consumed = queues_.drain(config_.max_batch_frames, [&](size_t, feeds::Event& e) {
    if (selector_ == nullptr) {
      sequence_one(e, now_ns);
      return;
    }
    selected_.clear();
    selector_->on_event(e, now_ns, selected_);
    for (const feeds::Event& s : selected_) sequence_one(s, now_ns);
  });
  if (selector_ != nullptr && now_ns - last_tick_ns_ >= config_.selector_tick_ns) {
    last_tick_ns_ = now_ns;
    selected_.clear();
    selector_->on_tick(now_ns, selected_);
    for (const feeds::Event& s : selected_) sequence_one(s, now_ns);
  }
  log_notices(now_ns);
  if (!batch_.empty()) {
    if (auto ok = commit(now_ns); !ok) return std::unexpected(ok.error());
  } else if (sink_ != nullptr && now_ns - last_publish_ns_ >= config_.heartbeat_interval_ns) {
    sequencer_.heartbeat(now_ns, heartbeat_batch_);
    sink_->publish(heartbeat_batch_.bytes());
    last_publish_ns_ = now_ns;
    counters_.heartbeats.fetch_add(1, std::memory_order_relaxed);
  }
  return consumed;
}

}  // namespace oddsbus::engine
