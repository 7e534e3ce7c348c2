#include "feeds/sim/writer.h"

#include <gtest/gtest.h>

#include <simdjson.h>
#include <cmath>
#include <map>
#include <pugixml.hpp>
#include <set>
#include <string>
#include <vector>

#include "feeds/oddsjson/parser.h"
#include "feeds/sim/feed_stream.h"
#include "feeds/sim/tick_ladder.h"
#include "schemas/odds.h"

namespace oddsbus::feeds::sim {
namespace {

constexpr uint64_t kEpochMs = 1'700'000'000'000;

// The image at sim time 0, then the live stream for `seconds` of sim time.
std::vector<SimMessage> messages(Format format, uint64_t seconds, uint32_t markets = 3) {
  FeedStreamConfig config;
  config.format = format;
  config.provider = "oj";
  config.epoch_ms = kEpochMs;
  config.sim = {.seed = 17, .markets = markets, .rate = 50, .settle_after = 20};
  config.heartbeat_ns = 100'000'000;
  FeedStream stream(config);
  std::vector<SimMessage> out;
  stream.image(0, out);
  stream.advance(seconds * 1'000'000'000, out);
  return out;
}

// Heartbeats only come when idle: a slow stream has them.
std::vector<SimMessage> slow_messages(Format format) {
  FeedStreamConfig config;
  config.format = format;
  config.epoch_ms = kEpochMs;
  config.sim = {.seed = 17, .markets = 2, .rate = 2};
  config.heartbeat_ns = 200'000'000;
  FeedStream stream(config);
  std::vector<SimMessage> out;
  stream.advance(3'000'000'000, out);
  return out;
}

size_t count_kind(const std::vector<SimMessage>& all, SimFact::Kind kind) {
  size_t n = 0;
  for (const SimMessage& m : all) {
    for (const SimFact& f : m.facts) n += f.kind == kind ? 1 : 0;
  }
  return n;
}

TEST(OddsJsonWriter, EveryLineParsesAndSaysWhatTheFactsSay) {
  const auto all = messages(Format::kOddsJson, 20);
  ASSERT_GT(count_kind(all, SimFact::Kind::kSettle), 3u);
  ASSERT_GT(count_kind(all, SimFact::Kind::kStatus), 3u);
  oddsjson::Parser parser;
  uint64_t last_pseq = 0;
  for (const SimMessage& message : all) {
    ASSERT_TRUE(message.bytes.ends_with("\n"));
    ASSERT_FALSE(message.bytes.ends_with("\r\n"));
    const std::string_view line(message.bytes.data(), message.bytes.size() - 1);
    ASSERT_EQ(line.find('\n'), std::string_view::npos);
    Event event;
    const auto parsed = parser.parse(line, event);
    ASSERT_TRUE(parsed.has_value()) << line << ": " << parsed.error().detail;
    EXPECT_EQ(event.provider, "oj");
    EXPECT_GE(event.source_ns, kEpochMs * 1'000'000);
    if (message.image) {
      EXPECT_FALSE(event.has_pseq) << line;
    } else {
      ASSERT_TRUE(event.has_pseq) << line;
      EXPECT_EQ(event.pseq, message.seq);
      EXPECT_EQ(event.pseq, last_pseq + 1);
      last_pseq = event.pseq;
    }
    ASSERT_EQ(message.facts.size(), 1u) << line;
    const SimFact& fact = message.facts[0];
    switch (fact.kind) {
      case SimFact::Kind::kMarket:
        EXPECT_EQ(event.type, EventType::kMarket);
        EXPECT_EQ(event.market, fact.market);
        EXPECT_EQ(event.event, fact.event);
        EXPECT_EQ(event.selections.size(), kSelections);
        break;
      case SimFact::Kind::kPrice:
        EXPECT_EQ(event.type, EventType::kPrice);
        EXPECT_EQ(event.market, fact.market);
        EXPECT_EQ(event.selection, fact.selection);
        EXPECT_EQ(event.odds.price_e4, fact.price_e4);
        EXPECT_EQ(event.odds_text, decimal_text(fact.price_e4));
        break;
      case SimFact::Kind::kStatus:
        EXPECT_EQ(event.type, EventType::kStatus);
        EXPECT_EQ(event.status, fact.status == SimStatus::kOpen ? fb::MarketStatus::Open
                                                                : fb::MarketStatus::Suspended);
        break;
      case SimFact::Kind::kSettle:
        EXPECT_EQ(event.type, EventType::kSettle);
        EXPECT_EQ(event.winners, std::vector<uint64_t>{fact.winner});
        break;
      case SimFact::Kind::kHeartbeat:
        EXPECT_EQ(event.type, EventType::kHeartbeat);
        break;
    }
  }
}

TEST(OddsJsonWriter, WritesTheContractsExactLines) {
  const auto all = messages(Format::kOddsJson, 1, 1);
  ASSERT_GE(all.size(), 4u);
  EXPECT_TRUE(all[0].bytes.starts_with(
      R"({"type":"market","market":1001,"event":501,"name":"Match Odds","status":"open",)"
      R"("selections":[{"id":1,"name":"Home"},{"id":2,"name":"Draw"},{"id":3,"name":"Away"}],)"
      R"("provider":"oj","ts":1700000000000})"))
      << all[0].bytes;
  EXPECT_TRUE(all[1].bytes.starts_with(R"({"type":"price","market":1001,"selection":1,"odds":")"));
  const auto slow = slow_messages(Format::kOddsJson);
  ASSERT_FALSE(slow.empty());
  EXPECT_EQ(slow[0].bytes, R"({"type":"heartbeat","provider":"oj","pseq":1,"ts":1700000000200})"
                           "\n");
}

TEST(BetfairWriter, EveryMessageIsAnMcmOnTheLadderEndingInCrlf) {
  const auto all = messages(Format::kBetfairStream, 20);
  simdjson::dom::parser parser;
  std::set<std::string> seen_markets;
  size_t winners = 0;
  for (const SimMessage& message : all) {
    ASSERT_TRUE(message.bytes.ends_with("\r\n")) << message.bytes;
    const std::string body = message.bytes.substr(0, message.bytes.size() - 2);
    ASSERT_EQ(body.find_first_of("\r\n"), std::string::npos);
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(body).get(doc), simdjson::SUCCESS) << body;
    EXPECT_EQ(std::string_view(doc["op"]), "mcm");
    EXPECT_EQ(std::string(std::string_view(doc["clk"])),
              std::to_string(message.image ? 0 : message.seq));
    EXPECT_GE(uint64_t(doc["pt"]), kEpochMs);
    if (message.image) {
      EXPECT_EQ(std::string_view(doc["ct"]), "SUB_IMAGE");
    }
    simdjson::dom::array changes;
    if (doc["mc"].get(changes) != simdjson::SUCCESS) {
      EXPECT_EQ(std::string_view(doc["ct"]), "HEARTBEAT") << body;
      continue;
    }
    for (simdjson::dom::element change : changes) {
      const std::string id{std::string_view(change["id"])};
      ASSERT_TRUE(id.starts_with("1.10")) << id;
      bool img = false;
      const auto img_error = change["img"].get(img);
      (void)img_error;
      if (!seen_markets.contains(id)) {
        EXPECT_TRUE(img) << "first appearance of " << id << " is an image";
        seen_markets.insert(id);
      }
      simdjson::dom::object definition;
      if (change["marketDefinition"].get(definition) == simdjson::SUCCESS) {
        const std::string_view status(definition["status"]);
        EXPECT_TRUE(status == "OPEN" || status == "SUSPENDED" || status == "CLOSED") << status;
        for (simdjson::dom::element runner : definition["runners"].get_array()) {
          const int64_t runner_id(runner["id"]);
          EXPECT_TRUE(runner_id >= 101 && runner_id <= 103);
          const std::string_view runner_status(runner["status"]);
          if (status == "CLOSED") {
            EXPECT_TRUE(runner_status == "WINNER" || runner_status == "LOSER");
            winners += runner_status == "WINNER" ? 1 : 0;
          } else {
            EXPECT_EQ(runner_status, "ACTIVE");
          }
        }
      }
      simdjson::dom::array runners;
      if (change["rc"].get(runners) != simdjson::SUCCESS) continue;
      for (simdjson::dom::element runner : runners) {
        simdjson::dom::array level = runner["batb"].at(0).get_array();
        ASSERT_EQ(level.size(), 3u);
        EXPECT_EQ(int64_t(level.at(0)), 0);
        const double price = level.at(1);
        const auto price_e4 = static_cast<uint32_t>(std::llround(price * 10'000));
        EXPECT_TRUE(on_ladder(price_e4)) << price;
        // The exact text is in the message (no float formatting on the way out).
        EXPECT_NE(body.find("[0," + decimal_text(price_e4) + ","), std::string::npos) << body;
        EXPECT_GT(double(level.at(2)), 0.0);
        EXPECT_EQ(double(runner["ltp"]), price);
      }
    }
  }
  EXPECT_EQ(winners, count_kind(all, SimFact::Kind::kSettle));
  EXPECT_GT(winners, 3u);
}

TEST(BetfairWriter, HeartbeatsHaveTheStreamApiShape) {
  const auto slow = slow_messages(Format::kBetfairStream);
  ASSERT_FALSE(slow.empty());
  EXPECT_EQ(slow[0].bytes, R"({"op":"mcm","clk":"1","pt":1700000000200,"ct":"HEARTBEAT"})"
                           "\r\n");
}

TEST(BetfairWriter, SplitsALargeImageIntoSeveralMessages) {
  const auto all = messages(Format::kBetfairStream, 0, 120);
  size_t images = 0;
  size_t markets = 0;
  for (const SimMessage& m : all) {
    images += m.image ? 1 : 0;
    for (const SimFact& f : m.facts) markets += f.kind == SimFact::Kind::kMarket ? 1 : 0;
  }
  EXPECT_EQ(images, 3u);
  EXPECT_EQ(markets, 120u);
}

TEST(UofWriter, EveryLineIsOneXmlDocumentOfAKnownKind) {
  const auto all = messages(Format::kUofXml, 20);
  std::map<std::string, size_t> kinds;
  for (const SimMessage& message : all) {
    ASSERT_TRUE(message.bytes.ends_with("\n"));
    const std::string body = message.bytes.substr(0, message.bytes.size() - 1);
    ASSERT_EQ(body.find_first_of("\r\n"), std::string::npos);
    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_string(body.c_str())) << body;
    const pugi::xml_node root = doc.document_element();
    const std::string kind = root.name();
    ++kinds[kind];
    EXPECT_STREQ(root.attribute("product").value(), "1");
    EXPECT_GE(root.attribute("timestamp").as_ullong(), kEpochMs);
    if (kind == "alive") {
      EXPECT_STREQ(root.attribute("subscribed").value(), "1");
      continue;
    }
    const std::string event = root.attribute("event_id").value();
    ASSERT_TRUE(event.starts_with("sr:match:5")) << event;
    if (kind == "odds_change") {
      const pugi::xml_node market = root.child("odds").child("market");
      EXPECT_STREQ(market.attribute("id").value(), "1");
      const std::string status = market.attribute("status").value();
      EXPECT_TRUE(status == "1" || status == "-1") << status;
      size_t outcomes = 0;
      for (pugi::xml_node outcome : market.children("outcome")) {
        ++outcomes;
        const auto odds = parse_decimal_odds(outcome.attribute("odds").value());
        ASSERT_TRUE(odds.has_value());
        EXPECT_TRUE(on_ladder(odds->price_e4));
        EXPECT_STREQ(outcome.attribute("active").value(), "1");
      }
      EXPECT_EQ(outcomes, kSelections);
    } else if (kind == "bet_settlement") {
      size_t won = 0;
      for (pugi::xml_node outcome : root.child("outcomes").child("market").children("outcome")) {
        won += outcome.attribute("result").as_int();
      }
      EXPECT_EQ(won, 1u);
    } else {
      EXPECT_EQ(kind, "bet_stop");
    }
  }
  EXPECT_GT(kinds["odds_change"], 100u);
  EXPECT_GT(kinds["bet_stop"], 3u);
  EXPECT_EQ(kinds["bet_settlement"], count_kind(all, SimFact::Kind::kSettle));
  EXPECT_GT(kinds["bet_settlement"], 3u);
  // Alives at least every second even while busy (rate 50/s leaves no idle gap).
  EXPECT_GE(kinds["alive"], 19u);
}

TEST(UofWriter, AlivesFillIdleTime) {
  const auto slow = slow_messages(Format::kUofXml);
  ASSERT_FALSE(slow.empty());
  EXPECT_EQ(slow[0].bytes, R"(<alive product="1" timestamp="1700000000200" subscribed="1"/>)"
                           "\n");
}

TEST(SimWriter, ParsesFormatNames) {
  EXPECT_EQ(parse_format("oddsjson"), Format::kOddsJson);
  EXPECT_EQ(parse_format("betfair-stream"), Format::kBetfairStream);
  EXPECT_EQ(parse_format("uof-xml"), Format::kUofXml);
  EXPECT_FALSE(parse_format("csv").has_value());
  EXPECT_EQ(default_feed_name(Format::kBetfairStream), "bf");
  EXPECT_EQ(betfair_market_id(1001), "1.1001");
  EXPECT_EQ(uof_event_id(501), "sr:match:501");
}

}  // namespace
}  // namespace oddsbus::feeds::sim
