// odds-desk run as a real binary (from ODDSBUS_BIN_DIR) against desk services started in this
// process (DeskNode: sequencer, journal, agent and desk service on threads): its stdout JSON, its
// one-line reasons on stderr, its exit status, and that the node applied what it says.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <vector>

#include "tests/engine/desk_test_support.h"
#include "tests/tools/run_tool.h"

namespace oddsbus {
namespace {

using engine::testing_support::DeskNode;
using engine::testing_support::journaled_frames;
using testing::lines_of;
using testing::run_tool;
using testing::TempDir;
using testing::ToolResult;

ToolResult odds_desk(const std::vector<std::string>& args) {
  TempDir scratch;
  std::vector<std::string> argv = {testing::tool_dir() + "/odds-desk"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_tool(argv, scratch, std::chrono::seconds(30));
}

struct Printed {
  std::string request;
  uint64_t seq = 0;
  uint64_t epoch = 0;
  std::string rejected;
  std::string detail;
};

// The one stdout line, read back through a JSON parser.
Printed printed(const ToolResult& result) {
  Printed p;
  const auto lines = lines_of(result.out);
  EXPECT_EQ(lines.size(), 1u) << result.out;
  if (lines.size() != 1) return p;
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  EXPECT_EQ(parser.parse(lines[0]).get(object), simdjson::SUCCESS) << lines[0];
  std::string_view text;
  if (!object["request"].get(text)) p.request = text;
  if (!object["rejected"].get(text)) p.rejected = text;
  if (!object["detail"].get(text)) p.detail = text;
  if (object["seq"].get(p.seq)) p.seq = 0;
  if (object["epoch"].get(p.epoch)) p.epoch = 0;
  return p;
}

TEST(OddsDesk, SetPricePrintsTheSeqAndEpochOfTheJournaledFrame) {
  DeskNode node;
  const auto result = odds_desk({"--desk", node.endpoint(), "--client", "cli", "--request-id", "p1",
                                 "set-price", "1001", "1", "+150"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const Printed p = printed(result);
  EXPECT_EQ(p.request, "p1");
  EXPECT_EQ(p.epoch, 1u);
  const auto frames = journaled_frames(node.journal(), p.seq);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].type, fb::Payload::PriceUpdate);
  EXPECT_EQ(frames[0].price_e4, 25000u);
  EXPECT_EQ(frames[0].source, "desk");
}

TEST(OddsDesk, SuspendThenReleaseHandsTheMarketBack) {
  DeskNode node;
  const auto suspended =
      odds_desk({"--desk", node.endpoint(), "suspend", "1001", "--for", "60000"});
  ASSERT_EQ(suspended.exit_code, 0) << suspended.err;
  const auto released = odds_desk({"--desk", node.endpoint(), "release", "1001"});
  ASSERT_EQ(released.exit_code, 0) << released.err;
  const Printed p = printed(released);
  EXPECT_GT(p.seq, printed(suspended).seq);
  const auto frames = journaled_frames(node.journal(), p.seq);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].type, fb::Payload::MarketStatusUpdate);
  EXPECT_EQ(frames[0].status, fb::MarketStatus::Open);
  const auto again = odds_desk({"--desk", node.endpoint(), "release", "1001"});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_EQ(printed(again).rejected, "not-overridden");
}

TEST(OddsDesk, ARejectionExitsTwoWithItsReason) {
  DeskNode node;
  const auto result = odds_desk({"--desk", node.endpoint(), "settle", "4242", "1"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(printed(result).rejected, "unknown-market");
  ASSERT_EQ(lines_of(result.err).size(), 1u) << result.err;
  EXPECT_NE(result.err.find("unknown-market"), std::string::npos) << result.err;
}

TEST(OddsDesk, ARetryWithTheSameRequestIdIsAppliedOnce) {
  DeskNode node;
  const std::vector<std::string> args = {
      "--desk", node.endpoint(), "--client", "cli", "--request-id",
      "same",   "set-price",     "1001",     "2",   "7/2"};
  const auto first = odds_desk(args);
  const auto second = odds_desk(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(first.out, second.out);
  size_t desk_prices = 0;
  for (const auto& f : journaled_frames(node.journal())) desk_prices += f.source == "desk";
  EXPECT_EQ(desk_prices, 1u);
}

TEST(OddsDesk, NamesThePrimaryAndFollowsItWhenAsked) {
  DeskNode primary;
  DeskNode secondary;
  secondary.service().set_not_primary(primary.endpoint());
  const auto refused = odds_desk({"--desk", secondary.endpoint(), "suspend", "1001"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_EQ(printed(refused).rejected, "not-primary");
  EXPECT_NE(refused.err.find(primary.endpoint()), std::string::npos) << refused.err;

  const auto followed =
      odds_desk({"--desk", secondary.endpoint(), "--follow-primary", "suspend", "1001"});
  ASSERT_EQ(followed.exit_code, 0) << followed.err;
  const auto frames = journaled_frames(primary.journal(), printed(followed).seq);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].status, fb::MarketStatus::Suspended);
  EXPECT_EQ(frames[0].reason, fb::StatusReason::Trader);
}

TEST(OddsDesk, BadArgumentsAndSilenceFailWithOneLine) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"set-price", "1001", "1", "2.5"},
        std::vector<std::string>{"--desk", "tcp://127.0.0.1:1", "set-price", "1001", "1", "0.9"},
        std::vector<std::string>{"--desk", "tcp://127.0.0.1:1", "fly", "1001"},
        std::vector<std::string>{"--desk", "tcp://127.0.0.1:1", "settle", "x"}}) {
    const auto result = odds_desk(args);
    EXPECT_NE(result.exit_code, 0) << args.back();
    EXPECT_EQ(lines_of(result.err).size(), 1u) << result.err;
    EXPECT_TRUE(result.out.empty()) << result.out;
  }
  const auto silent = odds_desk(
      {"--desk", "tcp://127.0.0.1:1", "--timeout-ms", "100", "--attempts", "1", "suspend", "7"});
  EXPECT_EQ(silent.exit_code, 3);
  EXPECT_NE(silent.err.find("no reply"), std::string::npos) << silent.err;
  EXPECT_EQ(odds_desk({"--help"}).exit_code, 0);
}

}  // namespace
}  // namespace oddsbus
