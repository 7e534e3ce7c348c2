#include "engine/recovery_service.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/journal.h"
#include "schemas/recovery_protocol.h"
#include "schemas/snapshot_image.h"
#include "schemas/state_digest.h"
#include "schemas/state_json.h"
#include "tests/engine/engine_test_support.h"
#include "tests/engine/recovery_test_support.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;
using recovery::ReplyHeader;
using recovery::ReplyKind;

constexpr uint64_t kT0 = 1'800'000'000'000'000'000ull;
constexpr uint64_t kMs = 1'000'000;

ReplyHeader header_of(const RecoveryReply& reply) {
  auto header = recovery::parse_reply_header(reply.header());
  EXPECT_TRUE(header) << header.error();
  return header.value_or(ReplyHeader{});
}

// A service following a real journal in a temporary directory, fed by a BatchScript.
class RecoveryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JournalConfig config;
    config.dir = dir_.sub("journal");
    config.node = 7;
    auto journal = Journal::open(config);
    ASSERT_TRUE(journal) << journal.error();
    journal_ = std::move(*journal);
    log_ = std::make_unique<JournalBatchLog>(*journal_);
  }

  void start(RecoveryServiceConfig config = {}, bool with_log = true) {
    config.node = 7;
    service_ = std::make_unique<RecoveryService>(config, with_log ? log_.get() : nullptr);
  }

  // Journals one batch and feeds it to the service; parked answers land in outbox_.
  void commit(const std::vector<uint8_t>& batch) {
    BatchHeader header;
    std::memcpy(&header, batch.data(), sizeof header);
    auto appended = journal_->append(header.first_seq, header.first_seq + header.count - 1, batch);
    ASSERT_TRUE(appended) << appended.error();
    auto fed = service_->on_committed(batch, outbox_);
    ASSERT_TRUE(fed) << fed.error();
  }

  // n batches of `frames` prices each.
  void commit_batches(size_t n, size_t frames) {
    for (size_t i = 0; i < n; ++i) commit(script_.prices(frames));
  }

  ReplyHeader ask(std::string_view request, uint64_t now = kT0, std::string_view who = "edge-1") {
    service_->handle(who, request, now, reply_);
    return header_of(reply_);
  }

  TempDir dir_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<JournalBatchLog> log_;
  std::unique_ptr<RecoveryService> service_;
  BatchScript script_;
  RecoveryReply reply_;
  RecoveryOutbox outbox_;
};

TEST_F(RecoveryServiceTest, StatusReportsNodeEpochLastSeqAndRole) {
  start();
  ReplyHeader status = ask("status");
  EXPECT_EQ(status.kind, ReplyKind::kStatus);
  EXPECT_EQ(status.node, 7u);
  EXPECT_EQ(status.epoch, 1u);
  EXPECT_EQ(status.epoch_start, 1u);
  EXPECT_EQ(status.last_seq, 0u);
  EXPECT_FALSE(status.primary);

  commit_batches(3, 4);
  service_->set_primary(true);
  status = ask("status");
  EXPECT_EQ(status.last_seq, 13u) << "a definition and 3 x 4 prices";
  EXPECT_TRUE(status.primary);
  EXPECT_TRUE(reply_.parts().empty());
  EXPECT_EQ(service_->counters().status_requests.load(), 2u);
}

TEST_F(RecoveryServiceTest, RangeServesWholeBatchesCoveringFromTo) {
  start();
  commit_batches(5, 4);  // seqs 1-5, 6-9, 10-13, 14-17, 18-21
  const ReplyHeader range = ask("range 7 15");
  ASSERT_EQ(range.kind, ReplyKind::kRange) << reply_.header();
  EXPECT_EQ(range.from, 7u);
  EXPECT_EQ(range.served_to, 17u) << "the batch holding 15 ends at 17";
  EXPECT_EQ(range.last_seq, 21u);
  EXPECT_EQ(range.epoch, 1u);
  EXPECT_EQ(range.epoch_start, 1u);
  EXPECT_EQ(seqs_in(reply_.parts()), iota_seqs(6, 17)) << "begins with the batch holding 7";
  EXPECT_EQ(service_->counters().frames_served.load(), 11u) << "frames from FROM on";
  EXPECT_EQ(service_->counters().batches_from_journal.load(), 0u) << "all from the ring";
}

