// odds-feed normalize, run as a real binary (DESIGN section 10): its JSON lines on stdout, its
// summary line on stderr, and its exit status.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/tools/run_tool.h"

namespace oddsbus {
namespace {

using testing::lines_of;
using testing::run_tool;
using testing::TempDir;
using testing::ToolResult;

std::string odds_feed() { return testing::tool_dir() + "/odds-feed"; }

std::filesystem::path source_dir() { return ODDSBUS_SOURCE_DIR; }
std::filesystem::path shared_data_dir() { return ODDSBUS_SHARED_DATA_DIR; }

ToolResult normalize(const TempDir& scratch, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {odds_feed(), "normalize"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_tool(argv, scratch);
}

// The summary is the last line on stderr.
std::string summary_of(const ToolResult& result) {
  const auto lines = lines_of(result.err);
  return lines.empty() ? std::string() : lines.back();
}

// One stdout line, read back through a JSON parser; absent fields keep these defaults.
struct PrintedEvent {
  std::string type = "<absent>";
  uint64_t market = UINT64_MAX;
  uint64_t event = UINT64_MAX;
  uint64_t selection = UINT64_MAX;
  uint64_t price_e4 = UINT64_MAX;
  uint64_t source_ns = UINT64_MAX;
  std::string odds = "<absent>";
  std::string status = "<absent>";
  std::string reason = "<absent>";
  std::string source = "<absent>";
  std::vector<uint64_t> winners;
};

// Every stdout line as an event (a line that is not a JSON object fails the test).
std::vector<PrintedEvent> events_of(const std::string& out) {
  simdjson::dom::parser parser;
  std::vector<PrintedEvent> events;
  for (const auto& line : lines_of(out)) {
    simdjson::dom::object object;
    const auto error = parser.parse(line).get(object);
    EXPECT_EQ(error, simdjson::SUCCESS) << line;
    if (error) continue;
    PrintedEvent e;
    auto get_text = [&](const char* key, std::string& to) {
      std::string_view value;
      if (object[key].get(value) == simdjson::SUCCESS) to = value;
    };
    auto get_number = [&](const char* key, uint64_t& to) {
      uint64_t value = 0;
      if (object[key].get(value) == simdjson::SUCCESS) to = value;
    };
    get_text("type", e.type);
    get_number("market", e.market);
    get_number("event", e.event);
    get_number("selection", e.selection);
    get_number("price_e4", e.price_e4);
    get_number("source_ns", e.source_ns);
    get_text("odds", e.odds);
    get_text("status", e.status);
    get_text("reason", e.reason);
    get_text("source", e.source);
    simdjson::dom::array winners;
    if (object["winners"].get(winners) == simdjson::SUCCESS) {
      for (auto w : winners) {
        uint64_t id = 0;
        EXPECT_EQ(w.get(id), simdjson::SUCCESS) << line;
        e.winners.push_back(id);
      }
    }
    events.push_back(std::move(e));
  }
  return events;
}

TEST(OddsFeedNormalize, PrintsOddsJsonEventsAndCountsABadLine) {
  TempDir scratch;
  const std::string input =
      "{\"type\":\"market\",\"market\":1001,\"event\":501,\"name\":\"Match Odds\","
      "\"selections\":[{\"id\":1,\"name\":\"Home\"},{\"id\":2,\"name\":\"Draw\"},"
      "{\"id\":3,\"name\":\"Away\"}]}\r\n"
      "{\"type\":\"price\",\"market\":1001,\"selection\":1,\"odds\":\"2.50\",\"ts\":1700000000000}"
      "\r\n"
      "{\"type\":\"price\",\"market\":1001,\"selection\":2,\"odds\":\"5/2\"\n"  // unterminated
      "{\"type\":\"price\",\"market\":1001,\"selection\":3,\"odds\":\"-110\"}\n"
      "\n"
      "{\"type\":\"status\",\"market\":1001,\"status\":\"suspended\",\"reason\":\"trader\"}\n"
      "{\"type\":\"settle\",\"market\":1001,\"winners\":[3,1,3]}\n"
      "{\"type\":\"heartbeat\"}";  // no final terminator: still a message
  const auto file = scratch.file("feed.jsonl", input);

  const auto result = normalize(scratch, {"--format", "oddsjson", file});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(summary_of(result).find("messages 7, events 6, rejected 1 (malformed_json 1)"),
            std::string::npos)
      << result.err;
  // The rejection is logged with its line number.
  EXPECT_NE(result.err.find("feed.jsonl:3: rejected malformed_json"), std::string::npos)
      << result.err;

  const auto events = events_of(result.out);
  ASSERT_EQ(events.size(), 6u) << result.out;

  EXPECT_EQ(events[0].type, "market");
  EXPECT_EQ(events[0].market, 1001u);
  EXPECT_EQ(events[0].event, 501u);
  EXPECT_EQ(events[0].status, "open");

  EXPECT_EQ(events[1].type, "price");
  EXPECT_EQ(events[1].selection, 1u);
  EXPECT_EQ(events[1].price_e4, 25000u);
  EXPECT_EQ(events[1].odds, "2.50");
  EXPECT_EQ(events[1].source_ns, 1700000000000000000u);

  EXPECT_EQ(events[2].type, "price");
  EXPECT_EQ(events[2].selection, 3u);
  EXPECT_EQ(events[2].price_e4, 19091u);
  EXPECT_EQ(events[2].odds, "-110");

  EXPECT_EQ(events[3].type, "status");
  EXPECT_EQ(events[3].status, "suspended");
  EXPECT_EQ(events[3].reason, "trader");

  EXPECT_EQ(events[4].type, "settle");
  EXPECT_EQ(events[4].winners, (std::vector<uint64_t>{1, 3}));

  EXPECT_EQ(events[5].type, "heartbeat");
}

TEST(OddsFeedNormalize, ReadsTheRealBetfairCaptureWithoutRejections) {
  const auto capture = shared_data_dir() / "betfair" / "1.200806927";
  if (!std::filesystem::exists(capture)) GTEST_SKIP() << "no capture at " << capture;
  TempDir scratch;
  const auto mapping = source_dir() / "tests" / "data" / "betfair" / "captures_mapping.toml";

  // The mapping names one feed ("bf"), so --feed-name may be left out.
  const auto result = normalize(
      scratch, {"--format", "betfair-stream", "--mapping", mapping.string(), capture.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string summary = summary_of(result);
  EXPECT_NE(summary.find("messages 18529, "), std::string::npos) << summary;
  EXPECT_NE(summary.find("rejected 0, unknown markets 0, unknown selections 0"), std::string::npos)
      << summary;

  const auto events = events_of(result.out);
  ASSERT_FALSE(events.empty());
  std::string last_status;
  size_t prices = 0;
  for (const auto& e : events) {
    EXPECT_EQ(e.source, "bf");
    if (e.type == "price") {
      ++prices;
      EXPECT_EQ(e.market, 200806927u);
      EXPECT_GT(e.price_e4, 10000u);
    }
    if (e.type == "status") last_status = e.status;
  }
  EXPECT_GT(prices, 100u);
  EXPECT_EQ(last_status, "closed");
  EXPECT_EQ(events.back().type, "settle");
}

TEST(OddsFeedNormalize, CountsUnknownBetfairIdsAndNamesThem) {
  TempDir scratch;
  const auto dir = source_dir() / "tests" / "data" / "betfair";
  const auto result = normalize(
      scratch, {"--format", "betfair-stream", "--mapping", (dir / "sample_mapping.toml").string(),
                "--feed-name", "bf", (dir / "sample_stream.crlf").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string summary = summary_of(result);
  EXPECT_NE(summary.find("unknown markets 1, unknown selections 1"), std::string::npos) << summary;
  EXPECT_NE(summary.find("1.999999999"), std::string::npos) << summary;
  EXPECT_NE(summary.find("1099"), std::string::npos) << summary;
}

TEST(OddsFeedNormalize, NeedsAFeedNameWhenTheMappingHasSeveral) {
  TempDir scratch;
  const auto dir = source_dir() / "tests" / "data" / "uof";
  const auto mapping = (dir / "mapping.toml").string();
  const auto feed = (dir / "sample_feed.txt").string();

  const auto ambiguous = normalize(scratch, {"--format", "uof-xml", "--mapping", mapping, feed});
  EXPECT_EQ(ambiguous.exit_code, 1);
  EXPECT_EQ(lines_of(ambiguous.err).size(), 1u) << ambiguous.err;
  EXPECT_NE(ambiguous.err.find("--feed-name"), std::string::npos) << ambiguous.err;
  EXPECT_TRUE(ambiguous.out.empty());

  const auto chosen =
      normalize(scratch, {"--format", "uof-xml", "--mapping", mapping, "--feed-name", "sr", feed});
  ASSERT_EQ(chosen.exit_code, 0) << chosen.err;
  EXPECT_NE(chosen.out.find("\"source\":\"sr\""), std::string::npos);
  EXPECT_EQ(chosen.out.find("\"market\":1005"), std::string::npos) << "sr2's market leaked";
}

TEST(OddsFeedNormalize, RejectsBadArgumentsWithOneLine) {
  TempDir scratch;
  const auto feed = scratch.file("feed.jsonl", "{\"type\":\"heartbeat\"}\n");
  const auto bad_mapping = scratch.file("bad.toml", "[[market]]\nid = \"not a number\"\n");
  const std::vector<std::vector<std::string>> cases = {
      {},                                                              // no format, no file
      {"--format", "oddsjson"},                                        // no file
      {"--format", "fix-4.4", feed},                                   // unknown format
      {"--format", "oddsjson", "--bogus", feed},                       // unknown flag
      {"--format", "oddsjson", (scratch.path() / "absent").string()},  // unreadable file
      {"--format", "betfair-stream", feed},                            // no mapping
      {"--format", "betfair-stream", "--mapping", (scratch.path() / "absent.toml").string(),
       feed},                                                   // unreadable mapping
      {"--format", "uof-xml", "--mapping", bad_mapping, feed},  // invalid mapping
  };
  for (const auto& args : cases) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    const auto result = normalize(scratch, args);
    EXPECT_NE(result.exit_code, 0) << joined;
    EXPECT_GT(result.exit_code, 0) << joined << "(timed out or crashed)";
    EXPECT_LT(result.exit_code, 128) << joined << "(crashed)";
    EXPECT_EQ(lines_of(result.err).size(), 1u) << joined << ":\n" << result.err;
    EXPECT_EQ(result.err.rfind("odds-feed: ", 0), 0u) << result.err;
    EXPECT_TRUE(result.out.empty()) << joined;
  }
}

TEST(OddsFeedNormalize, HelpExplainsTheOutput) {
  TempDir scratch;
  const auto result = normalize(scratch, {"--help"});
  EXPECT_EQ(result.exit_code, 0);
  for (const char* word : {"--format", "--mapping", "--feed-name", "price_e4", "Exit status"}) {
    EXPECT_NE(result.out.find(word), std::string::npos) << word;
  }
}

}  // namespace
}  // namespace oddsbus
