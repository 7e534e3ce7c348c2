#include "feeds/oddsjson/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace oddsbus::feeds::oddsjson {
namespace {

class OddsjsonParser : public ::testing::Test {
 protected:
  Event parse_ok(std::string_view line) {
    Event event;
    auto result = parser_.parse(line, event);
    EXPECT_TRUE(result.has_value())
        << line << " -> " << to_string(result.error().reason) << ": " << result.error().detail;
    return event;
  }

  Rejection parse_rejected(std::string_view line) {
    Event event;
    auto result = parser_.parse(line, event);
    EXPECT_FALSE(result.has_value()) << line;
    if (result.has_value()) return Rejection{RejectReason::kCount, ""};
    return result.error();
  }

  RejectReason reason_for(std::string_view line) { return parse_rejected(line).reason; }

  Parser parser_;
};

TEST_F(OddsjsonParser, ParsesTheMarketLineOfTheExample) {
  const Event e = parse_ok(
      R"({"type":"market","market":1001,"event":501,"name":"Match Odds","status":"open",)"
      R"("selections":[{"id":1,"name":"Home"},{"id":2,"name":"Draw"},{"id":3,"name":"Away"}]})");
  EXPECT_EQ(e.type, EventType::kMarket);
  EXPECT_EQ(e.market, 1001u);
  EXPECT_EQ(e.event, 501u);
  EXPECT_EQ(e.name, "Match Odds");
  EXPECT_EQ(e.status, fb::MarketStatus::Open);
  ASSERT_EQ(e.selections.size(), 3u);
  EXPECT_EQ(e.selections[0].id, 1u);
  EXPECT_EQ(e.selections[0].name, "Home");
  EXPECT_EQ(e.selections[1].id, 2u);
  EXPECT_EQ(e.selections[1].name, "Draw");
  EXPECT_EQ(e.selections[2].id, 3u);
  EXPECT_EQ(e.selections[2].name, "Away");
  EXPECT_FALSE(e.has_pseq);
  EXPECT_EQ(e.source_ns, 0u);
}

TEST_F(OddsjsonParser, ParsesThePriceLinesOfTheExampleInEveryOddsFormat) {
  Event e = parse_ok(R"({"type":"price","market":1001,"selection":1,"odds":"2.50"})");
  EXPECT_EQ(e.type, EventType::kPrice);
  EXPECT_EQ(e.market, 1001u);
  EXPECT_EQ(e.selection, 1u);
  EXPECT_EQ(e.odds.price_e4, 25000u);
  EXPECT_EQ(e.odds.format, fb::OddsFormat::Decimal);
  EXPECT_EQ(e.odds_text, "2.50");

  e = parse_ok(R"({"type":"price","market":1001,"selection":2,"odds":"5/2"})");
  EXPECT_EQ(e.selection, 2u);
  EXPECT_EQ(e.odds.price_e4, 35000u);
  EXPECT_EQ(e.odds.format, fb::OddsFormat::Fractional);
  EXPECT_EQ(e.odds_text, "5/2");

  e = parse_ok(R"({"type":"price","market":1001,"selection":3,"odds":"+150"})");
  EXPECT_EQ(e.selection, 3u);
  EXPECT_EQ(e.odds.price_e4, 25000u);
  EXPECT_EQ(e.odds.format, fb::OddsFormat::American);
  EXPECT_EQ(e.odds_text, "+150");
}

TEST_F(OddsjsonParser, ParsesTheStatusLineOfTheExample) {
  const Event e =
      parse_ok(R"({"type":"status","market":1001,"status":"suspended","reason":"trader"})");
  EXPECT_EQ(e.type, EventType::kStatus);
  EXPECT_EQ(e.market, 1001u);
  EXPECT_EQ(e.status, fb::MarketStatus::Suspended);
  EXPECT_EQ(e.reason, fb::StatusReason::Trader);
}

TEST_F(OddsjsonParser, ParsesTheSettleLineOfTheExample) {
  const Event e = parse_ok(R"({"type":"settle","market":1001,"winners":[1]})");
  EXPECT_EQ(e.type, EventType::kSettle);
  EXPECT_EQ(e.market, 1001u);
  EXPECT_EQ(e.winners, (std::vector<uint64_t>{1}));
}

TEST_F(OddsjsonParser, ParsesTheHeartbeatLineOfTheExample) {
  const Event e = parse_ok(R"({"type":"heartbeat"})");
  EXPECT_EQ(e.type, EventType::kHeartbeat);
}

TEST_F(OddsjsonParser, TreatsAMarketLineWithoutStatusAsOpen) {
  const Event e = parse_ok(R"({"type":"market","market":7,"event":8,"name":"M","selections":[]})");
  EXPECT_EQ(e.status, fb::MarketStatus::Open);
  EXPECT_TRUE(e.selections.empty());
}

TEST_F(OddsjsonParser, AcceptsEveryStatusWord) {
  EXPECT_EQ(parse_ok(R"({"type":"status","market":1,"status":"open"})").status,
            fb::MarketStatus::Open);
  EXPECT_EQ(parse_ok(R"({"type":"status","market":1,"status":"suspended"})").status,
            fb::MarketStatus::Suspended);
  EXPECT_EQ(parse_ok(R"({"type":"status","market":1,"status":"closed"})").status,
            fb::MarketStatus::Closed);
  EXPECT_EQ(parse_ok(R"({"type":"status","market":1,"status":"settled"})").status,
            fb::MarketStatus::Settled);
  EXPECT_EQ(parse_ok(R"({"type":"market","market":1,"event":2,"name":"n","status":"closed",)"
                     R"("selections":[]})")
                .status,
            fb::MarketStatus::Closed);
}

TEST_F(OddsjsonParser, MapsStatusReasons) {
  EXPECT_EQ(parse_ok(R"({"type":"status","market":1,"status":"open"})").reason,
            fb::StatusReason::None);
  EXPECT_EQ(parse_ok(R"({"type":"status","market":1,"status":"open","reason":"trader"})").reason,
            fb::StatusReason::Trader);
  EXPECT_EQ(parse_ok(R"({"type":"status","market":1,"status":"open","reason":"provider"})").reason,
            fb::StatusReason::Provider);
  EXPECT_EQ(
      parse_ok(R"({"type":"status","market":1,"status":"open","reason":"feed-stale"})").reason,
      fb::StatusReason::FeedStale);
  EXPECT_EQ(reason_for(R"({"type":"status","market":1,"status":"open","reason":"weather"})"),
            RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"status","market":1,"status":"open","reason":3})"),
            RejectReason::kBadFieldType);
}

