// Config files (issue 15): `odds-engine run --config FILE` and `odds-edge --config FILE` take
// every flag as a TOML key; the flags override the file; an unknown key is refused by name; and
// `odds-engine check-config FILE` checks a config and its mapping without starting anything.
// --print-config shows the merged settings, so a file and the flags can be compared exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/tools/run_tool.h"

namespace oddsbus::testing {
namespace {

const std::string kMapping = std::string(ODDSBUS_SOURCE_DIR) + "/tests/data/uof/mapping.toml";

std::vector<std::string> engine(std::vector<std::string> args) {
  args.insert(args.begin(), tool_dir() + "/odds-engine");
  return args;
}

std::vector<std::string> edge(std::vector<std::string> args) {
  args.insert(args.begin(), tool_dir() + "/odds-edge");
  return args;
}

// The same settings as flags and as a file: strings, numbers, a repeated flag, a boolean flag.
const std::vector<std::string> kEngineFlags = {"run",
                                               "--journal",
                                               "/var/lib/oddsbus/journal",
                                               "--node",
                                               "2",
                                               "--pub",
                                               "tcp://*:7001",
                                               "--feed",
                                               "a=oddsjson@tcp://10.0.0.1:9001",
                                               "--feed",
                                               "b=oddsjson@tcp://10.0.0.2:9001,tcp://10.0.0.3:9001",
                                               "--stale-after-ms",
                                               "2500",
                                               "--suspend-on-disagreement",
                                               "--role",
                                               "secondary",
                                               "--peer-pub",
                                               "tcp://n1:7001",
                                               "--peer-recovery",
                                               "tcp://n1:7002",
                                               "--recovery",
                                               "tcp://*:7002",
                                               "--http",
                                               "0.0.0.0:9100",
                                               "--log-format",
                                               "json"};

const char* kEngineFile = R"(# a secondary
journal = "/var/lib/oddsbus/journal"
node = 2
pub = "tcp://*:7001"
feed = [
  "a=oddsjson@tcp://10.0.0.1:9001",
  "b=oddsjson@tcp://10.0.0.2:9001,tcp://10.0.0.3:9001",
]
stale-after-ms = 2500
suspend-on-disagreement = true
role = "secondary"
peer-pub = "tcp://n1:7001"
peer-recovery = "tcp://n1:7002"
recovery = "tcp://*:7002"
http = "0.0.0.0:9100"
log-format = "json"
)";

TEST(OddsEngineConfig, AConfigFileEqualsTheSameFlags) {
  TempDir scratch;
  std::vector<std::string> flags = kEngineFlags;
  flags.push_back("--print-config");
  const ToolResult from_flags = run_tool(engine(flags), scratch);
  ASSERT_EQ(from_flags.exit_code, 0) << from_flags.err;
  const std::string file = scratch.file("engine.toml", kEngineFile);
  const ToolResult from_file =
      run_tool(engine({"run", "--config", file, "--print-config"}), scratch);
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_EQ(from_file.out, from_flags.out);
  EXPECT_NE(from_file.out.find("stale-after-ms=2500"), std::string::npos) << from_file.out;
  EXPECT_NE(from_file.out.find("suspend-on-disagreement=true"), std::string::npos);

  // What --print-config prints is itself a config file that says the same.
  const std::string printed = scratch.file("printed.toml", from_file.out);
  const ToolResult again =
      run_tool(engine({"run", "--config", printed, "--print-config"}), scratch);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, from_file.out);
}

TEST(OddsEngineConfig, AFlagOverridesTheFile) {
  TempDir scratch;
  const std::string file = scratch.file("engine.toml", kEngineFile);
  const ToolResult result = run_tool(
      engine({"run", "--config", file, "--node", "7", "--stale-after-ms", "900", "--print-config"}),
      scratch);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("\nnode=7\n"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("stale-after-ms=900"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("role=\"secondary\""), std::string::npos) << "the rest from the file";
}

TEST(OddsEngineConfig, AnUnknownKeyIsRefusedByName) {
  TempDir scratch;
  const std::string file =
      scratch.file("engine.toml", std::string(kEngineFile) + "stale-after = 5\n");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"run", "--config", file}, {"check-config", file}}) {
    const ToolResult result = run_tool(engine(args), scratch);
    EXPECT_NE(result.exit_code, 0) << args[0];
    EXPECT_NE(result.err.find("unknown key 'stale-after'"), std::string::npos) << result.err;
  }
  EXPECT_FALSE(std::filesystem::exists("/var/lib/oddsbus/journal")) << "nothing was started";
}

