#include "engine/requester_limiter.h"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace oddsbus::engine {

RequesterLimiter::RequesterLimiter(const RequesterLimiterConfig& config) : config_(config) {
  config_.max_requesters = std::max<size_t>(config_.max_requesters, 1);
  index_.reserve(config_.max_requesters);
}

RequesterLimiter::Bucket& RequesterLimiter::bucket_for(std::string_view identity, uint64_t now_ns) {
  auto found = index_.find(identity);
  if (found == index_.end()) {
    if (buckets_.size() >= config_.max_requesters) {
      index_.erase(buckets_.front().identity);
      buckets_.pop_front();
      ++counters_.evicted;
    }
    buckets_.push_back({std::string(identity), config_.request_burst, config_.frame_burst, now_ns});
    auto it = std::prev(buckets_.end());
    index_.emplace(it->identity, it);
    return *it;
  }
  auto it = found->second;
  buckets_.splice(buckets_.end(), buckets_, it);  // most recently seen last; nodes never move
  Bucket& bucket = *it;
  if (now_ns > bucket.refilled_ns) {
    const double seconds = static_cast<double>(now_ns - bucket.refilled_ns) * 1e-9;
    bucket.requests =
        std::min(config_.request_burst, bucket.requests + seconds * config_.requests_per_s);
    bucket.frames = std::min(config_.frame_burst, bucket.frames + seconds * config_.frames_per_s);
    bucket.refilled_ns = now_ns;
  }
  return bucket;
}

Admission RequesterLimiter::admit(std::string_view identity, uint64_t now_ns) {
  Bucket& bucket = bucket_for(identity, now_ns);
  if (bucket.requests >= 1 && bucket.frames > 0) {
    bucket.requests -= 1;
    ++counters_.admitted;
    return {true, 0};
  }
  // How long until both buckets allow a request again, in ms.
  double ms = 0;
  if (bucket.requests < 1) {
    ms = (1 - bucket.requests) * 1000 / std::max(config_.requests_per_s, 1e-9);
  }
  if (bucket.frames <= 0) {
    ms = std::max(ms, (1 - bucket.frames) * 1000 / std::max(config_.frames_per_s, 1e-9));
  }
  ++counters_.refused;
  return {false,
          static_cast<uint32_t>(std::clamp(std::ceil(ms), 1.0, static_cast<double>(kMaxRetryMs)))};
}

void RequesterLimiter::charge(std::string_view identity, uint64_t frames) {
  // The requester just admitted is the most recently seen: look there first.
  if (!buckets_.empty() && buckets_.back().identity == identity) {
    buckets_.back().frames -= static_cast<double>(frames);
    return;
  }
  if (auto found = index_.find(identity); found != index_.end()) {
    found->second->frames -= static_cast<double>(frames);
  }
}

}  // namespace oddsbus::engine
