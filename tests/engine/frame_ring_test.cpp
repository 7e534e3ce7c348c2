#include "engine/frame_ring.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace oddsbus::engine {
namespace {

// Stand-in batch bytes that say which range they hold.
std::vector<uint8_t> bytes_for(uint64_t first, uint64_t last, size_t size = 16) {
  std::vector<uint8_t> bytes(size, static_cast<uint8_t>(last - first));
  bytes[0] = static_cast<uint8_t>(first);
  bytes[1] = static_cast<uint8_t>(last);
  return bytes;
}

std::vector<uint8_t> found(const FrameRing& ring, uint64_t seq) {
  auto span = ring.find(seq);
  return {span.begin(), span.end()};
}

TEST(FrameRing, EmptyRingHoldsNothing) {
  FrameRing ring(4);
  EXPECT_TRUE(ring.find(0).empty());
  EXPECT_TRUE(ring.find(1).empty());
  EXPECT_EQ(ring.oldest_seq(), 0u);
}

TEST(FrameRing, FindsEverySeqWithinTheHeldRange) {
  FrameRing ring(4);
  ring.store(1, 3, bytes_for(1, 3));
  ring.store(4, 4, bytes_for(4, 4));
  ring.store(5, 9, bytes_for(5, 9, 40));
  EXPECT_EQ(ring.oldest_seq(), 1u);
  for (uint64_t seq = 1; seq <= 3; ++seq) EXPECT_EQ(found(ring, seq), bytes_for(1, 3)) << seq;
  EXPECT_EQ(found(ring, 4), bytes_for(4, 4));
  for (uint64_t seq = 5; seq <= 9; ++seq) EXPECT_EQ(found(ring, seq), bytes_for(5, 9, 40)) << seq;
}

TEST(FrameRing, SeqOutsideTheHeldRangeIsNotFound) {
  FrameRing ring(4);
  ring.store(10, 12, bytes_for(10, 12));
  ring.store(13, 15, bytes_for(13, 15));
  EXPECT_TRUE(ring.find(0).empty());
  EXPECT_TRUE(ring.find(9).empty()) << "before the oldest";
  EXPECT_TRUE(ring.find(16).empty()) << "not yet sequenced";
  EXPECT_TRUE(ring.find(UINT64_MAX).empty());
}

TEST(FrameRing, EvictsTheOldestBatchWhenFull) {
  FrameRing ring(2);
  ring.store(1, 2, bytes_for(1, 2));
  ring.store(3, 5, bytes_for(3, 5));
  ring.store(6, 6, bytes_for(6, 6));
  EXPECT_EQ(ring.oldest_seq(), 3u);
  EXPECT_TRUE(ring.find(1).empty());
  EXPECT_TRUE(ring.find(2).empty());
  EXPECT_EQ(found(ring, 3), bytes_for(3, 5));
  EXPECT_EQ(found(ring, 6), bytes_for(6, 6));

  ring.store(7, 10, bytes_for(7, 10, 8));
  EXPECT_EQ(ring.oldest_seq(), 6u);
  EXPECT_TRUE(ring.find(5).empty());
  EXPECT_EQ(found(ring, 6), bytes_for(6, 6));
  EXPECT_EQ(found(ring, 9), bytes_for(7, 10, 8)) << "a reused slot holds only the new bytes";
}

TEST(FrameRing, KeepsACopyNotAView) {
  FrameRing ring(2);
  std::vector<uint8_t> batch = bytes_for(1, 1);
  ring.store(1, 1, batch);
  batch.assign(batch.size(), 0xEE);
  EXPECT_EQ(found(ring, 1), bytes_for(1, 1));
}

TEST(FrameRing, StaysCorrectOverManyWraps) {
  struct Stored {
    uint64_t first, last;
    std::vector<uint8_t> bytes;
  };
  FrameRing ring(8);
  std::vector<Stored> stored;
  uint64_t next = 1;
  for (uint64_t batch = 0; batch < 1000; ++batch) {
    const uint64_t size = 1 + batch % 5;
    stored.push_back({next, next + size - 1, bytes_for(next, next + size - 1, 8 + batch % 32)});
    ring.store(next, next + size - 1, stored.back().bytes);
    next += size;
  }
  const std::vector<Stored> held(stored.end() - 8, stored.end());
  EXPECT_EQ(ring.oldest_seq(), held.front().first);
  EXPECT_TRUE(ring.find(held.front().first - 1).empty());
  for (const Stored& s : held) {
    for (uint64_t seq = s.first; seq <= s.last; ++seq) EXPECT_EQ(found(ring, seq), s.bytes) << seq;
  }
  EXPECT_TRUE(ring.find(next).empty());
}

}  // namespace
}  // namespace oddsbus::engine

namespace oddsbus::engine {
namespace {

TEST(FrameRing, StaysWithinItsByteBoundByEvictingTheOldest) {
  FrameRing ring(100, 1000);
  const std::vector<uint8_t> batch(300, 7);
  for (uint64_t i = 0; i < 10; ++i) ring.store(i * 10 + 1, i * 10 + 10, batch);
  EXPECT_LE(ring.held_bytes(), 1000u);
  EXPECT_EQ(ring.held_bytes(), 900u);
  EXPECT_EQ(ring.oldest_seq(), 71u);
  EXPECT_TRUE(ring.find(70).empty());
  EXPECT_EQ(ring.find(95).size(), 300u);
}

TEST(FrameRing, DoesNotKeepABatchLargerThanItsBound) {
  FrameRing ring(4, 100);
  ring.store(1, 1, std::vector<uint8_t>(50, 1));
  ring.store(2, 2, std::vector<uint8_t>(200, 2));
  EXPECT_EQ(ring.held_bytes(), 0u);
  EXPECT_TRUE(ring.find(1).empty());
  EXPECT_TRUE(ring.find(2).empty());
  EXPECT_EQ(ring.oldest_seq(), 0u);
}

}  // namespace
}  // namespace oddsbus::engine