TEST_F(RecoveryServiceTest, RangeToBeyondTheLastSeqServesWhatThereIs) {
  start();
  commit_batches(2, 4);
  const ReplyHeader range = ask("range 1 1000");
  EXPECT_EQ(range.served_to, 9u);
  EXPECT_EQ(seqs_in(reply_.parts()), iota_seqs(1, 9));
  EXPECT_EQ(service_->counters().ranges_capped.load(), 0u);
}

TEST_F(RecoveryServiceTest, RangeIsCappedInFramesAndResumesWhereItStopped) {
  RecoveryServiceConfig config;
  config.max_frames = 10;
  start(config);
  commit_batches(10, 4);  // 1-5, then 4 per batch up to 41
  std::vector<uint64_t> all;
  uint64_t from = 1;
  int replies = 0;
  while (from <= 41) {
    const ReplyHeader range = ask("range " + std::to_string(from) + " 41");
    ASSERT_EQ(range.kind, ReplyKind::kRange) << reply_.header();
    ASSERT_GE(range.served_to, from);
    const auto seqs = seqs_in(reply_.parts());
    EXPECT_LE(seqs.size(), 10u) << "at most max_frames, whole batches";
    EXPECT_EQ(seqs.back(), range.served_to);
    all.insert(all.end(), seqs.begin(), seqs.end());
    from = range.served_to + 1;
    ++replies;
  }
  EXPECT_EQ(all, iota_seqs(1, 41));
  EXPECT_GE(replies, 5);
  EXPECT_GE(service_->counters().ranges_capped.load(), 4u);
}

TEST_F(RecoveryServiceTest, ABatchLargerThanTheCapIsStillServedAlone) {
  RecoveryServiceConfig config;
  config.max_frames = 3;
  start(config);
  commit_batches(2, 8);  // 1-9, 10-17
  const ReplyHeader range = ask("range 2 17");
  EXPECT_EQ(range.served_to, 9u);
  EXPECT_EQ(reply_.parts().size(), 1u);
}

TEST_F(RecoveryServiceTest, RangeIsCappedInBytes) {
  std::vector<std::vector<uint8_t>> batches;
  for (int i = 0; i < 6; ++i) batches.push_back(script_.prices(4));
  RecoveryServiceConfig config;
  config.max_bytes = batches[0].size() + batches[1].size();
  start(config);
  for (const auto& batch : batches) commit(batch);
  const ReplyHeader range = ask("range 1 25");
  EXPECT_EQ(reply_.parts().size(), 2u);
  EXPECT_EQ(range.served_to, 9u);
  EXPECT_EQ(service_->counters().bytes_served.load(), config.max_bytes);
}

TEST_F(RecoveryServiceTest, RangeOlderThanTheRingIsReadFromTheJournal) {
  RecoveryServiceConfig config;
  config.ring_slots = 2;
  start(config);
  commit_batches(6, 4);  // 1-5, 6-9, 10-13, 14-17, 18-21, 22-25; the ring holds 18-25
  const ReplyHeader range = ask("range 3 25");
  EXPECT_EQ(range.served_to, 25u);
  EXPECT_EQ(seqs_in(reply_.parts()), iota_seqs(1, 25));
  EXPECT_EQ(service_->counters().batches_from_journal.load(), 4u) << "then the ring";
  EXPECT_EQ(service_->counters().batches_served.load(), 6u);
}

