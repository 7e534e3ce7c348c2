#include "schemas/state_json.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <string_view>

#include "tests/schemas/frame_script.h"

namespace oddsbus {
namespace {

using testing_support::FrameScript;

std::string quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

// The state of DESIGN section 10's example after a few lines.
MarketState example_state() {
  MarketState state;
  FrameScript script(state);
  script.define(1001, 501, "Match Odds", {{1, "Home"}, {2, "Draw"}, {3, "Away"}});
  script.price(1001, 1, "2.50");
  script.price(1001, 3, "+150");
  script.define(1002, 502, "Total Goals", {{1, "Over"}});
  script.status(1002, fb::MarketStatus::Suspended);
  return state;
}

TEST(StateJson, HasTheShapeOfTheContract) {
  const MarketState state = example_state();
  std::string json;
  append_state_json(json, state);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(uint64_t(doc["seq"]), 5u);
  simdjson::dom::array markets = doc["markets"];
  ASSERT_EQ(markets.size(), 2u);

  simdjson::dom::element m = markets.at(0);
  EXPECT_EQ(uint64_t(m["market"]), 1001u);
  EXPECT_EQ(uint64_t(m["event"]), 501u);
  EXPECT_EQ(std::string_view(m["name"]), "Match Odds");
  EXPECT_EQ(std::string_view(m["status"]), "open");
  simdjson::dom::array selections = m["selections"];
  ASSERT_EQ(selections.size(), 3u);
  simdjson::dom::element home = selections.at(0);
  EXPECT_EQ(uint64_t(home["selection"]), 1u);
  EXPECT_EQ(std::string_view(home["name"]), "Home");
  EXPECT_EQ(uint64_t(home["price_e4"]), 25000u);
  EXPECT_EQ(std::string_view(home["odds"]), "2.50");

  simdjson::dom::element draw = selections.at(1);  // never priced
  EXPECT_EQ(uint64_t(draw["selection"]), 2u);
  EXPECT_EQ(uint64_t(draw["price_e4"]), 0u);
  EXPECT_EQ(std::string_view(draw["odds"]), "");

  simdjson::dom::element away = selections.at(2);
  EXPECT_EQ(uint64_t(away["price_e4"]), 25000u);
  EXPECT_EQ(std::string_view(away["odds"]), "+150") << "odds keep their original text";

  simdjson::dom::element goals = markets.at(1);
  EXPECT_EQ(uint64_t(goals["market"]), 1002u);
  EXPECT_EQ(std::string_view(goals["status"]), "suspended");
}

TEST(StateJson, EmptyStateHasNoMarkets) {
  std::string json;
  append_state_json(json, MarketState{});
  EXPECT_EQ(json, R"({"seq": 0, "markets": []})");
}

TEST(StateJson, OnlyMarketSelectsOne) {
  const MarketState state = example_state();
  std::string json;
  append_state_json(json, state, 1002);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  simdjson::dom::array markets = doc["markets"];
  ASSERT_EQ(markets.size(), 1u);
  EXPECT_EQ(uint64_t(markets.at(0)["market"]), 1002u);

  json.clear();
  append_state_json(json, state, 4242);
  EXPECT_EQ(json, R"({"seq": 5, "markets": []})");
}

TEST(StateJson, AppendsToWhatIsThere) {
  std::string out = "prefix ";
  append_state_json(out, MarketState{});
  EXPECT_EQ(out, R"(prefix {"seq": 0, "markets": []})");
}

TEST(StateJson, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(quoted("plain"), R"("plain")");
  EXPECT_EQ(quoted(R"(say "hi")"), R"("say \"hi\"")");
  EXPECT_EQ(quoted(R"(a\b)"), R"("a\\b")");
  EXPECT_EQ(quoted("a\nb\rc\td"), R"("a\nb\rc\td")");
  EXPECT_EQ(quoted(std::string_view("\x01\x1f\0", 3)), R"("\u0001\u001f\u0000")");
  EXPECT_EQ(quoted("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"") << "UTF-8 passes";
  EXPECT_EQ(quoted(""), R"("")");
}

TEST(StateJson, NamesWithAwkwardCharactersRoundTrip) {
  const std::string market_name = "Quote \" back \\ nl \n tab \t bell \x07 end";
  const std::string selection_name = "\"Home\"\r\n";
  MarketState state;
  FrameScript script(state);
  script.define(7, 8, market_name, {{1, selection_name}});
  std::string json;
  append_state_json(json, state);
  EXPECT_EQ(json.find('\n'), std::string::npos) << "one line: " << json;
  EXPECT_EQ(json.find('\x07'), std::string::npos);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  simdjson::dom::element market = doc["markets"].at(0);
  EXPECT_EQ(std::string_view(market["name"]), market_name);
  EXPECT_EQ(std::string_view(market["selections"].at(0)["name"]), selection_name);
}

TEST(StateJson, MarketJsonIsOneMarketObject) {
  const MarketState state = example_state();
  std::string json;
  append_market_json(json, *state.find(1002));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(uint64_t(doc["market"]), 1002u);
  EXPECT_EQ(uint64_t(doc["event"]), 502u);
  EXPECT_EQ(std::string_view(doc["status"]), "suspended");
  EXPECT_EQ(simdjson::dom::array(doc["selections"]).size(), 1u);
}

TEST(StateJson, TableShowsEveryMarketAndUnpricedSelectionsAsDash) {
  const MarketState state = example_state();
  std::string table;
  append_state_table(table, state);
  EXPECT_NE(table.find("state at seq 5 (2 markets)"), std::string::npos) << table;
  EXPECT_NE(table.find("Match Odds"), std::string::npos);
  EXPECT_NE(table.find("Total Goals"), std::string::npos);
  EXPECT_NE(table.find("suspended(trader)"), std::string::npos) << table;
  EXPECT_NE(table.find("+150"), std::string::npos);
  // Draw has no price: its row ends in "0 -".
  const size_t draw = table.find("Draw");
  ASSERT_NE(draw, std::string::npos);
  const std::string row = table.substr(draw, table.find('\n', draw) - draw);
  EXPECT_NE(row.find(" 0 -"), std::string::npos) << row;

  std::string only;
  append_state_table(only, state, 1001);
  EXPECT_EQ(only.find("Total Goals"), std::string::npos) << only;
}

}  // namespace
}  // namespace oddsbus
