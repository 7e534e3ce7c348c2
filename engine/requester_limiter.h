// Per-requester rate limits of the recovery service (DESIGN section 4): each requester (a ZeroMQ
// routing identity) has two token buckets, one of requests and one of frames served, refilled
// continuously at a rate up to a burst. A request is admitted while the requester has a whole
// request token and a positive frame balance; serving then charges the frames it cost (a large
// range may take the frame balance below zero, so the next request waits for it to refill).
// Refused, the requester is told how long to wait (`busy RETRY_MS`).
//
// The table of requesters is bounded: past max_requesters, the least recently seen is evicted (a
// requester that comes back starts with full buckets, so an attacker cycling identities gets at
// most a burst per identity; the table, not the rate, is what eviction protects).
//
// Sans-I/O: time comes in as now_ns, on a monotonic clock.
// Thread safety: none; owned by one thread (the recovery server's).
// Invariants: size() <= max_requesters; balances never exceed their bursts.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace oddsbus::engine {

struct RequesterLimiterConfig {
  double requests_per_s = 20000;  // per requester, refilled continuously
  double request_burst = 2000;
  double frames_per_s = 10'000'000;  // frames served (a snapshot costs its markets)
  double frame_burst = 2'000'000;
  size_t max_requesters = 1024;  // the least recently seen go first (at least 1)
};

struct RequesterLimiterCounters {
  uint64_t admitted = 0;
  uint64_t refused = 0;
  uint64_t evicted = 0;
};

// The verdict on one request: admitted, or refused with how long to wait.
struct Admission {
  bool admitted = false;
  uint32_t retry_ms = 0;  // refused: 1..kMaxRetryMs
};

class RequesterLimiter {
 public:
  static constexpr uint32_t kMaxRetryMs = 60'000;

  explicit RequesterLimiter(const RequesterLimiterConfig& config);

  // One request from `identity` at now_ns: refills its buckets, and takes a request token when it
  // may go ahead. A requester not in the table is added (evicting the least recently seen).
  Admission admit(std::string_view identity, uint64_t now_ns);
  // `identity` was served `frames` frames (after admit(), or a parked request answered later).
  // Nothing happens if it was evicted meanwhile.
  void charge(std::string_view identity, uint64_t frames);

  size_t size() const { return buckets_.size(); }
  const RequesterLimiterCounters& counters() const { return counters_; }

 private:
  struct Bucket {
    std::string identity;
    double requests = 0;
    double frames = 0;
    uint64_t refilled_ns = 0;
  };
  Bucket& bucket_for(std::string_view identity, uint64_t now_ns);

  RequesterLimiterConfig config_;
  // Buckets in least-recently-seen order, indexed by identity (views into the list's own strings,
  // which never move).
  std::list<Bucket> buckets_;
  std::unordered_map<std::string_view, std::list<Bucket>::iterator> index_;
  RequesterLimiterCounters counters_;
};

}  // namespace oddsbus::engine
