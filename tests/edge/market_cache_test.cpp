#include "edge/market_cache.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <vector>

#include "tests/edge/edge_test_frames.h"

namespace oddsbus::edge {
namespace {

using testing_support::Change;
using testing_support::EdgeFeed;

std::vector<uint64_t> seqs_after(const MarketCache& cache, uint64_t seq) {
  std::vector<uint64_t> seqs;
  for (auto it = cache.changes_after(seq); it != cache.changes_end(); ++it) {
    seqs.push_back((*it)->seq);
  }
  return seqs;
}

class MarketCacheTest : public ::testing::Test {
 protected:
  MarketCacheTest() {
    feed_.install_snapshot();
    feed_.define(1, 10, "Match odds", {{11, "Home"}, {12, "Draw"}, {13, "Away"}});
    feed_.define(2, 10, "Total goals", {{21, "Over"}, {22, "Under"}});
    feed_.define(3, 20, "Winner", {{31, "A"}, {32, "B"}});
  }

  simdjson::dom::element parse(const std::string& json) {
    simdjson::dom::element root;
    EXPECT_EQ(parser_.parse(json).get(root), simdjson::SUCCESS) << json;
    return root;
  }

  EdgeFeed feed_;
  simdjson::dom::parser parser_;
};

TEST_F(MarketCacheTest, ReturnsTheFullMarketWithItsNameForADefinition) {
  const auto change = feed_.define(4, 30, "Next goal", {{42, "Away"}, {41, "Home"}});
  ASSERT_NE(change, nullptr);
  EXPECT_EQ(change->seq, 4u);
  ASSERT_EQ(change->markets.size(), 1u);
  EXPECT_EQ(change->markets[0].market, 4u);
  EXPECT_EQ(change->markets[0].event, 30u);
  auto entry = parse(change->markets[0].json);
  EXPECT_EQ(entry["market"].get_uint64().value(), 4u);
  EXPECT_EQ(entry["event"].get_uint64().value(), 30u);
  EXPECT_EQ(entry["name"].get_string().value(), "Next goal");
  EXPECT_EQ(entry["status"].get_string().value(), "open");
  EXPECT_EQ(entry["market_seq"].get_uint64().value(), 1u);
  auto selections = entry["selections"].get_array().value();
  ASSERT_EQ(selections.size(), 2u);
  EXPECT_EQ(selections.at(0)["selection"].get_uint64().value(), 41u);
  EXPECT_EQ(selections.at(0)["name"].get_string().value(), "Home");
  EXPECT_EQ(selections.at(1)["selection"].get_uint64().value(), 42u);
  EXPECT_EQ(selections.at(1)["price_e4"].get_uint64().value(), 0u);

  auto all = parse(*change->all_delta);
  EXPECT_EQ(all["type"].get_string().value(), "delta");
  EXPECT_EQ(all["seq"].get_uint64().value(), 4u);
  EXPECT_FALSE(all["conflated"].get_bool().value());
  ASSERT_EQ(all["markets"].get_array().value().size(), 1u);
  EXPECT_EQ(all["markets"].at(0)["name"].get_string().value(), "Next goal");
}

TEST_F(MarketCacheTest, ReturnsOnlyThePricedSelectionsForAPriceUpdate) {
  const auto change = feed_.prices(1, {{11, "2.5"}, {13, "5/2"}});
  ASSERT_NE(change, nullptr);
  ASSERT_EQ(change->markets.size(), 1u);
  auto entry = parse(change->markets[0].json);
  EXPECT_EQ(entry["market"].get_uint64().value(), 1u);
  EXPECT_EQ(entry["market_seq"].get_uint64().value(), 2u);
  EXPECT_EQ(entry["status"].get_string().value(), "open");
  EXPECT_NE(entry["name"].error(), simdjson::SUCCESS) << "a price delta is not a full market";
  auto selections = entry["selections"].get_array().value();
  ASSERT_EQ(selections.size(), 2u);
  EXPECT_EQ(selections.at(0)["selection"].get_uint64().value(), 11u);
  EXPECT_EQ(selections.at(0)["price_e4"].get_uint64().value(), 25000u);
  EXPECT_EQ(selections.at(0)["odds"].get_string().value(), "2.5");
  EXPECT_EQ(selections.at(1)["selection"].get_uint64().value(), 13u);
  EXPECT_EQ(selections.at(1)["price_e4"].get_uint64().value(), 35000u);
  EXPECT_EQ(selections.at(1)["odds"].get_string().value(), "5/2");
}

TEST_F(MarketCacheTest, ReturnsStatusWithNoSelectionsForStatusSettlementAndRollback) {
  feed_.price(1, 11, "2.0");
  struct Case {
    Change change;
    const char* status;
  };
  const std::vector<Case> cases = {
      {feed_.status(1, fb::MarketStatus::Suspended), "suspended"},
      {feed_.settle(1, {11}), "settled"},
      {feed_.rollback(1), "suspended"},
      {feed_.status(1, fb::MarketStatus::Closed), "closed"},
  };
  uint64_t market_seq = 2;  // the definition and the price
  for (const Case& c : cases) {
    ASSERT_NE(c.change, nullptr);
    ASSERT_EQ(c.change->markets.size(), 1u);
    auto entry = parse(c.change->markets[0].json);
    EXPECT_EQ(entry["market"].get_uint64().value(), 1u);
    EXPECT_EQ(entry["status"].get_string().value(), c.status) << c.change->seq;
    EXPECT_EQ(entry["market_seq"].get_uint64().value(), ++market_seq);
    EXPECT_EQ(entry["selections"].get_array().value().size(), 0u);
  }
  EXPECT_EQ(feed_.cache().state().find(1)->market_seq, market_seq);
}

TEST_F(MarketCacheTest, ListsEveryMarketAnEventSuspensionSuspendedAndNoOther) {
  feed_.status(2, fb::MarketStatus::Suspended);  // already suspended: not touched again
  feed_.define(5, 10, "Corners", {{51, "Over"}});
  const auto change = feed_.suspend_event(10);
  ASSERT_NE(change, nullptr);
  std::vector<uint64_t> markets;
  for (const MarketChange& m : change->markets) {
    markets.push_back(m.market);
    EXPECT_EQ(m.event, 10u);
    auto entry = parse(m.json);
    EXPECT_EQ(entry["status"].get_string().value(), "suspended");
    EXPECT_EQ(entry["selections"].get_array().value().size(), 0u);
  }
  EXPECT_EQ(markets, (std::vector<uint64_t>{1, 5}));
  auto all = parse(*change->all_delta);
  EXPECT_EQ(all["markets"].get_array().value().size(), 2u);
}

TEST_F(MarketCacheTest, ReturnsNothingForAFrameThatTouchesNoMarket) {
  const size_t frames = feed_.cache().window_frames();
  EXPECT_EQ(feed_.change_epoch(), nullptr);
  EXPECT_EQ(feed_.price(99, 1, "2.0"), nullptr) << "a market the state does not hold";
  EXPECT_EQ(feed_.suspend_event(99), nullptr);
  EXPECT_EQ(feed_.cache().window_frames(), frames);
  EXPECT_EQ(feed_.cache().seq(), 6u);
  EXPECT_EQ(feed_.cache().epoch(), 2u);
  EXPECT_EQ(feed_.cache().channel(), testing_support::kChannel);
  // Frames that changed nothing leave nothing to miss: resuming across them still works.
  EXPECT_TRUE(feed_.cache().can_resume_after(3));
  EXPECT_TRUE(seqs_after(feed_.cache(), 3).empty());
}

TEST_F(MarketCacheTest, FoldsFramesIntoTheSameStateAsMarketState) {
  feed_.price(1, 12, "evens");
  feed_.suspend_event(10);
  feed_.settle(3, {31});
  EXPECT_EQ(feed_.cache().state().markets().size(), 3u);
  EXPECT_EQ(feed_.cache().state().find(1)->selections[1].price_e4, 20000u);
  EXPECT_EQ(feed_.cache().state().find(3)->status, fb::MarketStatus::Settled);
  EXPECT_EQ(feed_.cache().seq(), feed_.reference().seq());
}

TEST(MarketCache, BoundsItsWindowByFramesAndMovesCoveredAfter) {
  EdgeFeed feed(MarketCacheConfig{.retain_frames = 3, .retain_bytes = size_t{1} << 20});
  feed.install_snapshot();
  feed.define(1, 10, "M", {{11, "A"}});                                  // seq 1
  for (int i = 0; i < 4; ++i) feed.price(1, 11, i % 2 ? "2.0" : "3.0");  // seqs 2..5
  const MarketCache& cache = feed.cache();
  EXPECT_EQ(cache.window_frames(), 3u);
  EXPECT_EQ(cache.covered_after(), 2u);
  EXPECT_EQ(seqs_after(cache, 0), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(seqs_after(cache, 3), (std::vector<uint64_t>{4, 5}));
  EXPECT_TRUE(seqs_after(cache, 5).empty());
  EXPECT_FALSE(cache.can_resume_after(1));
  EXPECT_TRUE(cache.can_resume_after(2));
  EXPECT_TRUE(cache.can_resume_after(5));
  EXPECT_FALSE(cache.can_resume_after(6)) << "ahead of the edge";
}

TEST(MarketCache, BoundsItsWindowByBytes) {
  EdgeFeed probe;
  probe.install_snapshot();
  probe.define(1, 10, "M", {{11, "A"}});
  const size_t one_price = probe.price(1, 11, "2.0")->bytes();  // give or take a digit

  const size_t limit = 4 * one_price + 2;
  EdgeFeed feed(MarketCacheConfig{.retain_frames = 1000, .retain_bytes = limit});
  feed.install_snapshot();
  feed.define(1, 10, "M", {{11, "A"}});
  for (int i = 0; i < 20; ++i) {
    feed.price(1, 11, "2.0");
    EXPECT_LE(feed.cache().window_bytes(), limit);
  }
  const MarketCache& cache = feed.cache();
  EXPECT_GE(cache.window_frames(), 3u);
  EXPECT_LE(cache.window_frames(), 4u);
  // Every frame here changed a market, so the window is exactly the frames after covered_after.
  EXPECT_EQ(cache.covered_after(), feed.seq() - cache.window_frames());
  EXPECT_FALSE(cache.can_resume_after(cache.covered_after() - 1));
  EXPECT_TRUE(cache.can_resume_after(cache.covered_after()));
  size_t sum = 0;
  for (auto it = cache.changes_after(0); it != cache.changes_end(); ++it) sum += (*it)->bytes();
  EXPECT_EQ(sum, cache.window_bytes());
}

TEST(MarketCache, CannotResumeBeforeItIsPositioned) {
  EdgeFeed feed;
  EXPECT_FALSE(feed.cache().positioned());
  EXPECT_FALSE(feed.cache().can_resume_after(0));
  feed.install_snapshot();
  EXPECT_TRUE(feed.cache().positioned());
  EXPECT_TRUE(feed.cache().can_resume_after(0));
}

TEST(MarketCache, InstallEmptiesTheWindowAndRestartsItAtTheSnapshotSeq) {
  EdgeFeed feed;
  feed.install_snapshot();
  feed.define(1, 10, "M", {{11, "A"}});
  feed.price(1, 11, "2.0");
  ASSERT_EQ(feed.cache().window_frames(), 2u);
  feed.set_deliver(false);  // the edge misses frames 3..5 and reloads at 5
  feed.price(1, 11, "3.0");
  feed.define(2, 20, "N", {{21, "B"}});
  feed.status(1, fb::MarketStatus::Suspended);
  feed.set_deliver(true);
  feed.install_snapshot();
  const MarketCache& cache = feed.cache();
  EXPECT_EQ(cache.window_frames(), 0u);
  EXPECT_EQ(cache.window_bytes(), 0u);
  EXPECT_EQ(cache.covered_after(), 5u);
  EXPECT_EQ(cache.seq(), 5u);
  EXPECT_FALSE(cache.can_resume_after(2));
  EXPECT_TRUE(cache.can_resume_after(5));
  EXPECT_EQ(cache.state().markets().size(), 2u);
  EXPECT_EQ(cache.state().find(1)->status, fb::MarketStatus::Suspended);
  const auto change = feed.price(2, 21, "4.0");
  ASSERT_NE(change, nullptr);
  EXPECT_EQ(seqs_after(cache, 5), (std::vector<uint64_t>{6}));
}

TEST(MarketCache, KeepsTheEntryValuesFromAfterTheFrame) {
  EdgeFeed feed;
  feed.install_snapshot();
  feed.define(1, 10, "M", {{11, "A"}, {12, "B"}});
  const auto first = feed.price(1, 11, "2.0");
  feed.price(1, 11, "3.0");
  // An entry is immutable: later frames do not rewrite what an earlier one said.
  EXPECT_NE(first->markets[0].json.find("\"price_e4\": 20000"), std::string::npos)
      << first->markets[0].json;
  EXPECT_EQ(feed.cache().state().find(1)->selections[0].price_e4, 30000u);
}

}  // namespace
}  // namespace oddsbus::edge
