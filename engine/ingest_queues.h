// The lock-free hand-off from adapter threads to the sequencer: one bounded Boost.Lockfree SPSC
// queue per producer (DESIGN section 4).
//
// Thread safety: producer p's methods are called only from producer p's thread; drain() only from
// the sequencer thread. No locks, no allocation after construction (events whose strings exceed
// the small-string buffer allocate when copied, as market definitions may).
// A full queue is back-pressure, never a silent drop: push() waits and counts it.
#pragma once

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "feeds/event.h"

namespace oddsbus::engine {

enum class PushResult : uint8_t { kPushed, kStopped };

class IngestQueues {
 public:
  IngestQueues(size_t producers, size_t capacity_per_producer) {
    queues_.reserve(producers);
    for (size_t i = 0; i < producers; ++i)
      queues_.push_back(std::make_unique<Slot>(capacity_per_producer));
  }

  size_t producers() const { return queues_.size(); }

  // Producer side. Waits (spin, then yield, then sleep) while the queue is full; gives up only when
  // `stop` is set. Each wait is counted once in backpressure().
  PushResult push(size_t producer, const feeds::Event& event, const std::atomic<bool>& stop) {
    Slot& slot = *queues_[producer];
    if (slot.queue.push(event)) return PushResult::kPushed;
    slot.backpressure.fetch_add(1, std::memory_order_relaxed);
    for (unsigned spins = 0; !slot.queue.push(event); ++spins) {
      if (stop.load(std::memory_order_relaxed)) return PushResult::kStopped;
      if (spins < 64) continue;
      if (spins < 1024) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
    return PushResult::kPushed;
  }

  // Consumer side: pops up to `max` events across producers, round robin, calling
  // f(size_t producer, feeds::Event& event) for each. Returns how many it popped.
  template <typename F>
  size_t drain(size_t max, F&& f) {
    size_t popped = 0;
    bool any = true;
    while (popped < max && any) {
      any = false;
      for (size_t p = 0; p < queues_.size() && popped < max; ++p) {
        if (queues_[p]->queue.consume_one([&](feeds::Event& e) { f(p, e); })) {
          ++popped;
          any = true;
        }
      }
    }
    return popped;
  }

  uint64_t backpressure(size_t producer) const {
    return queues_[producer]->backpressure.load(std::memory_order_relaxed);
  }
  size_t depth(size_t producer) const { return queues_[producer]->queue.read_available(); }

 private:
  struct alignas(64) Slot {
    explicit Slot(size_t capacity) : queue(capacity) {}
    boost::lockfree::spsc_queue<feeds::Event> queue;
    alignas(64) std::atomic<uint64_t> backpressure{0};
  };
  std::vector<std::unique_ptr<Slot>> queues_;
};

}  // namespace oddsbus::engine
