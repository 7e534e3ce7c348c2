#include "engine/clocks.h"

#include <time.h>

namespace oddsbus::engine {

namespace {
uint64_t read(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

Clocks read_clocks() { return {read(CLOCK_MONOTONIC), read(CLOCK_REALTIME)}; }

}  // namespace oddsbus::engine
