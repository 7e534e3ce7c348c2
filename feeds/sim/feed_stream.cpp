#include "feeds/sim/feed_stream.h"

#include <algorithm>
#include <limits>

namespace oddsbus::feeds::sim {

FeedStream::FeedStream(const FeedStreamConfig& config)
    : config_(config),
      simulator_(config.sim),
      writer_(make_writer(config.format, config.provider)) {}

uint64_t FeedStream::next_heartbeat_ns() const {
  uint64_t next = last_message_ns_ + std::max<uint64_t>(config_.heartbeat_ns, 1);
  if (config_.format == Format::kUofXml) {
    next = std::min(next, last_alive_ns_ + std::max<uint64_t>(config_.alive_ns, 1));
  }
  return next;
}

uint64_t FeedStream::next_due_ns() const {
  if (over()) return std::numeric_limits<uint64_t>::max();
  return std::min(simulator_.next_event_ns(), next_heartbeat_ns());
}

void FeedStream::advance(uint64_t now_ns, std::vector<SimMessage>& out) {
  while (!over()) {
    const uint64_t update_ns = simulator_.next_event_ns();
    const uint64_t heartbeat_ns = next_heartbeat_ns();
    if (update_ns <= heartbeat_ns) {
      if (update_ns > now_ns) break;
      events_.clear();
      simulator_.advance(update_ns, events_);
      for (const SimEvent& event : events_) writer_->write(event, ts_ms(event.at_ns), out);
      last_message_ns_ = update_ns;
    } else {
      if (heartbeat_ns > now_ns) break;
      writer_->heartbeat(heartbeat_ns, ts_ms(heartbeat_ns), out);
      last_message_ns_ = heartbeat_ns;
      last_alive_ns_ = heartbeat_ns;
    }
  }
}

void FeedStream::image(uint64_t now_ns, std::vector<SimMessage>& out) const {
  writer_->image(simulator_.live(), now_ns, ts_ms(now_ns), out);
}

}  // namespace oddsbus::feeds::sim
