#include "edge/frame_stream.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "schemas/frame_builder.h"
#include "schemas/odds.h"
#include "schemas/state_digest.h"
#include "schemas/state_json.h"

namespace oddsbus::edge {
namespace {

constexpr uint32_t kChannel = 2;
constexpr uint64_t kFrames = 20;

struct Selection {
  uint64_t id;
  std::string name;
};

// What a publisher would send: frame 1 defines market 1001 (selections 1..3), frames 2..kFrames
// price selection 1 + seq % 3 at 2.00 + seq/100. Batches of any seq range can be cut from it.
class Publisher {
 public:
  Publisher() {
    FrameBuilder builder;
    const std::vector<Selection> selections = {{1, "Home"}, {2, "Draw"}, {3, "Away"}};
    frames_.resize(kFrames + 1);
    for (uint64_t seq = 1; seq <= kFrames; ++seq) {
      const FrameHeader h = header(seq);
      std::span<const uint8_t> bytes;
      if (seq == 1) {
        bytes = builder.market_definition(h, 1001, 501, "Match Odds", fb::MarketStatus::Open,
                                          selections);
      } else {
        const std::string odds = "2." + std::to_string(seq);
        bytes = builder.price(h, 1001, selection_of(seq), parse_odds(odds).value(), odds, "bf");
      }
      frames_[seq].assign(bytes.begin(), bytes.end());
    }
  }

  static uint64_t selection_of(uint64_t seq) { return 1 + seq % 3; }

  std::vector<uint8_t> batch(uint64_t first, uint64_t last) const {
    BatchWriter writer(256);
    writer.begin(kChannel, first);
    for (uint64_t seq = first; seq <= last; ++seq) writer.add(frames_[seq]);
    const auto bytes = writer.bytes();
    return {bytes.begin(), bytes.end()};
  }

  std::vector<uint8_t> heartbeat(uint64_t last_seq) const {
    FrameBuilder builder;
    BatchWriter writer(256);
    writer.begin(kChannel, last_seq, kBatchHeartbeat);
    writer.add(builder.heartbeat(header(last_seq)));
    const auto bytes = writer.bytes();
    return {bytes.begin(), bytes.end()};
  }

  // The state after applying frames 1..last in order, as a reference.
  MarketState state_through(uint64_t last) const {
    MarketState state;
    for (uint64_t seq = 1; seq <= last; ++seq) {
      std::vector<uint64_t> aligned((frames_[seq].size() + 7) / 8);
      std::memcpy(aligned.data(), frames_[seq].data(), frames_[seq].size());
      state.apply(*fb::GetFrame(aligned.data()));
    }
    return state;
  }

 private:
  static FrameHeader header(uint64_t seq) {
    FrameHeader h;
    h.seq = seq;
    h.epoch = 1;
    h.channel = kChannel;
    h.publisher = 1;
    h.sequenced_ns = 1'000 * seq;
    return h;
  }

