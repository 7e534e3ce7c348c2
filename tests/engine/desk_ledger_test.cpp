// The desk ledger (engine/desk_ledger.h): the held overrides and the desk request table folded
// from the journal's desk marks, the same from seq 1 as from a journal snapshot mid-journal, and a
// sequencer agent rebuilt from it holding what the first one held (issue 15).
#include "engine/desk_ledger.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/desk_overrides.h"
#include "engine/desk_service.h"
#include "engine/journal_snapshot.h"
#include "engine/restore.h"
#include "engine/sequencer.h"
#include "engine/sequencer_agent.h"
#include "schemas/state_digest.h"
#include "tests/engine/desk_test_support.h"
#include "tests/engine/engine_test_support.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;

constexpr size_t kFeed = 0;
constexpr size_t kDesk = 1;
constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kWall = 1'800'000'000'000'000'000ull;

feeds::Event from_desk(feeds::Event e, uint64_t token, desk::Command command, std::string client,
                       std::string id, uint64_t for_ns = 0) {
  return desk_request(std::move(e), token, command, std::move(client), std::move(id), for_ns);
}

class DeskLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    journal_ = open_test_journal(dir_.sub("journal"));
    ASSERT_NE(journal_, nullptr);
    agent_ = std::make_unique<SequencerAgent>(sequencer_, *journal_, queues_, nullptr,
                                              SequencerAgentConfig{});
    agent_->set_desk(&overrides_, &acks_);
    // Markets 1001 and 1002 of event 501 and 1003 of event 502, priced by feed "bf" (seq 1..5).
    auto ok = agent_->sequence_now({market_event(1001, 501, "Match Odds", home_draw_away()),
                                    market_event(1002, 501, "Next Goal", home_draw_away()),
                                    market_event(1003, 502, "Other", home_draw_away()),
                                    feed(1001, 1, "2.0"), feed(1002, 1, "4.0")},
                                   clocks());
    ASSERT_TRUE(ok) << ok.error();
  }

  static feeds::Event feed(uint64_t market, uint64_t selection, std::string_view odds) {
    feeds::Event e = price_event(market, selection, odds);
    e.source = "bf";
    return e;
  }
  Clocks clocks() const { return Clocks{mono_, wall_}; }
  void push(size_t producer, const feeds::Event& e) {
    ASSERT_EQ(queues_.push(producer, e, stop_), PushResult::kPushed);
  }
  std::vector<DeskAck> work() {
    auto done = agent_->do_work(clocks());
    EXPECT_TRUE(done) << done.error();
    std::vector<DeskAck> acks;
    acks_.drain([&](const DeskAck& a) { acks.push_back(a); });
    return acks;
  }
  const DeskLedger& ledger() const { return sequencer_.desk(); }

  TempDir dir_;
  std::unique_ptr<Journal> journal_;
  Sequencer sequencer_{SequencerConfig{}};
  IngestQueues queues_{2, 64};
  DeskOverrides overrides_;
  DeskAckQueue acks_{64};
  std::unique_ptr<SequencerAgent> agent_;
  std::atomic<bool> stop_{false};
  uint64_t mono_ = 100 * kSecond;
  uint64_t wall_ = kWall;
};

TEST_F(DeskLedgerTest, ATakeIsHeldWithWhoSinceExpiryAndTheFeedsViewBeforeIt) {
  push(kDesk, from_desk(price_event(1001, 1, "5.0"), 1, desk::Command::kSetPrice, "alice", "r1",
                        30 * kSecond));
  ASSERT_EQ(work().size(), 1u);
  const HeldOverride* held = ledger().find_held(1001);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->identity, "alice");
  EXPECT_EQ(held->request_id, "r1");
  EXPECT_EQ(held->since_ns, kWall);
  EXPECT_EQ(held->expires_ns, kWall + 30 * kSecond) << "wall time, so it survives a restart";
  ASSERT_EQ(held->feed_prices.size(), 1u);
  EXPECT_EQ(held->feed_prices[0].price_e4, 20000u) << "the feed's price before the desk's";
  EXPECT_EQ(held->feed_status, fb::MarketStatus::Open);

  // A renewal by another desk: who and expiry change, since and the feed view stay.
  wall_ += kSecond;
  push(kDesk, from_desk(status_event(1001, fb::MarketStatus::Suspended, fb::StatusReason::Trader),
                        2, desk::Command::kSuspend, "bob", "r9"));
  ASSERT_EQ(work().size(), 1u);
  held = ledger().find_held(1001);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->identity, "bob");
  EXPECT_EQ(held->since_ns, kWall);
  EXPECT_EQ(held->expires_ns, 0u);
  EXPECT_EQ(held->feed_prices[0].price_e4, 20000u);

  const DeskRequestRecord* r1 = ledger().find_request(DeskLedger::key("alice", "alice", "r1"));
  ASSERT_NE(r1, nullptr);
  EXPECT_EQ(r1->seq, 6u);
  EXPECT_EQ(r1->epoch, 1u);
  EXPECT_EQ(r1->request, "alice r1 set-price");
}