TEST_F(OddsjsonParser, SortsSelectionsAndWinnersById) {
  const Event market =
      parse_ok(R"({"type":"market","market":1,"event":2,"name":"n",)"
               R"("selections":[{"id":30,"name":"c"},{"id":10,"name":"a"},{"id":20,"name":"b"}]})");
  ASSERT_EQ(market.selections.size(), 3u);
  EXPECT_EQ(market.selections[0].id, 10u);
  EXPECT_EQ(market.selections[0].name, "a");
  EXPECT_EQ(market.selections[1].id, 20u);
  EXPECT_EQ(market.selections[2].id, 30u);
  EXPECT_EQ(market.selections[2].name, "c");

  const Event settle = parse_ok(R"({"type":"settle","market":1,"winners":[9,3,5,3]})");
  EXPECT_EQ(settle.winners, (std::vector<uint64_t>{3, 5, 9}));
}

TEST_F(OddsjsonParser, RejectsARepeatedSelectionId) {
  const Rejection r = parse_rejected(R"({"type":"market","market":1,"event":2,"name":"n",)"
                                     R"("selections":[{"id":1,"name":"a"},{"id":1,"name":"b"}]})");
  EXPECT_EQ(r.reason, RejectReason::kBadFieldType);
  EXPECT_NE(r.detail.find("selections"), std::string::npos);
}

