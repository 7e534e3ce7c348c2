#include "edge/arbiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "schemas/batch.h"
#include "schemas/frame_builder.h"
#include "schemas/recovery_protocol.h"

namespace oddsbus::edge {
namespace {

using Kind = ArbiterAction::Kind;
using recovery::ReplyHeader;
using recovery::ReplyKind;

constexpr uint64_t kMs = 1'000'000;

// One channel's history as a publisher (node `publisher`) sequenced it: frame seq i is frames[i-1].
class History {
 public:
  explicit History(uint32_t publisher = 1) : publisher_(publisher) {}

  // Appends `count` frames in the current epoch.
  History& add(size_t count) {
    for (size_t i = 0; i < count; ++i) {
      keep(builder_.status(next(), 100 + last_seq(), fb::MarketStatus::Open,
                           fb::StatusReason::Provider));
    }
    return *this;
  }
  // Appends the EpochChange frame of `epoch`.
  // It names the history it continues: the epoch it follows and where that began.
  History& change_epoch(uint32_t epoch) {
    const uint32_t previous = epoch_;
    const uint64_t previous_start = epoch_start_;
    epoch_ = epoch;
    epoch_start_ = last_seq() + 1;
    keep(builder_.epoch_change(next(), previous, previous_start));
    return *this;
  }
  // A copy of frames 1..seq of `other` (the shared past of two histories).
  History& copy_prefix(const History& other, uint64_t seq) {
    for (uint64_t s = 1; s <= seq; ++s) {
      frames_.push_back(other.frames_[s - 1]);
      epochs_.push_back(other.epochs_[s - 1]);
      if (other.frame(s).payload_type() == fb::Payload::EpochChange) epoch_start_ = s;
    }
    epoch_ = epochs_.back();
    return *this;
  }

  std::vector<uint8_t> batch(uint64_t from, uint64_t to) const {
    BatchWriter writer(4096);
    writer.begin(0, from);
    for (uint64_t s = from; s <= to; ++s) writer.add(bytes(s));
    return {writer.bytes().begin(), writer.bytes().end()};
  }
  std::vector<uint8_t> heartbeat(uint64_t last_seq) const {
    FrameBuilder builder;
    FrameHeader h;
    h.seq = last_seq;
    h.epoch = epoch_at(last_seq);
    h.publisher = publisher_;
    BatchWriter writer(4096);
    writer.begin(0, last_seq, kBatchHeartbeat);
    writer.add(builder.heartbeat(h, epoch_start_at(last_seq)));
    return {writer.bytes().begin(), writer.bytes().end()};
  }
  // A range reply header as this history's service would write it when it holds up to `last`.
  ReplyHeader range_header(uint64_t from, uint64_t served_to, uint64_t last) const {
    ReplyHeader h;
    h.kind = ReplyKind::kRange;
    h.from = from;
    h.served_to = served_to;
    h.last_seq = last;
    h.epoch = epoch_at(last);
    h.epoch_start = epoch_start_at(last);
    return h;
  }

  std::span<const uint8_t> bytes(uint64_t seq) const {
    const auto& f = frames_[seq - 1];
    return {reinterpret_cast<const uint8_t*>(f.words.data()), f.size};
  }
  const fb::Frame& frame(uint64_t seq) const {
    return *fb::GetFrame(frames_[seq - 1].words.data());
  }
  uint64_t last_seq() const { return frames_.size(); }
  uint32_t epoch_at(uint64_t seq) const { return seq == 0 ? 1 : epochs_[seq - 1]; }
  uint64_t epoch_start_at(uint64_t seq) const {
    uint64_t start = 1;
    for (uint64_t s = 1; s <= seq; ++s) {
      if (frame(s).payload_type() == fb::Payload::EpochChange) start = s;
    }
    return start;
  }

 private:
  struct Copy {
    std::vector<uint64_t> words;
    size_t size = 0;
  };
  FrameHeader next() const {
    FrameHeader h;
    h.seq = last_seq() + 1;
    h.epoch = epoch_;
    h.publisher = publisher_;
    h.sequenced_ns = h.seq * 1000;
    return h;
  }
  void keep(std::span<const uint8_t> bytes) {
    Copy copy;
    copy.words.resize((bytes.size() + 7) / 8);
    std::memcpy(copy.words.data(), bytes.data(), bytes.size());
    copy.size = bytes.size();
    frames_.push_back(std::move(copy));
    epochs_.push_back(epoch_);
  }

  uint32_t publisher_;
  FrameBuilder builder_;
  std::vector<Copy> frames_;
  std::vector<uint32_t> epochs_;
  uint32_t epoch_ = 1;
  uint64_t epoch_start_ = 1;
};

// Drives an Arbiter with injected time and records what it delivered and asked for.
struct Harness {
  explicit Harness(ArbiterConfig config) : arbiter(config) {}

  void batch(size_t line, const std::vector<uint8_t>& bytes) {
    out.clear();
    arbiter.on_batch(line, bytes, now, out);
    collect();
  }
  void reply(size_t service, const ReplyHeader& header,
             const std::vector<std::vector<uint8_t>>& batches = {}) {
    std::vector<std::span<const uint8_t>> spans(batches.begin(), batches.end());
    out.clear();
    arbiter.on_reply(service, header, spans, now, out);
    collect();
  }
  void tick(uint64_t advance_ns) {
    now += advance_ns;
    out.clear();
    arbiter.on_tick(now, out);
    collect();
  }
  void snapshot_loaded(uint64_t seq, uint32_t epoch, uint64_t epoch_start) {
    // The owner installs the image: what it applied past the image's seq is replaced.
    while (!seqs.empty() && seqs.back() > seq) {
      seqs.pop_back();
      publishers.pop_back();
      epochs.pop_back();
    }
    next_seq = seq + 1;
    out.clear();
    arbiter.on_snapshot_loaded(seq, epoch, epoch_start, now, out);
    collect();
  }
  void collect() {
    notices.insert(notices.end(), out.notices.begin(), out.notices.end());
    for (const ArbiterAction& a : out.actions) {
      actions.push_back(a);
      if (a.kind == Kind::kDiverged) {
        next_seq = a.from;
        while (!seqs.empty() && seqs.back() >= a.from) {
          seqs.pop_back();
          publishers.pop_back();
          epochs.pop_back();
        }
      }
    }
    ASSERT_EQ(out.frames.size(), out.bytes.size());
    for (size_t i = 0; i < out.frames.size(); ++i) {
      const fb::Frame* f = out.frames[i];
      // The bytes are the frame's own (e.g. to re-batch it).
      ASSERT_EQ(fb::GetFrame(out.bytes[i].data()), f);
      if (next_seq != 0) {
        ASSERT_EQ(f->seq(), next_seq) << "delivered out of order";
      }
      next_seq = f->seq() + 1;
      seqs.push_back(f->seq());
      publishers.push_back(f->publisher());
      epochs.push_back(f->epoch());
    }
  }
  // Actions of `kind` recorded since the last call to take().
  std::vector<ArbiterAction> take(Kind kind) {
    std::vector<ArbiterAction> found;
    std::vector<ArbiterAction> rest;
    for (const auto& a : actions) (a.kind == kind ? found : rest).push_back(a);
    actions = rest;
    return found;
  }

