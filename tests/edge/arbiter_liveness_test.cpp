// What the arbiter tells the edge's staleness rule (edge/edge_health.h): when a publisher that is
// not fenced was last heard, and since when a gap has been open. Issue 18, item 2: a deposed
// node's heartbeats and duplicate frames kept an edge "fresh" while it was frozen.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "edge/arbiter.h"
#include "schemas/batch.h"
#include "schemas/frame_builder.h"

namespace oddsbus::edge {
namespace {

constexpr uint64_t kMs = 1'000'000;

FrameHeader header(uint64_t seq, uint32_t epoch, uint32_t publisher) {
  FrameHeader h;
  h.seq = seq;
  h.epoch = epoch;
  h.publisher = publisher;
  h.sequenced_ns = seq * 1000;
  return h;
}

std::vector<uint8_t> frames(uint64_t from, uint64_t to, uint32_t epoch, uint32_t publisher) {
  FrameBuilder builder;
  BatchWriter writer(4096);
  writer.begin(0, from);
  for (uint64_t s = from; s <= to; ++s) {
    writer.add(builder.status(header(s, epoch, publisher), 100 + s, fb::MarketStatus::Open,
                              fb::StatusReason::Provider));
  }
  return {writer.bytes().begin(), writer.bytes().end()};
}

std::vector<uint8_t> epoch_change(uint64_t seq, uint32_t epoch, uint32_t publisher) {
  FrameBuilder builder;
  BatchWriter writer(4096);
  writer.begin(0, seq);
  writer.add(builder.epoch_change(header(seq, epoch, publisher), epoch - 1));
  return {writer.bytes().begin(), writer.bytes().end()};
}

std::vector<uint8_t> heartbeat(uint64_t last_seq, uint32_t epoch, uint64_t epoch_start,
                               uint32_t publisher, bool relayed = false) {
  FrameBuilder builder;
  BatchWriter writer(4096);
  writer.begin(0, last_seq, kBatchHeartbeat);
  writer.add(builder.heartbeat(header(last_seq, epoch, publisher), epoch_start, relayed));
  return {writer.bytes().begin(), writer.bytes().end()};
}

struct Edge {
  Edge() : arbiter(ArbiterConfig{.mode = ResyncMode::kSnapshot, .gap_timeout_ns = 20 * kMs}) {
    arbiter.on_snapshot_loaded(0, 1, 1, now, out);
  }
  void batch(size_t line, const std::vector<uint8_t>& bytes) {
    out.clear();
    arbiter.on_batch(line, bytes, now, out);
  }
  Arbiter arbiter;
  ArbiterOutput out;
  uint64_t now = 1000 * kMs;
};

TEST(ArbiterLiveness, CountsOnlyPublishersThatAreNotFenced) {
  Edge edge;
  edge.batch(0, frames(1, 5, 1, 1));
  EXPECT_EQ(edge.arbiter.last_live_ns(), edge.now);
  // Node 2 takes over at seq 6 (epoch 2); node 1 keeps heartbeating its old epoch.
  edge.now += 10 * kMs;
  edge.batch(1, epoch_change(6, 2, 2));
  ASSERT_EQ(edge.arbiter.epoch(), 2u);
  const uint64_t took_over = edge.now;
  EXPECT_EQ(edge.arbiter.last_live_ns(), took_over);
  edge.now += 500 * kMs;
  edge.batch(0, heartbeat(5, 1, 1, 1));
  edge.batch(0, frames(6, 7, 1, 1));  // the deposed node's frames: fenced
  edge.batch(1, frames(1, 6, 1, 1));  // duplicates
  EXPECT_EQ(edge.arbiter.last_live_ns(), took_over) << "the fenced node is not a live publisher";
  EXPECT_GT(edge.arbiter.last_heard_ns(0), took_over);
  edge.batch(1, heartbeat(6, 2, 6, 2));
  EXPECT_EQ(edge.arbiter.last_live_ns(), edge.now);
}

// Simulator finding F1: a secondary republishes heartbeats marked relayed; they keep its peer's
// stream heard, but say nothing of a sequencing primary, so two secondaries never keep each
// other from taking over.
TEST(ArbiterLiveness, RelayedHeartbeatsAreNotASequencer) {
  Edge edge;
  edge.batch(0, frames(1, 5, 1, 1));
  const uint64_t sequenced = edge.now;
  EXPECT_EQ(edge.arbiter.last_sequencer_ns(), sequenced);
  edge.now += 500 * kMs;
  edge.batch(1, heartbeat(5, 1, 1, 2, /*relayed=*/true));
  EXPECT_EQ(edge.arbiter.last_heard_ns(1), edge.now);
  EXPECT_EQ(edge.arbiter.last_sequencer_ns(), sequenced);
  EXPECT_EQ(edge.arbiter.sequencer_epoch(), 0u);
  edge.now += 500 * kMs;
  edge.batch(0, heartbeat(5, 1, 1, 1));
  EXPECT_EQ(edge.arbiter.last_sequencer_ns(), edge.now);
  EXPECT_EQ(edge.arbiter.sequencer_epoch(), 1u);
  EXPECT_EQ(edge.arbiter.sequencer_last_seq(), 5u);
}

TEST(ArbiterLiveness, SaysSinceWhenAGapHasBeenOpen) {
  Edge edge;
  edge.batch(0, frames(1, 3, 1, 1));
  EXPECT_EQ(edge.arbiter.gap_open_since_ns(), 0u);
  const uint64_t opened = edge.now;
  edge.batch(0, frames(6, 7, 1, 1));
  EXPECT_EQ(edge.arbiter.gap_open_since_ns(), opened);
  edge.now += 50 * kMs;
  edge.batch(0, heartbeat(7, 1, 1, 1));
  EXPECT_EQ(edge.arbiter.gap_open_since_ns(), opened) << "heartbeats fill nothing";
  edge.batch(1, frames(4, 5, 1, 1));
  EXPECT_EQ(edge.arbiter.gap_open_since_ns(), 0u);
  EXPECT_EQ(edge.arbiter.last_seq(), 7u);
}

}  // namespace
}  // namespace oddsbus::edge
