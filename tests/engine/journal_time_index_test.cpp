// The time index (engine/journal_time_index.h): binary search over records by sequencer stamps,
// exact while stamps never decrease, and exact under clock steps back smaller than its window.
#include "engine/journal_time_index.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "engine/journal_scan.h"
#include "engine/replay.h"
#include "schemas/state_digest.h"
#include "tests/engine/engine_test_support.h"
#include "tests/engine/incident_journal.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;

std::vector<uint64_t> stamps_of(const Journal& journal) {
  std::vector<uint64_t> stamps;
  auto scanned = scan_frames(journal, 1, kNoLimit, [&](const fb::Frame& frame) {
    stamps.push_back(frame.sequenced_ns());
    return true;
  });
  EXPECT_TRUE(scanned);
  return stamps;
}

// The definition in the header, by reading every stamp: the first seq stamped at or after t.
uint64_t first_at_or_after_by_scan(const std::vector<uint64_t>& stamps, uint64_t t) {
  for (size_t i = 0; i < stamps.size(); ++i) {
    if (stamps[i] >= t) return i + 1;
  }
  return stamps.size() + 1;
}

// A journal of `frames` price frames for one market in records of 1..7 frames, stamped by
// `stamp(i)` for frame i (0-based, the definition is frame 0).
template <typename Stamp>
void write_prices(Journal& journal, size_t frames, uint64_t seed, Stamp stamp) {
  std::mt19937_64 rng(seed);
  FrameWriter w(journal);
  w.define(stamp(0), 7, 70, "m", {{1, "a"}, {2, "b"}});
  w.commit();
  size_t in_record = 0;
  size_t record_size = 1 + rng() % 7;
  for (size_t i = 1; i < frames; ++i) {
    w.price(stamp(i), 7, 1 + i % 2, std::to_string(2 + i % 40) + ".5", "feed-a");
    if (++in_record == record_size) {
      w.commit();
      in_record = 0;
      record_size = 1 + rng() % 7;
    }
  }
  w.commit();
}

TEST(JournalTimeIndex, MatchesTheDefinitionOnTheIncidentJournal) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  ASSERT_TRUE(journal);
  write_incident(*journal);
  const std::vector<uint64_t> stamps = stamps_of(*journal);
  ASSERT_EQ(stamps.size(), 18u);
  JournalTimeIndex index(*journal);
  for (uint64_t t = kIncidentT0 - kSecond; t <= kIncidentT0 + 27 * kSecond; t += kSecond / 2) {
    for (uint64_t probe : {t - 1, t, t + 1}) {
      auto first = index.first_at_or_after(probe);
      ASSERT_TRUE(first);
      EXPECT_EQ(*first, first_at_or_after_by_scan(stamps, probe)) << "at " << probe;
      auto last = index.last_at_or_before(probe);
      ASSERT_TRUE(last);
      EXPECT_EQ(*last, first_at_or_after_by_scan(stamps, probe + 1) - 1) << "at " << probe;
    }
  }
  // Frames 3..5 share a stamp: the first of them is found, and the last ends the prefix.
  EXPECT_EQ(*index.first_at_or_after(kIncidentT0 + kSecond), 3u);
  EXPECT_EQ(*index.last_at_or_before(kIncidentT0 + kSecond), 5u);
  EXPECT_EQ(*index.last_at_or_before(kIncidentT0 - 1), 0u);
  EXPECT_EQ(*index.first_at_or_after(kIncidentT0 + 100 * kSecond), 19u);
}

TEST(JournalTimeIndex, ReadsLogarithmicallyManyRecordsNotTheLog) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  ASSERT_TRUE(journal);
  // 100 ms apart, so the default 1 s window holds about ten frames.
  const size_t frames = 20000;
  write_prices(*journal, frames, 1, [](size_t i) { return kIncidentT0 + i * 100'000'000; });
  JournalTimeIndex index(*journal);
  const uint64_t before = index.records_read();
  auto first = index.first_at_or_after(kIncidentT0 + 12345 * 100'000'000ull + 1);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, 12347u);  // frame i has seq i + 1
  // About log2(5000 records) probes, plus the few records the scan back reads.
  EXPECT_LT(index.records_read() - before, 60u);
}

