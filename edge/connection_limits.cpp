#include "edge/connection_limits.h"

#include <algorithm>

namespace oddsbus::edge {

void ConnectionLimits::refill(Bucket& bucket, uint64_t now_ns) const {
  if (now_ns > bucket.updated_ns) {
    const double seconds = static_cast<double>(now_ns - bucket.updated_ns) / 1e9;
    bucket.tokens = std::min(config_.per_address_burst,
                             bucket.tokens + seconds * config_.per_address_per_second);
  }
  bucket.updated_ns = now_ns;
}

bool ConnectionLimits::make_room(uint64_t now_ns) {
  if (last_sweep_ns_ != 0 && now_ns - last_sweep_ns_ < 1'000'000'000) return false;
  last_sweep_ns_ = now_ns;
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, now_ns);
    it = it->second.tokens >= config_.per_address_burst ? buckets_.erase(it) : std::next(it);
  }
  return buckets_.size() < config_.max_tracked_addresses;
}

Admission ConnectionLimits::admit(std::string_view address, uint64_t now_ns) {
  if (open_ >= config_.max_connections) {
    ++counters_.refused_full;
    return Admission::kTooManyConnections;
  }
  auto it = buckets_.find(std::string(address));
  if (it == buckets_.end()) {
    if (buckets_.size() >= config_.max_tracked_addresses && !make_room(now_ns)) {
      ++counters_.refused_too_fast;
      return Admission::kTooFast;
    }
    it = buckets_.emplace(std::string(address), Bucket{config_.per_address_burst, now_ns}).first;
  }
  Bucket& bucket = it->second;
  refill(bucket, now_ns);
  if (bucket.tokens < 1.0) {
    ++counters_.refused_too_fast;
    return Admission::kTooFast;
  }
  bucket.tokens -= 1.0;
  ++open_;
  ++counters_.admitted;
  return Admission::kAdmitted;
}

void ConnectionLimits::release() {
  if (open_ > 0) --open_;
}

}  // namespace oddsbus::edge
