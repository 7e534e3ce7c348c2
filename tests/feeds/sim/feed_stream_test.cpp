#include "feeds/sim/feed_stream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace oddsbus::feeds::sim {
namespace {

FeedStreamConfig config_for(Format format, uint64_t seed) {
  FeedStreamConfig config;
  config.format = format;
  config.epoch_ms = 1'700'000'000'000;
  config.sim = {.seed = seed, .markets = 8, .rate = 200, .settle_after = 40};
  return config;
}

// Everything a client connecting at the start would get, as one string, advancing the stream in
// irregular steps (how a server's loop would call it).
std::string bytes_of(const FeedStreamConfig& config, uint64_t until_ns, uint64_t step_ns) {
  FeedStream stream(config);
  std::vector<SimMessage> out;
  stream.image(0, out);
  for (uint64_t t = 0; t < until_ns; t += step_ns) stream.advance(t, out);
  stream.advance(until_ns, out);
  std::string all;
  for (const SimMessage& m : out) all += m.bytes;
  return all;
}

TEST(FeedStream, SameSeedGivesIdenticalBytesInEveryFormat) {
  for (const Format format : {Format::kOddsJson, Format::kBetfairStream, Format::kUofXml}) {
    const auto config = config_for(format, 99);
    const std::string a = bytes_of(config, 10'000'000'000, 1'000'000);
    const std::string b = bytes_of(config, 10'000'000'000, 7'777'777);
    EXPECT_GT(a.size(), 100'000u) << to_string(format);
    EXPECT_TRUE(a == b) << to_string(format);
  }
}

TEST(FeedStream, DifferentSeedsGiveDifferentBytes) {
  for (const Format format : {Format::kOddsJson, Format::kBetfairStream, Format::kUofXml}) {
    EXPECT_FALSE(bytes_of(config_for(format, 1), 2'000'000'000, 10'000'000) ==
                 bytes_of(config_for(format, 2), 2'000'000'000, 10'000'000))
        << to_string(format);
  }
}

TEST(FeedStream, SeqsRunFromOneWithoutGaps) {
  FeedStream stream(config_for(Format::kBetfairStream, 4));
  std::vector<SimMessage> out;
  stream.advance(5'000'000'000, out);
  ASSERT_FALSE(out.empty());
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].seq, i + 1);
    EXPECT_FALSE(out[i].image);
    if (i > 0) {
      EXPECT_GE(out[i].at_ns, out[i - 1].at_ns);
    }
  }
  EXPECT_EQ(stream.last_seq(), out.size());
}

TEST(FeedStream, HeartbeatsOnlyWhenIdle) {
  auto config = config_for(Format::kOddsJson, 4);
  config.sim.rate = 1;  // one update a second
  config.heartbeat_ns = 300'000'000;
  FeedStream stream(config);
  std::vector<SimMessage> out;
  stream.advance(2'000'000'000, out);
  // 0.3, 0.6, 0.9 heartbeats, the 1.0 update, then 1.3, 1.6, 1.9, and the 2.0 update.
  std::vector<uint64_t> heartbeat_ns;
  for (const SimMessage& m : out) {
    if (m.facts.size() == 1 && m.facts[0].kind == SimFact::Kind::kHeartbeat) {
      heartbeat_ns.push_back(m.at_ns);
    }
  }
  EXPECT_EQ(heartbeat_ns, (std::vector<uint64_t>{300'000'000, 600'000'000, 900'000'000,
                                                 1'300'000'000, 1'600'000'000, 1'900'000'000}));
  EXPECT_EQ(stream.next_due_ns(), 2'300'000'000u);
}

TEST(FeedStream, EndsAtTheUpdateCountHeartbeatsIncluded) {
  auto config = config_for(Format::kUofXml, 4);
  config.sim.max_updates = 50;
  FeedStream stream(config);
  std::vector<SimMessage> out;
  stream.advance(60'000'000'000, out);
  EXPECT_TRUE(stream.over());
  EXPECT_EQ(stream.simulator().updates(), 50u);
  EXPECT_EQ(stream.next_due_ns(), UINT64_MAX);
  const size_t before = out.size();
  stream.advance(120'000'000'000, out);
  EXPECT_EQ(out.size(), before);
}

TEST(FeedStream, ImageHoldsEveryLiveMarketWithItsPrices) {
  FeedStream stream(config_for(Format::kOddsJson, 8));
  std::vector<SimMessage> ignored;
  stream.advance(3'000'000'000, ignored);
  std::vector<SimMessage> image;
  stream.image(3'000'000'000, image);
  size_t markets = 0;
  for (const SimMessage& m : image) {
    EXPECT_TRUE(m.image);
    EXPECT_EQ(m.seq, 0u);
    for (const SimFact& f : m.facts) {
      if (f.kind == SimFact::Kind::kMarket) ++markets;
      if (f.kind != SimFact::Kind::kPrice) continue;
      bool found = false;
      for (const SimMarket& live : stream.simulator().live()) {
        if (live.id == f.market) found = live.price_e4[f.selection - 1] == f.price_e4;
      }
      EXPECT_TRUE(found) << f.market << "/" << f.selection;
    }
  }
  EXPECT_EQ(markets, stream.simulator().live().size());
}

}  // namespace
}  // namespace oddsbus::feeds::sim
