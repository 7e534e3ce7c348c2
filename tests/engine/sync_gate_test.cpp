// Sync replication's gate: nothing is published before the secondary acknowledged it, unless the
// secondary is gone long enough that the primary carries on alone (and says so).
#include "engine/sync_gate.h"

#include <gtest/gtest.h>

#include <vector>

#include <cstring>
#include "schemas/batch.h"

namespace oddsbus::engine {
namespace {

constexpr uint64_t kMs = 1'000'000;

struct RecordingSink : BatchSink {
  std::vector<uint64_t> last_seqs;  // last seq of each published batch (heartbeats: their seq)
  void publish(std::span<const uint8_t> batch) override {
    BatchHeader h;
    std::memcpy(&h, batch.data(), sizeof h);
    last_seqs.push_back(h.flags & kBatchHeartbeat ? h.first_seq : h.first_seq + h.count - 1);
  }
};

// A batch header is all the gate reads.
std::vector<uint8_t> batch_bytes(uint64_t first, uint32_t count, uint32_t flags = 0) {
  BatchHeader h;
  h.first_seq = first;
  h.count = count;
  h.flags = flags;
  std::vector<uint8_t> bytes(sizeof h);
  std::memcpy(bytes.data(), &h, sizeof h);
  return bytes;
}

TEST(SyncGate, AsyncPublishesAtOnce) {
  RecordingSink sink;
  std::atomic<uint64_t> acked{0};
  SyncGate gate(sink, acked, SyncGateConfig{});
  gate.publish(batch_bytes(1, 3));
  EXPECT_EQ(sink.last_seqs, (std::vector<uint64_t>{3}));
}

TEST(SyncGate, SyncHoldsUntilAckedAndWithholdsHeartbeatsMeanwhile) {
  RecordingSink sink;
  std::atomic<uint64_t> acked{0};
  SyncGateConfig config;
  config.sync = true;
  SyncGate gate(sink, acked, config);
  gate.poll(0);
  gate.publish(batch_bytes(1, 3));
  gate.publish(batch_bytes(4, 2));
  gate.publish(batch_bytes(5, 1, kBatchHeartbeat));
  gate.poll(1 * kMs);
  EXPECT_TRUE(sink.last_seqs.empty());
  acked = 3;
  gate.poll(2 * kMs);
  EXPECT_EQ(sink.last_seqs, (std::vector<uint64_t>{3}));
  acked = 5;
  gate.poll(3 * kMs);
  EXPECT_EQ(sink.last_seqs, (std::vector<uint64_t>{3, 5}));
  gate.publish(batch_bytes(5, 1, kBatchHeartbeat));  // nothing held: heartbeats flow
  EXPECT_EQ(sink.last_seqs.back(), 5u);
  EXPECT_EQ(gate.counters().withheld_heartbeats.load(), 1u);
  EXPECT_FALSE(gate.counters().alone.load());
}

TEST(SyncGate, SilentSecondaryMeansCarryingOnAloneUntilAcksCatchUp) {
  RecordingSink sink;
  std::atomic<uint64_t> acked{0};
  SyncGateConfig config;
  config.sync = true;
  config.alone_after_ns = 100 * kMs;
  SyncGate gate(sink, acked, config);
  gate.poll(1 * kMs);
  gate.publish(batch_bytes(1, 2));
  gate.poll(100 * kMs);
  EXPECT_TRUE(sink.last_seqs.empty());
  gate.poll(101 * kMs);
  EXPECT_EQ(sink.last_seqs, (std::vector<uint64_t>{2}));
  EXPECT_TRUE(gate.counters().alone.load());
  EXPECT_EQ(gate.counters().alone_episodes.load(), 1u);
  gate.publish(batch_bytes(3, 1));  // alone: at once
  EXPECT_EQ(sink.last_seqs.back(), 3u);
  acked = 3;
  gate.poll(200 * kMs);
  EXPECT_FALSE(gate.counters().alone.load());
  gate.publish(batch_bytes(4, 1));  // back to waiting
  EXPECT_EQ(sink.last_seqs.back(), 3u);
}

TEST(SyncGate, BatchesHeldBeforeTheFirstPollWaitTheirFullTime) {
  RecordingSink sink;
  std::atomic<uint64_t> acked{0};
  SyncGateConfig config;
  config.sync = true;
  config.alone_after_ns = 100 * kMs;
  SyncGate gate(sink, acked, config);
  gate.publish(batch_bytes(1, 1));  // start-up: published before any poll
  gate.poll(1'000'000 * kMs);       // a wall clock, far from 0
  EXPECT_TRUE(sink.last_seqs.empty());
  EXPECT_FALSE(gate.counters().alone.load());
}

TEST(SyncGate, ATakeoverStartsAloneAndReturnsToSyncWhenAcksCatchUp) {
  RecordingSink sink;
  std::atomic<uint64_t> acked{0};
  SyncGateConfig config;
  config.sync = true;
  SyncGate gate(sink, acked, config);
  gate.start_alone();
  gate.publish(batch_bytes(10, 2));
  EXPECT_EQ(sink.last_seqs, (std::vector<uint64_t>{11}));  // at once: nobody could ack it
  acked = 11;
  gate.poll(1 * kMs);
  EXPECT_FALSE(gate.counters().alone.load());
  gate.publish(batch_bytes(12, 1));
  EXPECT_EQ(sink.last_seqs.size(), 1u);  // waits for the new secondary again
}

TEST(SyncGate, HeldBytesBoundMeansCarryingOnAlone) {
  RecordingSink sink;
  std::atomic<uint64_t> acked{0};
  SyncGateConfig config;
  config.sync = true;
  config.max_held_bytes = 3 * kBatchHeaderSize;
  SyncGate gate(sink, acked, config);
  for (uint64_t seq = 1; seq <= 4; ++seq) gate.publish(batch_bytes(seq, 1));
  gate.poll(1);
  EXPECT_EQ(sink.last_seqs, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(gate.counters().alone.load());
}

// visible_seq() is what the recovery service and the desk service may show: never a seq that
// was not published, so never one the secondary has not acknowledged (unless alone).
TEST(SyncGate, VisibleSeqIsWhatWasPublished) {
  RecordingSink sink;
  std::atomic<uint64_t> acked{0};
  SyncGateConfig config;
  config.sync = true;
  config.alone_after_ns = 100 * kMs;
  config.journaled_seq = 4;  // the journal at start: its history
  SyncGate gate(sink, acked, config);
  EXPECT_EQ(gate.visible_seq().load(), 4u);
  gate.poll(1 * kMs);
  gate.publish(batch_bytes(5, 3));  // committed 5-7, held
  EXPECT_EQ(gate.visible_seq().load(), 4u);
  acked = 7;
  gate.poll(2 * kMs);
  EXPECT_EQ(gate.visible_seq().load(), 7u);
  gate.publish(batch_bytes(8, 1));  // acked already? no: held
  EXPECT_EQ(gate.visible_seq().load(), 7u);
  acked = 8;
  gate.publish(batch_bytes(9, 1));  // held behind 8 (order)
  gate.poll(3 * kMs);
  EXPECT_EQ(gate.visible_seq().load(), 8u);
  acked = 9;
  gate.poll(4 * kMs);
  EXPECT_EQ(gate.visible_seq().load(), 9u);
  acked = 10;  // (clamped by the service in real life) acked before publish: straight through
  gate.publish(batch_bytes(10, 1));
  EXPECT_EQ(gate.visible_seq().load(), 10u);

  gate.publish(batch_bytes(11, 1));  // the secondary falls silent
  gate.poll(5 * kMs);
  gate.poll(200 * kMs);
  ASSERT_TRUE(gate.counters().alone.load());
  EXPECT_EQ(gate.visible_seq().load(), SyncGate::kNoLimit) << "alone: everything is published";
  acked = 11;
  gate.poll(201 * kMs);
  ASSERT_FALSE(gate.counters().alone.load());
  EXPECT_EQ(gate.visible_seq().load(), 11u);
  gate.publish(batch_bytes(12, 1));
  EXPECT_EQ(gate.visible_seq().load(), 11u);

  gate.discard_held();  // fenced: 12 was never acknowledged, so it stays invisible
  EXPECT_EQ(gate.visible_seq().load(), 11u);
  gate.on_replicated();  // the journal now holds the new primary's history
  EXPECT_EQ(gate.visible_seq().load(), SyncGate::kNoLimit);
}

TEST(SyncGate, AsyncHasNoVisibleLimit) {
  RecordingSink sink;
  std::atomic<uint64_t> acked{0};
  SyncGate gate(sink, acked, SyncGateConfig{});
  gate.publish(batch_bytes(1, 3));
  EXPECT_EQ(gate.visible_seq().load(), SyncGate::kNoLimit);
}

// A takeover's EpochChange is journaled and published around the gate, so the gate does not know
// the committed seq; stale acks (0 here) must not end the episode before a batch or heartbeat
// says what must be acknowledged.
TEST(SyncGate, ATakeoverStaysAloneUntilTheCommittedSeqIsAcknowledged) {
  RecordingSink sink;
  std::atomic<uint64_t> acked{0};
  SyncGateConfig config;
  config.sync = true;
  config.journaled_seq = 6;  // a secondary's journal
  SyncGate gate(sink, acked, config);
  gate.start_alone();  // took over: EpochChange at seq 7, published directly
  gate.poll(1 * kMs);
  EXPECT_TRUE(gate.counters().alone.load()) << "acked 0 >= an unknown committed seq of 0";
  EXPECT_EQ(gate.visible_seq().load(), SyncGate::kNoLimit);
  gate.publish(batch_bytes(7, 1, kBatchHeartbeat));  // the sequencer's heartbeat: last seq 7
  gate.poll(2 * kMs);
  EXPECT_TRUE(gate.counters().alone.load());
  acked = 7;  // a new secondary caught up
  gate.poll(3 * kMs);
  EXPECT_FALSE(gate.counters().alone.load());
  EXPECT_EQ(gate.visible_seq().load(), 7u);
}

}  // namespace
}  // namespace oddsbus::engine
