// Security suite (issue 14): hostile frames against the edge's subscriber core, and hostile
// requests against the recovery service, sans-I/O. The edge side goes through the path the edge
// runs (tests/fuzz/edge_core.h: the Arbiter, its reorder buffer and recovery requests, snapshot
// decoding and the MarketCache), which itself checks after every call that a refused input changed
// nothing. Each attack is checked for the refusal, the counter that records it, and no change in
// the edge's state (its position, the cache's seq, epoch and state digest).
// Authenticating publishers (CURVE) keeps these frames out in the first place; these tests are
// what happens when one gets in anyway (a replay of a captured frame, a compromised key).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/recovery_service.h"
#include "schemas/recovery_protocol.h"
#include "schemas/snapshot_image.h"
#include "schemas/state_digest.h"
#include "tests/fuzz/edge_core.h"
#include "tests/fuzz/fuzz_history.h"
#include "tests/fuzz/memory_batch_log.h"

namespace oddsbus::security {
namespace {

using fuzzing::EdgeCore;
using fuzzing::EdgeFingerprint;
using fuzzing::FuzzHistory;

constexpr uint64_t kMs = 1'000'000;

// Frames 1..9: two markets priced, an epoch change at 7 (epoch 2), more prices; then 10..12.
FuzzHistory make_history() {
  FuzzHistory h;
  h.define(1).price(1, 1, "2.50").define(2).price(2, 2, "5/2").suspend(1).price(2, 1, "1.5");
  h.change_epoch().price(1, 2, "3.0").price(2, 2, "evens");
  h.price(1, 1, "2.2").price(2, 1, "1.4").price(1, 2, "3.5");
  return h;
}

class FrameAttacks : public ::testing::Test {
 protected:
  FrameAttacks() : history_(make_history()) { edge_.start_empty(now_); }

  fuzzing::EdgeStep send(const std::vector<uint8_t>& batch, size_t line = 0) {
    now_ += kMs;
    return edge_.batch(line, batch, now_);
  }