  Arbiter arbiter;
  ArbiterOutput out;
  uint64_t now = 1'000'000'000;
  uint64_t next_seq = 0;  // the seq the owner expects next (0: any)
  std::vector<ArbiterAction> actions;
  std::vector<ArbiterNotice> notices;
  std::vector<uint64_t> seqs;  // delivered (kDiverged takes frames back out)
  std::vector<uint32_t> publishers;
  std::vector<uint32_t> epochs;
};

std::vector<uint64_t> range(uint64_t from, uint64_t to) {
  std::vector<uint64_t> v;
  for (uint64_t s = from; s <= to; ++s) v.push_back(s);
  return v;
}

ArbiterConfig truncate_config(size_t services = 1) {
  ArbiterConfig c;
  c.mode = ResyncMode::kTruncate;
  c.recovery_services = services;
  c.gap_timeout_ns = 20 * kMs;
  c.request_timeout_ns = 500 * kMs;
  return c;
}

ArbiterConfig snapshot_config(size_t services = 1) {
  ArbiterConfig c = truncate_config(services);
  c.mode = ResyncMode::kSnapshot;
  return c;
}

TEST(Arbiter, DeliversDuplicatesFromTwoLinesOnce) {
  History h;
  h.add(5);
  Harness t(truncate_config());
  t.batch(0, h.batch(1, 3));
  t.batch(1, h.batch(1, 3));
  t.batch(1, h.batch(4, 5));
  t.batch(0, h.batch(4, 5));
  EXPECT_EQ(t.seqs, range(1, 5));
  EXPECT_EQ(t.arbiter.counters().delivered, 5u);
  EXPECT_EQ(t.arbiter.counters().duplicates, 5u);
  EXPECT_EQ(t.arbiter.last_seq(), 5u);
  EXPECT_EQ(t.arbiter.last_heard_ns(1), t.now);
  EXPECT_EQ(t.arbiter.last_heard_ns(7), 0u);
  t.tick(100 * kMs);
  EXPECT_TRUE(t.actions.empty());
}

TEST(Arbiter, DeliversReorderedBatchesInSeqOrder) {
  History h;
  h.add(9);
  Harness t(truncate_config());
  t.batch(0, h.batch(7, 9));
  t.batch(0, h.batch(4, 6));
  EXPECT_TRUE(t.seqs.empty());
  t.batch(1, h.batch(1, 3));
  EXPECT_EQ(t.seqs, range(1, 9));
  EXPECT_EQ(t.arbiter.counters().reordered, 6u);
}

TEST(Arbiter, GapFilledByTheOtherLineInTimeSendsNoRequest) {
  History h;
  h.add(6);
  Harness t(truncate_config());
  t.batch(0, h.batch(1, 2));
  t.batch(0, h.batch(5, 6));
  t.tick(10 * kMs);
  t.batch(1, h.batch(3, 4));
  EXPECT_EQ(t.seqs, range(1, 6));
  t.tick(100 * kMs);
  EXPECT_TRUE(t.actions.empty());
  EXPECT_EQ(t.arbiter.counters().gaps, 1u);
  EXPECT_EQ(t.arbiter.counters().range_requests, 0u);
}

TEST(Arbiter, UnfilledGapBecomesARangeRequestThatTheReplyFills) {
  History h;
  h.add(6);
  Harness t(truncate_config());
  t.batch(0, h.batch(1, 2));
  t.batch(0, h.batch(5, 6));
  t.tick(19 * kMs);
  EXPECT_TRUE(t.take(Kind::kRequestRange).empty()) << "asked before gap_timeout";
  t.tick(1 * kMs);
  auto requests = t.take(Kind::kRequestRange);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].service, 0u);
  EXPECT_EQ(requests[0].from, 3u);
  EXPECT_EQ(requests[0].to, 4u);
  // The reply's batch begins below FROM (a journal record): the arbiter drops what it has.
  t.reply(0, h.range_header(3, 4, 6), {h.batch(1, 4)});
  EXPECT_EQ(t.seqs, range(1, 6));
  t.tick(100 * kMs);
  EXPECT_TRUE(t.actions.empty());
}

TEST(Arbiter, CappedReplyAsksForTheRestAtOnce) {
  History h;
  h.add(20);
  ArbiterConfig config = truncate_config();
  config.max_range = 8;
  Harness t(config);
  t.batch(0, h.batch(1, 1));
  t.batch(0, h.batch(20, 20));
  t.tick(20 * kMs);
  auto requests = t.take(Kind::kRequestRange);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].from, 2u);
  EXPECT_EQ(requests[0].to, 9u);                          // capped at max_range
  t.reply(0, h.range_header(2, 5, 20), {h.batch(2, 5)});  // the service capped it further
  requests = t.take(Kind::kRequestRange);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].from, 6u);
  EXPECT_EQ(requests[0].to, 13u);
}

TEST(Arbiter, UnansweredRequestMovesToTheNextService) {
  History h;
  h.add(4);
  Harness t(truncate_config(2));
  t.batch(0, h.batch(1, 1));
  t.batch(0, h.batch(4, 4));
  t.tick(20 * kMs);
  auto first = t.take(Kind::kRequestRange);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].service, 0u);
  t.tick(499 * kMs);
  EXPECT_TRUE(t.take(Kind::kRequestRange).empty());
  t.tick(1 * kMs);
  auto second = t.take(Kind::kRequestRange);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].service, 1u);
  EXPECT_EQ(second[0].from, 2u);
  EXPECT_EQ(second[0].to, 3u);
  EXPECT_EQ(t.arbiter.counters().request_timeouts, 1u);
  // Service 0 answers late: its frames are still used, but it is not the outstanding request.
  t.reply(0, h.range_header(2, 3, 4), {h.batch(2, 3)});
  EXPECT_EQ(t.seqs, range(1, 4));
  EXPECT_EQ(t.arbiter.counters().stale_replies, 1u);
}