TEST(JournalTimeIndex, IsExactWhenTheClockStepsBackWithinTheWindow) {
  for (uint64_t seed : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u}) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " (replay: run with this seed)");
    TempDir dir;
    auto journal = create_journal(dir.sub("j"));
    ASSERT_TRUE(journal);
    std::mt19937_64 rng(seed);
    // Mostly forward in steps of 0..2 ms; now and then back by up to 5 ms (window: 10 ms).
    std::vector<uint64_t> planned;
    uint64_t now = kIncidentT0;
    for (size_t i = 0; i < 3000; ++i) {
      if (rng() % 50 == 0) {
        now -= rng() % 5'000'000;
      } else {
        now += rng() % 2'000'000;
      }
      planned.push_back(now);
    }
    write_prices(*journal, planned.size(), seed, [&](size_t i) { return planned[i]; });
    const std::vector<uint64_t> stamps = stamps_of(*journal);
    ASSERT_EQ(stamps, planned);
    JournalTimeIndex index(*journal, TimeIndexConfig{.clock_step_window_ns = 10'000'000});
    for (int q = 0; q < 300; ++q) {
      const uint64_t t = kIncidentT0 - 1'000'000 + rng() % (now - kIncidentT0 + 3'000'000);
      auto first = index.first_at_or_after(t);
      ASSERT_TRUE(first);
      ASSERT_EQ(*first, first_at_or_after_by_scan(stamps, t)) << "t " << t;
    }
  }
}

// Beyond the window the answer is still a boundary (its predecessor stamped before T, itself at
// or after T), only perhaps a later one than the first; within the window it is exact.
TEST(JournalTimeIndex, AStepBackBeyondTheWindowStillGivesABoundary) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  ASSERT_TRUE(journal);
  // 0..99 s, then the clock steps back 60 s and runs 40..139 s.
  std::vector<uint64_t> planned;
  for (uint64_t s = 0; s < 100; ++s) planned.push_back(kIncidentT0 + s * kSecond);
  for (uint64_t s = 40; s < 140; ++s) planned.push_back(kIncidentT0 + s * kSecond);
  write_prices(*journal, planned.size(), 9, [&](size_t i) { return planned[i]; });
  const std::vector<uint64_t> stamps = stamps_of(*journal);

  JournalTimeIndex narrow(*journal, TimeIndexConfig{.clock_step_window_ns = 5 * kSecond});
  const uint64_t t = kIncidentT0 + 70 * kSecond;
  auto found = narrow.first_at_or_after(t);
  ASSERT_TRUE(found);
  ASSERT_GE(*found, 2u);
  EXPECT_GE(stamps[*found - 1], t);
  EXPECT_LT(stamps[*found - 2], t);

  JournalTimeIndex wide(*journal, TimeIndexConfig{.clock_step_window_ns = 61 * kSecond});
  auto exact = wide.first_at_or_after(t);
  ASSERT_TRUE(exact);
  EXPECT_EQ(*exact, first_at_or_after_by_scan(stamps, t));
  EXPECT_EQ(*exact, 71u);
}

TEST(JournalTimeIndex, StateAtTimeEqualsTheFoldOfThePrefixStampedByThen) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  ASSERT_TRUE(journal);
  write_incident(*journal);
  const std::vector<uint64_t> stamps = stamps_of(*journal);
  for (uint64_t s = 0; s <= 26; ++s) {
    const uint64_t t = kIncidentT0 + s * kSecond;
    const uint64_t expected_seq = first_at_or_after_by_scan(stamps, t + 1) - 1;
    auto by_time = state_at(*journal, StateQuery{.at_seq = {}, .at_time_ns = t});
    ASSERT_TRUE(by_time) << by_time.error();
    EXPECT_EQ(by_time->seq(), expected_seq) << "at +" << s << " s";
    auto by_seq = state_at(*journal, StateQuery{.at_seq = expected_seq, .at_time_ns = {}});
    ASSERT_TRUE(by_seq);
    EXPECT_EQ(state_digest(*by_time), state_digest(*by_seq));
  }
}

TEST(JournalTimeIndex, SeesFramesALiveWriterAppendsAfterItWasMade) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  ASSERT_TRUE(journal);
  FrameWriter w(*journal);
  w.define(kIncidentT0, 7, 70, "m", {{1, "a"}});
  w.commit();
  JournalTimeIndex index(*journal);
  EXPECT_EQ(*index.first_at_or_after(kIncidentT0 + kSecond), 2u);
  w.price(kIncidentT0 + 2 * kSecond, 7, 1, "2.0", "feed-a");
  w.commit();
  EXPECT_EQ(*index.first_at_or_after(kIncidentT0 + kSecond), 2u);
  EXPECT_EQ(*index.last_at_or_before(kIncidentT0 + 3 * kSecond), 2u);
  EXPECT_EQ(*index.first_at_or_after(kIncidentT0 + 3 * kSecond), 3u);
}

TEST(JournalTimeIndex, EventsByTimeListTheFramesStampedInTheRange) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  ASSERT_TRUE(journal);
  write_incident(*journal);
  auto range = seq_range_for_times(*journal, kIncidentT0 + 5 * kSecond, kIncidentT0 + 13 * kSecond);
  ASSERT_TRUE(range) << range.error();
  EXPECT_EQ(range->from_seq, 8u);
  EXPECT_EQ(range->to_seq, 13u);
  auto none = seq_range_for_times(*journal, kIncidentT0 + 14 * kSecond, kIncidentT0 + 15 * kSecond);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