TEST_F(RecoveryServiceTest, JournalRangesAreCappedToo) {
  RecoveryServiceConfig config;
  config.ring_slots = 1;
  config.max_frames = 8;
  start(config);
  commit_batches(6, 4);
  const ReplyHeader range = ask("range 6 25");
  EXPECT_EQ(range.served_to, 13u);
  EXPECT_EQ(seqs_in(reply_.parts()), iota_seqs(6, 13));
}

TEST_F(RecoveryServiceTest, WithoutAJournalARangeOlderThanTheRingIsGone) {
  RecoveryServiceConfig config;
  config.ring_slots = 2;
  start(config, /*with_log=*/false);
  commit_batches(4, 4);  // the ring holds 10-17
  ReplyHeader gone = ask("range 2 12");
  ASSERT_EQ(gone.kind, ReplyKind::kGone) << reply_.header();
  EXPECT_EQ(gone.from, 2u);
  EXPECT_EQ(gone.oldest, 10u);
  EXPECT_TRUE(reply_.parts().empty());
  EXPECT_EQ(ask("range 10 12").kind, ReplyKind::kRange);
  EXPECT_EQ(service_->counters().gone.load(), 1u);
}

// A log that no longer holds the oldest batches, as after retention.
class TrimmedLog final : public BatchLog {
 public:
  std::vector<std::vector<uint8_t>> batches;
  std::expected<void, std::string> scan_records(uint64_t, JournalReader::Visit visit,
                                                void* ctx) override {
    for (const auto& batch : batches) {
      BatchHeader header;
      std::memcpy(&header, batch.data(), sizeof header);
      if (!visit(ctx, header.first_seq, batch)) break;
    }
    return {};
  }
};

TEST(RecoveryService, ARangeTheJournalNoLongerHoldsIsGone) {
  TrimmedLog log;
  RecoveryServiceConfig config;
  config.ring_slots = 1;
  RecoveryService service(config, &log);
  BatchScript script;
  RecoveryOutbox outbox;
  for (int i = 0; i < 4; ++i) {
    auto batch = script.prices(4);  // 1-5, 6-9, 10-13, 14-17
    if (i >= 2) log.batches.push_back(batch);
    ASSERT_TRUE(service.on_committed(batch, outbox));
  }
  RecoveryReply reply;
  service.handle("edge", "range 3 17", kT0, reply);
  const ReplyHeader gone = header_of(reply);
  ASSERT_EQ(gone.kind, ReplyKind::kGone) << reply.header();
  EXPECT_EQ(gone.oldest, 10u);
  service.handle("edge", "range 11 17", kT0, reply);
  EXPECT_EQ(header_of(reply).served_to, 17u);
  EXPECT_EQ(seqs_in(reply.parts()), iota_seqs(10, 17));
}

TEST_F(RecoveryServiceTest, RangePastTheLastSeqWithoutWaitSaysNothingYet) {
  start();
  commit_batches(1, 4);
  const ReplyHeader range = ask("range 6 10");
  ASSERT_EQ(range.kind, ReplyKind::kRange);
  EXPECT_EQ(range.from, 6u);
  EXPECT_EQ(range.served_to, 0u);
  EXPECT_EQ(range.last_seq, 5u);
  EXPECT_TRUE(reply_.parts().empty());
  EXPECT_EQ(service_->parked(), 0u);
}

TEST_F(RecoveryServiceTest, AParkedRangeIsAnsweredByTheCommitThatBringsFrom) {
  start();
  commit_batches(1, 4);
  service_->handle("secondary", "range 6 100 500", kT0, reply_);
  EXPECT_TRUE(reply_.empty()) << "parked: no reply yet";
  EXPECT_EQ(service_->parked(), 1u);
  EXPECT_EQ(service_->next_deadline_ns(), kT0 + 500 * kMs);

  service_->on_tick(kT0 + 499 * kMs, outbox_);
  EXPECT_EQ(outbox_.size(), 0u) << "not expired yet";

  commit(script_.prices(3));  // 6-8
  ASSERT_EQ(outbox_.size(), 1u);
  EXPECT_EQ(outbox_.identity(0), "secondary");
  const ReplyHeader range = header_of(outbox_.reply(0));
  EXPECT_EQ(range.from, 6u);
  EXPECT_EQ(range.served_to, 8u);
  EXPECT_EQ(range.last_seq, 8u);
  EXPECT_EQ(seqs_in(outbox_.reply(0).parts()), iota_seqs(6, 8));
  EXPECT_EQ(service_->parked(), 0u);
  EXPECT_EQ(service_->counters().parked_answered.load(), 1u);
  EXPECT_EQ(service_->next_deadline_ns(), UINT64_MAX);
}