TEST(Arbiter, HeartbeatRevealsAMissedTail) {
  History h;
  h.add(5);
  Harness t(truncate_config());
  t.batch(0, h.batch(1, 3));
  t.batch(1, h.heartbeat(5));
  EXPECT_EQ(t.arbiter.newest_seq(), 5u);
  EXPECT_EQ(t.arbiter.counters().heartbeats, 1u);
  t.tick(20 * kMs);
  auto requests = t.take(Kind::kRequestRange);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].from, 4u);
  EXPECT_EQ(requests[0].to, 5u);
  t.reply(0, h.range_header(4, 5, 5), {h.batch(4, 5)});
  EXPECT_EQ(t.seqs, range(1, 5));
}

TEST(Arbiter, BusyAsksTheSameServiceAgainAfterRetryMs) {
  History h;
  h.add(4);
  Harness t(truncate_config(2));
  t.batch(0, h.batch(1, 1));
  t.batch(0, h.batch(4, 4));
  t.tick(20 * kMs);
  ASSERT_EQ(t.take(Kind::kRequestRange).size(), 1u);
  ReplyHeader busy;
  busy.kind = ReplyKind::kBusy;
  busy.retry_ms = 50;
  t.reply(0, busy);
  t.tick(49 * kMs);
  EXPECT_TRUE(t.take(Kind::kRequestRange).empty());
  t.tick(1 * kMs);
  auto again = t.take(Kind::kRequestRange);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].service, 0u);
  EXPECT_EQ(again[0].from, 2u);
  EXPECT_EQ(t.arbiter.counters().busy_replies, 1u);
}

TEST(Arbiter, ErrorAsksTheNextService) {
  History h;
  h.add(4);
  Harness t(truncate_config(2));
  t.batch(0, h.batch(1, 1));
  t.batch(0, h.batch(4, 4));
  t.tick(20 * kMs);
  ASSERT_EQ(t.take(Kind::kRequestRange).size(), 1u);
  ReplyHeader error;
  error.kind = ReplyKind::kError;
  error.reason = "internal";
  t.reply(0, error);
  t.tick(20 * kMs);
  auto again = t.take(Kind::kRequestRange);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].service, 1u);
}

TEST(Arbiter, StartsFromASnapshotThenDeliversTheLiveFramesAfterIt) {
  History h;
  h.add(8);
  Harness t(snapshot_config(2));
  EXPECT_FALSE(t.arbiter.positioned());
  t.batch(0, h.batch(3, 4));
  t.batch(0, h.batch(5, 8));
  auto asked = t.take(Kind::kRequestSnapshot);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].service, 0u);
  EXPECT_TRUE(t.seqs.empty());
  t.tick(500 * kMs);  // no answer: the next service
  asked = t.take(Kind::kRequestSnapshot);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].service, 1u);
  t.snapshot_loaded(5, 1, 1);
  EXPECT_TRUE(t.arbiter.positioned());
  EXPECT_EQ(t.seqs, range(6, 8));
  EXPECT_EQ(t.arbiter.counters().duplicates, 3u);  // 3..5, inside the snapshot
  t.tick(100 * kMs);
  EXPECT_TRUE(t.actions.empty());
}

TEST(Arbiter, GoneTakesASnapshotInSnapshotMode) {
  History h;
  h.add(12);
  Harness t(snapshot_config());
  t.tick(0);
  ASSERT_EQ(t.take(Kind::kRequestSnapshot).size(), 1u);
  t.snapshot_loaded(2, 1, 1);
  t.batch(0, h.batch(9, 10));
  t.tick(20 * kMs);
  auto requests = t.take(Kind::kRequestRange);
  ASSERT_EQ(requests.size(), 1u);
  ReplyHeader gone;
  gone.kind = ReplyKind::kGone;
  gone.from = requests[0].from;
  gone.oldest = 8;
  t.reply(0, gone);
  EXPECT_FALSE(t.arbiter.positioned());
  ASSERT_EQ(t.take(Kind::kRequestSnapshot).size(), 1u);
  t.batch(0, h.batch(11, 12));  // waits for the snapshot
  EXPECT_TRUE(t.seqs.empty());
  t.snapshot_loaded(10, 1, 1);
  EXPECT_EQ(t.seqs, range(11, 12));
  EXPECT_EQ(t.arbiter.counters().gone_replies, 1u);
}

TEST(Arbiter, GoneIsReportedInTruncateMode) {
  History h;
  h.add(4);
  Harness t(truncate_config(2));
  t.batch(0, h.batch(1, 1));
  t.batch(0, h.batch(4, 4));
  t.tick(20 * kMs);
  ASSERT_EQ(t.take(Kind::kRequestRange).size(), 1u);
  ReplyHeader gone;
  gone.kind = ReplyKind::kGone;
  gone.from = 2;
  gone.oldest = 3;
  t.reply(0, gone);
  auto reported = t.take(Kind::kRangeGone);
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].service, 0u);
  EXPECT_EQ(reported[0].from, 2u);
  EXPECT_TRUE(t.take(Kind::kRequestSnapshot).empty());
  t.tick(500 * kMs);
  auto again = t.take(Kind::kRequestRange);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].service, 1u);
}

TEST(Arbiter, EpochChangeInOrderMovesThePosition) {
  History h;
  h.add(5).change_epoch(2).add(3);
  Harness t(truncate_config());
  t.batch(0, h.batch(1, 7));
  t.batch(1, h.batch(1, 9));
  EXPECT_EQ(t.seqs, range(1, 9));
  EXPECT_EQ(t.arbiter.epoch(), 2u);
  EXPECT_EQ(t.arbiter.epoch_start(), 6u);
  EXPECT_EQ(t.arbiter.counters().epoch_changes, 1u);
  EXPECT_EQ(t.arbiter.counters().divergences, 0u);
  EXPECT_TRUE(t.actions.empty());
}

TEST(Arbiter, HigherEpochFramesWaitForTheirEpochChange) {
  History h;
  h.add(5).change_epoch(2).add(3);
  Harness t(truncate_config());
  t.batch(0, h.batch(1, 5));
  t.batch(0, h.batch(7, 9));  // the EpochChange at 6 was missed
  EXPECT_EQ(t.seqs, range(1, 5));
  t.batch(1, h.heartbeat(9));
  EXPECT_EQ(t.arbiter.counters().divergences, 0u);
  t.tick(20 * kMs);
  auto requests = t.take(Kind::kRequestRange);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].from, 6u);
  EXPECT_EQ(requests[0].to, 6u);
  t.reply(0, h.range_header(6, 6, 9), {h.batch(6, 6)});
  EXPECT_EQ(t.seqs, range(1, 9));
  EXPECT_EQ(t.arbiter.epoch(), 2u);
}

// The old primary (node 1) sequenced 6..8 in epoch 1 that nobody else saw; the new primary (node 2)
// took over at 6 in epoch 2.
struct SplitHistories {
  SplitHistories() {
    loser.add(8);
    winner.copy_prefix(loser, 5).change_epoch(2).add(4);
  }
  History loser{1};
  History winner{2};
};