TEST_F(OddsjsonParser, ReadsOptionalProvenanceFields) {
  const Event e =
      parse_ok(R"({"type":"price","market":1,"selection":2,"odds":"2.5","provider":"bf","pseq":77,)"
               R"("ts":1700000000123})");
  EXPECT_EQ(e.provider, "bf");
  EXPECT_TRUE(e.has_pseq);
  EXPECT_EQ(e.pseq, 77u);
  EXPECT_EQ(e.source_ns, 1700000000123ull * 1'000'000ull);

  const Event zero = parse_ok(R"({"type":"heartbeat","pseq":0})");
  EXPECT_TRUE(zero.has_pseq);
  EXPECT_EQ(zero.pseq, 0u);
}

TEST_F(OddsjsonParser, RejectsAProviderTimestampWhoseNanosecondsOverflow) {
  EXPECT_TRUE(parse_ok(R"({"type":"heartbeat","ts":18446744073709})").source_ns != 0);
  const Rejection r = parse_rejected(R"({"type":"heartbeat","ts":18446744073710})");
  EXPECT_EQ(r.reason, RejectReason::kBadFieldType);
  EXPECT_NE(r.detail.find("ts"), std::string::npos);
}

TEST_F(OddsjsonParser, RejectsIllTypedOptionalFields) {
  EXPECT_EQ(reason_for(R"({"type":"heartbeat","provider":5})"), RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"heartbeat","pseq":"5"})"), RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"heartbeat","pseq":-5})"), RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"heartbeat","ts":1.5})"), RejectReason::kBadFieldType);
}

TEST_F(OddsjsonParser, OverwritesEveryFieldOfAReusedEvent) {
  Event e;
  ASSERT_TRUE(parser_.parse(R"({"type":"market","market":1,"event":2,"name":"n","status":"closed",)"
                            R"("selections":[{"id":1,"name":"a"}],"provider":"x","pseq":4,"ts":5})",
                            e));
  e.source = "feed";
  ASSERT_TRUE(parser_.parse(R"({"type":"settle","market":3,"winners":[2]})", e));
  EXPECT_EQ(e.type, EventType::kSettle);
  EXPECT_EQ(e.market, 3u);
  EXPECT_EQ(e.event, 0u);
  EXPECT_TRUE(e.name.empty());
  EXPECT_EQ(e.status, fb::MarketStatus::Open);
  EXPECT_TRUE(e.selections.empty());
  EXPECT_TRUE(e.provider.empty());
  EXPECT_FALSE(e.has_pseq);
  EXPECT_EQ(e.pseq, 0u);
  EXPECT_EQ(e.source_ns, 0u);
  EXPECT_TRUE(e.source.empty());
  ASSERT_TRUE(parser_.parse(R"({"type":"heartbeat"})", e));
  EXPECT_EQ(e.market, 0u);
  EXPECT_TRUE(e.winners.empty());
}

TEST_F(OddsjsonParser, IgnoresUnknownFields) {
  const Event e =
      parse_ok(R"({"extra":{"nested":[1,2,{"x":null}]},"type":"price","market":1,"selection":2,)"
               R"("odds":"2.5","note":"hi","n":-1.5e3,"b":true})");
  EXPECT_EQ(e.odds.price_e4, 25000u);
  EXPECT_EQ(parse_ok(R"({"type":"market","market":1,"event":2,"name":"n","selections":[{"id":1,)"
                     R"("name":"a","colour":"red"}]})")
                .selections.size(),
            1u);
}

TEST_F(OddsjsonParser, AcceptsFieldsInAnyOrderAndSurroundingWhitespace) {
  const Event e =
      parse_ok(R"(  { "odds" : "evens" , "selection":2, "market":1, "type":"price" }  )");
  EXPECT_EQ(e.odds.price_e4, 20000u);
  EXPECT_EQ(e.market, 1u);
  EXPECT_EQ(e.selection, 2u);
}

