#include "edge/client_audit_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace oddsbus::edge {
namespace {

constexpr uint64_t kNever = uint64_t{3600} * 1'000'000'000;  // the writer waits for flush()

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class ClientAuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("client_audit_log_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ClientAuditLogConfig config() const {
    ClientAuditLogConfig config;
    config.path = (dir_ / "audit.jsonl").string();
    config.flush_interval_ns = kNever;
    return config;
  }

  std::filesystem::path dir_;
};

std::string numbered_line(int i) {
  std::string line = "{\"n\": " + std::to_string(i) + ", \"pad\": \"";
  line.append(30 - std::to_string(i).size(), 'x');
  return line + "\"}\n";  // 46 bytes
}

TEST_F(ClientAuditLogTest, WritesWhatIsSubmittedInOrder) {
  auto log = ClientAuditLog::open(config());
  ASSERT_TRUE(log) << log.error();
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    expected += numbered_line(i);
    EXPECT_TRUE((*log)->submit(numbered_line(i)));
  }
  (*log)->flush();
  EXPECT_EQ(read_file(config().path), expected);
  EXPECT_EQ((*log)->counters().lines_written, 100u);
  EXPECT_EQ((*log)->counters().lines_dropped, 0u);
}

TEST_F(ClientAuditLogTest, RotatesAtLineBoundariesAndKeepsOnlyTheNewestFiles) {
  ClientAuditLogConfig cfg = config();
  cfg.max_file_bytes = 1000;  // 21 lines of 46 bytes
  cfg.files = 3;
  auto log = ClientAuditLog::open(cfg);
  ASSERT_TRUE(log) << log.error();
  std::vector<std::string> all;
  for (int i = 0; i < 200; ++i) {
    all.push_back(numbered_line(i));
    (*log)->submit(all.back());
    if (i % 37 == 0) (*log)->flush();  // rotation inside a batch and between batches
  }
  (*log)->flush();
  EXPECT_TRUE(std::filesystem::exists(cfg.path + ".1"));
  EXPECT_TRUE(std::filesystem::exists(cfg.path + ".2"));
  EXPECT_FALSE(std::filesystem::exists(cfg.path + ".3")) << "files = 3 keeps path, .1 and .2";
  std::string kept;
  for (const char* suffix : {".2", ".1", ""}) {
    const std::string text = read_file(cfg.path + suffix);
    EXPECT_LE(text.size(), cfg.max_file_bytes) << suffix;
    EXPECT_TRUE(text.empty() || text.back() == '\n') << "a file ends with a whole line";
    kept += text;
  }
  // What is kept is the newest lines, whole and in order, and the rest rotated away.
  std::string newest;
  const std::vector<std::string> kept_lines = lines_of(kept);
  ASSERT_FALSE(kept_lines.empty());
  for (size_t i = all.size() - kept_lines.size(); i < all.size(); ++i) newest += all[i];
  EXPECT_EQ(kept, newest);
  EXPECT_GT(kept_lines.size(), 40u) << "three files of 21 lines, the newest maybe partly full";
  EXPECT_EQ((*log)->counters().rotations, (200 - 1) / 21);
}

TEST_F(ClientAuditLogTest, AFullBufferDropsLinesCountsThemAndLogsOneHole) {
  ClientAuditLogConfig cfg = config();
  cfg.max_pending_bytes = 100;
  auto log = ClientAuditLog::open(cfg);
  ASSERT_TRUE(log) << log.error();
  EXPECT_TRUE((*log)->submit(numbered_line(1)));
  EXPECT_TRUE((*log)->submit(numbered_line(2)));
  EXPECT_FALSE((*log)->submit(numbered_line(3))) << "past 100 bytes";
  EXPECT_FALSE((*log)->submit("{}\n")) << "small enough, but the hole is still open";
  (*log)->flush();
  EXPECT_TRUE((*log)->submit(numbered_line(4))) << "the writer took the buffer: room again";
  (*log)->flush();

  const std::vector<std::string> lines = lines_of(read_file(cfg.path));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0] + "\n", numbered_line(1));
  EXPECT_EQ(lines[1] + "\n", numbered_line(2));
  EXPECT_NE(lines[2].find("\"type\": \"hole\""), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("\"dropped\": 2"), std::string::npos) << lines[2];
  EXPECT_EQ(lines[3] + "\n", numbered_line(4));
  EXPECT_EQ((*log)->counters().lines_dropped, 2u);
  EXPECT_EQ((*log)->counters().holes, 1u);
}

TEST_F(ClientAuditLogTest, ALineLargerThanAFileIsDroppedAsAHole) {
  ClientAuditLogConfig cfg = config();
  cfg.max_file_bytes = 200;
  auto log = ClientAuditLog::open(cfg);
  ASSERT_TRUE(log) << log.error();
  (*log)->submit(numbered_line(1));
  (*log)->submit("{\"big\": \"" + std::string(300, 'y') + "\"}\n");
  (*log)->submit(numbered_line(2));
  (*log)->flush();
  std::string text = read_file(cfg.path);
  if (std::filesystem::exists(cfg.path + ".1")) text = read_file(cfg.path + ".1") + text;
  const std::vector<std::string> lines = lines_of(text);
  ASSERT_EQ(lines.size(), 3u) << text;
  EXPECT_EQ(lines[0] + "\n", numbered_line(1));
  EXPECT_EQ(lines[1] + "\n", numbered_line(2));
  EXPECT_NE(lines[2].find("\"dropped\": 1"), std::string::npos) << lines[2];
  EXPECT_EQ((*log)->counters().lines_dropped, 1u);
}

TEST_F(ClientAuditLogTest, AppendsToTheLogOfAnEarlierRunAndWritesAllOnClose) {
  {
    auto log = ClientAuditLog::open(config());
    ASSERT_TRUE(log) << log.error();
    (*log)->submit(numbered_line(1));
    (*log)->flush();
  }
  {
    auto log = ClientAuditLog::open(config());
    ASSERT_TRUE(log) << log.error();
    (*log)->submit(numbered_line(2));
    // No flush: destruction writes what is pending.
  }
  EXPECT_EQ(read_file(config().path), numbered_line(1) + numbered_line(2));
}

TEST_F(ClientAuditLogTest, OpenNamesAPathItCannotWrite) {
  ClientAuditLogConfig cfg = config();
  cfg.path = (dir_ / "no-such-dir" / "audit.jsonl").string();
  auto log = ClientAuditLog::open(cfg);
  ASSERT_FALSE(log);
  EXPECT_NE(log.error().find(cfg.path), std::string::npos) << log.error();
}

}  // namespace
}  // namespace oddsbus::edge
