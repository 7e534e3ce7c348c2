// Fencing and takeover at the journal and sequencer: a node whose history lost sets its frames
// aside (never deletes them), and a new epoch starts with an EpochChange frame whose seq the
// heartbeats then carry as epoch_start.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <vector>

#include "engine/journal.h"
#include "engine/journal_scan.h"
#include "engine/restore.h"
#include "engine/sequencer.h"
#include "tests/engine/engine_test_support.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;

constexpr uint64_t kT0 = 1'800'000'000'000'000'000ull;

void append(Journal& journal, Sequencer& sequencer, const std::vector<feeds::Event>& events) {
  BatchWriter batch(4096);
  sequencer.begin_batch(batch);
  for (const feeds::Event& e : events) ASSERT_TRUE(sequencer.sequence(e, kT0, batch));
  ASSERT_TRUE(
      journal.append(batch.first_seq(), batch.first_seq() + batch.count() - 1, batch.bytes()));
}

std::vector<feeds::Event> prices(size_t n, size_t salt) {
  std::vector<feeds::Event> events;
  for (size_t i = 0; i < n; ++i) {
    events.push_back(price_event(1001, 1 + (i % 3), std::to_string(2 + (i + salt) % 40) + ".5"));
  }
  return events;
}

// Reads a set-aside file back: the seqs of its frames, in order.
std::vector<uint64_t> aside_seqs(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  std::vector<uint64_t> seqs;
  BatchReader reader;
  size_t at = 0;
  while (at + 8 <= bytes.size()) {
    uint64_t size = 0;
    std::memcpy(&size, bytes.data() + at, 8);
    at += 8;
    EXPECT_LE(at + size, bytes.size());
    EXPECT_TRUE(reader.open({bytes.data() + at, size}));
    for (const fb::Frame* f : reader.frames()) seqs.push_back(f->seq());
    at += size;
  }
  return seqs;
}

class Fencing : public ::testing::Test {
 protected:
  void SetUp() override {
    JournalConfig config;
    config.dir = dir_.sub("journal");
    journal_ = std::move(*Journal::open(config));
    sequencer_ = std::make_unique<Sequencer>(SequencerConfig{});
    append(*journal_, *sequencer_, {market_event(1001, 501, "Match Odds", home_draw_away())});
    append(*journal_, *sequencer_, prices(4, 0));  // 2..5
    append(*journal_, *sequencer_, prices(4, 9));  // 6..9
    append(*journal_, *sequencer_, prices(3, 5));  // 10..12
    ASSERT_EQ(journal_->last_seq(), 12u);
  }
  TempDir dir_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Sequencer> sequencer_;
};

TEST_F(Fencing, SetAsideSplitsARecordAndKeepsEveryFrameItMoves) {
  const std::string aside = dir_.sub("journal/set-aside/epoch-1-from-8.batches");
  auto moved = journal_->set_aside_from(8, aside);
  ASSERT_TRUE(moved) << moved.error();
  EXPECT_EQ(*moved, 5u);
  EXPECT_EQ(journal_->last_seq(), 7u);
  EXPECT_EQ(aside_seqs(aside), (std::vector<uint64_t>{8, 9, 10, 11, 12}));

  auto scanned = scan_frames(*journal_, 1, kNoLimit, [](const fb::Frame&) { return true; });
  ASSERT_TRUE(scanned);
  EXPECT_EQ(scanned->last_seq, 7u);
  // A reopened journal agrees, and appending continues at 8.
  journal_.reset();
  JournalConfig config;
  config.dir = dir_.sub("journal");
  journal_ = std::move(*Journal::open(config));
  EXPECT_EQ(journal_->last_seq(), 7u);
  auto restored = restore_sequencer(*journal_);
  ASSERT_TRUE(restored) << restored.error();
  append(*journal_, **restored, prices(2, 3));
  EXPECT_EQ(journal_->last_seq(), 9u);
}

TEST_F(Fencing, SetAsidePastTheEndOrAtARecordBoundaryIsExact) {
  const std::string aside = dir_.sub("aside.batches");
  auto none = journal_->set_aside_from(13, aside);
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0u);
  EXPECT_FALSE(std::filesystem::exists(aside));
  auto moved = journal_->set_aside_from(6, aside);
  ASSERT_TRUE(moved);
  EXPECT_EQ(*moved, 7u);
  EXPECT_EQ(journal_->last_seq(), 5u);
  EXPECT_EQ(aside_seqs(aside).front(), 6u);
}

TEST_F(Fencing, EpochChangeStartsTheEpochAndRestoreRemembersWhere) {
  BatchWriter batch(4096);
  sequencer_->begin_batch(batch);
  const uint64_t seq = sequencer_->change_epoch(2, kT0, batch);
  EXPECT_EQ(seq, 13u);
  EXPECT_EQ(sequencer_->epoch(), 2u);
  EXPECT_EQ(sequencer_->epoch_start(), 13u);
  ASSERT_TRUE(journal_->append(13, 13, batch.bytes()));
  ASSERT_TRUE(journal_->set_epoch(2));
  append(*journal_, *sequencer_, prices(2, 1));

  auto restored = restore_sequencer(*journal_);
  ASSERT_TRUE(restored) << restored.error();
  EXPECT_EQ((*restored)->epoch(), 2u);
  EXPECT_EQ((*restored)->epoch_start(), 13u);
  EXPECT_EQ((*restored)->last_seq(), 15u);

  BatchWriter heartbeat(4096);
  (*restored)->heartbeat(kT0, heartbeat);
  BatchReader reader;
  ASSERT_TRUE(reader.open(heartbeat.bytes()));
  const fb::Frame* frame = reader.frames()[0];
  EXPECT_EQ(frame->epoch(), 2u);
  EXPECT_EQ(frame->payload_as_Heartbeat()->last_seq(), 15u);
  EXPECT_EQ(frame->payload_as_Heartbeat()->epoch_start(), 13u);
}

}  // namespace
}  // namespace oddsbus::engine
