// Committed batches on their way from the sequencer thread to the recovery thread (DESIGN
// section 4), so the recovery server does not read back from LMDB what was just written.
//
// A single-producer single-consumer ring of bytes: each batch is copied in whole (a 40-byte
// header, then its bytes) and read in place by the consumer until it pops it. Bounded twice: at
// most max_batches batches and max_bytes bytes are queued; memory is allocated once, at
// construction, so push() and front()/pop() never allocate.
//
// Overflow loses nothing: a batch that does not fit is dropped and counted, and the consumer sees
// the gap (a batch whose first seq is not its last seq + 1) and reads what it missed from the
// journal, which holds every committed batch.
//
// History rewrites (fencing's set-aside): the queue keeps a generation, odd while the journal is
// being rewritten and even otherwise (a seqlock). Each item carries the generation it was pushed
// in, and a rewrite queues a kRewritten marker of the new generation between the batches of the
// old history and those of the new one. The marker is never dropped: when the ring is full it is
// kept aside and queued ahead of any later batch, and batches are dropped until it is; so a
// consumer also compares generation() with the last it saw, not to wait for the next batch to
// learn of a rewrite. A consumer that reads the journal itself checks generation() before and
// after: an odd or changed value means what it read may be either history.
//
// It is a JournalObserver: Journal::set_observer(&queue) queues every append and set-aside.
//
// Thread safety: push(), begin_rewrite()/end_rewrite() (and the observer calls) from one producer
// thread, the journal's writer; front()/pop() from one consumer thread. depth(), generation() and
// counters() from any.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "engine/journal.h"

namespace oddsbus::engine {

struct CommittedQueueConfig {
  size_t max_batches = 4096;
  size_t max_bytes = size_t{32} << 20;  // rounded up to a multiple of 64, at least 4 KiB
};

struct alignas(64) CommittedQueueCounters {
  std::atomic<uint64_t> pushed{0};    // batches queued
  std::atomic<uint64_t> dropped{0};   // batches not queued (full): the consumer catches up
  std::atomic<uint64_t> rewrites{0};  // kRewritten markers queued
};

class CommittedQueue final : public JournalObserver {
 public:
  enum class Kind : uint32_t { kBatch = 1, kRewritten = 2 };

  // One queued item; `bytes` (a kBatch's batch) is valid until pop().
  struct Item {
    Kind kind = Kind::kBatch;
    uint64_t first_seq = 0;  // kRewritten: the seq the history was rewritten from
    uint64_t last_seq = 0;
    uint64_t generation = 0;  // when it was pushed (kRewritten: the rewrite's new generation)
    std::span<const uint8_t> bytes;
  };

  explicit CommittedQueue(const CommittedQueueConfig& config = {});
  CommittedQueue(const CommittedQueue&) = delete;
  CommittedQueue& operator=(const CommittedQueue&) = delete;

  // Producer. Queues a copy of `batch`; false when it was dropped (full, or a rewrite marker
  // still waits for room), which is counted.
  bool push(uint64_t first_seq, uint64_t last_seq, std::span<const uint8_t> batch);
  // Producer. Around a rewrite of the journal's history: the generation turns odd, then even
  // again and the kRewritten marker is queued (at once, or ahead of the next batch).
  void begin_rewrite();
  void end_rewrite(uint64_t from_seq);

  void on_appended(uint64_t first_seq, uint64_t last_seq, std::span<const uint8_t> batch) override {
    push(first_seq, last_seq, batch);
  }
  void on_rewriting(uint64_t) override { begin_rewrite(); }
  void on_rewritten(uint64_t from_seq) override { end_rewrite(from_seq); }

  // Any thread: odd while a rewrite is under way; see above.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Consumer. The oldest item, if any; it stays until pop().
  std::optional<Item> front();
  // Consumer. Removes the item front() returned.
  void pop();

  // Batches and markers queued now (a gauge: read while both ends move, it may be off by what
  // they did meanwhile, within max_batches).
  size_t depth() const {
    const uint64_t out = out_.load(std::memory_order_acquire);  // first: in_ only grows past it
    const uint64_t in = in_.load(std::memory_order_acquire);
    return static_cast<size_t>(std::min<uint64_t>(in - out, max_batches_));
  }
  size_t capacity_bytes() const { return capacity_; }
  const CommittedQueueCounters& counters() const { return counters_; }

 private:
  struct Header {
    uint32_t kind;  // Kind, or 0: padding to the end of the ring
    uint32_t size;  // bytes of the batch
    uint64_t first_seq;
    uint64_t last_seq;
    uint64_t generation;
    uint64_t total;  // bytes this record takes in the ring, header and padding included
  };
  static_assert(sizeof(Header) == 40);

  bool put(Kind kind, uint64_t first_seq, uint64_t last_seq, std::span<const uint8_t> bytes);

  const size_t max_batches_;
  const size_t capacity_;
  std::unique_ptr<uint8_t[]> ring_;
  bool rewrite_pending_ = false;  // producer's: a marker waits for room
  uint64_t pending_from_ = 0;

  std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<uint64_t> head_{0};  // bytes written (producer)
  std::atomic<uint64_t> in_{0};                // items written (producer)
  alignas(64) std::atomic<uint64_t> tail_{0};  // bytes released (consumer)
  std::atomic<uint64_t> out_{0};               // items released (consumer)
  CommittedQueueCounters counters_;
};

}  // namespace oddsbus::engine
