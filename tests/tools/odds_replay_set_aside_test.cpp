// odds-replay's --set-aside (issue 13) as the real binary: `verify --set-aside` and `events
// --set-aside` on a journal whose epoch-2 history lost a split brain and was set aside by fencing
// (tests/engine/set_aside_journal.h), and `republish`'s refusals.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/journal.h"
#include "tests/engine/set_aside_journal.h"
#include "tests/tools/run_tool.h"

namespace oddsbus {
namespace {

using testing::lines_of;
using testing::run_tool;
using testing::TempDir;
using testing::ToolResult;

class OddsReplaySetAside : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (scratch_.path() / "journal").string();
    auto journal = engine::testing_support::create_journal(dir_);
    ASSERT_TRUE(journal);
    engine::testing_support::write_fenced_incident(*journal);
    aside_ = engine::testing_support::set_aside_path(*journal);
  }
  ToolResult run(std::vector<std::string> args) {
    args.insert(args.begin(), testing::tool_dir() + "/odds-replay");
    return run_tool(args, scratch_);
  }
  TempDir scratch_;
  std::string dir_;
  std::string aside_;
};

TEST_F(OddsReplaySetAside, VerifyChecksTheJournalAndEachSetAsideFile) {
  ToolResult r = run({"verify", "--journal", dir_, "--set-aside"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_NE(lines[0].find("OK, 16 frames"), std::string::npos) << r.out;
  EXPECT_EQ(lines[1], "set-aside " + aside_ + ": OK, 5 frames in 3 batches, seq 14..18, epoch 2");

  // ODDSBUS_FENCED_OUT=DIR keeps this journal (DIR/journal, its set-aside folder included): the
  // README's --set-aside example is this journal.
  if (const char* keep = std::getenv("ODDSBUS_FENCED_OUT")) {
    namespace fs = std::filesystem;
    fs::create_directories(keep);
    fs::copy(dir_, fs::path(keep) / "journal",
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  }

  // Without the flag, verify is what it was.
  r = run({"verify", "--journal", dir_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(r.out).size(), 1u) << r.out;

  // A damaged set-aside file fails verify and names the seq.
  std::filesystem::resize_file(aside_, std::filesystem::file_size(aside_) - 5);
  r = run({"verify", "--journal", dir_, "--set-aside"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find(": BAD at seq 17: truncated batch"), std::string::npos) << r.out;
}

TEST_F(OddsReplaySetAside, EventsShowWhatTheLosingHistoryContained) {
  ToolResult r = run({"events", "--journal", dir_, "--set-aside", "--market", "1001"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<uint64_t> seqs;
  simdjson::dom::parser parser;
  for (const auto& line : lines_of(r.out)) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << line;
    seqs.push_back(uint64_t(doc["seq"]));
    EXPECT_EQ(uint64_t(doc["epoch"]), 2u) << line;
    EXPECT_EQ(std::string_view(doc["set_aside"]), "epoch-2-from-14.batches") << line;
  }
  // 15 and 16 are 1001's prices, 17 its event's suspension, 18 its reopening.
  EXPECT_EQ(seqs, (std::vector<uint64_t>{15, 16, 17, 18}));

  // The journal's own seq 15 is the winner's price; the set-aside one is the loser's.
  r = run({"events", "--journal", dir_, "--from", "15", "--to", "15"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2.40"), std::string::npos) << r.out;
  r = run({"events", "--journal", dir_, "--from", "15", "--to", "15", "--set-aside"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3.10"), std::string::npos) << r.out;
}

TEST_F(OddsReplaySetAside, AJournalWithNothingSetAsideSaysSo) {
  std::filesystem::remove_all(std::filesystem::path(dir_) / "set-aside");
  ToolResult r = run({"verify", "--journal", dir_, "--set-aside"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no frames set aside"), std::string::npos) << r.out;
  r = run({"events", "--journal", dir_, "--set-aside"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(OddsReplaySetAside, RepublishRefusesWhatItCannotServeInOneLine) {
  const ToolResult help = run({"republish", "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  for (const char* flag :
       {"--journal", "--pub", "--recovery", "--from-seq", "--to-seq", "--speed"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag << ": " << help.out;
  }
  struct Case {
    std::string pub;
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"tcp://127.0.0.1:*", {"--speed", "fast"}, "--speed: \"fast\""},
      {"tcp://127.0.0.1:*", {"--from-seq", "40"}, "past the journal's last seq 16"},
      {"nonsense://x", {}, "cannot bind --pub nonsense://x"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args{"republish",  "--journal",        dir_, "--pub", c.pub,
                                  "--recovery", "tcp://127.0.0.1:*"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const ToolResult r = run(args);
    EXPECT_EQ(r.exit_code, 1) << c.says << ": " << r.err;
    EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace oddsbus
