#include "schemas/batch.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "schemas/frame_builder.h"
#include "schemas/odds.h"

namespace oddsbus {
namespace {

constexpr uint32_t kChannel = 7;
constexpr uint64_t kFirstSeq = 10;

struct Selection {
  uint64_t id;
  std::string name;
};

FrameHeader header_for(uint64_t seq, uint32_t channel = kChannel) {
  FrameHeader h;
  h.seq = seq;
  h.epoch = 1;
  h.channel = channel;
  h.publisher = 3;
  h.sequenced_ns = 1'000'000'000 + seq;
  h.market_seq = 1;
  return h;
}

// Three frames at kFirstSeq.. of different payload types, as copies of their bytes.
std::vector<std::vector<uint8_t>> three_frames() {
  FrameBuilder builder;
  std::vector<std::vector<uint8_t>> frames;
  const std::vector<Selection> selections = {{1, "Home"}, {2, "Away"}};
  auto def = builder.market_definition(header_for(kFirstSeq), 1001, 501, "Match Odds",
                                       fb::MarketStatus::Open, selections);
  frames.emplace_back(def.begin(), def.end());
  auto price = builder.price(header_for(kFirstSeq + 1), 1001, 1, *parse_odds("2.50"), "2.50", "bf");
  frames.emplace_back(price.begin(), price.end());
  auto status = builder.status(header_for(kFirstSeq + 2), 1001, fb::MarketStatus::Suspended,
                               fb::StatusReason::Trader);
  frames.emplace_back(status.begin(), status.end());
  return frames;
}

std::vector<uint8_t> batch_of(const std::vector<std::vector<uint8_t>>& frames,
                              uint64_t first_seq = kFirstSeq, uint32_t channel = kChannel) {
  BatchWriter writer(64);
  writer.begin(channel, first_seq);
  for (const auto& f : frames) writer.add(f);
  auto bytes = writer.bytes();
  return {bytes.begin(), bytes.end()};
}

// Offset of frame `index`'s first byte within a batch, found by walking the records.
size_t frame_offset(const std::vector<uint8_t>& batch, size_t index) {
  size_t offset = kBatchHeaderSize;
  for (size_t i = 0;; ++i) {
    uint32_t len = 0;
    std::memcpy(&len, batch.data() + offset, 4);
    if (i == index) return offset + kRecordHeaderSize;
    offset += kRecordHeaderSize + ((len + 7) & ~size_t{7});
  }
}

uint32_t frame_size(const std::vector<uint8_t>& batch, size_t index) {
  uint32_t len = 0;
  std::memcpy(&len, batch.data() + frame_offset(batch, index) - kRecordHeaderSize, 4);
  return len;
}

TEST(Batch, RoundTripsSeveralFrames) {
  const auto frames = three_frames();
  const auto bytes = batch_of(frames);
  ASSERT_EQ(bytes.size() % 8, 0u);

  BatchReader reader;
  auto opened = reader.open(bytes);
  ASSERT_TRUE(opened) << to_string(opened.error().error);
  EXPECT_EQ(reader.header().magic, kBatchMagic);
  EXPECT_EQ(reader.header().channel, kChannel);
  EXPECT_EQ(reader.header().first_seq, kFirstSeq);
  EXPECT_EQ(reader.header().count, 3u);
  EXPECT_FALSE(reader.heartbeat());
  ASSERT_EQ(reader.frames().size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(reader.frames()[i]->seq(), kFirstSeq + i);
    EXPECT_EQ(reader.frames()[i]->channel(), kChannel);
    const auto raw = reader.frame_bytes(i);
    EXPECT_EQ(std::vector<uint8_t>(raw.begin(), raw.end()), frames[i]) << "frame " << i;
  }
  EXPECT_EQ(reader.frames()[0]->payload_type(), fb::Payload::MarketDefinition);
  EXPECT_EQ(reader.frames()[0]->payload_as_MarketDefinition()->name()->str(), "Match Odds");
  ASSERT_EQ(reader.frames()[1]->payload_type(), fb::Payload::PriceUpdate);
  const auto* price = reader.frames()[1]->payload_as_PriceUpdate()->prices()->Get(0);
  EXPECT_EQ(price->price_e4(), 25000u);
  EXPECT_EQ(price->original()->str(), "2.50");
  EXPECT_EQ(reader.frames()[2]->payload_as_MarketStatusUpdate()->status(),
            fb::MarketStatus::Suspended);
}

TEST(Batch, WriterReusesItsBufferAcrossBatches) {
  const auto frames = three_frames();
  BatchWriter writer(16);  // smaller than one frame: add() must grow it
  writer.begin(kChannel, kFirstSeq);
  for (const auto& f : frames) writer.add(f);
  EXPECT_EQ(writer.count(), 3u);
  writer.begin(kChannel, kFirstSeq + 2);
  EXPECT_TRUE(writer.empty());
  EXPECT_EQ(writer.size(), kBatchHeaderSize);
  writer.add(frames[2]);
  BatchReader reader;
  ASSERT_TRUE(reader.open(writer.bytes()));
  ASSERT_EQ(reader.frames().size(), 1u);
  EXPECT_EQ(reader.frames()[0]->seq(), kFirstSeq + 2);
}

TEST(Batch, FlippedFrameByteIsBadCrcAtThatFramesSeq) {
  const auto good = batch_of(three_frames());
  for (size_t index = 0; index < 3; ++index) {
    auto bytes = good;
    bytes[frame_offset(bytes, index) + frame_size(bytes, index) / 2] ^= 0x01;
    BatchReader reader;
    auto opened = reader.open(bytes);
    ASSERT_FALSE(opened) << "frame " << index;
    EXPECT_EQ(opened.error().error, BatchError::kBadCrc);
    EXPECT_EQ(opened.error().seq, kFirstSeq + index);
    // The frames before the bad one are handed out, each fully checked; none after it.
    ASSERT_EQ(reader.frames().size(), index);
    for (size_t i = 0; i < index; ++i) EXPECT_EQ(reader.frames()[i]->seq(), kFirstSeq + i);
  }
}

TEST(Batch, FlippedCrcByteIsBadCrc) {
  auto bytes = batch_of(three_frames());
  bytes[frame_offset(bytes, 1) - 4] ^= 0x80;  // the record's CRC field
  BatchReader reader;
  auto opened = reader.open(bytes);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().error, BatchError::kBadCrc);
  EXPECT_EQ(opened.error().seq, kFirstSeq + 1);
}

TEST(Batch, TruncatedBatchIsDetectedAtEveryLength) {
  const auto bytes = batch_of(three_frames());
  BatchReader reader;
  for (size_t size = 0; size < bytes.size(); ++size) {
    auto opened = reader.open(std::span<const uint8_t>(bytes.data(), size));
    ASSERT_FALSE(opened) << "size " << size;
    EXPECT_EQ(opened.error().error, BatchError::kTruncated) << "size " << size;
  }
}

TEST(Batch, TruncationNamesTheFirstIncompleteFrame) {
  const auto bytes = batch_of(three_frames());
  BatchReader reader;
  auto header_only = reader.open(std::span<const uint8_t>(bytes.data(), kBatchHeaderSize - 1));
  ASSERT_FALSE(header_only);
  EXPECT_EQ(header_only.error().seq, 0u);

  const size_t cut = frame_offset(bytes, 2) + 1;  // frame 2 starts but does not finish
  auto opened = reader.open(std::span<const uint8_t>(bytes.data(), cut));
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().error, BatchError::kTruncated);
  EXPECT_EQ(opened.error().seq, kFirstSeq + 2);
}