TEST(Arbiter, TruncatesAtTheEpochChangeOfAHistoryThatWon) {
  SplitHistories s;
  Harness t(truncate_config());
  t.batch(0, s.loser.batch(1, 8));
  t.batch(1, s.winner.batch(6, 10));
  auto diverged = t.take(Kind::kDiverged);
  ASSERT_EQ(diverged.size(), 1u);
  EXPECT_EQ(diverged[0].from, 6u);
  EXPECT_EQ(t.seqs, range(1, 10));
  EXPECT_EQ(std::vector<uint32_t>(t.publishers.begin() + 5, t.publishers.end()),
            std::vector<uint32_t>(5, 2u));
  EXPECT_EQ(t.arbiter.epoch(), 2u);
  EXPECT_EQ(t.arbiter.epoch_start(), 6u);
  EXPECT_EQ(t.arbiter.counters().divergences, 1u);
  // The old primary's late frames are fenced.
  t.batch(0, s.loser.batch(8, 8));
  History late{1};
  late.copy_prefix(s.loser, 8).add(3);
  t.batch(0, late.batch(9, 11));
  EXPECT_EQ(t.arbiter.counters().fenced, 4u);
  EXPECT_EQ(t.arbiter.last_seq(), 10u);
}

// Issue 12 (tools/odds chaos --faults 200 --seed 12 --replication sync): two takeovers put their
// EpochChange frames at the same seq. Node 1 took epoch 3 at seq 10; node 2, which had heard of
// epoch 3 but never received its frames, took epoch 4 at seq 10 too, continuing epoch 2. Node 1's
// epoch 3, EpochChange included, is not in the winning history: it lost from seq 10, not 11.
TEST(Arbiter, AnEpochThatContinuedOurPreviousEpochAtOurStartTakesOurEpochChangeToo) {
  History common{1};
  common.add(4).change_epoch(2).add(4);  // 1..4 epoch 1; 5 EpochChange 2; 6..9
  History loser{2};
  loser.copy_prefix(common, 9).change_epoch(3).add(4);  // 10 EpochChange 3 (after 2); 11..14
  History winner{1};
  winner.copy_prefix(common, 9).change_epoch(4).add(6);  // 10 EpochChange 4 (after 2); 11..16
  Harness t(truncate_config());
  t.batch(0, loser.batch(1, 14));
  ASSERT_EQ(t.arbiter.epoch(), 3u);
  t.batch(1, winner.batch(10, 16));
  auto diverged = t.take(Kind::kDiverged);
  ASSERT_EQ(diverged.size(), 1u);
  EXPECT_EQ(diverged[0].from, 10u);
  EXPECT_EQ(t.seqs, range(1, 16));
  EXPECT_EQ(std::vector<uint32_t>(t.epochs.begin() + 9, t.epochs.end()),
            std::vector<uint32_t>(7, 4u));
  EXPECT_EQ(t.arbiter.epoch(), 4u);
  EXPECT_EQ(t.arbiter.epoch_start(), 10u);
  EXPECT_EQ(t.arbiter.counters().probes, 0u);
  EXPECT_TRUE(t.take(Kind::kRequestRange).empty());
}

// The asynchronous form: the deposed epoch-2 primary sequenced 10 and 11 before it was fenced,
// then took epoch 4 at 12, continuing its own epoch 2. Our epoch 3 (from 10) lost entirely,
// although epoch 4 began two frames after it: the histories part at 10.
TEST(Arbiter, AnEpochThatContinuedOurPreviousEpochAfterOurStartStillTakesAllOfOurs) {
  History common{1};
  common.add(4).change_epoch(2).add(4);
  History loser{2};
  loser.copy_prefix(common, 9).change_epoch(3).add(4);  // 10..14 in epoch 3
  History winner{1};
  winner.copy_prefix(common, 9).add(2).change_epoch(4).add(4);  // 10, 11 epoch 2; 12 EpochChange 4
  Harness t(truncate_config());
  t.batch(0, loser.batch(1, 14));
  t.batch(1, winner.batch(10, 16));
  auto diverged = t.take(Kind::kDiverged);
  ASSERT_EQ(diverged.size(), 1u);
  EXPECT_EQ(diverged[0].from, 10u);
  EXPECT_EQ(t.arbiter.epoch(), 2u);  // back in the epoch both histories share
  EXPECT_EQ(t.arbiter.last_seq(), 9u);
  // 10 and 11 (epoch 2) came before the EpochChange that showed ours lost: asked for again.
  t.tick(30 * kMs);
  auto asked = t.take(Kind::kRequestRange);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].from, 10u);
  t.reply(0, winner.range_header(10, 11, 16), {winner.batch(10, 11)});
  EXPECT_EQ(t.seqs, range(1, 16));
  EXPECT_EQ(std::vector<uint32_t>(t.epochs.begin() + 9, t.epochs.end()),
            (std::vector<uint32_t>{2, 2, 4, 4, 4, 4, 4}));
  EXPECT_EQ(t.arbiter.epoch(), 4u);
  EXPECT_EQ(t.arbiter.epoch_start(), 12u);
}

// A replica restarted from its journal knows the epoch its own continued (reset's ancestors).
TEST(Arbiter, ResetWithTheEpochOursContinuedFindsTheSameSeqTakeover) {
  History common{1};
  common.add(4).change_epoch(2).add(4);
  History winner{1};
  winner.copy_prefix(common, 9).change_epoch(4).add(3);  // 10 EpochChange 4 after 2
  Harness t(truncate_config());
  const EpochLink continued{2, 5};
  t.arbiter.reset(12, 3, 10, {&continued, 1});  // our journal: epoch 3 from 10, through 12
  t.next_seq = 13;
  t.seqs = range(1, 12);
  t.epochs.assign(12, 3);
  t.publishers.assign(12, 2);
  t.batch(0, winner.heartbeat(13));  // epoch 4 began at 10: where epoch 4 went is not yet known
  t.batch(0, winner.batch(10, 13));
  auto diverged = t.take(Kind::kDiverged);
  ASSERT_FALSE(diverged.empty());
  EXPECT_EQ(diverged.back().from, 10u);
  EXPECT_EQ(t.seqs, range(1, 13));
  EXPECT_EQ(t.arbiter.epoch(), 4u);
  EXPECT_EQ(t.arbiter.epoch_start(), 10u);
}

