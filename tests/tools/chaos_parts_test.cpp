// The chaos runner's sans-I/O parts (tools/chaos): the seeded fault schedule, and the conversion
// of odds-feedsim's record into the oddsjson lines that ingest sequences.
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/engine/engine_test_support.h"
#include "tools/chaos/fault_schedule.h"
#include "tools/chaos/feed_record.h"

namespace oddsbus::chaos {
namespace {

using engine::testing_support::TempDir;

ScheduleConfig schedule_of(uint64_t seed) {
  ScheduleConfig config;
  config.seed = seed;
  config.faults = 400;
  return config;
}

ChaosFault fault(ChaosFaultKind kind, const std::string& target) {
  ChaosFault f;
  f.kind = kind;
  f.target = target;
  return f;
}

TEST(FaultSchedule, IsTheSameForTheSameSeedAndCoversEveryKind) {
  const auto a = make_schedule(schedule_of(7));
  const auto b = make_schedule(schedule_of(7));
  const auto c = make_schedule(schedule_of(8));
  ASSERT_EQ(a.size(), 400u);
  std::set<ChaosFaultKind> kinds;
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].describe(), b[i].describe()) << i;
    differs |= a[i].describe() != c[i].describe();
    kinds.insert(a[i].kind);
    EXPECT_GE(a[i].hold_ms, 200u);
    EXPECT_LE(a[i].hold_ms, silences_feed(a[i]) ? 5500u : 2500u);
    if (a[i].kind == ChaosFaultKind::kDelay) {
      EXPECT_GT(a[i].delay_ms, 0u);
    }
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(kinds.size(), 7u);
}

TEST(FaultSchedule, KnowsWhichFaultsSilenceTheFeedForEveryEngine) {
  EXPECT_TRUE(silences_feed(fault(ChaosFaultKind::kPause, "feed")));
  EXPECT_TRUE(silences_feed(fault(ChaosFaultKind::kBlackHole, "feed->engines")));
  EXPECT_FALSE(silences_feed(fault(ChaosFaultKind::kDelay, "feed->engines")));
  EXPECT_FALSE(silences_feed(fault(ChaosFaultKind::kBlackHole, "feed->primary")));
  EXPECT_FALSE(silences_feed(fault(ChaosFaultKind::kKill, "primary")));
}

TEST(FeedRecord, BecomesTheOddsJsonTheFeedSent) {
  TempDir dir;
  auto mapping = feeds::Mapping::parse(R"(
[[market]]
id = 1001
event = 501
name = "Match \"Odds\""
sources = ["oj"]
selections = [{ id = 1, name = "Home" }, { id = 2, name = "Away" }]
[market.provider.oj]
market = "1001"
selections = { "1" = 1, "2" = 2 }
)");
  ASSERT_TRUE(mapping) << mapping.error();
  const std::string record = dir.sub("feed.record");
  std::ofstream(record)
      << R"({"line":0,"seq":0,"kind":"market","market":1001,"event":501,"status":"open","image":true,"ns":1})"
         "\n"
      << R"({"line":0,"seq":1,"kind":"price","market":1001,"selection":2,"price_e4":24800,"ns":2})"
         "\n"
      << R"({"line":1,"seq":1,"kind":"price","market":1001,"selection":2,"price_e4":24800,"ns":2})"
         "\n"
      << R"({"line":0,"seq":2,"kind":"heartbeat","ns":3})"
         "\n"
      << R"({"line":0,"seq":3,"kind":"corrupt","bytes":40,"ns":4})"
         "\n"
      << R"({"line":0,"seq":4,"kind":"status","market":1001,"status":"suspended","ns":5})"
         "\n"
      << R"({"line":0,"seq":5,"kind":"settle","market":1001,"status":"settled","winners":[2],"ns":6})"
         "\n";
  const std::string out = dir.sub("sent.oddsjson");
  auto converted = append_record_as_oddsjson(record, *mapping, out);
  ASSERT_TRUE(converted) << converted.error();
  EXPECT_EQ(converted->lines, 4u);
  EXPECT_EQ(converted->skipped, 3u);
  std::stringstream text;
  text << std::ifstream(out).rdbuf();
  EXPECT_EQ(
      text.str(),
      R"({"type":"market","market":1001,"event":501,"name":"Match \"Odds\"","status":"open","selections":[{"id":1,"name":"Home"},{"id":2,"name":"Away"}]})"
      "\n"
      R"({"type":"price","market":1001,"selection":2,"odds":"2.4800"})"
      "\n"
      R"({"type":"status","market":1001,"status":"suspended","reason":"provider"})"
      "\n"
      R"({"type":"settle","market":1001,"winners":[2]})"
      "\n");
  // The last line of a simulator killed mid-write is left out; a bad line elsewhere is an error.
  std::ofstream(record)
      << R"({"line":0,"seq":1,"kind":"price","market":1001,"selection":2,"price_e4":24800,"ns":2})"
      << "\n"
      << R"({"line":0,"seq":2,"kind":"pri)";
  auto cut = append_record_as_oddsjson(record, *mapping, out);
  ASSERT_TRUE(cut) << cut.error();
  EXPECT_EQ(cut->lines, 1u);
  EXPECT_EQ(cut->truncated, 1u);
  std::ofstream(record)
      << R"({"line":0,"seq":2,"kind":"pri)"
      << "\n"
      << R"({"line":0,"seq":1,"kind":"price","market":1001,"selection":2,"price_e4":24800,"ns":2})"
      << "\n";
  EXPECT_FALSE(append_record_as_oddsjson(record, *mapping, out));
  // A market the mapping does not know is an error, not a guess.
  std::ofstream(record)
      << R"({"line":0,"seq":1,"kind":"market","market":9,"event":1,"status":"open","ns":1})"
      << "\n";
  EXPECT_FALSE(append_record_as_oddsjson(record, *mapping, out));
}

}  // namespace
}  // namespace oddsbus::chaos
