// odds-engine ingest of provider captures, run as real binaries (DESIGN section 10): a capture
// ingested with a mapping gives a journal whose `odds-replay state` shows the prices that
// `odds-feed normalize` gives for the file's last events; provider formats without a mapping and
// bad mappings are refused with one line before anything is written.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/tools/run_tool.h"

namespace oddsbus {
namespace {

using testing::lines_of;
using testing::run_tool;
using testing::TempDir;
using testing::ToolResult;

std::string tool(const char* name) { return testing::tool_dir() + "/" + name; }
std::filesystem::path test_data(const std::string& name) {
  return std::filesystem::path(ODDSBUS_SOURCE_DIR) / "tests/data" / name;
}
// ODDSBUS_SHARED_DATA_DIR in the environment overrides the folder beside the repository.
std::filesystem::path shared_data(const std::string& name) {
  const char* dir = std::getenv("ODDSBUS_SHARED_DATA_DIR");
  return std::filesystem::path(dir != nullptr ? dir : ODDSBUS_SHARED_DATA_DIR) / name;
}

using Prices = std::map<std::pair<uint64_t, uint64_t>, uint64_t>;  // (market, selection) -> e4

// The last price_e4 per selection in odds-feed normalize's output, up to the first settle of a
// market (the engine rejects prices for a settled market); statuses likewise. Statuses are only
// comparable while the provider never reported itself down and rolled no settlement back (the
// source selector then suspends feed-stale by its health rules): `statuses_comparable` says so.
void fold_normalized(const std::string& out, Prices& prices,
                     std::map<uint64_t, std::string>& statuses, bool& statuses_comparable) {
  statuses_comparable = true;
  simdjson::dom::parser parser;
  for (const auto& line : lines_of(out)) {
    simdjson::dom::object object;
    ASSERT_EQ(parser.parse(line).get(object), simdjson::SUCCESS) << line;
    std::string_view type;
    uint64_t market = 0, selection = 0, price_e4 = 0;
    std::string_view status;
    ASSERT_EQ(object["type"].get(type), simdjson::SUCCESS) << line;
    if (type == "source_status" || type == "settlement_rollback") statuses_comparable = false;
    if (object["market"].get(market) != simdjson::SUCCESS) continue;  // heartbeat
    if (statuses[market] == "settled") continue;
    if (type == "price") {
      ASSERT_EQ(object["selection"].get(selection), simdjson::SUCCESS) << line;
      ASSERT_EQ(object["price_e4"].get(price_e4), simdjson::SUCCESS) << line;
      prices[{market, selection}] = price_e4;
    } else if (type == "status") {
      ASSERT_EQ(object["status"].get(status), simdjson::SUCCESS) << line;
      statuses[market] = std::string(status);
    } else if (type == "settle") {
      statuses[market] = "settled";
    } else if (type == "settlement_rollback") {
      statuses[market] = "rolled back";
    }
  }
}

// odds-replay state --json: the same shape.
void fold_state(const std::string& out, Prices& prices, std::map<uint64_t, std::string>& statuses) {
  simdjson::dom::parser parser;
  simdjson::dom::object state;
  ASSERT_EQ(parser.parse(out).get(state), simdjson::SUCCESS) << out;
  simdjson::dom::array markets;
  ASSERT_EQ(state["markets"].get(markets), simdjson::SUCCESS);
  for (simdjson::dom::object market : markets) {
    uint64_t id = 0;
    std::string_view status;
    ASSERT_EQ(market["market"].get(id), simdjson::SUCCESS);
    ASSERT_EQ(market["status"].get(status), simdjson::SUCCESS);
    statuses[id] = std::string(status);
    simdjson::dom::array selections;
    ASSERT_EQ(market["selections"].get(selections), simdjson::SUCCESS);
    for (simdjson::dom::object selection : selections) {
      uint64_t sid = 0, price_e4 = 0;
      ASSERT_EQ(selection["selection"].get(sid), simdjson::SUCCESS);
      ASSERT_EQ(selection["price_e4"].get(price_e4), simdjson::SUCCESS);
      prices[{id, sid}] = price_e4;
    }
  }
}

// Ingests `file` and checks the journal's state against odds-feed normalize of the same file.
void expect_ingest_matches_normalize(const std::string& format, const std::string& mapping,
                                     const std::string& feed_name, const std::string& file) {
  TempDir scratch;
  const std::string journal = (scratch.path() / "journal").string();
  std::vector<std::string> ingest = {tool("odds-engine"), "ingest", "--journal", journal,
                                     "--format",          format,   "--mapping", mapping};
  std::vector<std::string> normalize = {tool("odds-feed"), "normalize", "--format", format,
                                        "--mapping",       mapping};
  if (!feed_name.empty()) {
    ingest.insert(ingest.end(), {"--feed-name", feed_name});
    normalize.insert(normalize.end(), {"--feed-name", feed_name});
  }
  ingest.push_back(file);
  normalize.push_back(file);

  const ToolResult ingested = run_tool(ingest, scratch);
  ASSERT_EQ(ingested.exit_code, 0) << ingested.err;
  EXPECT_NE(ingested.out.find("accepted"), std::string::npos) << ingested.out;
  EXPECT_NE(ingested.out.find("unknown market"), std::string::npos) << ingested.out;
  const ToolResult normalized = run_tool(normalize, scratch);
  ASSERT_EQ(normalized.exit_code, 0) << normalized.err;
  const ToolResult state =
      run_tool({tool("odds-replay"), "state", "--journal", journal, "--json"}, scratch);
  ASSERT_EQ(state.exit_code, 0) << state.err;

  Prices want, got;
  std::map<uint64_t, std::string> want_status, got_status;
  bool statuses_comparable = true;
  fold_normalized(normalized.out, want, want_status, statuses_comparable);
  fold_state(state.out, got, got_status);
  ASSERT_FALSE(want.empty());
  for (const auto& [key, price_e4] : want) {
    ASSERT_TRUE(got.contains(key)) << "market " << key.first << " selection " << key.second;
    EXPECT_EQ(got[key], price_e4) << "market " << key.first << " selection " << key.second;
  }
  if (!statuses_comparable) return;
  for (const auto& [market, status] : want_status) {
    EXPECT_EQ(got_status[market], status) << "market " << market;
  }
}

TEST(OddsEngineIngest, RealBetfairCaptureShowsTheNormalizedPrices) {
  const auto capture = shared_data("betfair/1.200806927");
  if (!std::filesystem::exists(capture)) {
    GTEST_SKIP() << "no capture at " << capture << " (set ODDSBUS_SHARED_DATA_DIR)";
  }
  expect_ingest_matches_normalize(
      "betfair-stream", test_data("betfair/captures_mapping.toml").string(), "", capture.string());
}

TEST(OddsEngineIngest, BetfairCrlfSampleShowsTheNormalizedPrices) {
  expect_ingest_matches_normalize("betfair-stream",
                                  test_data("betfair/sample_mapping.toml").string(), "bf",
                                  test_data("betfair/sample_stream.crlf").string());
}

TEST(OddsEngineIngest, UofSampleShowsTheNormalizedPrices) {
  expect_ingest_matches_normalize("uof-xml", test_data("uof/mapping.toml").string(), "sr",
                                  test_data("uof/sample_feed.txt").string());
}

TEST(OddsEngineIngest, RefusesBetfairWithoutAMappingBeforeWritingAnything) {
  TempDir scratch;
  const std::string journal = (scratch.path() / "journal").string();
  const std::string feed = scratch.file("feed.txt", "{\"op\":\"heartbeat\",\"id\":1}\r\n");
  const ToolResult result = run_tool(
      {tool("odds-engine"), "ingest", "--journal", journal, "--format", "betfair-stream", feed},
      scratch);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_EQ(lines_of(result.err).size(), 1u) << result.err;
  EXPECT_NE(result.err.find("--mapping"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(journal)) << "no journal for unusable options";
}

TEST(OddsEngineIngest, RefusesABadMappingBeforeWritingAnything) {
  TempDir scratch;
  const std::string journal = (scratch.path() / "journal").string();
  const std::string mapping = scratch.file("bad.toml", "[[market]]\nid = 0\n");
  const std::string feed = scratch.file("feed.txt", "{\"op\":\"heartbeat\",\"id\":1}\n");
  const ToolResult result = run_tool({tool("odds-engine"), "ingest", "--journal", journal,
                                      "--format", "betfair-stream", "--mapping", mapping, feed},
                                     scratch);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_EQ(lines_of(result.err).size(), 1u) << result.err;
  EXPECT_NE(result.err.find("bad.toml"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(journal)) << "no journal for a bad mapping";
}

TEST(OddsEngineIngest, HelpNamesTheFormatsAndTheMapping) {
  TempDir scratch;
  const ToolResult result = run_tool({tool("odds-engine"), "ingest", "--help"}, scratch);
  EXPECT_EQ(result.exit_code, 0);
  for (const char* word : {"betfair-stream", "uof-xml", "--mapping", "--feed-name"}) {
    EXPECT_NE(result.out.find(word), std::string::npos) << word << "\n" << result.out;
  }
}

}  // namespace
}  // namespace oddsbus
