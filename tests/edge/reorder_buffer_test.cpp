#include "edge/reorder_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "schemas/frame_builder.h"

namespace oddsbus::edge {
namespace {

// A frame's bytes in aligned storage of its own.
struct Frame {
  Frame(uint64_t seq, uint32_t epoch) {
    FrameBuilder builder;
    FrameHeader h;
    h.seq = seq;
    h.epoch = epoch;
    const auto bytes = builder.status(h, 100, fb::MarketStatus::Open, fb::StatusReason::Provider);
    words.resize((bytes.size() + 7) / 8);
    std::memcpy(words.data(), bytes.data(), bytes.size());
    size = bytes.size();
  }
  const fb::Frame& frame() const { return *fb::GetFrame(words.data()); }
  std::span<const uint8_t> bytes() const {
    return {reinterpret_cast<const uint8_t*>(words.data()), size};
  }
  std::vector<uint64_t> words;
  size_t size = 0;
};

ReorderBuffer::StoreResult store(ReorderBuffer& buffer, const Frame& f) {
  return buffer.store(f.frame(), f.bytes());
}

TEST(ReorderBuffer, ReleasesInSeqOrderWithTheirBytes) {
  ReorderBuffer buffer(16, 1 << 20);
  const Frame f7(7, 1), f5(5, 1), f6(6, 1);
  EXPECT_TRUE(store(buffer, f7).stored);
  EXPECT_TRUE(store(buffer, f5).stored);
  EXPECT_TRUE(store(buffer, f6).stored);
  EXPECT_EQ(buffer.size(), 3u);
  EXPECT_EQ(buffer.bytes(), f5.size + f6.size + f7.size);
  std::vector<uint64_t> seqs;
  while (!buffer.empty()) {
    seqs.push_back(buffer.first_seq());
    EXPECT_EQ(buffer.first_frame().seq(), buffer.first_seq());
    EXPECT_EQ(buffer.first_bytes().size(), f5.size);
    buffer.pop_first();
  }
  EXPECT_EQ(seqs, (std::vector<uint64_t>{5, 6, 7}));
  EXPECT_EQ(buffer.bytes(), 0u);
}

TEST(ReorderBuffer, KeepsOneFramePerSeqAndAHigherEpochReplacesIt) {
  ReorderBuffer buffer(16, 1 << 20);
  EXPECT_TRUE(store(buffer, Frame(5, 2)).stored);
  const auto same = store(buffer, Frame(5, 2));
  EXPECT_TRUE(same.duplicate);
  EXPECT_FALSE(same.stored);
  EXPECT_TRUE(store(buffer, Frame(5, 1)).duplicate);  // a lower epoch's copy: a loser's
  EXPECT_TRUE(store(buffer, Frame(5, 3)).stored);     // a winner's copy replaces it
  EXPECT_EQ(buffer.size(), 1u);
  EXPECT_EQ(buffer.first_frame().epoch(), 3u);
}

TEST(ReorderBuffer, PastTheFrameBoundTheNewestGo) {
  ReorderBuffer buffer(3, 1 << 20);
  for (uint64_t seq : {10, 11, 12}) EXPECT_TRUE(store(buffer, Frame(seq, 1)).stored);
  const auto newer = store(buffer, Frame(13, 1));  // the newest: dropped itself
  EXPECT_FALSE(newer.stored);
  EXPECT_EQ(newer.dropped, 1u);
  const auto older = store(buffer, Frame(9, 1));  // older: 12 makes room
  EXPECT_TRUE(older.stored);
  EXPECT_EQ(older.dropped, 1u);
  EXPECT_EQ(buffer.size(), 3u);
  EXPECT_EQ(buffer.first_seq(), 9u);
  EXPECT_EQ(buffer.next_after(10), 11u);
  EXPECT_EQ(buffer.next_after(11), 0u);
}

TEST(ReorderBuffer, IsBoundedInBytes) {
  const Frame probe(1, 1);
  ReorderBuffer buffer(100, probe.size * 2);
  EXPECT_TRUE(store(buffer, Frame(1, 1)).stored);
  EXPECT_TRUE(store(buffer, Frame(2, 1)).stored);
  EXPECT_EQ(store(buffer, Frame(3, 1)).dropped, 1u);
  EXPECT_LE(buffer.bytes(), probe.size * 2);
  buffer.clear();
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.bytes(), 0u);
}

}  // namespace
}  // namespace oddsbus::edge