TEST_F(DeskLedgerTest, ReleaseExpiryAndSettlementEndTheHold) {
  push(kDesk, from_desk(price_event(1001, 1, "5.0"), 1, desk::Command::kSetPrice, "a", "1"));
  push(kDesk,
       from_desk(price_event(1002, 1, "6.0"), 2, desk::Command::kSetPrice, "a", "2", 10 * kSecond));
  push(kDesk, from_desk(price_event(1003, 1, "7.0"), 3, desk::Command::kSetPrice, "a", "3"));
  ASSERT_EQ(work().size(), 3u);
  EXPECT_EQ(ledger().held().size(), 3u);

  feeds::Event release = from_desk(feeds::Event{}, 4, desk::Command::kRelease, "a", "4");
  release.market = 1001;
  push(kDesk, release);
  const auto acks = work();
  ASSERT_EQ(acks.size(), 1u);
  ASSERT_TRUE(acks[0].ok);
  EXPECT_EQ(ledger().find_held(1001), nullptr);
  EXPECT_EQ(ledger().find_request(DeskLedger::key("a", "a", "4"))->seq, acks[0].seq)
      << "a release's request is remembered at its last frame, the seq its ack names";

  mono_ += 10 * kSecond;
  work();
  EXPECT_EQ(ledger().find_held(1002), nullptr) << "expired";

  push(kFeed, settle_event(1003, {1}));
  work();
  EXPECT_EQ(ledger().find_held(1003), nullptr) << "settled by its feed";
  EXPECT_TRUE(ledger().held().empty());
  EXPECT_EQ(overrides_.size(), 0u) << "the live overrides agree with the journal's";
}

TEST_F(DeskLedgerTest, ASuspendEventTakesEveryMarketOfTheEventInOneFrame) {
  feeds::Event e;
  e.type = feeds::EventType::kHeartbeat;
  e.event = 501;
  push(kDesk, from_desk(e, 1, desk::Command::kSuspendEvent, "ops", "s1"));
  const auto acks = work();
  ASSERT_EQ(acks.size(), 1u);
  ASSERT_TRUE(acks[0].ok);
  EXPECT_EQ(acks[0].seq, 6u) << "one frame";
  EXPECT_EQ(sequencer_.last_seq(), 6u);
  EXPECT_EQ(sequencer_.state().find(1001)->status, fb::MarketStatus::Suspended);
  EXPECT_EQ(sequencer_.state().find(1002)->status, fb::MarketStatus::Suspended);
  EXPECT_EQ(sequencer_.state().find(1002)->reason, fb::StatusReason::Trader);
  EXPECT_EQ(sequencer_.state().find(1003)->status, fb::MarketStatus::Open);
  ASSERT_EQ(ledger().held().size(), 2u);
  EXPECT_TRUE(overrides_.holds(1001) && overrides_.holds(1002) && !overrides_.holds(1003));

  // A feed's reopening of a held market waits.
  push(kFeed, status_event(1001, fb::MarketStatus::Open));
  work();
  EXPECT_EQ(sequencer_.last_seq(), 6u);

  e.event = 999;
  push(kDesk, from_desk(e, 2, desk::Command::kSuspendEvent, "ops", "s2"));
  const auto unknown = work();
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_FALSE(unknown[0].ok);
  EXPECT_EQ(unknown[0].reason, desk::RejectReason::kUnknownMarket);
}