TEST(Arbiter, TruncatesWhenAHeartbeatSaysWhereTheMissedEpochBegan) {
  SplitHistories s;
  Harness t(truncate_config());
  t.batch(0, s.loser.batch(1, 8));
  t.batch(1, s.winner.heartbeat(9));
  auto diverged = t.take(Kind::kDiverged);
  ASSERT_EQ(diverged.size(), 1u);
  EXPECT_EQ(diverged[0].from, 6u);
  EXPECT_EQ(t.arbiter.last_seq(), 5u);
  t.tick(20 * kMs);
  auto requests = t.take(Kind::kRequestRange);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].from, 6u);
  EXPECT_EQ(requests[0].to, 9u);
  t.reply(0, s.winner.range_header(6, 9, 9), {s.winner.batch(6, 9)});
  EXPECT_EQ(t.seqs, range(1, 9));
  EXPECT_EQ(t.epochs.back(), 2u);
  EXPECT_EQ(t.publishers.back(), 2u);
}

TEST(Arbiter, TruncatesWhenARangeReplySaysWhereTheMissedEpochBegan) {
  SplitHistories s;
  Harness t(truncate_config());
  t.batch(0, s.loser.batch(1, 8));
  t.batch(1, s.winner.batch(10, 10));  // a gap at 9: the reply reveals epoch 2 began at 6
  t.tick(20 * kMs);
  auto requests = t.take(Kind::kRequestRange);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].from, 9u);
  t.reply(0, s.winner.range_header(9, 9, 10), {s.winner.batch(9, 9)});
  auto diverged = t.take(Kind::kDiverged);
  ASSERT_EQ(diverged.size(), 1u);
  EXPECT_EQ(diverged[0].from, 6u);
  requests = t.take(Kind::kRequestRange);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].from, 6u);
  EXPECT_EQ(requests[0].to, 8u);
  t.reply(0, s.winner.range_header(6, 8, 10), {s.winner.batch(6, 8)});
  EXPECT_EQ(t.seqs, range(1, 10));
  EXPECT_EQ(std::vector<uint32_t>(t.publishers.begin() + 5, t.publishers.end()),
            std::vector<uint32_t>(5, 2u));
}

TEST(Arbiter, ProbesForTheDivergenceWhenTwoTakeoversWereMissed) {
  // Epoch 2 (node 2) began at 6 and epoch 3 (node 3) at 8; this subscriber saw only node 1.
  History loser{1};
  loser.add(8);
  History winner{3};
  winner.copy_prefix(loser, 5).change_epoch(2).add(1).change_epoch(3).add(2);
  Harness t(truncate_config());
  t.batch(0, loser.batch(1, 8));
  t.batch(1, winner.heartbeat(10));  // epoch 3 began at 8: where epoch 2 began is unknown
  EXPECT_TRUE(t.take(Kind::kDiverged).empty());
  auto probe = t.take(Kind::kRequestRange);
  ASSERT_EQ(probe.size(), 1u);
  EXPECT_EQ(probe[0].from, 2u);
  EXPECT_EQ(probe[0].to, 8u);
  EXPECT_EQ(t.arbiter.counters().probes, 1u);
  t.reply(0, winner.range_header(2, 8, 10), {winner.batch(2, 8)});
  auto diverged = t.take(Kind::kDiverged);
  ASSERT_EQ(diverged.size(), 1u);
  EXPECT_EQ(diverged[0].from, 6u);
  t.tick(20 * kMs);
  auto rest = t.take(Kind::kRequestRange);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].from, 9u);
  t.reply(0, winner.range_header(9, 10, 10), {winner.batch(9, 10)});
  EXPECT_EQ(t.seqs, range(1, 10));
  EXPECT_EQ(t.arbiter.epoch(), 3u);
  EXPECT_EQ(t.arbiter.epoch_start(), 8u);
}

TEST(Arbiter, DivergenceInSnapshotModeTakesASnapshotAndDeliversNothingUntilLoaded) {
  SplitHistories s;
  Harness t(snapshot_config());
  t.snapshot_loaded(0, 1, 1);
  t.batch(0, s.loser.batch(1, 8));
  EXPECT_EQ(t.seqs, range(1, 8));
  t.batch(1, s.winner.heartbeat(9));  // the missed EpochChange, learned from a heartbeat
  EXPECT_TRUE(t.take(Kind::kDiverged).empty());
  ASSERT_EQ(t.take(Kind::kRequestSnapshot).size(), 1u);
  EXPECT_FALSE(t.arbiter.positioned());
  t.batch(1, s.winner.batch(9, 10));
  t.batch(0, s.loser.batch(8, 8));
  EXPECT_EQ(t.seqs, range(1, 8));
  t.snapshot_loaded(8, 2, 6);
  EXPECT_EQ(t.seqs, range(1, 10));
  EXPECT_EQ(t.publishers.back(), 2u);
  EXPECT_EQ(t.arbiter.counters().divergences, 1u);
}

// While the engines are partitioned, a deposed primary still answers snapshot requests with its
// own history: installing one only led to the next divergence, and the edge re-imaged every
// client about every 2 ms for the length of the partition (tools/odds chaos --faults 1000 --seed
// 1000: 28,112 client images). Such a snapshot is refused and the next service asked, not at once.
TEST(Arbiter, ASnapshotOfAHistoryAHigherEpochReplacedIsRefusedAndTheNextServiceAsked) {
  SplitHistories s;
  Harness t(snapshot_config(2));
  t.snapshot_loaded(0, 1, 1);
  t.batch(0, s.loser.batch(1, 8));
  t.batch(1, s.winner.heartbeat(9));  // epoch 2 began at 6
  auto asked = t.take(Kind::kRequestSnapshot);
  ASSERT_EQ(asked.size(), 1u);
  const size_t first = asked[0].service;
  EXPECT_TRUE(t.arbiter.snapshot_superseded(8, 1, 1));   // the deposed history at 8
  EXPECT_FALSE(t.arbiter.snapshot_superseded(5, 1, 1));  // before epoch 2 began: still true
  EXPECT_FALSE(t.arbiter.snapshot_superseded(9, 2, 6));  // the winner's
  t.out.clear();
  t.arbiter.on_snapshot_superseded(first, t.now, t.out);
  t.collect();
  EXPECT_EQ(t.arbiter.counters().superseded_snapshots, 1u);
  EXPECT_FALSE(t.arbiter.positioned());
  t.tick(5 * kMs);
  EXPECT_TRUE(t.take(Kind::kRequestSnapshot).empty()) << "asked again at once";
  t.tick(20 * kMs);
  asked = t.take(Kind::kRequestSnapshot);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_NE(asked[0].service, first);
  t.snapshot_loaded(9, 2, 6);
  EXPECT_TRUE(t.arbiter.positioned());
}

