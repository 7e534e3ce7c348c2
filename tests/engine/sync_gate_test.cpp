// Sync replication's gate (engine/sync_gate.h) carrying out what the role core decides: nothing is
// published before the secondary acknowledged it, unless the secondary is gone long enough that
// the primary carries on alone; what is visible never runs ahead of what was published. Each test
// drives the gate the way NodeRoles does: a turn feeds the core the ack and the time and carries
// out its actions; commits reach the core through the gate.
#include "engine/sync_gate.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

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

RoleCoreConfig sync_config() {
  RoleCoreConfig config;
  config.has_peer = true;
  config.sync = true;
  config.alone_after_ns = 100 * kMs;
  config.failover_after_ns = 1000 * kMs;
  return config;
}

// A primary's sequencer thread in miniature: the core, the gate attached to it, and a turn that
// does what NodeRoles::do_work does around the commits.
struct Primary {
  Primary(const RoleCoreConfig& config, uint64_t journaled, NodeRole start = NodeRole::kPrimary,
          uint64_t now_ns = 0)
      : core(config, start, journaled, 1, now_ns),
        gate(sink, acked, SyncGateConfig{config.sync, journaled}) {
    gate.set_now(now_ns);
    gate.attach(core, out);
  }
  void turn(uint64_t now_ns) {
    gate.set_now(now_ns);
    if (core.role() == NodeRole::kPrimary) core.on_ack(acked.load(), now_ns, out);
    core.on_tick(now_ns, out);
    for (const RoleAction& action : out.actions) {
      if (action.kind == RoleAction::Kind::kRelease) gate.release_through(action.seq);
      if (action.kind == RoleAction::Kind::kFence) gate.discard_held();
      if (action.kind == RoleAction::Kind::kTakeOver) {
        sink.publish(batch_bytes(action.seq, 1));  // the EpochChange, around the gate
      }
    }
    out.clear();
    gate.show(core);
  }
  uint64_t visible() const { return gate.visible_seq().load(); }

  RecordingSink sink;
  std::atomic<uint64_t> acked{0};
  RoleCore core;
  RoleOutput out;
  SyncGate gate;
};

TEST(SyncGate, WithoutACorePublishesAtOnceAndHasNoVisibleLimit) {
  RecordingSink sink;
  std::atomic<uint64_t> acked{0};
  SyncGate gate(sink, acked, SyncGateConfig{});
  gate.publish(batch_bytes(1, 3));
  gate.publish(batch_bytes(3, 1, kBatchHeartbeat));
  EXPECT_EQ(sink.last_seqs, (std::vector<uint64_t>{3, 3}));
  EXPECT_EQ(gate.visible_seq().load(), SyncGate::kNoLimit);
}

TEST(SyncGate, AsyncPublishesAtOnceAndHasNoVisibleLimit) {
  RoleCoreConfig config = sync_config();
  config.sync = false;
  Primary p(config, 0);
  p.gate.publish(batch_bytes(1, 3));
  EXPECT_EQ(p.sink.last_seqs, (std::vector<uint64_t>{3}));
  EXPECT_EQ(p.visible(), SyncGate::kNoLimit);
}

// Simulator finding F5: while batches are held the primary still heartbeats, stating only what was
// released, so its secondary never takes slow acks for a dead primary and takes over.
TEST(SyncGate, WhileHoldingHeartbeatsStateOnlyWhatWasReleased) {
  Primary p(sync_config(), 0);
  p.gate.publish(batch_bytes(1, 3));
  p.acked = 3;
  p.turn(1 * kMs);
  p.gate.publish(batch_bytes(4, 2));
  p.turn(2 * kMs);
  ASSERT_EQ(p.gate.held(), 1u);
  EXPECT_EQ(p.gate.heartbeat_seq(5), 3u);
  p.gate.publish(batch_bytes(3, 1, kBatchHeartbeat));
  EXPECT_EQ(p.sink.last_seqs, (std::vector<uint64_t>{3, 3}));
  p.gate.publish(batch_bytes(5, 1, kBatchHeartbeat));  // would ask subscribers for 4..5
  EXPECT_EQ(p.sink.last_seqs.size(), 2u);
  EXPECT_EQ(p.gate.counters().withheld_heartbeats.load(), 1u);
  p.acked = 5;
  p.turn(3 * kMs);
  EXPECT_EQ(p.gate.heartbeat_seq(5), 5u);
}