TEST_F(DeskLedgerTest, EncodesAndDecodesToAnEqualLedgerAndRefusesATruncatedOne) {
  push(kDesk, from_desk(price_event(1001, 1, "5/2"), 1, desk::Command::kSetPrice, "alice", "r1",
                        30 * kSecond));
  push(kDesk, from_desk(price_event(1003, 2, "3.0"), 2, desk::Command::kSetPrice, "bob", "r2"));
  ASSERT_EQ(work().size(), 2u);
  std::vector<uint8_t> bytes;
  ledger().encode(bytes);
  auto decoded = DeskLedger::decode(bytes);
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_TRUE(*decoded == ledger());
  EXPECT_EQ(decoded->held().size(), 2u);
  EXPECT_NE(decoded->find_request(DeskLedger::key("bob", "bob", "r2")), nullptr);
  bytes.pop_back();
  EXPECT_FALSE(DeskLedger::decode(bytes));
}

TEST_F(DeskLedgerTest, ARestoreFromASnapshotMidJournalHoldsWhatAFoldFromSeqOneHolds) {
  push(kDesk, from_desk(price_event(1001, 1, "5.0"), 1, desk::Command::kSetPrice, "alice", "r1",
                        30 * kSecond));
  ASSERT_EQ(work().size(), 1u);
  // A journal snapshot here: its record carries the ledger (the take is behind it).
  SnapshotState snapshot;
  auto folded = scan_frames(*journal_, 1, kNoLimit, [&](const fb::Frame& f) {
    snapshot.apply(f);
    return true;
  });
  ASSERT_TRUE(folded);
  EXPECT_TRUE(snapshot.desk == ledger()) << "the snapshot's fold keeps the same ledger";
  auto record = encode_snapshot_record(snapshot, 0);
  auto decoded = decode_snapshot_record(record, snapshot.state.seq());
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_TRUE(decoded->desk == ledger());
  auto put = journal_->put_snapshot(snapshot.state.seq(), journal_->generation(), record);
  ASSERT_TRUE(put && *put == Journal::SnapshotPut::kWritten);

  push(kDesk, from_desk(price_event(1002, 1, "6.0"), 2, desk::Command::kSetPrice, "bob", "r2"));
  push(kFeed, feed(1001, 1, "2.2"));  // held back
  ASSERT_EQ(work().size(), 1u);

  auto restored = restore_sequencer(*journal_);
  ASSERT_TRUE(restored) << restored.error();
  EXPECT_TRUE((*restored)->desk() == ledger());
  EXPECT_EQ(state_digest((*restored)->state()), state_digest(sequencer_.state()));

  // A new agent over the restored sequencer holds both markets again, and releases 1001 to the
  // feed's price as the journal last knew it (the held 2.2 was never journaled).
  Sequencer& again = **restored;
  DeskOverrides overrides;
  DeskAckQueue acks(64);
  IngestQueues queues(2, 64);
  SequencerAgent agent(again, *journal_, queues, nullptr, SequencerAgentConfig{});
  agent.set_desk(&overrides, &acks);
  EXPECT_EQ(agent.restore_desk(Clocks{5 * kSecond, wall_ + 10 * kSecond}), 2u);
  EXPECT_TRUE(overrides.holds(1001) && overrides.holds(1002));
  EXPECT_EQ(overrides.next_expiry_ns(), 25 * kSecond) << "20 s of the 30 s left, on the new clock";
  ASSERT_EQ(queues.push(kFeed, feed(1002, 1, "4.4"), stop_), PushResult::kPushed);
  feeds::Event release = from_desk(feeds::Event{}, 9, desk::Command::kRelease, "bob", "r3");
  release.market = 1002;
  ASSERT_EQ(queues.push(kDesk, release, stop_), PushResult::kPushed);
  ASSERT_TRUE(agent.do_work(Clocks{6 * kSecond, wall_ + 11 * kSecond}));
  EXPECT_EQ(again.state().find(1002)->find_selection(1)->price_e4, 44000u)
      << "the feed's price held back after the restart is restored at the release";
  ASSERT_TRUE(agent.do_work(Clocks{25 * kSecond, wall_ + 30 * kSecond}));
  EXPECT_FALSE(overrides.holds(1001)) << "expired at its journaled wall time";
  EXPECT_EQ(again.state().find(1001)->find_selection(1)->price_e4, 20000u);
}

}  // namespace
}  // namespace oddsbus::engine
