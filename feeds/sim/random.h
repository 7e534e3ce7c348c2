// The simulator's randomness: splitmix64, a tiny PRNG that accepts any seed (0 included) and
// whose output depends only on the seed and the number of draws, so every simulated run is
// reproducible from its seed. mix() hashes a (key, index) pair for decisions that must not depend
// on how many draws came before (the fault plan decides message N the same way whatever happened
// to messages before it).
//
// Thread safety: a SplitMix64 is a plain value; one owner. mix() is a pure function.
#pragma once

#include <cstdint>

namespace oddsbus::feeds::sim {

// The splitmix64 finaliser: a bijection on u64 that scatters nearby inputs.
constexpr uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A hash of (key, index): independent-looking values for each index under one key.
constexpr uint64_t mix(uint64_t key, uint64_t index) {
  return mix64(key ^ mix64(index + 0x9e3779b97f4a7c15ULL));
}

// A u64 as a uniform double in [0, 1), from its top 53 bits.
constexpr double unit_interval(uint64_t bits) {
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() { return mix64(state_ += 0x9e3779b97f4a7c15ULL); }
  // Uniform in [0, bound); bound 0 returns 0. The modulo bias is below 2^-40 for our bounds.
  uint64_t below(uint64_t bound) { return bound == 0 ? 0 : next() % bound; }
  // True with probability `p` (p <= 0 never, p >= 1 always).
  bool chance(double p) { return unit_interval(next()) < p; }

 private:
  uint64_t state_;
};

}  // namespace oddsbus::feeds::sim