TEST(OddsEngineConfig, CheckConfigChecksTheSettingsAndTheMappingWithoutStarting) {
  TempDir scratch;
  const std::string journal = (scratch.path() / "journal").string();
  const std::string good = scratch.file(
      "good.toml", "journal = \"" + journal + "\"\nnode = 1\npub = \"tcp://127.0.0.1:1\"\n" +
                       "feed = [\"u=uof-xml@tcp://127.0.0.1:2\"]\nmapping = \"" + kMapping +
                       "\"\n");
  const ToolResult ok = run_tool(engine({"check-config", good}), scratch);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("config OK"), std::string::npos) << ok.out;
  EXPECT_FALSE(std::filesystem::exists(journal)) << "check-config opened the journal";

  // A mapping that does not load; a setting a start would refuse; a required one missing.
  const std::string bad_mapping = scratch.file("bad_mapping.toml", "[[market]]\nid = \"x\"\n");
  const ToolResult mapping =
      run_tool(engine({"check-config", good, "--mapping", bad_mapping}), scratch);
  EXPECT_NE(mapping.exit_code, 0) << mapping.out;
  EXPECT_NE(mapping.err.find("bad_mapping.toml"), std::string::npos) << mapping.err;
  const std::string half_peer = scratch.file(
      "peer.toml", "journal = \"" + journal + "\"\nnode = 1\npub = \"tcp://127.0.0.1:1\"\n" +
                       "peer-pub = \"tcp://127.0.0.1:3\"\n");
  const ToolResult peer = run_tool(engine({"check-config", half_peer}), scratch);
  EXPECT_NE(peer.exit_code, 0);
  EXPECT_NE(peer.err.find("--peer-pub and --peer-recovery go together"), std::string::npos)
      << peer.err;
  const std::string no_pub =
      scratch.file("no_pub.toml", "journal = \"" + journal + "\"\nnode = 1\n");
  const ToolResult missing = run_tool(engine({"check-config", no_pub}), scratch);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("--pub"), std::string::npos) << missing.err;
}

TEST(OddsEdgeConfig, AConfigFileEqualsTheFlagsAndRefusesAnUnknownKey) {
  TempDir scratch;
  const ToolResult from_flags = run_tool(
      edge({"--sub", "tcp://n1:7001,tcp://n2:7001", "--recovery", "tcp://n1:7002,tcp://n2:7002",
            "--http", "0.0.0.0:8080", "--max-lag", "50", "--log-level", "warn", "--print-config"}),
      scratch);
  ASSERT_EQ(from_flags.exit_code, 0) << from_flags.err;
  const std::string file = scratch.file(
      "edge.toml",
      "sub = [\"tcp://n1:7001\", \"tcp://n2:7001\"]\nrecovery = [\"tcp://n1:7002\", "
      "\"tcp://n2:7002\"]\nhttp = \"0.0.0.0:8080\"\nmax-lag = 50\nlog-level = \"warn\"\n");
  const ToolResult from_file = run_tool(edge({"--config", file, "--print-config"}), scratch);
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_EQ(from_file.out, from_flags.out);

  const ToolResult overridden =
      run_tool(edge({"--config", file, "--max-lag", "7", "--print-config"}), scratch);
  EXPECT_NE(overridden.out.find("max-lag=7"), std::string::npos) << overridden.out;

  const std::string bad = scratch.file("bad.toml", "http = \"0.0.0.0:8080\"\nmax_lagg = 3\n");
  const ToolResult refused = run_tool(edge({"--config", bad}), scratch);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("unknown key 'max_lagg'"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace oddsbus::testing
