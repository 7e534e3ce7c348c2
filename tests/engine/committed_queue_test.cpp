#include "engine/committed_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "engine/journal.h"
#include "schemas/batch.h"
#include "tests/engine/engine_test_support.h"
#include "tests/engine/recovery_test_support.h"

namespace oddsbus::engine {
namespace {

using testing_support::BatchScript;
using testing_support::TempDir;
using Kind = CommittedQueue::Kind;

// A stand-in batch: `size` bytes that say which seq they carry.
std::vector<uint8_t> bytes_of(uint64_t first_seq, size_t size) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(first_seq * 31 + i);
  return bytes;
}

TEST(CommittedQueue, HandsOverBatchesInOrderAsCopies) {
  CommittedQueue queue;
  EXPECT_FALSE(queue.front());
  std::vector<uint8_t> batch = bytes_of(1, 100);
  ASSERT_TRUE(queue.push(1, 3, batch));
  batch.assign(batch.size(), 0);  // the queue holds its own copy
  ASSERT_TRUE(queue.push(4, 4, bytes_of(4, 7)));
  ASSERT_TRUE(queue.push(5, 9, {}));
  EXPECT_EQ(queue.depth(), 3u);

  auto item = queue.front();
  ASSERT_TRUE(item);
  EXPECT_EQ(item->kind, Kind::kBatch);
  EXPECT_EQ(item->first_seq, 1u);
  EXPECT_EQ(item->last_seq, 3u);
  EXPECT_EQ(std::vector<uint8_t>(item->bytes.begin(), item->bytes.end()), bytes_of(1, 100));
  queue.pop();
  item = queue.front();
  ASSERT_TRUE(item);
  EXPECT_EQ(item->first_seq, 4u);
  EXPECT_EQ(std::vector<uint8_t>(item->bytes.begin(), item->bytes.end()), bytes_of(4, 7));
  queue.pop();
  item = queue.front();
  ASSERT_TRUE(item);
  EXPECT_EQ(item->first_seq, 5u);
  EXPECT_TRUE(item->bytes.empty());
  queue.pop();
  EXPECT_FALSE(queue.front());
  EXPECT_EQ(queue.depth(), 0u);
  EXPECT_EQ(queue.counters().pushed.load(), 3u);
  EXPECT_EQ(queue.counters().dropped.load(), 0u);
}

TEST(CommittedQueue, IsBoundedInBatches) {
  CommittedQueue queue({.max_batches = 2, .max_bytes = 1 << 20});
  EXPECT_TRUE(queue.push(1, 1, bytes_of(1, 10)));
  EXPECT_TRUE(queue.push(2, 2, bytes_of(2, 10)));
  EXPECT_FALSE(queue.push(3, 3, bytes_of(3, 10)));
  EXPECT_EQ(queue.depth(), 2u);
  EXPECT_EQ(queue.counters().dropped.load(), 1u);
  queue.front();
  queue.pop();
  EXPECT_TRUE(queue.push(4, 4, bytes_of(4, 10)));
  EXPECT_EQ(queue.front()->first_seq, 2u);
  queue.pop();
  EXPECT_EQ(queue.front()->first_seq, 4u) << "the consumer sees the gap 3";
}

TEST(CommittedQueue, IsBoundedInBytes) {
  CommittedQueue queue({.max_batches = 100, .max_bytes = 4096});
  EXPECT_EQ(queue.capacity_bytes(), 4096u);
  size_t pushed = 0;
  while (queue.push(pushed + 1, pushed + 1, bytes_of(pushed + 1, 1000))) ++pushed;
  EXPECT_EQ(pushed, 3u) << "1000 bytes and a header take 1088 of the 4096";
  EXPECT_EQ(queue.counters().dropped.load(), 1u);
  CommittedQueue small({.max_batches = 100, .max_bytes = 4096});
  EXPECT_FALSE(small.push(1, 1, bytes_of(1, 5000))) << "a batch larger than the ring never fits";
  EXPECT_EQ(small.depth(), 0u);
}

// Seeded: sizes that make records wrap at every offset, pushed and popped in uneven steps.
TEST(CommittedQueue, StaysCorrectOverManyWraps) {
  for (const uint32_t seed : {1u, 2u, 3u, 4u}) {
    std::mt19937 rng(seed);
    CommittedQueue queue({.max_batches = 16, .max_bytes = 8192});
    uint64_t next_push = 1;
    uint64_t next_pop = 1;
    std::vector<size_t> sizes;  // of the batches queued, oldest first
    size_t popped = 0;
    for (int round = 0; round < 2000; ++round) {
      const int pushes = static_cast<int>(rng() % 4);
      for (int i = 0; i < pushes; ++i) {
        const size_t size = rng() % 1500;
        if (queue.push(next_push, next_push, bytes_of(next_push, size))) sizes.push_back(size);
        ++next_push;
      }
      const int pops = static_cast<int>(rng() % 4);
      for (int i = 0; i < pops; ++i) {
        auto item = queue.front();
        if (!item) break;
        ASSERT_LT(popped, sizes.size()) << "seed " << seed;
        ASSERT_GE(item->first_seq, next_pop) << "seed " << seed;
        ASSERT_EQ(std::vector<uint8_t>(item->bytes.begin(), item->bytes.end()),
                  bytes_of(item->first_seq, sizes[popped]))
            << "seed " << seed << " seq " << item->first_seq;
        next_pop = item->first_seq + 1;
        ++popped;
        queue.pop();
      }
    }
    EXPECT_EQ(queue.counters().pushed.load(), sizes.size()) << "seed " << seed;
    EXPECT_EQ(queue.counters().pushed.load() + queue.counters().dropped.load(), next_push - 1);
  }
}

TEST(CommittedQueue, ARewriteMarkerIsNeverDroppedAndSeparatesTheHistories) {
  CommittedQueue queue({.max_batches = 2, .max_bytes = 1 << 20});
  ASSERT_TRUE(queue.push(1, 5, bytes_of(1, 10)));
  ASSERT_TRUE(queue.push(6, 9, bytes_of(6, 10)));
  EXPECT_EQ(queue.generation(), 0u);
  queue.begin_rewrite();
  EXPECT_EQ(queue.generation() % 2, 1u) << "odd while the journal is rewritten";
  queue.end_rewrite(7);  // full: the marker waits
  EXPECT_EQ(queue.generation(), 2u);
  queue.front();
  queue.pop();
  // The marker takes the free place; the batch after it is dropped (the consumer reads the new
  // history from the journal anyway).
  EXPECT_FALSE(queue.push(7, 7, bytes_of(7, 10)));
  EXPECT_TRUE(queue.front());
  queue.pop();  // 6..9, old history
  EXPECT_TRUE(queue.push(8, 8, bytes_of(8, 10)));

  auto item = queue.front();
  ASSERT_TRUE(item);
  EXPECT_EQ(item->kind, Kind::kRewritten);
  EXPECT_EQ(item->first_seq, 7u);
  EXPECT_EQ(item->generation, 2u);
  queue.pop();
  item = queue.front();
  ASSERT_TRUE(item);
  EXPECT_EQ(item->kind, Kind::kBatch);
  EXPECT_EQ(item->first_seq, 8u);
  EXPECT_EQ(item->generation, 2u);
  queue.pop();
  EXPECT_FALSE(queue.front());
  EXPECT_EQ(queue.counters().rewrites.load(), 1u);
}

TEST(CommittedQueue, ObservesEveryAppendAndSetAsideOfAJournal) {
  TempDir dir;
  JournalConfig config;
  config.dir = dir.sub("journal");
  auto journal = Journal::open(config);
  ASSERT_TRUE(journal) << journal.error();
  CommittedQueue queue;
  (*journal)->set_observer(&queue);
  BatchScript script;
  for (int i = 0; i < 3; ++i) {
    const std::vector<uint8_t> batch = script.prices(4);
    BatchHeader header;
    std::memcpy(&header, batch.data(), sizeof header);
    ASSERT_TRUE((*journal)->append(header.first_seq, header.first_seq + header.count - 1, batch));
  }
  ASSERT_TRUE((*journal)->set_aside_from(7, dir.sub("aside.batches")));
  (*journal)->set_observer(nullptr);

  const uint64_t firsts[] = {1, 6, 10};
  for (const uint64_t first : firsts) {
    auto item = queue.front();
    ASSERT_TRUE(item);
    EXPECT_EQ(item->kind, Kind::kBatch);
    EXPECT_EQ(item->first_seq, first);
    queue.pop();
  }
  auto marker = queue.front();
  ASSERT_TRUE(marker);
  EXPECT_EQ(marker->kind, Kind::kRewritten);
  EXPECT_EQ(marker->first_seq, 7u);
  EXPECT_EQ(queue.generation(), 2u);
}

// One producer and one consumer thread: every batch arrives once, in order, intact, or is counted
// as dropped (a gap the consumer sees).
TEST(CommittedQueue, OneProducerAndOneConsumerThread) {
  constexpr uint64_t kBatches = 20000;
  CommittedQueue queue({.max_batches = 8, .max_bytes = 16384});
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (uint64_t seq = 1; seq <= kBatches; ++seq) queue.push(seq, seq, bytes_of(seq, seq % 700));
    done.store(true, std::memory_order_release);
  });
  uint64_t received = 0;
  uint64_t last = 0;
  bool intact = true;
  while (true) {
    const bool finished = done.load(std::memory_order_acquire);
    auto item = queue.front();
    if (!item) {
      if (finished) break;
      std::this_thread::yield();
      continue;
    }
    intact = intact && item->first_seq > last &&
             std::vector<uint8_t>(item->bytes.begin(), item->bytes.end()) ==
                 bytes_of(item->first_seq, item->first_seq % 700);
    last = item->first_seq;
    ++received;
    queue.pop();
  }
  producer.join();
  EXPECT_TRUE(intact);
  EXPECT_EQ(received, queue.counters().pushed.load());
  EXPECT_EQ(received + queue.counters().dropped.load(), kBatches);
}

}  // namespace
}  // namespace oddsbus::engine
