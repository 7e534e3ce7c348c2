#include "engine/long_polls.h"

namespace oddsbus::engine {

LongPolls::LongPolls(const LongPollsConfig& config) : config_(config) {
  parked_.reserve(config_.max_parked);
}

LongPolls::ParkResult LongPolls::park(std::string_view identity, const recovery::Request& request,
                                      uint64_t now_ns) {
  if (parked_.size() >= config_.max_parked) return ParkResult::kFull;
  const uint64_t wait_ms = std::min<uint64_t>(request.wait_ms, config_.max_wait_ms);
  parked_.push_back({std::string(identity), request, now_ns + wait_ms * 1'000'000});
  return ParkResult::kParked;
}

uint64_t LongPolls::next_deadline_ns() const {
  uint64_t next = UINT64_MAX;
  for (const Parked& p : parked_) next = std::min(next, p.deadline_ns);
  return next;
}

bool LongPolls::on_ack(uint64_t seq, uint64_t committed, uint64_t now_ns) {
  acked_seq_ = std::max(acked_seq_, std::min(seq, committed));
  last_ack_ns_ = now_ns;
  return seq <= committed;
}

}  // namespace oddsbus::engine