TEST(Arbiter, DivergenceFoundByAnEpochChangeFrameInSnapshotMode) {
  SplitHistories s;
  Harness t(snapshot_config());
  t.snapshot_loaded(0, 1, 1);
  t.batch(0, s.loser.batch(1, 8));
  t.batch(1, s.winner.batch(6, 9));
  ASSERT_EQ(t.take(Kind::kRequestSnapshot).size(), 1u);
  EXPECT_EQ(t.seqs, range(1, 8));
  t.snapshot_loaded(7, 2, 6);
  EXPECT_EQ(t.seqs, range(1, 9));
  EXPECT_EQ(t.publishers.back(), 2u);
}

TEST(Arbiter, FencesFramesOfALowerEpoch) {
  SplitHistories s;
  Harness t(truncate_config());
  t.arbiter.reset(7, 2, 6);
  t.batch(0, s.loser.batch(6, 8));  // epoch 1 past epoch 2's start
  EXPECT_EQ(t.arbiter.counters().fenced, 3u);
  t.batch(0, s.loser.batch(2, 3));  // epoch 1 before it: the shared past, duplicates
  EXPECT_EQ(t.arbiter.counters().duplicates, 2u);
  t.batch(1, s.winner.batch(8, 9));
  EXPECT_EQ(t.seqs, range(8, 9));
  EXPECT_TRUE(t.take(Kind::kDiverged).empty());
}

TEST(Arbiter, FullReorderBufferDropsTheNewestAndRecoversThem) {
  History h;
  h.add(9);
  ArbiterConfig config = truncate_config();
  config.reorder_max_frames = 4;
  Harness t(config);
  for (uint64_t s = 2; s <= 9; ++s) t.batch(0, h.batch(s, s));
  EXPECT_EQ(t.arbiter.counters().overflow_drops, 4u);
  EXPECT_EQ(t.arbiter.newest_seq(), 9u);
  t.tick(20 * kMs);
  auto requests = t.take(Kind::kRequestRange);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].from, 1u);
  EXPECT_EQ(requests[0].to, 1u);
  t.reply(0, h.range_header(1, 1, 9), {h.batch(1, 1)});
  EXPECT_EQ(t.seqs, range(1, 5));
  t.tick(20 * kMs);
  requests = t.take(Kind::kRequestRange);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].from, 6u);
  EXPECT_EQ(requests[0].to, 9u);
  t.reply(0, h.range_header(6, 9, 9), {h.batch(6, 9)});
  EXPECT_EQ(t.seqs, range(1, 9));
}

TEST(Arbiter, ReorderBufferIsBoundedInBytes) {
  History h;
  h.add(9);
  ArbiterConfig config = truncate_config();
  config.reorder_max_bytes = 2 * h.bytes(2).size() + h.bytes(2).size() / 2;
  Harness t(config);
  for (uint64_t s = 9; s >= 2; --s) t.batch(0, h.batch(s, s));  // newest first: each evicts
  EXPECT_EQ(t.arbiter.counters().overflow_drops, 6u);
  t.batch(0, h.batch(1, 1));
  EXPECT_EQ(t.seqs, range(1, 3));
}

TEST(Arbiter, IgnoresACorruptBatch) {
  History h;
  h.add(3);
  Harness t(truncate_config());
  std::vector<uint8_t> bad = h.batch(1, 3);
  bad[kBatchHeaderSize + kRecordHeaderSize + 4] ^= 0x40;  // inside the first frame
  t.batch(0, bad);
  EXPECT_EQ(t.arbiter.counters().corrupt_batches, 1u);
  EXPECT_TRUE(t.seqs.empty());
  EXPECT_EQ(t.arbiter.newest_seq(), 0u);
  t.batch(1, h.batch(1, 3));
  EXPECT_EQ(t.seqs, range(1, 3));
}

// ---- randomized: lossy, duplicating, reordering lines and flaky services ----------------------

struct SimResult {
  std::vector<uint64_t> seqs;
  size_t snapshots = 0;
  uint64_t last_seq = 0;
  ArbiterCounters counters;
};

