// The log (schemas/log.h): every line names its component (the process's, and the thread's name
// off the main thread), text or one JSON object a line, and lines below the level are dropped.
// stderr is redirected to a file for each test.
#include "schemas/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <simdjson.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace oddsbus {
namespace {

// Sends stderr to a file while alive; text() is what was written.
class CapturedStderr {
 public:
  CapturedStderr() {
    path_ = ::testing::TempDir() + "log_test_" + std::to_string(::getpid());
    saved_ = ::dup(STDERR_FILENO);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~CapturedStderr() {
    restore();
    std::remove(path_.c_str());
  }
  std::string text() {
    restore();
    std::ifstream in(path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::string path_;
  int saved_ = -1;
};

void log_from_thread(const char* name, const char* message) {
  std::thread worker([name, message] {
    pthread_setname_np(pthread_self(), name);
    log(LogLevel::kWarn, "%s", message);
  });
  worker.join();
}

class LogTest : public ::testing::Test {
 protected:
  void TearDown() override { configure_log(LogFormat::kText, LogLevel::kInfo, ""); }
};

TEST_F(LogTest, TextLinesNameTheProcessAndTheThread) {
  CapturedStderr captured;
  configure_log(LogFormat::kText, LogLevel::kInfo, "engine");
  log(LogLevel::kInfo, "started %d", 1);
  std::thread worker([] {
    pthread_setname_np(pthread_self(), "sequencer");
    log(LogLevel::kWarn, "slow commit");
  });
  worker.join();
  const std::string text = captured.text();
  EXPECT_NE(text.find("Z INFO engine: started 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Z WARN engine/sequencer: slow commit\n"), std::string::npos) << text;
}

TEST_F(LogTest, JsonLinesAreOneObjectEachWithComponentLevelAndMessage) {
  CapturedStderr captured;
  configure_log(LogFormat::kJson, LogLevel::kInfo, "edge");
  log(LogLevel::kError, "a \"quoted\" word\nand a second line\t%s", "\\");
  std::thread worker([] {
    pthread_setname_np(pthread_self(), "feed-bf");
    log(LogLevel::kInfo, "connected");
  });
  worker.join();
  std::istringstream lines(captured.text());
  simdjson::dom::parser parser;
  std::vector<std::tuple<std::string, std::string, std::string>> seen;
  for (std::string line; std::getline(lines, line);) {
    simdjson::dom::element object;
    ASSERT_EQ(parser.parse(line).get(object), simdjson::SUCCESS) << line;
    std::string_view time, level, component, message;
    ASSERT_EQ(object["time"].get(time), simdjson::SUCCESS) << line;
    ASSERT_EQ(object["level"].get(level), simdjson::SUCCESS) << line;
    ASSERT_EQ(object["component"].get(component), simdjson::SUCCESS) << line;
    ASSERT_EQ(object["message"].get(message), simdjson::SUCCESS) << line;
    EXPECT_EQ(time.back(), 'Z');
    seen.emplace_back(level, component, message);
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], std::make_tuple(std::string("error"), std::string("edge"),
                                     std::string("a \"quoted\" word\nand a second line\t\\")));
  EXPECT_EQ(seen[1], std::make_tuple(std::string("info"), std::string("edge/feed-bf"),
                                     std::string("connected")));
}

TEST_F(LogTest, LinesBelowTheLevelAreNotWritten) {
  CapturedStderr captured;
  configure_log(LogFormat::kText, LogLevel::kWarn, "engine");
  log(LogLevel::kInfo, "not this");
  log(LogLevel::kWarn, "this");
  log_from_thread("desk", "and this");
  const std::string text = captured.text();
  EXPECT_EQ(text.find("not this"), std::string::npos) << text;
  EXPECT_NE(text.find("WARN engine: this"), std::string::npos) << text;
  EXPECT_NE(text.find("WARN engine/desk: and this"), std::string::npos) << text;
}

TEST(LogSettings, ParsesTheFlagValues) {
  EXPECT_EQ(parse_log_level("warn"), LogLevel::kWarn);
  EXPECT_EQ(parse_log_level("debug"), std::nullopt);
  EXPECT_EQ(parse_log_format("json"), LogFormat::kJson);
  EXPECT_EQ(parse_log_format("xml"), std::nullopt);
}

}  // namespace
}  // namespace oddsbus