TEST_F(OddsjsonParser, AcceptsAStrayTrailingCarriageReturn) {
  const Event e = parse_ok("{\"type\":\"price\",\"market\":1,\"selection\":2,\"odds\":\"2.5\"}\r");
  EXPECT_EQ(e.odds.price_e4, 25000u);
}

TEST_F(OddsjsonParser, AcceptsTheLargestU64IdAndRejectsOneMore) {
  const Event e =
      parse_ok(R"({"type":"price","market":18446744073709551615,"selection":1,"odds":"2"})");
  EXPECT_EQ(e.market, 18446744073709551615ull);
  const Rejection r =
      parse_rejected(R"({"type":"price","market":18446744073709551616,"selection":1,"odds":"2"})");
  EXPECT_EQ(r.reason, RejectReason::kBadFieldType);
  EXPECT_NE(r.detail.find("market"), std::string::npos);
}

TEST_F(OddsjsonParser, RejectsIdsThatAreNotUnsignedIntegers) {
  EXPECT_EQ(reason_for(R"({"type":"price","market":-1,"selection":1,"odds":"2"})"),
            RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"price","market":1.0,"selection":1,"odds":"2"})"),
            RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"price","market":1e3,"selection":1,"odds":"2"})"),
            RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"price","market":"1001","selection":1,"odds":"2"})"),
            RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"price","market":1,"selection":null,"odds":"2"})"),
            RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"settle","market":1,"winners":[1,"2"]})"),
            RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"settle","market":1,"winners":[-2]})"),
            RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"market","market":1,"event":2,"name":"n",)"
                       R"("selections":[{"id":"1","name":"a"}]})"),
            RejectReason::kBadFieldType);
}

TEST_F(OddsjsonParser, RejectsOtherIllTypedFields) {
  const Rejection odds = parse_rejected(R"({"type":"price","market":1,"selection":1,"odds":2.5})");
  EXPECT_EQ(odds.reason, RejectReason::kBadFieldType);
  EXPECT_NE(odds.detail.find("odds"), std::string::npos);
  EXPECT_EQ(reason_for(R"({"type":5})"), RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"market","market":1,"event":2,"name":7,"selections":[]})"),
            RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"market","market":1,"event":2,"name":"n","selections":{}})"),
            RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"market","market":1,"event":2,"name":"n","selections":[1]})"),
            RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"market","market":1,"event":2,"name":"n",)"
                       R"("selections":[{"id":1,"name":false}]})"),
            RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"settle","market":1,"winners":1})"), RejectReason::kBadFieldType);
  EXPECT_EQ(reason_for(R"({"type":"status","market":1,"status":1})"), RejectReason::kBadFieldType);
}

TEST_F(OddsjsonParser, RejectsBadOddsAndKeepsTheirText) {
  Event e;
  auto result = parser_.parse(R"({"type":"price","market":1,"selection":1,"odds":"1.0"})", e);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().reason, RejectReason::kBadOdds);
  EXPECT_EQ(e.odds_text, "1.0");
  EXPECT_NE(result.error().detail.find("1.0"), std::string::npos);
  EXPECT_EQ(reason_for(R"({"type":"price","market":1,"selection":1,"odds":"abc"})"),
            RejectReason::kBadOdds);
  EXPECT_EQ(reason_for(R"({"type":"price","market":1,"selection":1,"odds":"5/0"})"),
            RejectReason::kBadOdds);
  EXPECT_EQ(reason_for(R"({"type":"price","market":1,"selection":1,"odds":""})"),
            RejectReason::kBadOdds);
  EXPECT_EQ(reason_for(R"({"type":"price","market":1,"selection":1,"odds":"10001"})"),
            RejectReason::kBadOdds);
}

