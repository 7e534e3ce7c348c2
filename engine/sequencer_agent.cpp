#include "engine/sequencer_agent.h"

#include <chrono>
#include <cinttypes>

namespace oddsbus::engine {

SequencerAgent::SequencerAgent(Sequencer& sequencer, Journal& journal, IngestQueues& queues,
                               FrameRing& ring, BatchSink* sink, const SequencerAgentConfig& config)
    : sequencer_(sequencer),
      journal_(journal),
      queues_(queues),
      ring_(ring),
      sink_(sink),
      config_(config) {}

std::expected<size_t, std::string> SequencerAgent::do_work(uint64_t now_ns) {
  sequencer_.begin_batch(batch_);
  const size_t consumed = queues_.drain(config_.max_batch_frames, [&](size_t, feeds::Event& e) {
    auto result = sequencer_.sequence(e, now_ns, batch_);
    if (!result) {
      const auto reason = static_cast<size_t>(result.error());
      counters_.rejected[reason].fetch_add(1, std::memory_order_relaxed);
      if (reject_log_.allow(now_ns)) {
        log(LogLevel::kWarn,
            "rejected event for market %" PRIu64 ": %s (%" PRIu64 " more rejections suppressed)",
            e.market, feeds::to_string(result.error()).data(), reject_log_.suppressed());
      }
    } else if (*result == 0) {
      counters_.source_heartbeats.fetch_add(1, std::memory_order_relaxed);
    }
  });
  if (!batch_.empty()) {
    const auto start = std::chrono::steady_clock::now();
    const uint64_t first = batch_.first_seq();
    const uint64_t last = first + batch_.count() - 1;
    if (auto ok = journal_.append(first, last, batch_.bytes()); !ok) {
      return std::unexpected(ok.error());
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    counters_.commit_ns_total.fetch_add(
        static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()),
        std::memory_order_relaxed);
    ring_.store(first, last, batch_.bytes());
    if (sink_ != nullptr) sink_->publish(batch_.bytes());
    last_publish_ns_ = now_ns;
    counters_.frames.fetch_add(batch_.count(), std::memory_order_relaxed);
    counters_.batches.fetch_add(1, std::memory_order_relaxed);
  } else if (sink_ != nullptr && now_ns - last_publish_ns_ >= config_.heartbeat_interval_ns) {
    sequencer_.heartbeat(now_ns, heartbeat_batch_);
    sink_->publish(heartbeat_batch_.bytes());
    last_publish_ns_ = now_ns;
    counters_.heartbeats.fetch_add(1, std::memory_order_relaxed);
  }
  return consumed;
}

}  // namespace oddsbus::engine
