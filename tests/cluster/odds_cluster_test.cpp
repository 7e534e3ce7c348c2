// odds-cluster run, the real binary with real children: it starts the demo topology, serves each
// edge's live page while it runs, stops every child cleanly at --for's end or on SIGINT, and under
// --chaos loses and duplicates nothing at its WebSocket clients.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tools/cluster/child_process.h"
#include "tools/cluster/readiness.h"

namespace oddsbus::cluster {
namespace {

using namespace std::chrono_literals;

std::string bin_dir() {
  const char* dir = std::getenv("ODDSBUS_BIN_DIR");
  return dir != nullptr ? dir : "tools";
}

std::filesystem::path fresh_dir() {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) /
      ("odds_cluster_" + std::to_string(::getpid()) + "_" +
       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Every match of `pattern`'s first group in `text`.
std::vector<std::string> all_of(const std::string& text, const std::string& pattern) {
  std::vector<std::string> out;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1].str());
  }
  return out;
}

// Whether a process `pid` exists and is not a zombie.
bool alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

class OddsClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fresh_dir(); }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<ChildProcess> start(std::vector<std::string> args) {
    std::vector<std::string> argv{bin_dir() + "/odds-cluster", "run", "--dir",
                                  (dir_ / "run").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto p = std::make_unique<ChildProcess>(argv, dir_ / "odds-cluster.log");
    EXPECT_TRUE(p->start());
    return p;
  }

  // Waits for the banner; the live pages' ports and the children's pids it lists.
  bool wait_for_banner(ChildProcess& p, std::vector<uint16_t>& pages, std::vector<pid_t>& pids) {
    if (!wait_until(
            [&] { return p.log().find("Things to try") != std::string::npos || !p.running(); },
            120s)) {
      return false;
    }
    const std::string log = p.log();
    for (const std::string& port : all_of(log, R"(live page http://127\.0\.0\.1:(\d+)/)")) {
      pages.push_back(static_cast<uint16_t>(std::stoi(port)));
    }
    for (const std::string& pid : all_of(log, R"(  pid (\d+)  )")) pids.push_back(std::stoi(pid));
    return !pages.empty();
  }

  std::filesystem::path dir_;
};

TEST_F(OddsClusterTest, ServesTheLivePagesWhileItRunsThenStopsEveryChildCleanly) {
  auto cluster = start({"--for", "8"});
  std::vector<uint16_t> pages;
  std::vector<pid_t> pids;
  ASSERT_TRUE(wait_for_banner(*cluster, pages, pids)) << cluster->log();
  EXPECT_EQ(pages.size(), 2u) << cluster->log();
  EXPECT_EQ(pids.size(), 6u) << cluster->log();  // two feeds, two engines, two edges
  for (uint16_t port : pages) {
    const HttpReply page = http_get(port, "/", 5s);
    EXPECT_EQ(page.status, 200u) << port;
    EXPECT_NE(page.body.find("<html"), std::string::npos) << page.body.substr(0, 200);
    EXPECT_EQ(http_get(port, "/healthz", 5s).status, 200u) << port;
  }
  const std::string log_before = cluster->log();
  EXPECT_NE(log_before.find("odds-desk --desk tcp://127.0.0.1:"), std::string::npos);
  EXPECT_NE(log_before.find("odds-replay verify --journal"), std::string::npos);

  ASSERT_EQ(cluster->wait_for(120s), 0) << cluster->log();
  const std::string log = cluster->log();
  EXPECT_NE(log.find("all processes stopped cleanly"), std::string::npos) << log;
  EXPECT_NE(log.find("journals: " + (dir_ / "run" / "node1").string()), std::string::npos) << log;
  for (pid_t pid : pids) EXPECT_FALSE(alive(pid)) << "pid " << pid << " outlived odds-cluster";
  EXPECT_TRUE(std::filesystem::exists(dir_ / "run" / "node1"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "run" / "edge1.log"));
}

TEST_F(OddsClusterTest, SigintStopsEverythingCleanly) {
  auto cluster = start({});
  std::vector<uint16_t> pages;
  std::vector<pid_t> pids;
  ASSERT_TRUE(wait_for_banner(*cluster, pages, pids)) << cluster->log();
  ASSERT_TRUE(cluster->signal(SIGINT));
  ASSERT_EQ(cluster->wait_for(60s), 0) << cluster->log();
  EXPECT_NE(cluster->log().find("all processes stopped cleanly"), std::string::npos)
      << cluster->log();
  for (pid_t pid : pids) EXPECT_FALSE(alive(pid)) << "pid " << pid << " outlived odds-cluster";
}

TEST_F(OddsClusterTest, ChaosLosesAndDuplicatesNothing) {
  auto cluster = start({"--chaos", "--for", "20", "--seed", "3"});
  ASSERT_TRUE(cluster->wait_for(180s).has_value()) << cluster->log();
  const std::string log = cluster->log();
  EXPECT_EQ(cluster->exit_code(), 0) << log;
  EXPECT_NE(log.find("result: nothing lost, nothing duplicated"), std::string::npos) << log;
  EXPECT_NE(log.find("chaos: kill -9"), std::string::npos) << log;
  EXPECT_NE(log.find("chaos status page: http://127.0.0.1:"), std::string::npos) << log;
}

}  // namespace
}  // namespace oddsbus::cluster
