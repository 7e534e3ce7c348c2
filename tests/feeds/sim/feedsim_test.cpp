// odds-feedsim as a process: flags, TCP serving on two lines, the record, stalls by SIGUSR1.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <simdjson.h>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "feeds/mapping.h"
#include "feeds/oddsjson/parser.h"

namespace oddsbus::feeds {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kWaitLimit = 10s;  // only a broken simulator takes this long

std::string binary() {
  const char* dir = std::getenv("ODDSBUS_BIN_DIR");
  return std::string(dir != nullptr ? dir : "tools") + "/odds-feedsim";
}

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/feedsim_test_" +
         std::to_string(::getpid()) + "_" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// A child process whose stderr goes to a file; killed if still running at destruction.
class Process {
 public:
  explicit Process(std::vector<std::string> args) : stderr_path_(temp_path("stderr")) {
    args.insert(args.begin(), binary());
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::unlink(stderr_path_.c_str());
  }
  void signal(int number) { ::kill(pid_, number); }
  // The exit status, or -1 if it did not exit within kWaitLimit.
  int wait() {
    const auto deadline = Clock::now() + kWaitLimit;
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(5ms);
    }
    return -1;
  }
  std::string stderr_text() const { return read_file(stderr_path_); }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string stderr_path_;
};

// A TCP client of one line.
class Client {
 public:
  explicit Client(uint16_t port) {
    const auto deadline = Clock::now() + kWaitLimit;
    while (Clock::now() < deadline) {
      fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(port);
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) return;
      ::close(fd_);
      fd_ = -1;
      std::this_thread::sleep_for(10ms);
    }
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  // Reads what arrives within `window` (or until EOF); returns false on EOF.
  bool read_for(std::chrono::milliseconds window) {
    const auto deadline = Clock::now() + window;
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return true;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[65536];
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return false;
      data_.append(buffer, static_cast<size_t>(n));
    }
  }
  // Reads until EOF; false if it did not come within kWaitLimit.
  bool read_to_end() {
    const auto deadline = Clock::now() + kWaitLimit;
    while (Clock::now() < deadline) {
      if (!read_for(50ms)) return true;
    }
    return false;
  }
  const std::string& data() const { return data_; }
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(data_);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  int fd_ = -1;
  std::string data_;
};

struct Record {
  uint64_t line, seq;
  std::string kind;
  bool image, dup;
};

std::vector<Record> read_record(const std::string& path) {
  std::vector<Record> out;
  simdjson::dom::parser parser;
  std::istringstream in(read_file(path));
  for (std::string text; std::getline(in, text);) {
    simdjson::dom::element doc;
    EXPECT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << text;
    Record record{uint64_t(doc["line"]), uint64_t(doc["seq"]),
                  std::string(std::string_view(doc["kind"])), false, false};
    const auto image_error = doc["image"].get(record.image);
    const auto dup_error = doc["dup"].get(record.dup);
    (void)image_error;
    (void)dup_error;
    uint64_t ns = 0;
    EXPECT_EQ(doc["ns"].get(ns), simdjson::SUCCESS) << text;
    out.push_back(record);
  }
  return out;
}

TEST(FeedSim, ServesTwoByteIdenticalLinesWithIndependentFaultsAndRecordsThem) {
  const uint16_t port0 = free_port();
  const uint16_t port1 = free_port();
  const std::string record_path = temp_path("record.jsonl");
  Process sim({"--format",
               "oddsjson",
               "--listen",
               "tcp://127.0.0.1:" + std::to_string(port0),
               "--listen",
               "tcp://127.0.0.1:" + std::to_string(port1),
               "--markets",
               "5",
               "--rate",
               "2000",
               "--count",
               "400",
               "--seed",
               "7",
               "--drop",
               "0.1",
               "--duplicate",
               "0.05",
               "--wait-for-clients",
               "--record",
               record_path,
               "--epoch-ms",
               "1700000000000"});
  Client line0(port0);
  Client line1(port1);
  ASSERT_TRUE(line0.connected() && line1.connected());
  ASSERT_TRUE(line0.read_to_end());
  ASSERT_TRUE(line1.read_to_end());
  ASSERT_EQ(sim.wait(), 0) << sim.stderr_text();

  // Every line parses; the same pseq carries the same bytes on both lines.
  oddsjson::Parser parser;
  std::map<uint64_t, std::string> by_pseq;
  std::set<uint64_t> seen[2];
  size_t image_lines[2] = {0, 0};
  size_t index = 0;
  for (const Client* client : {&line0, &line1}) {
    for (const std::string& text : client->lines()) {
      Event event;
      ASSERT_TRUE(parser.parse(text, event).has_value()) << text;
      if (!event.has_pseq) {
        ++image_lines[index];
        continue;
      }
      seen[index].insert(event.pseq);
      auto [it, fresh] = by_pseq.emplace(event.pseq, text);
      if (!fresh) {
        ASSERT_EQ(it->second, text) << "pseq " << event.pseq;
      }
    }
    ++index;
  }
  EXPECT_EQ(image_lines[0], 20u);  // 5 markets: a market line and 3 prices each
  EXPECT_EQ(image_lines[1], 20u);
  // Drops differ between the lines, and together they lose almost nothing.
  EXPECT_NE(seen[0], seen[1]);
  const uint64_t last = by_pseq.rbegin()->first;
  EXPECT_GE(last, 400u);
  EXPECT_LT(seen[0].size(), last * 95 / 100);
  EXPECT_GT(by_pseq.size(), last * 97 / 100);

  // The record says exactly what each line sent: per line, its live lines (duplicates included)
  // and its image records.
  const auto records = read_record(record_path);
  for (uint64_t line = 0; line < 2; ++line) {
    std::multiset<uint64_t> recorded;
    size_t image_records = 0;
    for (const Record& r : records) {
      if (r.line != line) continue;
      if (r.image) {
        ++image_records;
      } else {
        recorded.insert(r.seq);
      }
    }
    std::multiset<uint64_t> received;
    for (const std::string& text : (line == 0 ? line0 : line1).lines()) {
      Event event;
      ASSERT_TRUE(parser.parse(text, event).has_value());
      if (event.has_pseq) received.insert(event.pseq);
    }
    EXPECT_EQ(image_records, 20u);
    EXPECT_EQ(recorded, received) << "line " << line;
  }
  ::unlink(record_path.c_str());
}

