// Full jitter for reconnect backoff: a uniform draw in [0, bound] from splitmix64, which is tiny,
// takes any seed (including 0), and is good enough to decorrelate reconnect storms.
// Not thread-safe: one per connection loop.
#pragma once

#include <chrono>
#include <cstdint>

namespace oddsbus::feeds {

class BackoffJitter {
 public:
  explicit BackoffJitter(uint64_t seed) : state_(seed) {}

  // Uniform in [0, bound].
  std::chrono::milliseconds draw(std::chrono::milliseconds bound) {
    if (bound.count() <= 0) return std::chrono::milliseconds{0};
    return std::chrono::milliseconds{
        static_cast<int64_t>(next() % (static_cast<uint64_t>(bound.count()) + 1))};
  }

 private:
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t state_;
};

}  // namespace oddsbus::feeds