TEST_F(RecoveryServiceTest, AParkedRangeWaitsForItsOwnFrom) {
  start();
  commit_batches(1, 4);
  service_->handle("far", "range 12 20 1000", kT0, reply_);
  service_->handle("near", "range 6 20 1000", kT0, reply_);
  commit(script_.prices(3));  // 6-8
  ASSERT_EQ(outbox_.size(), 1u);
  EXPECT_EQ(outbox_.identity(0), "near");
  outbox_.clear();
  commit(script_.prices(3));  // 9-11
  EXPECT_EQ(outbox_.size(), 0u);
  commit(script_.prices(3));  // 12-14
  ASSERT_EQ(outbox_.size(), 1u);
  EXPECT_EQ(outbox_.identity(0), "far");
  EXPECT_EQ(seqs_in(outbox_.reply(0).parts()), iota_seqs(12, 14));
}

TEST_F(RecoveryServiceTest, AParkedRangeExpiresWithServedToZero) {
  start();
  commit_batches(1, 4);
  service_->handle("secondary", "range 6 100 200", kT0, reply_);
  service_->on_tick(kT0 + 200 * kMs, outbox_);
  ASSERT_EQ(outbox_.size(), 1u);
  const ReplyHeader range = header_of(outbox_.reply(0));
  EXPECT_EQ(range.kind, ReplyKind::kRange);
  EXPECT_EQ(range.from, 6u);
  EXPECT_EQ(range.served_to, 0u);
  EXPECT_EQ(range.last_seq, 5u);
  EXPECT_EQ(service_->parked(), 0u);
  EXPECT_EQ(service_->counters().parked_expired.load(), 1u);
  outbox_.clear();
  commit(script_.prices(1));
  EXPECT_EQ(outbox_.size(), 0u) << "answered once only";
}

TEST_F(RecoveryServiceTest, AWaitLongerThanTheMaximumIsCut) {
  RecoveryServiceConfig config;
  config.max_wait_ms = 1000;
  start(config);
  service_->handle("secondary", "range 1 10 4000000000", kT0, reply_);
  EXPECT_EQ(service_->next_deadline_ns(), kT0 + 1000 * kMs);
}

TEST_F(RecoveryServiceTest, WhenTheParkTableIsFullTheAnswerIsBusy) {
  RecoveryServiceConfig config;
  config.max_parked = 2;
  start(config);
  service_->handle("a", "range 1 10 1000", kT0, reply_);
  service_->handle("b", "range 1 10 1000", kT0, reply_);
  const ReplyHeader busy = ask("range 1 10 1000", kT0, "c");
  EXPECT_EQ(busy.kind, ReplyKind::kBusy);
  EXPECT_GT(busy.retry_ms, 0u);
  EXPECT_EQ(service_->parked(), 2u);
  commit_batches(1, 1);
  EXPECT_EQ(outbox_.size(), 2u);
}