TEST_F(OddsjsonParser, RejectsAnUnknownStatusWord) {
  EXPECT_EQ(reason_for(R"({"type":"status","market":1,"status":"paused"})"),
            RejectReason::kBadStatus);
  EXPECT_EQ(reason_for(R"({"type":"status","market":1,"status":"OPEN"})"),
            RejectReason::kBadStatus);
  EXPECT_EQ(reason_for(R"({"type":"market","market":1,"event":2,"name":"n","status":"live",)"
                       R"("selections":[]})"),
            RejectReason::kBadStatus);
}

TEST_F(OddsjsonParser, RejectsMissingRequiredFieldsNamingThem) {
  struct Case {
    std::string_view line;
    std::string_view field;
  };
  const Case cases[] = {
      {R"({"market":1})", "type"},
      {R"({"type":"price","selection":1,"odds":"2"})", "market"},
      {R"({"type":"price","market":1,"odds":"2"})", "selection"},
      {R"({"type":"price","market":1,"selection":1})", "odds"},
      {R"({"type":"market","event":2,"name":"n","selections":[]})", "market"},
      {R"({"type":"market","market":1,"name":"n","selections":[]})", "event"},
      {R"({"type":"market","market":1,"event":2,"selections":[]})", "name"},
      {R"({"type":"market","market":1,"event":2,"name":"n"})", "selections"},
      {R"({"type":"market","market":1,"event":2,"name":"n","selections":[{"name":"a"}]})",
       "selections[].id"},
      {R"({"type":"market","market":1,"event":2,"name":"n","selections":[{"id":1}]})",
       "selections[].name"},
      {R"({"type":"status","status":"open"})", "market"},
      {R"({"type":"status","market":1})", "status"},
      {R"({"type":"settle","winners":[1]})", "market"},
      {R"({"type":"settle","market":1})", "winners"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.line));
    const Rejection r = parse_rejected(c.line);
    EXPECT_EQ(r.reason, RejectReason::kMissingField);
    EXPECT_EQ(r.detail, c.field);
  }
}

TEST_F(OddsjsonParser, RejectsAnUnknownType) {
  const Rejection r = parse_rejected(R"({"type":"goal","market":1})");
  EXPECT_EQ(r.reason, RejectReason::kUnknownType);
  EXPECT_NE(r.detail.find("goal"), std::string::npos);
  EXPECT_EQ(reason_for(R"({"type":"Price","market":1,"selection":1,"odds":"2"})"),
            RejectReason::kUnknownType);
}

TEST_F(OddsjsonParser, RejectsAnythingThatIsNotOneJsonObject) {
  for (std::string_view line :
       {"", "   ", "not json", "[1,2]", "\"price\"", "42", "null", R"({"type":"heartbeat")",
        R"({"type":"heartbeat",})", R"({"type":"heartbeat"} {"type":"heartbeat"})",
        R"({"type":"heartbeat"} x)", R"({"type" "heartbeat"})", R"({type:"heartbeat"})",
        R"({"type":"heart)", "{\"type\":\"heartbeat\",\"x\":\"\xff\"}"}) {
    SCOPED_TRACE(std::string(line));
    EXPECT_EQ(reason_for(line), RejectReason::kMalformedJson);
  }
}

TEST_F(OddsjsonParser, ParsesLinesLongerThanAnySeenBefore) {
  std::string name(5000, 'x');
  const Event e = parse_ok(R"({"type":"market","market":1,"event":2,"name":")" + name +
                           R"(","selections":[{"id":1,"name":"a"}]})");
  EXPECT_EQ(e.name, name);
  EXPECT_EQ(parse_ok(R"({"type":"heartbeat"})").type, EventType::kHeartbeat);
}

TEST_F(OddsjsonParser, UnescapesStrings) {
  const Event e = parse_ok(
      R"({"type":"market","market":1,"event":2,"name":"Caf\u00e9 \"A\"","selections":[]})");
  EXPECT_EQ(e.name, "Caf\xc3\xa9 \"A\"");
}

}  // namespace
}  // namespace oddsbus::feeds::oddsjson