  FuzzHistory history_;
  EdgeCore edge_;
  uint64_t now_ = 1'000'000'000;
};

TEST_F(FrameAttacks, AReplayedOldBatchIsDroppedAsDuplicatesAndChangesNothing) {
  ASSERT_EQ(send(history_.batch(1, 3)).delivered, 3u);
  ASSERT_EQ(send(history_.batch(4, 6)).delivered, 3u);
  const EdgeFingerprint before = edge_.fingerprint();
  const uint64_t duplicates = edge_.arbiter().counters().duplicates;

  // The same bytes again, later, on either line: a captured batch replayed.
  for (size_t line : {0u, 1u}) {
    const fuzzing::EdgeStep step = send(history_.batch(1, 3), line);
    EXPECT_EQ(step.delivered, 0u);
    EXPECT_FALSE(step.refused);  // a valid batch: its frames are judged, and dropped
  }
  EXPECT_EQ(edge_.arbiter().counters().duplicates, duplicates + 6);
  EXPECT_EQ(edge_.fingerprint(), before);
  EXPECT_EQ(edge_.arbiter().counters().corrupt_batches, 0u);

  // And the stream goes on from where it was.
  EXPECT_EQ(send(history_.batch(7, 9)).delivered, 3u);
  EXPECT_EQ(edge_.cache().seq(), 9u);
  EXPECT_EQ(edge_.cache().epoch(), 2u);
}

TEST_F(FrameAttacks, AReplayOfTheOldEpochAfterAnEpochChangeChangesNothing) {
  ASSERT_EQ(send(history_.batch(1, 9)).delivered, 9u);
  ASSERT_EQ(edge_.cache().epoch(), 2u);
  const EdgeFingerprint before = edge_.fingerprint();
  const auto counters = edge_.arbiter().counters();
  send(history_.batch(4, 6));  // epoch 1 frames, replayed after epoch 2 began at 7
  EXPECT_EQ(edge_.fingerprint(), before);
  EXPECT_EQ(edge_.arbiter().counters().duplicates + edge_.arbiter().counters().fenced,
            counters.duplicates + counters.fenced + 3);
}

TEST_F(FrameAttacks, AForgedFrameOfAnOlderEpochWithAValidCrcIsFenced) {
  ASSERT_EQ(send(history_.batch(1, 9)).delivered, 9u);
  const EdgeFingerprint before = edge_.fingerprint();
  const uint64_t fenced = edge_.arbiter().counters().fenced;

  // Seq 10, the next one, but in epoch 1: the deposed epoch (its CRC is valid: only the epoch
  // lies).
  const fuzzing::EdgeStep step = send(history_.forged_price(10, 1, 1, "99.0"));
  EXPECT_FALSE(step.refused);
  EXPECT_EQ(step.delivered, 0u);
  EXPECT_EQ(edge_.arbiter().counters().fenced, fenced + 1);
  EXPECT_EQ(edge_.fingerprint(), before);
  EXPECT_EQ(edge_.arbiter().mode(), edge::ArbiterMode::kLive);

  // The real frame 10 is still taken.
  EXPECT_EQ(send(history_.batch(10, 10)).delivered, 1u);
  EXPECT_EQ(edge_.cache().state().find(1)->selections[0].odds, "2.2");
}

TEST_F(FrameAttacks, AForgedEpochJumpWithoutEpochChangeIsNotAppliedAndTheEdgeResyncs) {
  ASSERT_EQ(send(history_.batch(1, 6)).delivered, 6u);
  const EdgeFingerprint before = edge_.fingerprint();
  const uint64_t divergences = edge_.arbiter().counters().divergences;

  // Seq 7 in epoch 9, with no EpochChange: as if a takeover this edge never heard of happened.
  const fuzzing::EdgeStep step = send(history_.forged_price(7, 9, 1, "99.0"));
  EXPECT_EQ(step.delivered, 0u);
  EXPECT_EQ(edge_.arbiter().counters().divergences, divergences + 1);
  // Nothing of it reached the state; the edge stops delivering and asks for a snapshot.
  EXPECT_EQ(edge_.cache().seq(), before.cache_seq);
  EXPECT_EQ(edge_.fingerprint().digest, before.digest);
  EXPECT_EQ(edge_.fingerprint().generation, before.generation);
  EXPECT_EQ(edge_.arbiter().mode(), edge::ArbiterMode::kResyncing);
  ASSERT_EQ(edge_.last_output().actions.size(), 1u);
  EXPECT_EQ(edge_.last_output().actions[0].kind, edge::ArbiterAction::Kind::kRequestSnapshot);

  // The honest service's snapshot (its current state: seq 9, epoch 2 begun at 7) puts it back,
  // the forged frame waiting at 7 is dropped as older than the image, and the honest frames
  // follow. (A snapshot from before seq 7 would meet the forged frame again and resync again:
  // a forged frame can cost a resync, never a change of state.)
  MarketState state;
  for (uint64_t s = 1; s <= 9; ++s) state.apply(history_.frame(s));
  const auto chunks = encode_snapshot(state, history_.channel(), 2, 7);
  std::vector<std::span<const uint8_t>> parts(chunks.begin(), chunks.end());
  recovery::ReplyHeader header;
  header.kind = recovery::ReplyKind::kSnapshot;
  header.seq = 9;
  header.epoch = 2;
  header.digest = state_digest(state);
  header.chunks = static_cast<uint32_t>(parts.size());
  now_ += kMs;
  EXPECT_TRUE(edge_.reply(0, recovery::format_reply_header(header), parts, now_).installed);
  EXPECT_EQ(edge_.cache().seq(), 9u);
  EXPECT_EQ(send(history_.batch(10, 12)).delivered, 3u);
  EXPECT_EQ(edge_.cache().epoch(), 2u);
}

TEST_F(FrameAttacks, AForgedSnapshotIsRefusedAndNotInstalled) {
  ASSERT_EQ(send(history_.batch(1, 6)).delivered, 6u);
  send(history_.forged_price(7, 9, 1, "99.0"));  // the edge now wants a snapshot
  ASSERT_EQ(edge_.arbiter().mode(), edge::ArbiterMode::kResyncing);
  const EdgeFingerprint before = edge_.fingerprint();

  // A snapshot whose chunks are fine but whose digest is not theirs (forged, or damaged).
  MarketState state;
  for (uint64_t s = 1; s <= 3; ++s) state.apply(history_.frame(s));
  const auto chunks = encode_snapshot(state, history_.channel(), 1, 1);
  std::vector<std::span<const uint8_t>> parts(chunks.begin(), chunks.end());
  const std::string header = "snapshot 3 1 0123456789abcdef " + std::to_string(parts.size());
  now_ += kMs;
  const fuzzing::EdgeStep step = edge_.reply(0, header, parts, now_);
  EXPECT_TRUE(step.refused);
  EXPECT_FALSE(step.installed);
  EXPECT_EQ(edge_.snapshot_failures(), 1u);
  EXPECT_EQ(edge_.arbiter().counters().snapshot_failures, 1u);
  EXPECT_EQ(edge_.fingerprint(), before);
}

TEST_F(FrameAttacks, ABatchFarAheadIsHeldAndRecoveredNeverApplied) {
  ASSERT_EQ(send(history_.batch(1, 3)).delivered, 3u);
  const EdgeFingerprint before = edge_.fingerprint();

  // Seq 1,000,000 with a valid CRC: a gap, not a jump.
  const fuzzing::EdgeStep step = send(history_.forged_price(1'000'000, 1, 1, "99.0"));
  EXPECT_EQ(step.delivered, 0u);
  EXPECT_EQ(edge_.fingerprint(), before);
  EXPECT_EQ(edge_.arbiter().counters().gaps, 1u);

  // After gap_timeout the edge asks a recovery service for the frames after 3, capped.
  now_ += 30 * kMs;
  edge_.tick(now_);
  ASSERT_EQ(edge_.last_output().actions.size(), 1u);
  const edge::ArbiterAction ask = edge_.last_output().actions[0];
  EXPECT_EQ(ask.kind, edge::ArbiterAction::Kind::kRequestRange);
  EXPECT_EQ(ask.from, 4u);
  EXPECT_LE(ask.to - ask.from + 1, EdgeCore::default_config().max_range);
  EXPECT_EQ(edge_.fingerprint(), before);

  // The service holds up to 9: the edge takes those and nothing past them.
  const std::vector<uint8_t> batch = history_.batch(4, 9);
  const std::span<const uint8_t> part(batch);
  now_ += kMs;
  const fuzzing::EdgeStep recovered =
      edge_.reply(ask.service, "range 4 9 9 2 7", std::span(&part, 1), now_);
  EXPECT_EQ(recovered.delivered, 6u);
  EXPECT_EQ(edge_.cache().seq(), 9u);
  EXPECT_EQ(edge_.cache().state().find(1)->selections[1].odds, "3.0");
}

TEST_F(FrameAttacks, TruncatedOversizedAndBadCrcBatchesAreRefusedWhole) {
  ASSERT_EQ(send(history_.batch(1, 3)).delivered, 3u);
  const EdgeFingerprint before = edge_.fingerprint();
  uint64_t corrupt = edge_.arbiter().counters().corrupt_batches;

  std::vector<std::vector<uint8_t>> attacks;
  std::vector<uint8_t> truncated = history_.batch(4, 6);
  truncated.resize(truncated.size() - 8);  // the last frame cut short
  attacks.push_back(truncated);
  std::vector<uint8_t> trailing = history_.batch(4, 6);
  trailing.resize(trailing.size() + 4096, 0xEE);  // more bytes than its records say
  attacks.push_back(trailing);
  std::vector<uint8_t> huge_record = history_.batch(4, 4);
  const uint32_t huge = kMaxFrameSize + 1;  // a record claiming more than any frame may be
  std::memcpy(huge_record.data() + kBatchHeaderSize, &huge, 4);
  huge_record.resize(huge_record.size() + kMaxFrameSize + 8, 0);
  attacks.push_back(huge_record);
  std::vector<uint8_t> huge_count = history_.batch(4, 4);
  const uint32_t count = 0xFFFFFFFF;  // four billion frames, in a few hundred bytes
  std::memcpy(huge_count.data() + 16, &count, 4);
  attacks.push_back(huge_count);
  std::vector<uint8_t> bad_crc = history_.batch(4, 6);
  bad_crc.back() ^= 1;  // the last frame's bytes (or padding) differ from their CRC
  bad_crc[bad_crc.size() / 2] ^= 0x40;
  attacks.push_back(bad_crc);
  attacks.push_back({});  // an empty message

  for (const auto& attack : attacks) {
    const fuzzing::EdgeStep step = send(attack);
    EXPECT_TRUE(step.refused);
    EXPECT_EQ(step.delivered, 0u);
    EXPECT_EQ(edge_.arbiter().counters().corrupt_batches, ++corrupt);
    EXPECT_EQ(edge_.fingerprint(), before);
  }
  // The real batch still goes through.
  EXPECT_EQ(send(history_.batch(4, 6)).delivered, 3u);
}

// ---- the recovery service --------------------------------------------------------------------

class RecoveryAttacks : public ::testing::Test {
 protected:
  RecoveryAttacks() : history_(make_history()) {
    config_.channel = history_.channel();
    config_.ring_slots = 2;
    config_.max_frames = 4;
    config_.max_parked = 4;
    config_.request_burst = 50;
    config_.requests_per_s = 100;
    for (uint64_t from = 1; from <= history_.last_seq(); from += 3) {
      log_.batches.push_back(history_.batch(from, from + 2));
    }
    service_ = std::make_unique<engine::RecoveryService>(config_, &log_);
    for (const auto& batch : log_.batches) EXPECT_TRUE(service_->on_committed(batch, outbox_));
    digest_ = state_digest(service_->state());
  }