TEST(Batch, TrailingBytesAfterTheLastRecordAreTruncation) {
  auto bytes = batch_of(three_frames());
  bytes.resize(bytes.size() + 8, 0);
  BatchReader reader;
  auto opened = reader.open(bytes);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().error, BatchError::kTruncated);
}

TEST(Batch, BadMagicIsNotABatch) {
  auto bytes = batch_of(three_frames());
  bytes[0] ^= 0xFF;
  BatchReader reader;
  auto opened = reader.open(bytes);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().error, BatchError::kBadMagic);
  EXPECT_EQ(opened.error().seq, kFirstSeq);
}

TEST(Batch, GarbageWithAValidCrcIsBadFrame) {
  const auto frames = three_frames();
  std::vector<uint8_t> garbage(48);
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<uint8_t>(0xA5 ^ (i * 37));
  BatchWriter writer(64);
  writer.begin(kChannel, kFirstSeq);
  writer.add(frames[0]);
  writer.add(garbage);  // add() computes a correct CRC32C for the garbage
  BatchReader reader;
  auto opened = reader.open(writer.bytes());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().error, BatchError::kBadFrame);
  EXPECT_EQ(opened.error().seq, kFirstSeq + 1);
}

TEST(Batch, FrameSeqThatDoesNotFollowTheHeaderIsSeqMismatch) {
  const auto frames = three_frames();  // seqs 10, 11, 12
  BatchWriter writer(64);
  writer.begin(kChannel, kFirstSeq);
  writer.add(frames[0]);
  writer.add(frames[2]);  // seq 12 where 11 belongs
  BatchReader reader;
  auto opened = reader.open(writer.bytes());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().error, BatchError::kSeqMismatch);
  EXPECT_EQ(opened.error().seq, kFirstSeq + 1);

  auto shifted = reader.open(batch_of(frames, kFirstSeq + 1));
  ASSERT_FALSE(shifted);
  EXPECT_EQ(shifted.error().error, BatchError::kSeqMismatch);
  EXPECT_EQ(shifted.error().seq, kFirstSeq + 1);
}

