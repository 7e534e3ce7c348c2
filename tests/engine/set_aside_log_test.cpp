// Reading what fencing set aside (engine/set_aside_log.h), from a journal whose epoch-2 history
// lost a split brain (tests/engine/set_aside_journal.h).
#include "engine/set_aside_log.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/journal.h"
#include "tests/engine/engine_test_support.h"
#include "tests/engine/set_aside_journal.h"

namespace oddsbus::engine {
namespace {

using testing_support::TempDir;

class SetAsideLog : public ::testing::Test {
 protected:
  void SetUp() override {
    journal_ = testing_support::create_journal(dir_.sub("journal"));
    ASSERT_TRUE(journal_);
    testing_support::write_fenced_incident(*journal_);
    path_ = testing_support::set_aside_path(*journal_);
  }

  std::vector<uint64_t> seqs_set_aside() {
    std::vector<uint64_t> seqs;
    auto scanned =
        scan_set_aside(journal_->dir(), [&](const std::string& path, const fb::Frame& frame) {
          EXPECT_EQ(path, path_);
          seqs.push_back(frame.seq());
          return true;
        });
    EXPECT_TRUE(scanned) << scanned.error();
    return seqs;
  }

  // Overwrites `count` bytes at `offset` of the set-aside file, or cuts it to `offset` bytes.
  void damage(std::streamoff offset, size_t count) {
    std::fstream file(path_, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(offset);
    for (size_t i = 0; i < count; ++i) file.put('\x5a');
  }
  void cut(uintmax_t size) { std::filesystem::resize_file(path_, size); }

  std::string events(const EventsQuery& query, const TimeRange& times = {}) {
    char* buffer = nullptr;
    size_t size = 0;
    FILE* out = ::open_memstream(&buffer, &size);
    auto written = write_set_aside_events(*journal_, query, out, times);
    std::fclose(out);
    std::string text(buffer, size);
    std::free(buffer);
    EXPECT_TRUE(written) << written.error();
    return text;
  }

  TempDir dir_;
  std::unique_ptr<Journal> journal_;
  std::string path_;
};

TEST_F(SetAsideLog, VerifiesAndReadsTheLosingHistoryFrameByFrame) {
  EXPECT_EQ(set_aside_files(journal_->dir()), (std::vector<std::string>{path_}));
  auto report = verify_set_aside(path_);
  ASSERT_TRUE(report) << report.error();
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->frames, 5u);
  EXPECT_EQ(report->batches, 3u);
  EXPECT_EQ(report->first_seq, 14u);
  EXPECT_EQ(report->last_seq, 18u);
  EXPECT_EQ(report->last_epoch, 2u);
  EXPECT_EQ(seqs_set_aside(), (std::vector<uint64_t>{14, 15, 16, 17, 18}));
}

TEST_F(SetAsideLog, ListsFilesByEpochThenFirstSeqAndOtherNamesLast) {
  const std::string aside = journal_->dir() + "/set-aside/";
  for (const char* name : {"epoch-10-from-3.batches", "epoch-2-from-40.batches", "notes.txt",
                           "epoch-1-from-7.batches"}) {
    std::ofstream(aside + name) << "";
  }
  EXPECT_EQ(set_aside_files(journal_->dir()),
            (std::vector<std::string>{aside + "epoch-1-from-7.batches", path_,
                                      aside + "epoch-2-from-40.batches",
                                      aside + "epoch-10-from-3.batches", aside + "notes.txt"}));
  EXPECT_TRUE(set_aside_files(dir_.sub("nowhere")).empty());
}

TEST_F(SetAsideLog, ACorruptFrameIsNamedAndNothingPastItIsRead) {
  // The second batch (seq 16) begins after the first's length prefix and bytes.
  uint64_t first_size = 0;
  {
    std::ifstream file(path_, std::ios::binary);
    file.read(reinterpret_cast<char*>(&first_size), sizeof first_size);
  }
  damage(static_cast<std::streamoff>(8 + first_size + 8 + 24 + 8 + 16), 4);
  auto report = verify_set_aside(path_);
  ASSERT_TRUE(report) << report.error();
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->bad_seq, 16u);
  EXPECT_EQ(report->last_seq, 15u);
  auto scanned = scan_set_aside(journal_->dir(), [](const std::string&, const fb::Frame& frame) {
    EXPECT_LT(frame.seq(), 16u);
    return true;
  });
  ASSERT_FALSE(scanned);
  EXPECT_NE(scanned.error().find("damaged at seq 16"), std::string::npos) << scanned.error();
}

TEST_F(SetAsideLog, ATruncatedFileIsNamedAtTheFirstMissingSeq) {
  cut(std::filesystem::file_size(path_) - 5);
  auto report = verify_set_aside(path_);
  ASSERT_TRUE(report) << report.error();
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->bad_seq, 17u);
  EXPECT_EQ(report->problem, "truncated batch");
}

TEST_F(SetAsideLog, EventsFollowAMarketThroughItsEventsSuspensionAndSayWhichFile) {
  const std::string lines = events({1, kNoLimit, 1002});
  EXPECT_NE(lines.find("\"seq\": 17"), std::string::npos) << lines;
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 1) << "only the event suspension";
  EXPECT_NE(lines.find("\"set_aside\": \"epoch-2-from-14.batches\"}"), std::string::npos) << lines;
  const std::string seqs = events({16, 17, std::nullopt});
  EXPECT_EQ(std::count(seqs.begin(), seqs.end(), '\n'), 2) << seqs;
  // By stamp: seq 16 at t21, 17 at t22, 18 at t25.
  const std::string timed =
      events({1, kNoLimit, std::nullopt},
             {testing_support::kIncidentT0 + 22 * testing_support::kSecond, std::nullopt});
  EXPECT_EQ(std::count(timed.begin(), timed.end(), '\n'), 2) << timed;
}

}  // namespace
}  // namespace oddsbus::engine