TEST(FeedSim, StallsAndResumesOnSigusr1) {
  const uint16_t port = free_port();
  Process sim({"--format", "betfair-stream", "--listen", "tcp://127.0.0.1:" + std::to_string(port),
               "--markets", "2", "--rate", "200", "--heartbeat-ms", "20"});
  Client client(port);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.read_for(300ms));
  const size_t before = client.data().size();
  ASSERT_GT(before, 0u);
  EXPECT_NE(client.data().find("\"ct\":\"SUB_IMAGE\""), std::string::npos);
  EXPECT_NE(client.data().find("\r\n"), std::string::npos);

  sim.signal(SIGUSR1);
  ASSERT_TRUE(client.read_for(200ms));  // whatever was in flight
  const size_t stalled_at = client.data().size();
  ASSERT_TRUE(client.read_for(300ms)) << "a stall keeps the socket open";
  EXPECT_EQ(client.data().size(), stalled_at) << "a stalled line sends nothing";

  sim.signal(SIGUSR1);
  ASSERT_TRUE(client.read_for(300ms));
  const std::string after = client.data().substr(stalled_at);
  EXPECT_NE(after.find("\"ct\":\"SUB_IMAGE\""), std::string::npos) << "a fresh image after a stall";
  EXPECT_NE(after.find("\"rc\""), std::string::npos);

  sim.signal(SIGTERM);
  EXPECT_EQ(sim.wait(), 0) << sim.stderr_text();
  EXPECT_NE(sim.stderr_text().find("stalled"), std::string::npos);
}

TEST(FeedSim, WritesAMappingTheEngineCanLoad) {
  const std::string path = temp_path("mapping.toml");
  Process sim({"--format", "uof-xml", "--write-mapping", path, "--markets", "3", "--count", "500",
               "--feed-name", "sr", "--feed-name", "sr2"});
  ASSERT_EQ(sim.wait(), 0) << sim.stderr_text();
  auto mapping = Mapping::load(path);
  ASSERT_TRUE(mapping.has_value()) << mapping.error();
  EXPECT_GE(mapping->markets().size(), 3u);
  EXPECT_NE(mapping->find("sr2", "sr:match:501", "1", ""), nullptr);
  ::unlink(path.c_str());
}

TEST(FeedSim, RejectsBadArgumentsWithOneLine) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--format", "csv", "--listen", "tcp://127.0.0.1:9"},
        std::vector<std::string>{"--format", "oddsjson"},
        std::vector<std::string>{"--format", "oddsjson", "--listen", "127.0.0.1:9"},
        std::vector<std::string>{"--format", "oddsjson", "--listen", "tcp://127.0.0.1:9", "--drop",
                                 "2"},
        std::vector<std::string>{"--format", "oddsjson", "--listen", "tcp://127.0.0.1:9",
                                 "--listen", "tcp://127.0.0.1:10", "--listen",
                                 "tcp://127.0.0.1:11"}}) {
    Process sim(args);
    const int status = sim.wait();
    EXPECT_NE(status, 0);
    EXPECT_NE(status, -1);
    const std::string text = sim.stderr_text();
    EXPECT_TRUE(text.starts_with("odds-feedsim: ")) << text;
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  }
}

}  // namespace
}  // namespace oddsbus::feeds