TEST(SyncGate, SyncHoldsUntilAckedAndWithholdsHeartbeatsMeanwhile) {
  Primary p(sync_config(), 0);
  p.gate.publish(batch_bytes(1, 3));
  p.gate.publish(batch_bytes(4, 2));
  p.gate.publish(batch_bytes(5, 1, kBatchHeartbeat));
  p.turn(1 * kMs);
  EXPECT_TRUE(p.sink.last_seqs.empty());
  EXPECT_EQ(p.gate.held(), 2u);
  p.acked = 3;
  p.turn(2 * kMs);
  EXPECT_EQ(p.sink.last_seqs, (std::vector<uint64_t>{3}));
  p.acked = 5;
  p.turn(3 * kMs);
  EXPECT_EQ(p.sink.last_seqs, (std::vector<uint64_t>{3, 5}));
  p.gate.publish(batch_bytes(5, 1, kBatchHeartbeat));  // nothing held: heartbeats flow
  EXPECT_EQ(p.sink.last_seqs.back(), 5u);
  EXPECT_EQ(p.gate.counters().withheld_heartbeats.load(), 1u);
  EXPECT_EQ(p.gate.counters().held_batches.load(), 2u);
  EXPECT_FALSE(p.gate.counters().alone.load());
}

TEST(SyncGate, SilentSecondaryMeansCarryingOnAloneUntilAcksCatchUp) {
  Primary p(sync_config(), 0);
  p.turn(1 * kMs);
  p.gate.publish(batch_bytes(1, 2));
  p.turn(100 * kMs);
  EXPECT_TRUE(p.sink.last_seqs.empty());
  p.turn(101 * kMs);
  EXPECT_EQ(p.sink.last_seqs, (std::vector<uint64_t>{2}));
  EXPECT_TRUE(p.gate.counters().alone.load());
  EXPECT_EQ(p.gate.counters().alone_episodes.load(), 1u);
  p.gate.publish(batch_bytes(3, 1));  // alone: at once
  EXPECT_EQ(p.sink.last_seqs.back(), 3u);
  p.acked = 3;
  p.turn(200 * kMs);
  EXPECT_FALSE(p.gate.counters().alone.load());
  p.gate.publish(batch_bytes(4, 1));  // back to waiting
  EXPECT_EQ(p.sink.last_seqs.back(), 3u);
}

// Start-up commits (before the first turn) wait from the time the gate was attached, which the
// shell sets from the monotonic clock: a clock far from 0 does not make them look ancient.
TEST(SyncGate, BatchesHeldBeforeTheFirstTurnWaitTheirFullTime) {
  const uint64_t start = 1'000'000 * kMs;
  Primary p(sync_config(), 0, NodeRole::kPrimary, start);
  p.gate.publish(batch_bytes(1, 1));
  p.turn(start + 99 * kMs);
  EXPECT_TRUE(p.sink.last_seqs.empty());
  EXPECT_FALSE(p.gate.counters().alone.load());
  p.turn(start + 100 * kMs);
  EXPECT_EQ(p.sink.last_seqs, (std::vector<uint64_t>{1}));
}

TEST(SyncGate, ATakeoverStartsAloneAndReturnsToSyncWhenAcksCatchUp) {
  Primary p(sync_config(), 9, NodeRole::kSecondary);
  p.turn(1000 * kMs);  // the primary was silent: take over, EpochChange at 10
  ASSERT_EQ(p.core.role(), NodeRole::kPrimary);
  EXPECT_EQ(p.sink.last_seqs, (std::vector<uint64_t>{10}));
  p.gate.publish(batch_bytes(11, 2));
  EXPECT_EQ(p.sink.last_seqs, (std::vector<uint64_t>{10, 12}));  // nobody could ack it
  EXPECT_EQ(p.visible(), SyncGate::kNoLimit);
  p.acked = 12;
  p.turn(1001 * kMs);
  EXPECT_FALSE(p.gate.counters().alone.load());
  EXPECT_EQ(p.visible(), 12u);
  p.gate.publish(batch_bytes(13, 1));
  EXPECT_EQ(p.sink.last_seqs.size(), 2u);  // waits for the new secondary again
}

// The EpochChange is published around the gate, but the core counts it: stale acks (0 here) or
// acks of the old history must not end the episode before the new primary's seqs are acked.
TEST(SyncGate, ATakeoverStaysAloneUntilTheCommittedSeqIsAcknowledged) {
  Primary p(sync_config(), 6, NodeRole::kSecondary);
  p.turn(1000 * kMs);  // EpochChange at seq 7
  ASSERT_EQ(p.core.role(), NodeRole::kPrimary);
  p.turn(1001 * kMs);
  EXPECT_TRUE(p.gate.counters().alone.load()) << "acked 0";
  p.acked = 6;
  p.turn(1002 * kMs);
  EXPECT_TRUE(p.gate.counters().alone.load()) << "acked the old history only";
  EXPECT_EQ(p.visible(), SyncGate::kNoLimit);
  p.acked = 7;  // a new secondary caught up
  p.turn(1003 * kMs);
  EXPECT_FALSE(p.gate.counters().alone.load());
  EXPECT_EQ(p.visible(), 7u);
}