TEST_F(RecoveryServiceTest, SnapshotIsTheStateOfEveryCommittedFrame) {
  RecoveryServiceConfig config;
  config.snapshot_markets_per_chunk = 1;
  start(config);
  commit_batches(5, 7);
  const ReplyHeader snapshot = ask("snapshot");
  ASSERT_EQ(snapshot.kind, ReplyKind::kSnapshot) << reply_.header();
  EXPECT_EQ(snapshot.seq, script_.seq());
  EXPECT_EQ(snapshot.epoch, 1u);
  EXPECT_EQ(snapshot.digest, state_digest(script_.state()));
  ASSERT_EQ(snapshot.chunks, reply_.parts().size());
  auto image = decode_snapshot(reply_.parts());
  ASSERT_TRUE(image) << image.error();
  EXPECT_EQ(image->seq, script_.seq());
  EXPECT_EQ(state_digest(image->state), state_digest(script_.state()));
  std::string a, b;
  append_state_json(a, image->state);
  append_state_json(b, script_.state());
  EXPECT_EQ(a, b);

  ask("snapshot");
  EXPECT_EQ(service_->counters().snapshots_encoded.load(), 1u) << "reused at the same seq";
  commit_batches(1, 2);
  EXPECT_EQ(ask("snapshot").seq, script_.seq());
  EXPECT_EQ(service_->counters().snapshots_encoded.load(), 2u);
  EXPECT_EQ(service_->counters().snapshot_requests.load(), 3u);
}

TEST_F(RecoveryServiceTest, AnEmptyJournalHasAnEmptySnapshotAtSeqZero) {
  start();
  const ReplyHeader snapshot = ask("snapshot");
  EXPECT_EQ(snapshot.seq, 0u);
  EXPECT_EQ(snapshot.chunks, 1u);
  EXPECT_EQ(snapshot.digest, state_digest(MarketState{}));
}

TEST_F(RecoveryServiceTest, EpochChangeFramesMoveTheEpochAndItsStart) {
  start();
  commit_batches(2, 4);             // 1-9
  commit(script_.epoch_change(2));  // 10
  commit_batches(1, 2);             // 11-12 in epoch 2
  ReplyHeader status = ask("status");
  EXPECT_EQ(status.epoch, 2u);
  EXPECT_EQ(status.epoch_start, 10u);
  EXPECT_EQ(status.last_seq, 12u);
  const ReplyHeader range = ask("range 11 12");
  EXPECT_EQ(range.epoch, 2u);
  EXPECT_EQ(range.epoch_start, 10u);
  ask("snapshot");
  auto image = decode_snapshot(reply_.parts());
  ASSERT_TRUE(image) << image.error();
  EXPECT_EQ(image->epoch, 2u);
  EXPECT_EQ(image->epoch_start, 10u);
}

TEST_F(RecoveryServiceTest, AckRecordsTheHighestSeqAndItsTimeWithoutAReply) {
  start();
  commit_batches(2, 4);  // 1-9
  service_->handle("secondary", "ack 5", kT0, reply_);
  EXPECT_TRUE(reply_.empty());
  EXPECT_EQ(service_->acked_seq(), 5u);
  EXPECT_EQ(service_->last_ack_ns(), kT0);
  service_->handle("secondary", "ack 3", kT0 + 1, reply_);
  EXPECT_EQ(service_->acked_seq(), 5u) << "never goes back";
  EXPECT_EQ(service_->last_ack_ns(), kT0 + 1);
  service_->handle("secondary", "ack 9", kT0 + 2, reply_);
  EXPECT_EQ(service_->acked_seq(), 9u);
  EXPECT_EQ(service_->counters().acks.load(), 3u);
}

TEST_F(RecoveryServiceTest, AnAckPastTheLastSeqIsClampedToIt) {
  start();
  commit_batches(1, 4);  // 1-5
  service_->handle("stray", "ack 18446744073709551615", kT0, reply_);
  EXPECT_EQ(service_->acked_seq(), 5u);
  EXPECT_EQ(service_->counters().acks_beyond_last.load(), 1u);
}

TEST_F(RecoveryServiceTest, AcksAreNeverRateLimited) {
  RecoveryServiceConfig config;
  config.request_burst = 1;
  config.requests_per_s = 1;
  start(config);
  commit_batches(25, 4);  // 1-101
  for (uint64_t seq = 1; seq <= 100; ++seq) {
    service_->handle("secondary", "ack " + std::to_string(seq), kT0, reply_);
    EXPECT_TRUE(reply_.empty());
  }
  EXPECT_EQ(service_->acked_seq(), 100u);
  EXPECT_EQ(service_->counters().busy.load(), 0u);
}

