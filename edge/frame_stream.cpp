#include "edge/frame_stream.h"

#include <algorithm>

namespace oddsbus::edge {

bool FrameStream::on_batch(std::span<const uint8_t> bytes) {
  if (!reader_.open(bytes)) {
    ++counters_.corrupt_batches;
    return false;
  }
  if (reader_.heartbeat()) {
    ++counters_.heartbeats;
    newest_seq_ = std::max(newest_seq_, reader_.header().first_seq);
    return true;
  }
  for (const fb::Frame* frame : reader_.frames()) {
    const uint64_t seq = frame->seq();
    newest_seq_ = std::max(newest_seq_, seq);
    if (seq <= last_seq_) {
      ++counters_.duplicates;
      continue;
    }
    if (seq > last_seq_ + 1) {
      ++counters_.gaps;
      counters_.frames_missed += seq - last_seq_ - 1;
    }
    state_.apply(*frame);
    last_seq_ = seq;
    ++counters_.frames_applied;
  }
  return true;
}

}  // namespace oddsbus::edge
