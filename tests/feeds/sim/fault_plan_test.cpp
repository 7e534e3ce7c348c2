#include "feeds/sim/fault_plan.h"

#include <gtest/gtest.h>

#include <simdjson.h>
#include <pugixml.hpp>
#include <string>

namespace oddsbus::feeds::sim {
namespace {

constexpr uint64_t kMessages = 10'000;
// What seed 42, line 0 gives over kMessages (the plan is deterministic).
constexpr uint64_t kExpectedCorrupt = 215;
constexpr uint64_t kExpectedDrop = 980;
constexpr uint64_t kExpectedDuplicate = 418;

struct Counts {
  uint64_t drop = 0, duplicate = 0, corrupt = 0, delayed = 0;
};

Counts count(const FaultPlan& plan) {
  Counts c;
  for (uint64_t seq = 1; seq <= kMessages; ++seq) {
    const FaultDecision d = plan.decide(seq);
    c.drop += d.drop;
    c.duplicate += d.duplicate;
    c.corrupt += d.corrupt;
    c.delayed += d.delay_ns > 0;
    EXPECT_FALSE(d.drop && d.corrupt);
    EXPECT_FALSE(d.duplicate && (d.drop || d.corrupt));
  }
  return c;
}

TEST(FaultPlan, HonoursTheRatesExactlyForAFixedSeed) {
  const FaultConfig config{.drop = 0.1, .duplicate = 0.05, .corrupt = 0.02, .delay_max_ms = 20};
  const FaultPlan plan(config, derive_line_seed(42, 0));
  const Counts c = count(plan);
  // Roughly the rates (within a few standard deviations)...
  EXPECT_NEAR(c.corrupt, 200, 50);
  EXPECT_NEAR(c.drop, 980, 100);
  EXPECT_NEAR(c.duplicate, 440, 70);
  EXPECT_GT(c.delayed, 9'900u);
  // ...and exactly these, since the plan is a pure function of its seed.
  EXPECT_EQ(c.corrupt, kExpectedCorrupt);
  EXPECT_EQ(c.drop, kExpectedDrop);
  EXPECT_EQ(c.duplicate, kExpectedDuplicate);
}

TEST(FaultPlan, NoFaultsWhenNoneConfigured) {
  const FaultPlan plan(FaultConfig{}, derive_line_seed(1, 0));
  EXPECT_FALSE(plan.any());
  const Counts c = count(plan);
  EXPECT_EQ(c.drop + c.duplicate + c.corrupt + c.delayed, 0u);
}

TEST(FaultPlan, DecisionsDependOnlyOnSeedAndSeq) {
  const FaultConfig config{.drop = 0.3, .duplicate = 0.3, .corrupt = 0.1, .delay_max_ms = 5};
  const FaultPlan a(config, derive_line_seed(7, 1));
  const FaultPlan b(config, derive_line_seed(7, 1));
  for (uint64_t seq = 5'000; seq > 0; --seq) {  // another order, another instance
    const FaultDecision x = a.decide(seq);
    const FaultDecision y = b.decide(seq);
    ASSERT_EQ(x.drop, y.drop);
    ASSERT_EQ(x.duplicate, y.duplicate);
    ASSERT_EQ(x.corrupt, y.corrupt);
    ASSERT_EQ(x.delay_ns, y.delay_ns);
    ASSERT_LE(x.delay_ns, 5'000'000u);
  }
}

TEST(FaultPlan, LinesOfOneProviderFaultIndependently) {
  const FaultConfig config{.drop = 0.1};
  const FaultPlan line0(config, derive_line_seed(42, 0));
  const FaultPlan line1(config, derive_line_seed(42, 1));
  EXPECT_NE(derive_line_seed(42, 0), derive_line_seed(42, 1));
  uint64_t drop0 = 0, drop1 = 0, both = 0;
  for (uint64_t seq = 1; seq <= kMessages; ++seq) {
    const bool d0 = line0.decide(seq).drop;
    const bool d1 = line1.decide(seq).drop;
    drop0 += d0;
    drop1 += d1;
    both += d0 && d1;
  }
  EXPECT_NEAR(drop0, 1'000, 120);
  EXPECT_NEAR(drop1, 1'000, 120);
  // Independent: about 1% dropped on both lines, not 10%.
  EXPECT_NEAR(both, 100, 40);
}

TEST(FaultPlan, ImageMessagesAreNeverFaulted) {
  const FaultPlan plan({.drop = 1, .duplicate = 1, .corrupt = 1, .delay_max_ms = 100}, 3);
  const FaultDecision d = plan.decide(0);
  EXPECT_EQ(d.copies(), 1);
  EXPECT_FALSE(d.corrupt);
  EXPECT_EQ(d.delay_ns, 0u);
}

TEST(CorruptLine, NeverParsesAndKeepsOneLine) {
  const std::string json =
      R"({"type":"price","market":1001,"selection":1,"odds":"2.5","provider":"oj","pseq":9})"
      "\r\n";
  const std::string xml =
      R"(<odds_change product="1" event_id="sr:match:501" timestamp="1"><odds><market id="1" )"
      R"(status="1"><outcome id="1" odds="2.5" active="1"/></market></odds></odds_change>)"
      "\n";
  simdjson::dom::parser parser;
  for (uint64_t key = 0; key < 2'000; ++key) {
    const std::string bad_json = corrupt_line(json, key);
    ASSERT_TRUE(bad_json.ends_with("\r\n"));
    const std::string body = bad_json.substr(0, bad_json.size() - 2);
    ASSERT_EQ(body.find_first_of("\r\n"), std::string::npos);
    ASSERT_NE(body, json.substr(0, json.size() - 2));
    simdjson::dom::element ignored;
    ASSERT_NE(parser.parse(body).get(ignored), simdjson::SUCCESS) << body;

    const std::string bad_xml = corrupt_line(xml, key);
    ASSERT_TRUE(bad_xml.ends_with("\n"));
    const std::string xml_body = bad_xml.substr(0, bad_xml.size() - 1);
    ASSERT_EQ(xml_body.find_first_of("\r\n"), std::string::npos);
    pugi::xml_document doc;
    ASSERT_FALSE(doc.load_string(xml_body.c_str())) << xml_body;
  }
}

}  // namespace
}  // namespace oddsbus::feeds::sim