TEST_F(RecoveryServiceTest, MalformedRequestsGetBadRequestAndChangeNothing) {
  start();
  commit_batches(1, 1);
  for (std::string_view garbage : {"", "hello", "range 5", "range 9 3", "ack x", "\x01\x02"}) {
    const ReplyHeader error = ask(garbage);
    EXPECT_EQ(error.kind, ReplyKind::kError) << garbage;
    EXPECT_EQ(error.reason, "bad-request") << garbage;
    EXPECT_FALSE(error.detail.empty()) << garbage;
  }
  EXPECT_EQ(service_->counters().bad_requests.load(), 6u);
  EXPECT_EQ(service_->acked_seq(), 0u);
  EXPECT_EQ(ask("status").last_seq, 2u);
}

TEST_F(RecoveryServiceTest, ARequesterOverItsRequestRateIsToldToRetry) {
  RecoveryServiceConfig config;
  config.requests_per_s = 10;
  config.request_burst = 3;
  start(config);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ask("status", kT0).kind, ReplyKind::kStatus) << i;
  const ReplyHeader busy = ask("status", kT0);
  ASSERT_EQ(busy.kind, ReplyKind::kBusy);
  EXPECT_EQ(busy.retry_ms, 100u) << "one token at 10 per second";
  EXPECT_EQ(ask("status", kT0, "another-edge").kind, ReplyKind::kStatus) << "per requester";
  EXPECT_EQ(ask("status", kT0 + 50 * kMs).kind, ReplyKind::kBusy);
  EXPECT_EQ(ask("status", kT0 + 150 * kMs).kind, ReplyKind::kStatus) << "refilled";
  EXPECT_EQ(ask("hello", kT0 + 150 * kMs).kind, ReplyKind::kBusy) << "garbage is limited too";
  EXPECT_EQ(service_->counters().busy.load(), 3u);
}

TEST_F(RecoveryServiceTest, ARequesterOverItsFrameRateIsToldToRetry) {
  RecoveryServiceConfig config;
  config.frames_per_s = 1000;
  config.frame_burst = 10;
  start(config);
  commit_batches(5, 9);  // 1-10, then 9 per batch
  EXPECT_EQ(ask("range 1 46", kT0).served_to, 46u) << "one request may overdraw";
  const ReplyHeader busy = ask("range 1 46", kT0);
  ASSERT_EQ(busy.kind, ReplyKind::kBusy);
  EXPECT_EQ(busy.retry_ms, 37u) << "36 frames over, plus one, at 1000 per second";
  EXPECT_EQ(ask("range 1 1", kT0 + 37 * kMs).kind, ReplyKind::kRange);
}

TEST_F(RecoveryServiceTest, TheRequesterTableEvictsTheLeastRecentlySeen) {
  RecoveryServiceConfig config;
  config.requests_per_s = 1;
  config.request_burst = 1;
  config.max_requesters = 2;
  start(config);
  EXPECT_EQ(ask("status", kT0, "a").kind, ReplyKind::kStatus);
  EXPECT_EQ(ask("status", kT0, "a").kind, ReplyKind::kBusy);
  EXPECT_EQ(ask("status", kT0, "b").kind, ReplyKind::kStatus);
  EXPECT_EQ(ask("status", kT0, "a").kind, ReplyKind::kBusy) << "a seen again, b is older";
  EXPECT_EQ(ask("status", kT0, "c").kind, ReplyKind::kStatus);  // evicts b
  EXPECT_EQ(ask("status", kT0, "a").kind, ReplyKind::kBusy) << "a was kept";
  EXPECT_EQ(ask("status", kT0, "b").kind, ReplyKind::kStatus) << "b starts afresh";
  EXPECT_EQ(service_->counters().requesters_evicted.load(), 2u);
}

