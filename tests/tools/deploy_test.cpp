// The deployment examples in tools/deploy/ (issue 15): the configs of a primary/secondary pair
// pass `odds-engine check-config` and the edge's is read by odds-edge; every systemd unit passes
// `systemd-analyze verify` with no complaint (its binaries pointed at the built ones), or, where
// systemd-analyze is absent, a parse of its sections and keys; and each unit's config is a file
// of tools/deploy/.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/tools/run_tool.h"

namespace oddsbus::testing {
namespace {

const std::filesystem::path kDeploy = std::filesystem::path(ODDSBUS_SOURCE_DIR) / "tools/deploy";
const std::string kMapping = std::string(ODDSBUS_SOURCE_DIR) + "/tests/data/uof/mapping.toml";

std::vector<std::filesystem::path> deploy_files(const std::string& extension) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(kDeploy)) {
    if (entry.path().extension() == extension) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The unit with /usr/local/bin/odds-* pointed at the built binaries and /etc/oddsbus/ at
// tools/deploy/.
std::string localised(const std::string& unit) {
  std::string text = std::regex_replace(unit, std::regex("/usr/local/bin/"), tool_dir() + "/");
  return std::regex_replace(text, std::regex("/etc/oddsbus/"), kDeploy.string() + "/");
}

TEST(Deploy, TheEngineConfigsPassCheckConfigAndTheEdgeConfigIsRead) {
  TempDir scratch;
  size_t engines = 0, edges = 0;
  for (const auto& config : deploy_files(".toml")) {
    const std::string name = config.filename().string();
    if (name.rfind("engine-", 0) == 0) {
      // The mapping the config names lives in /etc/oddsbus on a host; here, a test mapping.
      const ToolResult checked = run_tool(
          {tool_dir() + "/odds-engine", "check-config", config.string(), "--mapping", kMapping},
          scratch);
      EXPECT_EQ(checked.exit_code, 0) << name << ": " << checked.err;
      EXPECT_NE(checked.out.find("config OK"), std::string::npos) << name;
      ++engines;
    } else {
      const ToolResult read = run_tool(
          {tool_dir() + "/odds-edge", "--config", config.string(), "--print-config"}, scratch);
      EXPECT_EQ(read.exit_code, 0) << name << ": " << read.err;
      ++edges;
    }
  }
  EXPECT_EQ(engines, 2u) << "a primary and a secondary";
  EXPECT_EQ(edges, 1u);
}

TEST(Deploy, EverySystemdUnitVerifies) {
  TempDir scratch;
  const auto units = deploy_files(".service");
  ASSERT_EQ(units.size(), 3u);
  const bool have_systemd = ::access("/usr/bin/systemd-analyze", X_OK) == 0;
  for (const auto& unit : units) {
    const std::string text = read_text(unit);
    // Parse: sections and Key=Value lines only; the ones a service needs are there.
    std::set<std::string> sections, keys;
    std::string section;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.empty() || line[0] == '#') continue;
      if (line.front() == '[') {
        ASSERT_EQ(line.back(), ']') << unit << ": " << line;
        section = line.substr(1, line.size() - 2);
        sections.insert(section);
        continue;
      }
      const size_t eq = line.find('=');
      ASSERT_NE(eq, std::string::npos) << unit << ": not Key=Value: " << line;
      ASSERT_FALSE(section.empty()) << unit << ": a key before any section";
      keys.insert(section + "." + line.substr(0, eq));
    }
    EXPECT_EQ(sections, (std::set<std::string>{"Unit", "Service", "Install"})) << unit;
    for (const char* key : {"Unit.Description", "Service.ExecStart", "Service.User",
                            "Service.Restart", "Install.WantedBy"}) {
      EXPECT_TRUE(keys.contains(key)) << unit << " has no " << key;
    }
    // Its config is one of tools/deploy/.
    std::smatch config;
    ASSERT_TRUE(
        std::regex_search(text, config, std::regex("--config /etc/oddsbus/([a-z-]+\\.toml)")))
        << unit;
    EXPECT_TRUE(std::filesystem::exists(kDeploy / config[1].str())) << config[1];

    if (!have_systemd) continue;
    const std::filesystem::path copy = scratch.path() / unit.filename();
    std::ofstream(copy) << localised(text);
    const ToolResult verified =
        run_tool({"/usr/bin/systemd-analyze", "verify", copy.string()}, scratch);
    EXPECT_EQ(verified.exit_code, 0) << unit << ": " << verified.err;
    EXPECT_EQ(verified.err, "") << unit << ": systemd-analyze verify complained";
  }
}

}  // namespace
}  // namespace oddsbus::testing