// Going alone on held bytes happens inside publish(): the batch that passed the bound leaves with
// the others, in order, before any later batch.
TEST(SyncGate, HeldBytesBoundMeansCarryingOnAloneAtOnce) {
  RoleCoreConfig config = sync_config();
  config.max_held_bytes = 3 * kBatchHeaderSize;
  Primary p(config, 0);
  for (uint64_t seq = 1; seq <= 4; ++seq) p.gate.publish(batch_bytes(seq, 1));
  EXPECT_EQ(p.sink.last_seqs, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(p.gate.counters().alone.load());
  EXPECT_EQ(p.gate.held(), 0u);
  EXPECT_EQ(p.visible(), SyncGate::kNoLimit);
}

// visible_seq() is what the recovery service and the desk service may show: never a seq that
// was not published, so never one the secondary has not acknowledged (unless alone).
TEST(SyncGate, VisibleSeqIsWhatWasPublished) {
  Primary p(sync_config(), 4);  // the journal at start: its history is visible
  EXPECT_EQ(p.visible(), 4u);
  p.turn(1 * kMs);
  p.gate.publish(batch_bytes(5, 3));  // committed 5-7, held
  EXPECT_EQ(p.visible(), 4u);
  p.acked = 7;
  p.turn(2 * kMs);
  EXPECT_EQ(p.visible(), 7u);
  p.gate.publish(batch_bytes(8, 1));  // not acked yet: held
  EXPECT_EQ(p.visible(), 7u);
  p.acked = 8;
  p.gate.publish(batch_bytes(9, 1));  // held behind 8 (order)
  p.turn(3 * kMs);
  EXPECT_EQ(p.visible(), 8u);
  p.acked = 9;
  p.turn(4 * kMs);
  EXPECT_EQ(p.visible(), 9u);
  p.acked = 10;  // acked before committed: clamped, so the batch still waits for a turn
  p.turn(5 * kMs);
  p.gate.publish(batch_bytes(10, 1));
  EXPECT_EQ(p.visible(), 9u);
  p.turn(6 * kMs);
  EXPECT_EQ(p.visible(), 10u);

  p.gate.publish(batch_bytes(11, 1));  // the secondary falls silent
  p.turn(7 * kMs);
  p.turn(200 * kMs);
  ASSERT_TRUE(p.gate.counters().alone.load());
  EXPECT_EQ(p.visible(), SyncGate::kNoLimit) << "alone: everything is published";
  p.acked = 11;
  p.turn(201 * kMs);
  ASSERT_FALSE(p.gate.counters().alone.load());
  EXPECT_EQ(p.visible(), 11u);
  p.gate.publish(batch_bytes(12, 1));
  EXPECT_EQ(p.visible(), 11u);

  p.core.on_peer_epoch(2, 202 * kMs, p.out);  // fenced: 12 was never acknowledged
  p.turn(202 * kMs);
  EXPECT_EQ(p.gate.held(), 0u);
  EXPECT_EQ(p.gate.counters().discarded_batches.load(), 1u);
  EXPECT_EQ(p.visible(), 11u) << "a discarded batch stays invisible";
  EXPECT_EQ(p.sink.last_seqs.back(), 11u);
  p.core.on_replicated(12, 2, 203 * kMs, p.out);  // the new primary's history
  p.turn(203 * kMs);
  EXPECT_EQ(p.visible(), SyncGate::kNoLimit);
}

// Whatever the order of commits, acks and ticks, visible_seq() never names a seq the sink has not
// been given (seeded, several seeds; a failure prints its seed).
TEST(SyncGate, VisibleNeverRunsAheadOfWhatWasPublished) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    RoleCoreConfig config = sync_config();
    config.max_held_bytes = 6 * kBatchHeaderSize;
    Primary p(config, 0);
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL;
    const auto next = [&x] {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      return x;
    };
    uint64_t seq = 0;
    uint64_t now = 0;
    for (int step = 0; step < 400; ++step) {
      now += (next() % 30) * kMs;
      switch (next() % 3) {
        case 0: {
          const uint32_t count = 1 + next() % 3;
          p.gate.publish(batch_bytes(seq + 1, count));
          seq += count;
          break;
        }
        case 1:
          p.acked = std::min(seq, p.acked.load() + next() % 4);
          break;
        default:
          p.turn(now);
      }
      const uint64_t published = p.sink.last_seqs.empty() ? 0 : p.sink.last_seqs.back();
      const uint64_t visible = p.visible();
      ASSERT_TRUE(visible == SyncGate::kNoLimit || visible <= published)
          << "seed " << seed << " step " << step << ": visible " << visible << ", published "
          << published;
      ASSERT_EQ(p.gate.held() == 0, p.core.heartbeat_allowed()) << "seed " << seed;
    }
  }
}

}  // namespace
}  // namespace oddsbus::engine