TEST_F(RecoveryServiceTest, OnCommittedRefusesGapsHeartbeatsAndDamage) {
  start();
  commit_batches(1, 4);
  BatchScript other;
  auto fed = service_->on_committed(other.prices(2), outbox_);
  EXPECT_FALSE(fed) << "seq 1 again";

  std::vector<uint8_t> next = script_.prices(2);
  std::vector<uint8_t> damaged = next;
  damaged[damaged.size() - 9] ^= 0xFF;
  EXPECT_FALSE(service_->on_committed(damaged, outbox_));
  EXPECT_FALSE(service_->on_committed(std::vector<uint8_t>(10, 0), outbox_));

  BatchWriter heartbeat(4096);
  heartbeat.begin(0, 5, kBatchHeartbeat);
  FrameBuilder builder;
  FrameHeader h;
  h.seq = 5;
  h.epoch = 1;
  heartbeat.add(builder.heartbeat(h));
  EXPECT_FALSE(service_->on_committed(heartbeat.bytes(), outbox_));

  EXPECT_EQ(service_->last_seq(), 5u) << "nothing refused changed anything";
  EXPECT_TRUE(service_->on_committed(next, outbox_));
  EXPECT_EQ(service_->last_seq(), 7u);
  EXPECT_EQ(service_->counters().committed_batches.load(), 2u);
  EXPECT_EQ(service_->counters().committed_frames.load(), 7u);
}

// Sync replication: committed 1-5, 6-9, 10-13; the secondary acknowledged (the gate published)
// only 1-5. Nothing past 5 may reach anyone but the replica.
TEST_F(RecoveryServiceTest, SyncLimitStopsRangesStatusAndSnapshotsAtTheVisibleSeq) {
  start();
  service_->set_visible_limit(0, outbox_);
  commit(script_.prices(4));
  const uint64_t digest_at_5 = state_digest(script_.state());
  service_->set_visible_limit(5, outbox_);
  commit_batches(2, 4);

  ReplyHeader range = ask("range 1 100");
  ASSERT_EQ(range.kind, ReplyKind::kRange) << reply_.header();
  EXPECT_EQ(range.served_to, 5u);
  EXPECT_EQ(range.last_seq, 5u) << "the advertised last seq stops at the visible seq";
  EXPECT_EQ(seqs_in(reply_.parts()), iota_seqs(1, 5));
  range = ask("range 6 100");
  EXPECT_EQ(range.served_to, 0u) << "nothing at 6 yet, for anyone but the replica";
  EXPECT_TRUE(reply_.parts().empty());
  EXPECT_EQ(ask("status").last_seq, 5u);

  const ReplyHeader snapshot = ask("snapshot");
  ASSERT_EQ(snapshot.kind, ReplyKind::kSnapshot) << reply_.header();
  EXPECT_EQ(snapshot.seq, 5u) << "taken at the visible seq, not the committed one";
  EXPECT_EQ(snapshot.digest, digest_at_5);
  auto image = decode_snapshot(reply_.parts());
  ASSERT_TRUE(image) << image.error();
  EXPECT_EQ(image->seq, 5u);
  EXPECT_EQ(state_digest(image->state), digest_at_5);

  // The secondary replicating must fetch past the acknowledged seq, or it could never ack more.
  range = ask("range 6 100 0 replica", kT0, "secondary");
  EXPECT_EQ(range.served_to, 13u);
  EXPECT_EQ(range.last_seq, 13u);
  EXPECT_EQ(seqs_in(reply_.parts()), iota_seqs(6, 13));
  EXPECT_EQ(service_->counters().replica_ranges.load(), 1u);
  EXPECT_EQ(service_->last_seq(), 13u);
  EXPECT_EQ(service_->visible_seq(), 5u);

  service_->set_visible_limit(9, outbox_);  // acknowledged up to 9
  range = ask("range 6 100");
  EXPECT_EQ(range.served_to, 9u);
  EXPECT_EQ(range.last_seq, 9u);
  EXPECT_EQ(ask("snapshot").seq, 9u);
  service_->set_visible_limit(RecoveryService::kNoLimit, outbox_);  // async, or alone
  EXPECT_EQ(ask("range 10 100").served_to, 13u);
  EXPECT_EQ(ask("snapshot").digest, state_digest(script_.state()));
}