  recovery::ReplyHeader ask(const std::string& who, const std::string& text) {
    now_ += kMs;
    service_->handle(who, text, now_, reply_);
    auto header = recovery::parse_reply_header(reply_.header());
    EXPECT_TRUE(header.has_value()) << reply_.header();
    return header.value_or(recovery::ReplyHeader{});
  }

  void expect_unchanged() {
    EXPECT_EQ(service_->last_seq(), 12u);
    EXPECT_EQ(service_->visible_seq(), 12u);
    EXPECT_EQ(state_digest(service_->state()), digest_);
  }

  FuzzHistory history_;
  fuzzing::MemoryBatchLog log_;
  engine::RecoveryServiceConfig config_;
  std::unique_ptr<engine::RecoveryService> service_;
  engine::RecoveryOutbox outbox_;
  engine::RecoveryReply reply_;
  uint64_t digest_ = 0;
  uint64_t now_ = 1'000'000'000;
};

TEST_F(RecoveryAttacks, MalformedRequestsGetACountedRefusal) {
  const std::vector<std::string> hostile = {"",
                                            "range",
                                            "range 1",
                                            "range 0 5",
                                            "range 5 1",
                                            "range -1 5",
                                            "range 1 -5",
                                            "range 1 99999999999999999999999",
                                            "range 1 2 3 4 5",
                                            "range 1 2 -3",
                                            "range 1 2 3 notreplica",
                                            "status now",
                                            "snapshot please",
                                            "ack",
                                            "\xff\xfe garbage",
                                            std::string(100000, 'A'),
                                            "RANGE 1 2"};
  uint64_t bad = service_->counters().bad_requests.load();
  for (const std::string& text : hostile) {
    const recovery::ReplyHeader header = ask("hostile", text);
    EXPECT_EQ(header.kind, recovery::ReplyKind::kError) << text.substr(0, 40);
    EXPECT_EQ(header.reason, "bad-request");
    EXPECT_TRUE(reply_.parts().empty());
    EXPECT_EQ(service_->counters().bad_requests.load(), ++bad);
    EXPECT_LE(reply_.header().size(), 512u) << "the error echoes at most a bounded prefix";
  }
  expect_unchanged();
}

TEST_F(RecoveryAttacks, AHugeRangeIsCappedNotServedWhole) {
  const recovery::ReplyHeader header = ask("hostile", "range 1 18446744073709551615");
  ASSERT_EQ(header.kind, recovery::ReplyKind::kRange);
  EXPECT_LE(header.served_to, 4u);  // max_frames, in whole batches
  EXPECT_GE(header.served_to, 1u);
  EXPECT_EQ(service_->counters().ranges_capped.load(), 1u);
  // FROM past everything committed: nothing, at once.
  const recovery::ReplyHeader none =
      ask("hostile", "range 18446744073709551615 18446744073709551615");
  ASSERT_EQ(none.kind, recovery::ReplyKind::kRange);
  EXPECT_EQ(none.served_to, 0u);
  EXPECT_TRUE(reply_.parts().empty());
  expect_unchanged();
}

TEST_F(RecoveryAttacks, AFloodIsRefusedBusyAndDoesNotStallOthers) {
  // Long polls that never end (WAIT_MS far beyond the cap), then a flood of requests.
  size_t parked = 0;
  size_t busy = 0;
  for (int i = 0; i < 10; ++i) {
    now_ += kMs;
    service_->handle("hostile-" + std::to_string(i), "range 100 200 4294967295", now_, reply_);
    if (reply_.empty()) {
      ++parked;
    } else {
      EXPECT_EQ(recovery::parse_reply_header(reply_.header())->kind, recovery::ReplyKind::kBusy);
      ++busy;
    }
  }
  EXPECT_EQ(parked, config_.max_parked);
  EXPECT_EQ(service_->parked(), config_.max_parked);
  EXPECT_EQ(busy, 10 - config_.max_parked);
  size_t refused = 0;
  for (int i = 0; i < 200; ++i) {
    if (ask("hostile", "range 1 12").kind == recovery::ReplyKind::kBusy) ++refused;
  }
  EXPECT_GT(refused, 100u);  // past its burst, the flooder is told to wait
  const uint64_t busy_count = service_->counters().busy.load();
  EXPECT_GE(busy_count, refused + busy);

  // Another requester is served at once, in full.
  const recovery::ReplyHeader range = ask("edge", "range 4 6");
  ASSERT_EQ(range.kind, recovery::ReplyKind::kRange);
  EXPECT_EQ(range.served_to, 6u);
  EXPECT_EQ(ask("edge", "snapshot").kind, recovery::ReplyKind::kSnapshot);
  // The parked polls end at the cap on WAIT_MS, not at 49 days.
  outbox_.clear();
  service_->on_tick(now_ + uint64_t{config_.max_wait_ms} * kMs + kMs, outbox_);
  EXPECT_EQ(outbox_.size(), config_.max_parked);
  EXPECT_EQ(service_->parked(), 0u);
  expect_unchanged();
}

}  // namespace
}  // namespace oddsbus::security
