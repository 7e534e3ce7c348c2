// The lose-nothing property's stream generator (tests/integration/oddsjson_stream_generator.h):
// deterministic by seed; its streams hold what the property needs (A, B, A repeats, statuses,
// settlements, all three odds formats, malformed lines) and the generator knows which lines are
// rejected (checked by sequencing each stream as `odds-engine ingest` does: the real parser and
// sequencer); a mappable stream keeps the promises its header makes, with a mapping that loads.
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/sequencer.h"
#include "feeds/mapping.h"
#include "feeds/oddsjson/parser.h"
#include "schemas/batch.h"
#include "tests/integration/oddsjson_stream_generator.h"

namespace oddsbus {
namespace {

using testing::generate_oddsjson_stream;
using testing::OddsJsonStream;
using testing::OddsJsonStreamConfig;

OddsJsonStreamConfig config_of(bool mappable, int pseq_percent = 0) {
  OddsJsonStreamConfig config;
  config.mappable = mappable;
  config.pseq_percent = pseq_percent;
  return config;
}

struct Sequenced {
  int accepted = 0;
  std::map<feeds::RejectReason, int> rejected;
  int rejected_total() const {
    int n = 0;
    for (const auto& [reason, count] : rejected) n += count;
    return n;
  }
};

// What `odds-engine ingest` does with each line: parse, then sequence.
Sequenced sequence(const OddsJsonStream& stream) {
  Sequenced out;
  feeds::oddsjson::Parser parser;
  engine::Sequencer sequencer(engine::SequencerConfig{});
  BatchWriter batch;
  feeds::Event event;
  for (const std::string& line : stream.lines) {
    if (auto parsed = parser.parse(line, event); !parsed) {
      ++out.rejected[parsed.error().reason];
      continue;
    }
    sequencer.begin_batch(batch);
    if (auto sequenced = sequencer.sequence(event, 1, batch); !sequenced) {
      ++out.rejected[sequenced.error()];
      continue;
    }
    ++out.accepted;
  }
  return out;
}

// A line that recurs byte for byte after another line of its market came between: A, B, A.
bool has_a_b_a(const OddsJsonStream& stream) {
  std::map<std::string, size_t> last_at;  // line -> index of its last occurrence
  for (size_t i = 0; i < stream.lines.size(); ++i) {
    const std::string& line = stream.lines[i];
    if (line.find("\"type\":\"status\"") == std::string::npos &&
        line.find("\"type\":\"price\"") == std::string::npos) {
      continue;
    }
    auto it = last_at.find(line);
    if (it != last_at.end()) {
      const std::string market = line.substr(line.find("\"market\":"), 14);
      for (size_t j = it->second + 1; j < i; ++j) {
        if (stream.lines[j] != line && stream.lines[j].find(market) != std::string::npos) {
          return true;
        }
      }
    }
    last_at[line] = i;
  }
  return false;
}

TEST(OddsJsonStreamGenerator, IsDeterministicBySeed) {
  for (bool mappable : {false, true}) {
    const auto a = generate_oddsjson_stream(7, config_of(mappable, 30));
    const auto b = generate_oddsjson_stream(7, config_of(mappable, 30));
    const auto c = generate_oddsjson_stream(8, config_of(mappable, 30));
    EXPECT_EQ(a.lines, b.lines);
    EXPECT_EQ(a.mapping_toml("oj"), b.mapping_toml("oj"));
    EXPECT_NE(a.lines, c.lines);
    EXPECT_GE(a.lines.size(), 400u);
  }
}

TEST(OddsJsonStreamGenerator, HoldsRepeatsStatusesSettlementsAllFormatsAndMalformedLines) {
  int settlements = 0, closings = 0;
  for (bool mappable : {false, true}) {
    for (uint64_t seed = 1; seed <= 12; ++seed) {
      const auto stream = generate_oddsjson_stream(seed, config_of(mappable));
      const auto& s = stream.stats;
      SCOPED_TRACE("seed " + std::to_string(seed) + (mappable ? " mappable" : ""));
      EXPECT_TRUE(has_a_b_a(stream));
      EXPECT_GT(s.repeats, 5);
      EXPECT_GT(s.statuses, 20);
      EXPECT_GT(s.decimal, 10);
      EXPECT_GT(s.fractional, 10);
      EXPECT_GT(s.american, 10);
      EXPECT_GT(s.heartbeats, 0);
      EXPECT_GT(s.malformed, 10);
      EXPECT_EQ(stream.markets.size(), 6u);
      settlements += s.settlements;
      closings += s.closings;
    }
  }
  EXPECT_GT(settlements, 12);
  EXPECT_GT(closings, 4);
}

TEST(OddsJsonStreamGenerator, KnowsWhichLinesIngestRejects) {
  std::set<feeds::RejectReason> reasons;
  for (bool mappable : {false, true}) {
    for (uint64_t seed = 1; seed <= 12; ++seed) {
      const auto stream = generate_oddsjson_stream(seed, config_of(mappable, 30));
      const Sequenced result = sequence(stream);
      SCOPED_TRACE("seed " + std::to_string(seed) + (mappable ? " mappable" : ""));
      EXPECT_EQ(result.rejected_total(), stream.stats.malformed);
      EXPECT_EQ(result.accepted + result.rejected_total(), static_cast<int>(stream.lines.size()));
      for (const auto& [reason, count] : result.rejected) reasons.insert(reason);
    }
  }
  for (feeds::RejectReason reason :
       {feeds::RejectReason::kMalformedJson, feeds::RejectReason::kMissingField,
        feeds::RejectReason::kBadFieldType, feeds::RejectReason::kUnknownType,
        feeds::RejectReason::kBadOdds, feeds::RejectReason::kUnknownMarket,
        feeds::RejectReason::kUnknownSelection, feeds::RejectReason::kMarketSettled}) {
    EXPECT_TRUE(reasons.contains(reason)) << feeds::to_string(reason);
  }
}

TEST(OddsJsonStreamGenerator, MappableStreamsKeepTheirPromises) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const auto stream = generate_oddsjson_stream(seed, config_of(true, 30));
    auto mapping = feeds::Mapping::parse(stream.mapping_toml("oj"));
    ASSERT_TRUE(mapping) << mapping.error();
    ASSERT_EQ(mapping->markets().size(), stream.markets.size());
    feeds::oddsjson::Parser parser;
    feeds::Event event;
    std::map<uint64_t, int> definitions;  // market -> definitions seen
    std::set<uint64_t> heard;             // markets with a parsed line besides the definition
    for (const std::string& line : stream.lines) {
      if (!parser.parse(line, event)) continue;
      const feeds::MarketMapping* mapped = mapping->market(event.market);
      if (event.type == feeds::EventType::kMarket) {
        ASSERT_NE(mapped, nullptr) << line;
        EXPECT_EQ(++definitions[event.market], 1) << "redefined: " << line;
        EXPECT_EQ(event.status, fb::MarketStatus::Open) << line;
        ASSERT_EQ(event.selections.size(), mapped->selections.size()) << line;
        for (size_t i = 0; i < event.selections.size(); ++i) {
          EXPECT_EQ(event.selections[i].id, mapped->selections[i].id) << line;
        }
      } else if (event.type != feeds::EventType::kHeartbeat && mapped != nullptr) {
        EXPECT_EQ(definitions[event.market], 1) << "before its definition: " << line;
        heard.insert(event.market);
      }
    }
    for (const testing::StreamMarket& m : stream.markets) {
      EXPECT_EQ(definitions[m.id], 1) << m.id;
      EXPECT_TRUE(heard.contains(m.id)) << m.id << " hears only its definition";
    }
  }
}

}  // namespace
}  // namespace oddsbus