TEST_F(RecoveryServiceTest, SyncLimitInsideABatchServesNoneOfIt) {
  start();
  service_->set_visible_limit(7, outbox_);
  commit_batches(2, 4);  // 1-5, 6-9
  const ReplyHeader range = ask("range 6 9");
  EXPECT_EQ(range.served_to, 0u) << "the batch 6-9 holds 8 and 9, not yet visible";
  EXPECT_TRUE(reply_.parts().empty());
  EXPECT_EQ(ask("snapshot").seq, 7u);
}

TEST_F(RecoveryServiceTest, SyncLimitAnswersParkedRangesWhenItMovesAndReplicasOnCommit) {
  start();
  service_->set_visible_limit(0, outbox_);
  service_->handle("edge-1", "range 1 100 1000", kT0, reply_);
  ASSERT_TRUE(reply_.empty()) << "parked";
  service_->handle("secondary", "range 1 100 1000 replica", kT0, reply_);
  ASSERT_TRUE(reply_.empty()) << "parked";
  commit(script_.prices(4));
  ASSERT_EQ(outbox_.size(), 1u) << "only the replica is answered on commit";
  EXPECT_EQ(outbox_.identity(0), "secondary");
  EXPECT_EQ(header_of(outbox_.reply(0)).served_to, 5u);
  outbox_.clear();
  service_->set_visible_limit(5, outbox_);
  ASSERT_EQ(outbox_.size(), 1u) << "the edge, once the secondary acknowledged";
  EXPECT_EQ(outbox_.identity(0), "edge-1");
  EXPECT_EQ(header_of(outbox_.reply(0)).served_to, 5u);
  EXPECT_EQ(seqs_in(outbox_.reply(0).parts()), iota_seqs(1, 5));
}

TEST_F(RecoveryServiceTest, SyncLimitUncoversFramesTheRingNoLongerHoldsFromTheJournal) {
  RecoveryServiceConfig config;
  config.ring_slots = 1;
  start(config);
  service_->set_visible_limit(0, outbox_);
  commit_batches(5, 4);
  EXPECT_EQ(ask("snapshot").seq, 0u);
  service_->set_visible_limit(21, outbox_);
  const ReplyHeader snapshot = ask("snapshot");
  EXPECT_EQ(snapshot.seq, 21u);
  EXPECT_EQ(snapshot.digest, state_digest(script_.state()));
  EXPECT_EQ(service_->counters().internal_errors.load(), 0u);
}

TEST_F(RecoveryServiceTest, SyncLimitHidesAnEpochChangeUntilItIsVisible) {
  start();
  service_->set_visible_limit(5, outbox_);
  commit(script_.prices(4));        // 1-5
  commit(script_.epoch_change(2));  // 6, not acknowledged yet
  ReplyHeader status = ask("status");
  EXPECT_EQ(status.epoch, 1u);
  EXPECT_EQ(status.last_seq, 5u);
  EXPECT_EQ(ask("snapshot").epoch, 1u);
  const ReplyHeader replica = ask("range 6 6 0 replica", kT0, "secondary");
  EXPECT_EQ(replica.epoch, 2u);
  EXPECT_EQ(replica.epoch_start, 6u);
  service_->set_visible_limit(6, outbox_);
  status = ask("status");
  EXPECT_EQ(status.epoch, 2u);
  EXPECT_EQ(status.epoch_start, 6u);
  EXPECT_EQ(ask("snapshot").epoch, 2u);
}

}  // namespace
}  // namespace oddsbus::engine