// Long reads report how far they got, for the tool to show on stderr.
TEST(ReadProgress, LongReadsReportTheSeqTheyReached) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  ASSERT_TRUE(journal);
  const size_t frames = kProgressEvery + 100;
  write_prices(*journal, frames, 3, [](size_t i) { return kIncidentT0 + i; });
  std::vector<uint64_t> reported;
  ReadProgress progress{[](void* ctx, uint64_t seq, uint64_t last_seq) {
                          EXPECT_EQ(last_seq, kProgressEvery + 100);
                          static_cast<std::vector<uint64_t>*>(ctx)->push_back(seq);
                        },
                        &reported};
  auto state = state_at(*journal, StateQuery{}, progress);
  ASSERT_TRUE(state) << state.error();
  EXPECT_EQ(reported, std::vector<uint64_t>{kProgressEvery});
}

// The raw bytes of the record keyed `key`.
std::vector<uint8_t> record_bytes(const Journal& journal, uint64_t key) {
  std::vector<uint8_t> bytes;
  JournalReader reader(journal);
  EXPECT_TRUE(reader.scan(key, [&](uint64_t k, std::span<const uint8_t> b) {
    if (k == key) bytes.assign(b.begin(), b.end());
    return false;
  }));
  return bytes;
}

TEST(FrameCursor, WalksEveryFrameInOrderAndNamesAGap) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  ASSERT_TRUE(journal);
  write_incident(*journal);
  FrameCursor cursor(*journal);
  for (uint64_t seq = 1; seq <= 18; ++seq) {
    auto frame = cursor.next();
    ASSERT_TRUE(frame) << frame.error().problem;
    ASSERT_NE(*frame, nullptr);
    EXPECT_EQ((*frame)->seq(), seq);
  }
  auto end = cursor.next();
  ASSERT_TRUE(end);
  EXPECT_EQ(*end, nullptr);
  // A record written past the end leaves 19 and 20 out: the cursor stops at 19, naming it.
  std::vector<uint8_t> far = record_bytes(*journal, 16);  // holds seq 16 only
  ASSERT_FALSE(far.empty());
  const uint64_t far_key = 21;
  std::memcpy(far.data() + 8, &far_key, sizeof far_key);  // the header's first_seq
  ASSERT_TRUE(journal->put_raw_for_test(21, far));
  auto gap = cursor.next();
  ASSERT_FALSE(gap);
  EXPECT_EQ(gap.error().seq, 19u);
  EXPECT_NE(gap.error().problem.find("gap"), std::string::npos) << gap.error().problem;
}

TEST(JournalTimeIndex, NamesTheSeqOfADamagedRecordItMustRead) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  ASSERT_TRUE(journal);
  write_incident(*journal);
  std::vector<uint8_t> bytes = record_bytes(*journal, 8);  // record 4 of the incident: seq 8
  ASSERT_FALSE(bytes.empty());
  bytes[kBatchHeaderSize + kRecordHeaderSize + 12] ^= 0x40;
  ASSERT_TRUE(journal->put_raw_for_test(8, bytes));
  JournalTimeIndex index(*journal);
  auto found = index.first_at_or_after(kIncidentT0 + 5 * kSecond);
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().seq, 8u);
  auto state =
      state_at(*journal, StateQuery{.at_seq = {}, .at_time_ns = kIncidentT0 + 6 * kSecond});
  ASSERT_FALSE(state);
  EXPECT_NE(state.error().find("seq 8"), std::string::npos) << state.error();
}

// events by time finds its range through the index and reads only that range: damage before it
// (here seq 8) is neither read nor in the way, while a range that includes it still fails.
TEST(JournalTimeIndex, EventsByTimeReadOnlyTheirRange) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  ASSERT_TRUE(journal);
  write_incident(*journal);
  std::vector<uint8_t> bytes = record_bytes(*journal, 8);
  bytes[kBatchHeaderSize + kRecordHeaderSize + 12] ^= 0x40;
  ASSERT_TRUE(journal->put_raw_for_test(8, bytes));
  FILE* sink = std::fopen("/dev/null", "w");
  ASSERT_NE(sink, nullptr);
  auto later = write_events(*journal, EventsQuery{}, sink,
                            TimeRange{kIncidentT0 + 20 * kSecond, kIncidentT0 + 22 * kSecond});
  ASSERT_TRUE(later) << later.error();
  EXPECT_EQ(*later, 4u);  // seqs 14..17
  auto across = write_events(*journal, EventsQuery{.from_seq = 6, .to_seq = 9, .market = {}}, sink);
  ASSERT_FALSE(across);
  EXPECT_NE(across.error().find("seq 8"), std::string::npos) << across.error();
  std::fclose(sink);
}

}  // namespace
}  // namespace oddsbus::engine