// Publishes `h` in random batches over two lines that drop, duplicate, delay and corrupt; serves
// range (and, in kSnapshot mode, snapshot) requests from `h` through two services that lose,
// delay, cap and refuse requests. Delivered frames are checked byte for byte against `h`.
SimResult simulate(const History& h, uint32_t seed, ResyncMode mode) {
  std::mt19937 rng(seed);
  auto chance = [&](double p) { return std::uniform_real_distribution<>(0, 1)(rng) < p; };
  auto uniform = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };

  ArbiterConfig config;
  config.mode = mode;
  config.recovery_services = 2;
  config.gap_timeout_ns = 5 * kMs;
  config.request_timeout_ns = 40 * kMs;
  config.max_range = 64;
  config.reorder_max_frames = 128;
  Arbiter arbiter(config);

  struct Event {
    uint64_t at;
    uint64_t order;
    enum Type { kLine, kReply, kSnapshotReply } type;
    size_t index;  // line or service
    std::vector<uint8_t> bytes;
    ReplyHeader header;
    std::vector<std::vector<uint8_t>> batches;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  uint64_t order = 0;
  auto schedule = [&](Event e) {
    e.order = order++;
    events.push(std::move(e));
  };

  // The publisher: batches of 1..8 frames, one every 200 us (faster than recovery keeps up: the
  // reorder buffer overflows) or 1 ms (odd seeds), each line with its own loss and latency; a
  // heartbeat per line every 2 ms.
  const uint64_t interval_ns = seed % 2 == 1 ? 1'000'000 : 200'000;
  const uint64_t n = h.last_seq();
  std::vector<uint64_t> published_at(n + 1, 0);
  uint64_t t0 = 1'000'000'000;
  uint64_t time = t0;
  for (uint64_t from = 1; from <= n;) {
    const uint64_t to = std::min(n, from + uniform(0, 7));
    time += interval_ns;
    for (uint64_t s = from; s <= to; ++s) published_at[s] = time;
    std::vector<uint8_t> batch = h.batch(from, to);
    for (size_t line = 0; line < 2; ++line) {
      if (chance(0.15)) continue;  // dropped
      const int copies = chance(0.05) ? 2 : 1;
      for (int c = 0; c < copies; ++c) {
        Event e{time + uniform(50'000, 3 * kMs), 0, Event::kLine, line, batch, {}, {}};
        if (chance(0.01)) e.bytes[e.bytes.size() / 2] ^= 0x10;  // corrupt in flight
        schedule(std::move(e));
      }
    }
    from = to + 1;
  }
  const uint64_t end_of_publishing = time;
  auto published_last = [&](uint64_t at) {
    uint64_t last = 0;
    while (last < n && published_at[last + 1] <= at) ++last;
    return last;
  };
  for (uint64_t at = t0; at <= end_of_publishing + 20 * kMs; at += 2 * kMs) {
    const uint64_t last = published_last(at);
    if (last == 0) continue;
    for (size_t line = 0; line < 2; ++line) {
      if (chance(0.2)) continue;
      schedule({at + uniform(50'000, 3 * kMs), 0, Event::kLine, line, h.heartbeat(last), {}, {}});
    }
  }

  // The services: each holds only the newest 300 frames in kSnapshot mode (older are gone).
  const uint64_t held = mode == ResyncMode::kSnapshot ? 300 : n;
  auto serve = [&](const ArbiterAction& a, uint64_t at) {
    if (chance(0.1)) return;  // lost: the arbiter times out
    // Mostly quick; sometimes past the request timeout (a stale reply, its frames still used).
    const uint64_t when =
        at + (chance(0.05) ? uniform(45 * kMs, 80 * kMs) : uniform(100'000, 4 * kMs));
    const uint64_t last = published_last(at);
    Event e{when, 0, Event::kReply, a.service, {}, {}, {}};
    if (chance(0.08)) {
      e.header.kind = ReplyKind::kBusy;
      e.header.retry_ms = 2;
    } else if (a.kind == Kind::kRequestSnapshot) {
      e.type = Event::kSnapshotReply;
      e.header.kind = ReplyKind::kSnapshot;
      e.header.seq = last;
      e.header.epoch = h.epoch_at(last);
      e.header.epoch_start = h.epoch_start_at(last);  // carried by the image
    } else if (last >= held && a.from <= last - held) {
      e.header.kind = ReplyKind::kGone;
      e.header.from = a.from;
      e.header.oldest = last - held + 1;
    } else if (a.from > last) {
      e.header = h.range_header(a.from, 0, last);
    } else {
      const uint64_t served_to = std::min({a.to, last, a.from + uniform(0, 40)});
      e.header = h.range_header(a.from, served_to, last);
      for (uint64_t from = a.from - std::min<uint64_t>(a.from - 1, uniform(0, 3));
           from <= served_to;) {
        const uint64_t to = std::min(served_to, from + uniform(0, 15));
        e.batches.push_back(h.batch(from, to));
        from = to + 1;
      }
    }
    schedule(std::move(e));
  };

  SimResult result;
  ArbiterOutput out;
  auto collect = [&](uint64_t at) {
    for (const ArbiterAction& a : out.actions) {
      EXPECT_NE(a.kind, Kind::kDiverged) << "seed " << seed;
      EXPECT_NE(a.kind, Kind::kRangeGone) << "seed " << seed;
      if (a.kind == Kind::kRequestRange || a.kind == Kind::kRequestSnapshot) serve(a, at);
    }
    for (size_t i = 0; i < out.frames.size(); ++i) {
      const uint64_t seq = out.frames[i]->seq();
      if (seq < 1 || seq > n) {
        ADD_FAILURE() << "seed " << seed << ": delivered seq " << seq << " past the history";
        continue;
      }
      const auto want = h.bytes(seq);
      EXPECT_TRUE(out.bytes[i].size() == want.size() &&
                  std::memcmp(out.bytes[i].data(), want.data(), want.size()) == 0)
          << "seed " << seed << ": frame " << seq << " differs";
      result.seqs.push_back(seq);
    }
    out.clear();
  };

  uint64_t now = t0;
  const uint64_t deadline = end_of_publishing + 5'000 * kMs;
  while (now < deadline && arbiter.last_seq() < n) {
    const uint64_t next_tick = now + kMs;
    while (!events.empty() && events.top().at <= next_tick) {
      Event e = events.top();
      events.pop();
      now = std::max(now, e.at);
      if (e.type == Event::kLine) {
        arbiter.on_batch(e.index, e.bytes, now, out);
      } else if (e.type == Event::kSnapshotReply) {
        if (!arbiter.positioned()) {
          ++result.snapshots;
          // The owner installs the image; frames it held from before it are moot.
          out.frames.clear();
          out.bytes.clear();
          result.seqs.push_back(0);  // marks "the image, up to e.header.seq"
          result.seqs.push_back(e.header.seq);
          arbiter.on_snapshot_loaded(e.header.seq, e.header.epoch, e.header.epoch_start, now, out);
        }
      } else {
        std::vector<std::span<const uint8_t>> spans(e.batches.begin(), e.batches.end());
        arbiter.on_reply(e.index, e.header, spans, now, out);
      }
      collect(now);
    }
    now = std::max(now, next_tick);
    arbiter.on_tick(now, out);
    collect(now);
  }
  result.counters = arbiter.counters();
  result.last_seq = arbiter.last_seq();
  return result;
}

History reference_history() {
  History h;
  h.add(1200).change_epoch(2).add(800);
  return h;
}

// The mode changes each scenario reported, as (from, to) pairs, in order.
std::vector<std::pair<ArbiterMode, ArbiterMode>> mode_changes(const std::vector<ArbiterNotice>& n) {
  std::vector<std::pair<ArbiterMode, ArbiterMode>> changes;
  for (const ArbiterNotice& notice : n) {
    if (notice.kind == ArbiterNotice::Kind::kModeChange) {
      changes.emplace_back(notice.from_mode, notice.to_mode);
    }
  }
  return changes;
}

size_t count_notices(const std::vector<ArbiterNotice>& n, ArbiterNotice::Kind kind) {
  return static_cast<size_t>(
      std::count_if(n.begin(), n.end(), [&](const ArbiterNotice& x) { return x.kind == kind; }));
}

TEST(ArbiterMode, SnapshotModeWaitsThenGoesLiveThenResyncsOnDivergence) {
  using M = ArbiterMode;
  SplitHistories s;
  Harness t(snapshot_config());
  EXPECT_EQ(t.arbiter.mode(), M::kAwaitingSnapshot);
  t.tick(0);
  EXPECT_EQ(t.arbiter.mode(), M::kAwaitingSnapshot);
  t.snapshot_loaded(0, 1, 1);
  EXPECT_EQ(t.arbiter.mode(), M::kLive);
  t.batch(0, s.loser.batch(1, 8));
  t.batch(1, s.winner.heartbeat(9));
  EXPECT_EQ(t.arbiter.mode(), M::kResyncing);
  EXPECT_EQ(count_notices(t.notices, ArbiterNotice::Kind::kDivergence), 1u);
  t.snapshot_loaded(8, 2, 6);
  EXPECT_EQ(t.arbiter.mode(), M::kLive);
  using Change = std::pair<M, M>;
  EXPECT_EQ(mode_changes(t.notices), (std::vector<Change>{{M::kAwaitingSnapshot, M::kLive},
                                                          {M::kLive, M::kResyncing},
                                                          {M::kResyncing, M::kLive}}));
  EXPECT_EQ(count_notices(t.notices, ArbiterNotice::Kind::kSnapshotLoaded), 2u);
}

TEST(ArbiterMode, TruncateModeProbesThenGoesLiveWhenTheDivergenceIsFound) {
  using M = ArbiterMode;
  History loser{1};
  loser.add(8);
  History winner{3};
  winner.copy_prefix(loser, 5).change_epoch(2).add(1).change_epoch(3).add(2);
  Harness t(truncate_config());
  EXPECT_EQ(t.arbiter.mode(), M::kLive);
  t.batch(0, loser.batch(1, 8));
  t.batch(1, winner.heartbeat(10));
  EXPECT_EQ(t.arbiter.mode(), M::kProbing);
  EXPECT_TRUE(t.arbiter.positioned());
  t.reply(0, winner.range_header(2, 8, 10), {winner.batch(2, 8)});
  EXPECT_EQ(t.arbiter.mode(), M::kLive);
  using Change = std::pair<M, M>;
  EXPECT_EQ(mode_changes(t.notices),
            (std::vector<Change>{{M::kLive, M::kProbing}, {M::kProbing, M::kLive}}));
  EXPECT_EQ(count_notices(t.notices, ArbiterNotice::Kind::kProbeFound), 1u);
  ASSERT_EQ(count_notices(t.notices, ArbiterNotice::Kind::kTruncated), 1u);
  const auto truncated = std::find_if(
      t.notices.begin(), t.notices.end(),
      [](const ArbiterNotice& n) { return n.kind == ArbiterNotice::Kind::kTruncated; });
  EXPECT_EQ(truncated->seq, 6u);
  EXPECT_EQ(truncated->to, 8u);
}

TEST(ArbiterMode, ResetReportsItsModeChangeInTheNextCall) {
  Harness t(snapshot_config());
  t.arbiter.reset(5, 1, 1);
  EXPECT_EQ(t.arbiter.mode(), ArbiterMode::kLive);
  EXPECT_TRUE(t.notices.empty());
  t.tick(1);
  ASSERT_EQ(mode_changes(t.notices).size(), 1u);
  EXPECT_EQ(mode_changes(t.notices)[0].first, ArbiterMode::kAwaitingSnapshot);
}

TEST(ArbiterNotices, CorruptBatchFencedFramesAndTimeoutsAreReportedNotLogged) {
  SplitHistories s;
  Harness t(truncate_config());
  std::vector<uint8_t> bad = s.loser.batch(1, 3);
  bad[kBatchHeaderSize + kRecordHeaderSize + 4] ^= 0x40;
  t.batch(3, bad);
  ASSERT_EQ(count_notices(t.notices, ArbiterNotice::Kind::kCorruptBatch), 1u);
  EXPECT_EQ(t.notices[0].source, 3u);
  EXPECT_EQ(t.notices[0].seq, 1u);
  t.notices.clear();
  t.arbiter.reset(7, 2, 6);
  t.batch(0, s.loser.batch(6, 8));  // epoch 1 past epoch 2's start: fenced
  ASSERT_EQ(count_notices(t.notices, ArbiterNotice::Kind::kFenced), 1u);
  const auto fenced = std::find_if(t.notices.begin(), t.notices.end(), [](const auto& n) {
    return n.kind == ArbiterNotice::Kind::kFenced;
  });
  EXPECT_EQ(fenced->count, 3u);
  t.batch(1, s.winner.heartbeat(10));  // a gap: asked after gap_timeout, never answered
  t.tick(20 * kMs);
  ASSERT_EQ(t.take(Kind::kRequestRange).size(), 1u);
  t.tick(500 * kMs);
  EXPECT_EQ(count_notices(t.notices, ArbiterNotice::Kind::kRequestTimeout), 1u);
}

// The planted bug for the simulator's self-check: with it, a frame past last_seq + 1 is delivered
// at once (the stream jumps the gap); without it, it waits for the frames before it.
TEST(ArbiterPlantedBug, SkipReorderDeliversOutOfSequenceOnlyWhenSet) {
  History h;
  h.add(6);
  for (const bool planted : {false, true}) {
    ArbiterConfig config = truncate_config();
    config.planted_skip_reorder = planted;
    Arbiter arbiter(config);
    ArbiterOutput out;
    std::vector<uint64_t> delivered;
    const auto feed = [&](uint64_t from, uint64_t to) {
      out.clear();
      arbiter.on_batch(0, h.batch(from, to), 1'000'000'000, out);
      for (const fb::Frame* f : out.frames) delivered.push_back(f->seq());
    };
    feed(1, 2);
    feed(5, 6);  // 3 and 4 are missing
    feed(3, 4);
    if (planted) {
      EXPECT_EQ(delivered, (std::vector<uint64_t>{1, 2, 5, 6})) << "the planted bug jumps the gap";
      EXPECT_EQ(arbiter.counters().duplicates, 2u);
    } else {
      EXPECT_EQ(delivered, range(1, 6));
      EXPECT_EQ(arbiter.counters().reordered, 2u);
    }
  }
}

TEST(Arbiter, RandomizedLossyLinesDeliverTheHistoryExactlyOnceInOrder) {
  const History h = reference_history();
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    SimResult r = simulate(h, seed, ResyncMode::kTruncate);
    EXPECT_EQ(r.seqs, range(1, h.last_seq())) << "seed " << seed;
    EXPECT_EQ(r.counters.epoch_changes, 1u) << "seed " << seed;
    EXPECT_GT(r.counters.duplicates, 0u);
    EXPECT_GT(r.counters.range_requests, 0u);
    if (HasFailure()) break;
  }
}

TEST(Arbiter, RandomizedSnapshotStartAndGoneRangesDeliverEverythingAfterEachImage) {
  const History h = reference_history();
  for (uint32_t seed = 100; seed <= 111; ++seed) {
    SimResult r = simulate(h, seed, ResyncMode::kSnapshot);
    ASSERT_GE(r.snapshots, 1u) << "seed " << seed;
    // Expected: image at S, then S+1... in order, until the next image (never behind).
    std::vector<uint64_t> expected;
    uint64_t next = 0;
    for (size_t i = 0; i < r.seqs.size(); ++i) {
      if (r.seqs[i] == 0 && i + 1 < r.seqs.size()) {
        expected.push_back(0);
        expected.push_back(r.seqs[i + 1]);
        next = r.seqs[i + 1] + 1;
        ++i;
        continue;
      }
      expected.push_back(next++);
    }
    EXPECT_EQ(r.seqs, expected) << "seed " << seed;
    EXPECT_EQ(r.last_seq, h.last_seq()) << "seed " << seed;
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace oddsbus::edge