TEST(Batch, FrameOfAnotherChannelIsSeqMismatch) {
  auto bytes = batch_of(three_frames(), kFirstSeq, kChannel + 1);
  BatchReader reader;
  auto opened = reader.open(bytes);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().error, BatchError::kSeqMismatch);
  EXPECT_EQ(opened.error().seq, kFirstSeq);
}

TEST(Batch, EmptyBatchIsRefused) {
  BatchWriter writer(64);
  writer.begin(kChannel, kFirstSeq);
  BatchReader reader;
  auto opened = reader.open(writer.bytes());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().error, BatchError::kEmpty);
}

TEST(Batch, MisalignedInputStillReads) {
  const auto frames = three_frames();
  const auto bytes = batch_of(frames);
  for (size_t shift = 1; shift < 8; ++shift) {
    std::vector<uint8_t> storage(bytes.size() + shift);
    std::memcpy(storage.data() + shift, bytes.data(), bytes.size());
    const std::span<const uint8_t> misaligned(storage.data() + shift, bytes.size());
    BatchReader reader;
    auto opened = reader.open(misaligned);
    ASSERT_TRUE(opened) << "shift " << shift << ": " << to_string(opened.error().error);
    ASSERT_EQ(reader.frames().size(), 3u);
    EXPECT_EQ(reader.frames()[1]->payload_as_PriceUpdate()->prices()->Get(0)->price_e4(), 25000u);
    const auto raw = reader.frame_bytes(2);
    EXPECT_EQ(std::vector<uint8_t>(raw.begin(), raw.end()), frames[2]);
  }
}

TEST(Batch, MisalignedCorruptionIsStillDetected) {
  auto bytes = batch_of(three_frames());
  bytes[frame_offset(bytes, 1) + 3] ^= 0x10;
  std::vector<uint8_t> storage(bytes.size() + 3);
  std::memcpy(storage.data() + 3, bytes.data(), bytes.size());
  BatchReader reader;
  auto opened = reader.open(std::span<const uint8_t>(storage.data() + 3, bytes.size()));
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().error, BatchError::kBadCrc);
  EXPECT_EQ(opened.error().seq, kFirstSeq + 1);
}

TEST(Batch, HeartbeatFlagIsCarried) {
  FrameBuilder builder;
  FrameHeader h = header_for(42);
  BatchWriter writer(64);
  writer.begin(kChannel, 42, kBatchHeartbeat);
  writer.add(builder.heartbeat(h));
  BatchReader reader;
  ASSERT_TRUE(reader.open(writer.bytes()));
  EXPECT_TRUE(reader.heartbeat());
  ASSERT_EQ(reader.frames().size(), 1u);
  EXPECT_EQ(reader.frames()[0]->payload_as_Heartbeat()->last_seq(), 42u);
}

TEST(Batch, ReaderRecoversAfterAFault) {
  const auto good = batch_of(three_frames());
  auto bad = good;
  bad[frame_offset(bad, 0)] ^= 0x04;
  BatchReader reader;
  ASSERT_FALSE(reader.open(bad));
  ASSERT_TRUE(reader.open(good));
  EXPECT_EQ(reader.frames().size(), 3u);
  ASSERT_FALSE(reader.open(bad));
  EXPECT_TRUE(reader.frames().empty());
}

TEST(Batch, ErrorsHaveNames) {
  EXPECT_EQ(to_string(BatchError::kTruncated), "truncated");
  EXPECT_EQ(to_string(BatchError::kBadMagic), "bad_magic");
  EXPECT_EQ(to_string(BatchError::kBadCrc), "bad_crc");
  EXPECT_EQ(to_string(BatchError::kBadFrame), "bad_frame");
  EXPECT_EQ(to_string(BatchError::kSeqMismatch), "seq_mismatch");
  EXPECT_EQ(to_string(BatchError::kEmpty), "empty");
}

}  // namespace
}  // namespace oddsbus