  std::vector<std::vector<uint8_t>> frames_;
};

std::string json_of(const MarketState& state) {
  std::string out;
  append_state_json(out, state);
  return out;
}

TEST(FrameStream, AppliesFramesInSeqOrder) {
  const Publisher publisher;
  FrameStream stream;
  EXPECT_TRUE(stream.on_batch(publisher.batch(1, 3)));
  EXPECT_TRUE(stream.on_batch(publisher.batch(4, 4)));
  EXPECT_TRUE(stream.on_batch(publisher.batch(5, 9)));
  EXPECT_EQ(stream.last_seq(), 9u);
  EXPECT_EQ(stream.newest_seq(), 9u);
  EXPECT_EQ(stream.counters().frames_applied, 9u);
  EXPECT_EQ(stream.counters().duplicates, 0u);
  EXPECT_EQ(stream.counters().gaps, 0u);
  EXPECT_EQ(stream.counters().corrupt_batches, 0u);
  EXPECT_EQ(json_of(stream.state()), json_of(publisher.state_through(9)));
  EXPECT_EQ(state_digest(stream.state()), state_digest(publisher.state_through(9)));
}

TEST(FrameStream, CountsDuplicatesAndNeverReappliesThem) {
  const Publisher publisher;
  FrameStream stream;
  ASSERT_TRUE(stream.on_batch(publisher.batch(1, 3)));
  EXPECT_TRUE(stream.on_batch(publisher.batch(1, 3)));  // the same batch from another line
  EXPECT_TRUE(stream.on_batch(publisher.batch(2, 5)));  // overlaps: 2, 3 old; 4, 5 new
  EXPECT_EQ(stream.counters().duplicates, 5u);
  EXPECT_EQ(stream.counters().frames_applied, 5u);
  EXPECT_EQ(stream.last_seq(), 5u);

  // Frame 2 priced selection 3 at 2.2, frame 5 priced it again at 2.5: a late copy of frame 2
  // must not take selection 3 back to 2.2.
  ASSERT_EQ(Publisher::selection_of(2), Publisher::selection_of(5));
  EXPECT_TRUE(stream.on_batch(publisher.batch(2, 2)));
  EXPECT_EQ(stream.counters().duplicates, 6u);
  EXPECT_EQ(stream.state().find(1001)->find_selection(3)->odds, "2.5");
  EXPECT_EQ(json_of(stream.state()), json_of(publisher.state_through(5)));
}

TEST(FrameStream, CountsGapsAndTheSeqsTheySkip) {
  const Publisher publisher;
  FrameStream stream;
  ASSERT_TRUE(stream.on_batch(publisher.batch(1, 3)));
  EXPECT_TRUE(stream.on_batch(publisher.batch(7, 9)));
  EXPECT_EQ(stream.counters().gaps, 1u);
  EXPECT_EQ(stream.counters().frames_missed, 3u);
  EXPECT_EQ(stream.last_seq(), 9u);

  EXPECT_TRUE(stream.on_batch(publisher.batch(4, 6)));  // too late
  EXPECT_EQ(stream.counters().duplicates, 3u);
  EXPECT_EQ(stream.counters().gaps, 1u);

  EXPECT_TRUE(stream.on_batch(publisher.batch(15, 16)));
  EXPECT_EQ(stream.counters().gaps, 2u);
  EXPECT_EQ(stream.counters().frames_missed, 3u + 5u);
  EXPECT_EQ(stream.counters().frames_applied, 3u + 3u + 2u);
  EXPECT_EQ(stream.last_seq(), 16u);
}

TEST(FrameStream, CorruptBatchIsCountedAndAppliesNothing) {
  const Publisher publisher;
  FrameStream stream;
  ASSERT_TRUE(stream.on_batch(publisher.batch(1, 3)));
  const std::string before = json_of(stream.state());

  // Frames 4 and 5 are sound; the damage is in frame 6, the batch's last.
  std::vector<uint8_t> bad = publisher.batch(4, 6);
  bad[bad.size() - 16] ^= 0x20;
  EXPECT_FALSE(stream.on_batch(bad));
  EXPECT_EQ(stream.counters().corrupt_batches, 1u);
  EXPECT_EQ(stream.counters().frames_applied, 3u);
  EXPECT_EQ(stream.last_seq(), 3u);
  EXPECT_EQ(stream.newest_seq(), 3u);
  EXPECT_EQ(json_of(stream.state()), before);

  std::vector<uint8_t> truncated = publisher.batch(4, 6);
  truncated.resize(truncated.size() - 8);
  EXPECT_FALSE(stream.on_batch(truncated));
  EXPECT_FALSE(stream.on_batch(std::vector<uint8_t>(40, 0x5A)));
  EXPECT_FALSE(stream.on_batch({}));
  EXPECT_EQ(stream.counters().corrupt_batches, 4u);
  EXPECT_EQ(json_of(stream.state()), before);

  EXPECT_TRUE(stream.on_batch(publisher.batch(4, 6)));  // the good copy
  EXPECT_EQ(stream.last_seq(), 6u);
  EXPECT_EQ(stream.counters().gaps, 0u);
  EXPECT_EQ(json_of(stream.state()), json_of(publisher.state_through(6)));
}

TEST(FrameStream, HeartbeatsChangeNoStateButRevealAMissedTail) {
  const Publisher publisher;
  FrameStream stream;
  ASSERT_TRUE(stream.on_batch(publisher.batch(1, 3)));
  const std::string before = json_of(stream.state());

  EXPECT_TRUE(stream.on_batch(publisher.heartbeat(3)));
  EXPECT_EQ(stream.counters().heartbeats, 1u);
  EXPECT_EQ(stream.newest_seq(), 3u);
  EXPECT_EQ(stream.last_seq(), 3u);

  // The publisher has reached seq 8; frames 4..8 never arrived here.
  EXPECT_TRUE(stream.on_batch(publisher.heartbeat(8)));
  EXPECT_EQ(stream.counters().heartbeats, 2u);
  EXPECT_EQ(stream.newest_seq(), 8u);
  EXPECT_EQ(stream.last_seq(), 3u);
  EXPECT_EQ(stream.counters().frames_applied, 3u);
  EXPECT_EQ(stream.counters().duplicates, 0u);
  EXPECT_EQ(stream.counters().gaps, 0u);
  EXPECT_EQ(json_of(stream.state()), before);

  // An older heartbeat does not lower what is known to exist.
  EXPECT_TRUE(stream.on_batch(publisher.heartbeat(2)));
  EXPECT_EQ(stream.newest_seq(), 8u);
}

TEST(FrameStream, ReadsMisalignedBatches) {
  const Publisher publisher;
  FrameStream stream;
  const std::vector<uint8_t> batch = publisher.batch(1, 5);
  std::vector<uint8_t> storage(batch.size() + 5);
  std::memcpy(storage.data() + 5, batch.data(), batch.size());
  EXPECT_TRUE(stream.on_batch(std::span<const uint8_t>(storage.data() + 5, batch.size())));
  EXPECT_EQ(stream.last_seq(), 5u);
  EXPECT_EQ(json_of(stream.state()), json_of(publisher.state_through(5)));
}

}  // namespace
}  // namespace oddsbus::edge
