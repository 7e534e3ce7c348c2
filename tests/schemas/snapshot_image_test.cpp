#include "schemas/snapshot_image.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "flatbuffers/flatbuffers.h"
#include "schemas/snapshot_generated.h"
#include "schemas/state_digest.h"
#include "schemas/state_json.h"
#include "tests/schemas/frame_script.h"

namespace oddsbus {
namespace {

using testing_support::FrameScript;
using Chunks = std::vector<std::vector<uint8_t>>;

std::vector<std::span<const uint8_t>> views(const Chunks& chunks) {
  return {chunks.begin(), chunks.end()};
}

std::expected<SnapshotImage, std::string> decode(const Chunks& chunks) {
  const auto parts = views(chunks);
  return decode_snapshot(parts);
}

std::string json_of(const MarketState& state) {
  std::string out;
  append_state_json(out, state);
  return out;
}

// Every field of every record, beyond what the digest and the JSON show.
void expect_same_records(const MarketState& a, const MarketState& b) {
  ASSERT_EQ(a.markets().size(), b.markets().size());
  for (const auto& [id, x] : a.markets()) {
    const MarketRecord* y = b.find(id);
    ASSERT_NE(y, nullptr) << id;
    EXPECT_EQ(x.id, y->id);
    EXPECT_EQ(x.event, y->event) << id;
    EXPECT_EQ(x.name, y->name) << id;
    EXPECT_EQ(x.status, y->status) << id;
    EXPECT_EQ(x.reason, y->reason) << id;
    EXPECT_EQ(x.winners, y->winners) << id;
    EXPECT_EQ(x.voided, y->voided) << id;
    EXPECT_EQ(x.market_seq, y->market_seq) << id;
    EXPECT_EQ(x.last_seq, y->last_seq) << id;
    EXPECT_EQ(x.updated_ns, y->updated_ns) << id;
    ASSERT_EQ(x.selections.size(), y->selections.size()) << id;
    for (size_t i = 0; i < x.selections.size(); ++i) {
      EXPECT_EQ(x.selections[i].id, y->selections[i].id) << id;
      EXPECT_EQ(x.selections[i].name, y->selections[i].name) << id;
      EXPECT_EQ(x.selections[i].price_e4, y->selections[i].price_e4) << id;
      EXPECT_EQ(x.selections[i].odds, y->selections[i].odds) << id;
      EXPECT_EQ(x.selections[i].void_factor_e4, y->selections[i].void_factor_e4) << id;
      EXPECT_EQ(x.selections[i].dead_heat_factor_e4, y->selections[i].dead_heat_factor_e4) << id;
    }
  }
}

// A state with every kind of market: priced, unpriced, suspended by an event stop, settled with
// winners, rolled back, closed, and one with an empty name.
void build_varied_state(FrameScript& script) {
  script.define(5, 501, "Match Odds", {{3, "Away"}, {1, "Home"}, {2, "Draw"}});
  script.define(3, 501, "Total Goals", {{10, "Over"}, {11, "Under"}});
  script.define(0x0102030405060708ull, 9, "Big id", {{7, "Only"}});
  script.define(6, 502, "", {});
  script.define(7, 503, "Rolled back", {{1, "Yes"}, {2, "No"}});
  script.price(5, 1, "2.50");
  script.price(5, 3, "-110");
  script.price(3, 11, "1/3");
  script.price(0x0102030405060708ull, 7, "evens");
  script.suspend_event(501);
  script.settle(3, {11});
  script.status(6, fb::MarketStatus::Closed, fb::StatusReason::Provider);
  script.settle(7, {1});
  script.rollback(7);
}

TEST(SnapshotImage, RoundTripKeepsTheDigestTheJsonAndEveryField) {
  MarketState state;
  FrameScript script(state);
  build_varied_state(script);

  const Chunks chunks = encode_snapshot(state, 4, 3, 9, 2);
  ASSERT_EQ(chunks.size(), 3u) << "5 markets, 2 per chunk";
  auto image = decode(chunks);
  ASSERT_TRUE(image) << image.error();
  EXPECT_EQ(image->channel, 4u);
  EXPECT_EQ(image->epoch, 3u);
  EXPECT_EQ(image->epoch_start, 9u);
  EXPECT_EQ(image->seq, state.seq());
  EXPECT_EQ(image->state.seq(), state.seq());
  EXPECT_EQ(image->state.epoch(), 3u);
  EXPECT_EQ(state_digest(image->state), state_digest(state));
  EXPECT_EQ(json_of(image->state), json_of(state));
  expect_same_records(state, image->state);
}

TEST(SnapshotImage, SettlementFactorsAndVoidedMarketsSurviveTheImage) {
  MarketState state;
  FrameScript script(state);
  script.define(1, 501, "Match Odds", {{1, "Home"}, {2, "Draw"}, {3, "Away"}});
  script.define(2, 501, "Total", {{1, "Over"}, {2, "Under"}});
  script.settle(1, {1}, {{1, 0, 5000}, {2, 5000, 0}});
  script.settle(2, {}, {{1, 10000, 0}, {2, 10000, 0}}, true);
  auto image = decode(encode_snapshot(state, 0, 1, 1));
  ASSERT_TRUE(image) << image.error();
  EXPECT_TRUE(image->state.find(2)->voided);
  EXPECT_EQ(image->state.find(1)->find_selection(1)->dead_heat_factor_e4, 5000u);
  EXPECT_EQ(json_of(image->state), json_of(state));
  expect_same_records(state, image->state);
}

TEST(SnapshotImage, EmptyStateIsOneChunkWithNoMarkets) {
  MarketState state;
  const Chunks chunks = encode_snapshot(state, 0, 1, 1);
  ASSERT_EQ(chunks.size(), 1u);
  auto image = decode(chunks);
  ASSERT_TRUE(image) << image.error();
  EXPECT_EQ(image->seq, 0u);
  EXPECT_TRUE(image->state.markets().empty());
  EXPECT_EQ(state_digest(image->state), state_digest(state));
}

TEST(SnapshotImage, OneChunkHoldsEveryMarketByDefault) {
  MarketState state;
  FrameScript script(state);
  for (uint64_t market = 1; market <= 2000; ++market) {
    script.define(market, market / 10, "m" + std::to_string(market), {{1, "A"}, {2, "B"}});
  }
  const Chunks chunks = encode_snapshot(state, 0, 1, 1);
  EXPECT_EQ(chunks.size(), 2u) << "1024 markets per chunk";
  auto image = decode(chunks);
  ASSERT_TRUE(image) << image.error();
  EXPECT_EQ(state_digest(image->state), state_digest(state));
  EXPECT_EQ(image->state.markets().size(), 2000u);
}

TEST(SnapshotImage, FramesAfterTheSnapshotContinueTheDecodedStateExactly) {
  MarketState state;
  FrameScript script(state);
  build_varied_state(script);
  const size_t first_later = script.seq();
  auto image = decode(encode_snapshot(state, 0, 1, 1, 3));
  ASSERT_TRUE(image) << image.error();

  script.price(5, 2, "3.25");
  script.status(5, fb::MarketStatus::Open, fb::StatusReason::Provider);
  script.define(5, 501, "Match Odds", {{1, "Home"}, {3, "Away"}});
  script.rollback(3);
  script.price(0x0102030405060708ull, 7, "+150");
  for (size_t i = first_later; i < script.seq(); ++i) image->state.apply(script.frame(i));

  EXPECT_EQ(state_digest(image->state), state_digest(state));
  EXPECT_EQ(json_of(image->state), json_of(state));
  expect_same_records(state, image->state);
}

TEST(SnapshotImage, DecodesChunksThatAreNotAligned) {
  MarketState state;
  FrameScript script(state);
  build_varied_state(script);
  const Chunks chunks = encode_snapshot(state, 0, 1, 1, 2);
  std::vector<std::vector<uint8_t>> shifted;
  std::vector<std::span<const uint8_t>> parts;
  for (const auto& chunk : chunks) {
    shifted.emplace_back(chunk.size() + 1);
    std::memcpy(shifted.back().data() + 1, chunk.data(), chunk.size());
  }
  for (const auto& s : shifted) parts.emplace_back(s.data() + 1, s.size() - 1);
  auto image = decode_snapshot(parts);
  ASSERT_TRUE(image) << image.error();
  EXPECT_EQ(state_digest(image->state), state_digest(state));
}

class SnapshotImageRefuses : public ::testing::Test {
 protected:
  void SetUp() override {
    FrameScript script(state_);
    build_varied_state(script);
    chunks_ = encode_snapshot(state_, 0, 2, 5, 2);
    ASSERT_EQ(chunks_.size(), 3u);
    ASSERT_TRUE(decode(chunks_));
  }
  MarketState state_;
  Chunks chunks_;
};

TEST_F(SnapshotImageRefuses, NoChunks) { EXPECT_FALSE(decode({})); }

TEST_F(SnapshotImageRefuses, ATruncatedChunk) {
  chunks_[1].resize(chunks_[1].size() / 2);
  auto image = decode(chunks_);
  ASSERT_FALSE(image);
  EXPECT_NE(image.error().find("chunk 1"), std::string::npos) << image.error();
  EXPECT_NE(image.error().find("verifier"), std::string::npos) << image.error();
}

TEST_F(SnapshotImageRefuses, GarbageAndAFrameInPlaceOfAChunk) {
  chunks_[0].assign(64, 0xAB);
  EXPECT_FALSE(decode(chunks_));
  chunks_[0].assign(3, 0);
  EXPECT_FALSE(decode(chunks_));
  chunks_[0].clear();
  EXPECT_FALSE(decode(chunks_));
}

TEST_F(SnapshotImageRefuses, AChunkWithAWrongFileIdentifier) {
  chunks_[2][4] ^= 0x20;  // "OBS1" -> "oBS1"
  EXPECT_FALSE(decode(chunks_));
}

TEST_F(SnapshotImageRefuses, AMissingChunk) {
  chunks_.erase(chunks_.begin() + 1);
  auto image = decode(chunks_);
  ASSERT_FALSE(image);
  EXPECT_NE(image.error().find("has 3 chunks, got 2"), std::string::npos) << image.error();
  chunks_.pop_back();
  EXPECT_FALSE(decode(chunks_)) << "only the first chunk";
}

TEST_F(SnapshotImageRefuses, ARepeatedChunk) {
  chunks_[2] = chunks_[1];
  auto image = decode(chunks_);
  ASSERT_FALSE(image);
  EXPECT_NE(image.error().find("chunk 2: is chunk 1"), std::string::npos) << image.error();
}

TEST_F(SnapshotImageRefuses, ChunksOutOfOrder) {
  std::swap(chunks_[0], chunks_[2]);
  EXPECT_FALSE(decode(chunks_));
}

TEST_F(SnapshotImageRefuses, ChunksOfDifferentSnapshots) {
  // Same shape, one frame later: chunk 1 of the later snapshot does not belong with the rest.
  FrameScript script(state_);
  MarketState later;
  FrameScript later_script(later);
  build_varied_state(later_script);
  later_script.price(5, 2, "4.0");
  const Chunks other = encode_snapshot(later, 0, 2, 5, 2);
  ASSERT_EQ(other.size(), 3u);
  chunks_[1] = other[1];
  auto image = decode(chunks_);
  ASSERT_FALSE(image);
  EXPECT_NE(image.error().find("different snapshot"), std::string::npos) << image.error();

  // Same seq, another epoch or channel.
  chunks_[1] = encode_snapshot(state_, 0, 3, 5, 2)[1];
  EXPECT_FALSE(decode(chunks_));
  chunks_[1] = encode_snapshot(state_, 1, 2, 5, 2)[1];
  EXPECT_FALSE(decode(chunks_));
  chunks_[1] = encode_snapshot(state_, 0, 2, 6, 2)[1];
  EXPECT_FALSE(decode(chunks_));
}

// A byte changed in transit where neither the verifier nor the digest can see it (a market's
// name): only the chunk's CRC32C tells.
TEST_F(SnapshotImageRefuses, AChunkAlteredAfterItsCrcWasWritten) {
  const std::string_view name = "Total Goals";
  bool altered = false;
  for (auto& chunk : chunks_) {
    auto at = std::search(chunk.begin(), chunk.end(), name.begin(), name.end());
    if (at == chunk.end()) continue;
    at[0] = 't';
    altered = true;
  }
  ASSERT_TRUE(altered);
  auto image = decode(chunks_);
  ASSERT_FALSE(image) << "installed a chunk that was altered";
  EXPECT_NE(image.error().find("CRC32C"), std::string::npos) << image.error();
  const auto parts = views(chunks_);
  auto checked = decode_checked_snapshot(parts, state_.seq(), 2, state_digest(state_), 3);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().reason, SnapshotRefusal::kBadCrc);
}

TEST_F(SnapshotImageRefuses, AnImageThatIsNotWhatTheReplySays) {
  const auto parts = views(chunks_);
  const uint64_t seq = state_.seq();
  const uint64_t digest = state_digest(state_);
  auto sound = decode_checked_snapshot(parts, seq, 2, digest, 3);
  ASSERT_TRUE(sound) << sound.error().detail;
  EXPECT_EQ(state_digest(sound->state), digest);

  auto lying = decode_checked_snapshot(parts, seq, 2, digest ^ 1, 3);
  ASSERT_FALSE(lying);
  EXPECT_EQ(lying.error().reason, SnapshotRefusal::kDigestMismatch) << lying.error().detail;
  EXPECT_EQ(decode_checked_snapshot(parts, seq + 1, 2, digest, 3).error().reason,
            SnapshotRefusal::kHeaderMismatch);
  EXPECT_EQ(decode_checked_snapshot(parts, seq, 3, digest, 3).error().reason,
            SnapshotRefusal::kHeaderMismatch);
  EXPECT_EQ(decode_checked_snapshot(parts, seq, 2, digest, 4).error().reason,
            SnapshotRefusal::kHeaderMismatch);
}

TEST(SnapshotImage, EveryChunkCarriesACrc) {
  MarketState state;
  FrameScript script(state);
  build_varied_state(script);
  for (const auto& chunk : encode_snapshot(state, 0, 1, 1, 2)) {
    const fb::SnapshotChunk* parsed = fb::GetSnapshotChunk(chunk.data());
    EXPECT_NE(parsed->crc(), 0xFFFFFFFFu) << "the placeholder was left in place";
  }
}

// Builds one chunk by hand: markets given as (id, selection ids).
std::vector<uint8_t> hand_chunk(
    uint32_t index, uint32_t count,
    const std::vector<std::pair<uint64_t, std::vector<uint64_t>>>& markets) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<fb::MarketImage>> images;
  for (const auto& [id, selection_ids] : markets) {
    std::vector<flatbuffers::Offset<fb::SelectionImage>> selections;
    for (uint64_t s : selection_ids) {
      selections.push_back(fb::CreateSelectionImage(fbb, s, fbb.CreateString("s"), 20000));
    }
    images.push_back(fb::CreateMarketImage(fbb, id, 1, fbb.CreateString("m"),
                                           fb::MarketStatus::Open, fb::StatusReason::None,
                                           fbb.CreateVector(selections)));
  }
  fb::FinishSnapshotChunkBuffer(
      fbb, fb::CreateSnapshotChunk(fbb, 0, 1, 1, 10, index, count, fbb.CreateVector(images)));
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

// Hand-built chunks carry no CRC, as an older writer's: accepted on the verifier alone.
TEST(SnapshotImage, AcceptsAHandBuiltSnapshot) {
  const Chunks chunks = {hand_chunk(0, 2, {{1, {1, 2}}, {2, {}}}), hand_chunk(1, 2, {{3, {5}}})};
  auto image = decode(chunks);
  ASSERT_TRUE(image) << image.error();
  EXPECT_EQ(image->state.markets().size(), 3u);
  EXPECT_EQ(image->seq, 10u);
}

TEST(SnapshotImage, RefusesMarketsOrSelectionsOutOfOrder) {
  EXPECT_FALSE(decode({hand_chunk(0, 2, {{1, {}}, {2, {}}}), hand_chunk(1, 2, {{2, {}}})}))
      << "market 2 in two chunks";
  EXPECT_FALSE(decode({hand_chunk(0, 1, {{3, {}}, {2, {}}})})) << "markets descending";
  EXPECT_FALSE(decode({hand_chunk(0, 1, {{3, {2, 1}}})})) << "selections descending";
  EXPECT_FALSE(decode({hand_chunk(0, 1, {{3, {1, 1}}})})) << "a selection twice";
}

TEST(SnapshotImage, RefusesAStatusItDoesNotKnow) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<fb::MarketImage>> images = {
      fb::CreateMarketImage(fbb, 1, 1, fbb.CreateString("m"), static_cast<fb::MarketStatus>(9))};
  fb::FinishSnapshotChunkBuffer(
      fbb, fb::CreateSnapshotChunk(fbb, 0, 1, 1, 10, 0, 1, fbb.CreateVector(images)));
  const Chunks chunks = {{fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()}};
  auto image = decode(chunks);
  ASSERT_FALSE(image);
  EXPECT_NE(image.error().find("unknown status"), std::string::npos) << image.error();
}

}  // namespace
}  // namespace oddsbus
