#include "feeds/source_selector.h"

#include <gtest/gtest.h>

namespace oddsbus::feeds {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

constexpr const char* kMapping = R"(
[[market]]
id = 1001
event = 501
name = "Match Odds"
sources = ["bf", "sr"]
selections = [{ id = 1, name = "Home" }, { id = 2, name = "Away" }]

[market.provider.bf]
market = "1.234"
selections = { "47972" = 1, "47973" = 2 }

[market.provider.sr]
event = "sr:match:1"
market = "1"
selections = { "1" = 1, "2" = 2 }
)";

Event price(const std::string& source, uint64_t selection, uint32_t price_e4) {
  Event e;
  e.type = EventType::kPrice;
  e.market = 1001;
  e.selection = selection;
  e.odds.price_e4 = price_e4;
  e.odds_text = std::to_string(price_e4);
  e.source = source;
  return e;
}

Event heartbeat(const std::string& source) {
  Event e;
  e.type = EventType::kHeartbeat;
  e.source = source;
  return e;
}

Event status(const std::string& source, fb::MarketStatus s) {
  Event e;
  e.type = EventType::kStatus;
  e.market = 1001;
  e.status = s;
  e.reason = fb::StatusReason::Provider;
  e.source = source;
  return e;
}

// One selector over `mapping`, and what it emits for each event or tick.
class SelectorHarness : public ::testing::Test {
 protected:
  SelectorHarness(Mapping mapping, const SourceSelectorConfig& config)
      : mapping_(std::move(mapping)), selector_(mapping_, config) {}

  std::vector<Event> feed(const Event& e, uint64_t now) {
    std::vector<Event> out;
    selector_.on_event(e, now, out);
    return out;
  }
  std::vector<Event> tick(uint64_t now) {
    std::vector<Event> out;
    selector_.on_tick(now, out);
    return out;
  }

  Mapping mapping_;
  SourceSelector selector_;
};

class SourceSelectorTest : public SelectorHarness {
 protected:
  SourceSelectorTest() : SelectorHarness(*Mapping::parse(kMapping), config()) {}

  static SourceSelectorConfig config() {
    SourceSelectorConfig c;
    c.stale_after_ns = 3 * kSecond;
    c.tolerance_bps = 1000;
    c.disagree_after_ns = 5 * kSecond;
    return c;
  }
};

TEST_F(SourceSelectorTest, DefinesMappedMarketsSuspendedUntilASourceIsHeard) {
  std::vector<Event> defs;
  selector_.definitions(defs);
  ASSERT_EQ(defs.size(), 1u);
  EXPECT_EQ(defs[0].type, EventType::kMarket);
  EXPECT_EQ(defs[0].status, fb::MarketStatus::Suspended);
  EXPECT_EQ(defs[0].selections.size(), 2u);
  EXPECT_TRUE(tick(1 * kSecond).empty());
  EXPECT_EQ(selector_.active_source(1001), "");
}

TEST_F(SourceSelectorTest, FirstHealthySourceOpensTheMarketWithItsPricesFirst) {
  auto out = feed(price("sr", 1, 25000), 1 * kSecond);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type, EventType::kPrice);
  EXPECT_EQ(out[0].odds.price_e4, 25000u);
  EXPECT_EQ(out[1].type, EventType::kStatus);
  EXPECT_EQ(out[1].status, fb::MarketStatus::Open);
  EXPECT_EQ(selector_.active_source(1001), "sr");
  EXPECT_EQ(selector_.counters().reopens, 1u);
}

TEST_F(SourceSelectorTest, HigherPrioritySourceTakesTheMarketWhenItIsHeard) {
  feed(price("sr", 1, 25000), 1 * kSecond);
  auto out = feed(price("bf", 1, 26000), 2 * kSecond);
  EXPECT_EQ(selector_.active_source(1001), "bf");
  ASSERT_EQ(out.size(), 1u);  // already open: only bf's differing price is published
  EXPECT_EQ(out[0].odds.price_e4, 26000u);
  EXPECT_EQ(out[0].source, "bf");
  EXPECT_EQ(selector_.counters().switches, 1u);
}

TEST_F(SourceSelectorTest, NonActiveSourceIsShadowedNotPublished) {
  feed(price("bf", 1, 26000), 1 * kSecond);
  auto out = feed(price("sr", 1, 25500), 2 * kSecond);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(selector_.counters().shadowed, 1u);
  out = feed(price("bf", 2, 30000), 2 * kSecond);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].selection, 2u);
}

TEST_F(SourceSelectorTest, StaleActiveSourceFailsOverToNextWithItsCurrentPrices) {
  feed(price("bf", 1, 26000), 1 * kSecond);
  feed(price("sr", 1, 25000), 1 * kSecond);
  feed(price("sr", 2, 40000), 2 * kSecond);
  feed(heartbeat("sr"), 3 * kSecond);
  EXPECT_TRUE(tick(4 * kSecond).empty());  // bf heard 3 s ago: still healthy
  auto out = tick(4 * kSecond + 1);
  EXPECT_EQ(selector_.active_source(1001), "sr");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].selection, 1u);
  EXPECT_EQ(out[0].odds.price_e4, 25000u);
  EXPECT_EQ(out[1].selection, 2u);
  EXPECT_EQ(out[1].source, "sr");
}

TEST_F(SourceSelectorTest, NoHealthySourceSuspendsWithFeedStaleOnceAndRecoveryReopens) {
  feed(price("bf", 1, 26000), 1 * kSecond);
  auto out = tick(5 * kSecond);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, EventType::kStatus);
  EXPECT_EQ(out[0].status, fb::MarketStatus::Suspended);
  EXPECT_EQ(out[0].reason, fb::StatusReason::FeedStale);
  EXPECT_TRUE(tick(6 * kSecond).empty()) << "suspended once, not on every tick";
  EXPECT_EQ(selector_.counters().stale_suspensions, 1u);

  out = feed(price("bf", 1, 27000), 7 * kSecond);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].odds.price_e4, 27000u);  // fresh price before the reopen
  EXPECT_EQ(out[1].status, fb::MarketStatus::Open);
  EXPECT_EQ(selector_.counters().reopens, 2u);
}

TEST_F(SourceSelectorTest, DisconnectedSourceIsUnhealthyAtOnce) {
  feed(price("bf", 1, 26000), 1 * kSecond);
  feed(price("sr", 1, 25000), 1 * kSecond);
  Event down;
  down.type = EventType::kSourceStatus;
  down.source = "bf";
  down.source_up = false;
  auto out = feed(down, 1 * kSecond + 5);
  EXPECT_EQ(selector_.active_source(1001), "sr");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].odds.price_e4, 25000u);
}

TEST_F(SourceSelectorTest, ProviderSuspensionOfActiveSourcePassesThrough) {
  feed(price("bf", 1, 26000), 1 * kSecond);
  auto out = feed(status("bf", fb::MarketStatus::Suspended), 2 * kSecond);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, fb::MarketStatus::Suspended);
  EXPECT_EQ(out[0].reason, fb::StatusReason::Provider);
}

TEST_F(SourceSelectorTest, SettledMarketIsNeverSuspendedStale) {
  feed(price("bf", 1, 26000), 1 * kSecond);
  Event settle;
  settle.type = EventType::kSettle;
  settle.market = 1001;
  settle.winners = {1};
  settle.source = "bf";
  feed(settle, 2 * kSecond);
  EXPECT_TRUE(tick(60 * kSecond).empty());
}

TEST_F(SourceSelectorTest, UnmappedMarketsPassThrough) {
  Event e = price("oj", 1, 20000);
  e.market = 77;
  auto out = feed(e, kSecond);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].market, 77u);
}

TEST_F(SourceSelectorTest, DefinitionsForMappedMarketsFromFeedsAreIgnored) {
  Event e;
  e.type = EventType::kMarket;
  e.market = 1001;
  e.source = "bf";
  EXPECT_TRUE(feed(e, kSecond).empty());
  EXPECT_EQ(selector_.counters().ignored_definitions, 1u);
}

TEST_F(SourceSelectorTest, ReportsDisagreementBeyondToleranceAfterItsDuration) {
  feed(price("bf", 1, 20000), 1 * kSecond);
  feed(price("sr", 1, 23000), 1 * kSecond);        // 15% apart
  for (uint64_t t : {3 * kSecond, 5 * kSecond}) {  // both stay healthy throughout
    feed(heartbeat("bf"), t);
    feed(heartbeat("sr"), t);
  }
  EXPECT_EQ(selector_.counters().disagreements, 0u);
  tick(6 * kSecond);
  EXPECT_EQ(selector_.counters().disagreements, 1u);
  tick(6 * kSecond + 1);
  EXPECT_EQ(selector_.counters().disagreements, 1u) << "reported once per episode";
  selector_.notices().clear();
  feed(price("sr", 1, 20500), 6 * kSecond + 2);  // 2.5%: agrees again
  ASSERT_FALSE(selector_.notices().empty());
  EXPECT_EQ(selector_.notices().back().kind, SelectorNotice::Kind::kAgreed);
}

TEST_F(SourceSelectorTest, SmallDifferencesAreNotDisagreements) {
  feed(price("bf", 1, 20000), 1 * kSecond);
  feed(price("sr", 1, 21000), 1 * kSecond);  // 5%
  feed(heartbeat("bf"), 7 * kSecond);
  feed(heartbeat("sr"), 7 * kSecond);
  tick(8 * kSecond);
  EXPECT_EQ(selector_.counters().disagreements, 0u);
}

// A withdrawn price (0: Betfair's removed runner, UOF's inactive outcome) is no price to compare:
// the other source has stopped pricing the selection, not disagreed about its price.
TEST_F(SourceSelectorTest, AWithdrawnPriceIsNotADisagreement) {
  feed(price("bf", 1, 20000), 1 * kSecond);
  feed(price("sr", 1, 0), 1 * kSecond);
  for (uint64_t t : {3 * kSecond, 5 * kSecond}) {  // both stay healthy throughout
    feed(heartbeat("bf"), t);
    feed(heartbeat("sr"), t);
  }
  tick(6 * kSecond);
  EXPECT_EQ(selector_.counters().disagreements, 0u);
  feed(price("sr", 1, 23000), 6 * kSecond);  // priced again, 15% apart: that one is
  feed(heartbeat("bf"), 8 * kSecond);
  feed(heartbeat("sr"), 8 * kSecond);
  tick(11 * kSecond);
  EXPECT_EQ(selector_.counters().disagreements, 1u);
}

// Takeover: the feeds' view is compared with what the journal holds; only differences go out.
TEST_F(SourceSelectorTest, ReconcilePublishesOnlyWhereTheFeedsDifferFromTheJournal) {
  feed(price("bf", 1, 25000), kSecond);
  feed(price("bf", 2, 30000), kSecond);
  SourceSelector::PublishedMarket journal;
  journal.status = fb::MarketStatus::Open;
  journal.reason = fb::StatusReason::Provider;
  journal.prices = {{1, 25000}, {2, 28000}};  // selection 2 moved on the feed since
  std::vector<Event> out;
  selector_.reconcile({{1001, journal}}, 2 * kSecond, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, EventType::kPrice);
  EXPECT_EQ(out[0].selection, 2u);
  EXPECT_EQ(out[0].odds.price_e4, 30000u);
  EXPECT_EQ(out[0].source, "bf");

  // Agreeing journal: nothing to publish.
  journal.prices = {{1, 25000}, {2, 30000}};
  out.clear();
  selector_.reconcile({{1001, journal}}, 2 * kSecond, out);
  EXPECT_TRUE(out.empty());
}

TEST_F(SourceSelectorTest, ReconcileSuspendsFeedStaleWhenNoSourceIsHealthy) {
  feed(price("bf", 1, 25000), kSecond);
  SourceSelector::PublishedMarket journal;
  journal.prices = {{1, 25000}};
  std::vector<Event> out;
  selector_.reconcile({{1001, journal}}, 10 * kSecond, out);  // bf went quiet long ago
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, EventType::kStatus);
  EXPECT_EQ(out[0].status, fb::MarketStatus::Suspended);
  EXPECT_EQ(out[0].reason, fb::StatusReason::FeedStale);

  // Already suspended feed-stale in the journal: left alone.
  journal.status = fb::MarketStatus::Suspended;
  journal.reason = fb::StatusReason::FeedStale;
  out.clear();
  selector_.reconcile({{1001, journal}}, 10 * kSecond, out);
  EXPECT_TRUE(out.empty());
}

Event source_status(const std::string& source, bool up) {
  Event e;
  e.type = EventType::kSourceStatus;
  e.source = source;
  e.source_up = up;
  return e;
}

// Issue 17 item 12: a source that reports itself down forgets what it said before; when it is
// back, its pre-outage prices are not republished as fresh: the market waits for fresh ones.
TEST_F(SourceSelectorTest, ASourceBackFromAnOutageWaitsForFreshPricesBeforeReopening) {
  feed(price("bf", 1, 26000), 1 * kSecond);
  feed(price("bf", 2, 30000), 1 * kSecond);
  auto out = feed(source_status("bf", false), 2 * kSecond);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, fb::MarketStatus::Suspended);
  EXPECT_EQ(out[0].reason, fb::StatusReason::FeedStale);
  out = feed(source_status("bf", true), 3 * kSecond);
  EXPECT_TRUE(out.empty()) << "reopened on pre-outage prices: " << out.size() << " events";
  EXPECT_EQ(selector_.active_source(1001), "");
  EXPECT_TRUE(tick(4 * kSecond).empty());
  // Fresh prices: the first reopens the market (price first), the next passes through.
  out = feed(price("bf", 1, 27000), 5 * kSecond);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type, EventType::kPrice);
  EXPECT_EQ(out[0].odds.price_e4, 27000u);
  EXPECT_EQ(out[1].type, EventType::kStatus);
  EXPECT_EQ(out[1].status, fb::MarketStatus::Open);
  EXPECT_EQ(selector_.active_source(1001), "bf");
}

TEST_F(SourceSelectorTest, ASourceBackFromAnOutageDoesNotTakeTheMarketBackOnOldPrices) {
  feed(price("bf", 1, 26000), 1 * kSecond);
  feed(price("sr", 1, 25000), 1 * kSecond);
  feed(source_status("bf", false), 2 * kSecond);
  EXPECT_EQ(selector_.active_source(1001), "sr");
  feed(heartbeat("sr"), 3 * kSecond);
  auto out = feed(source_status("bf", true), 3 * kSecond);
  EXPECT_TRUE(out.empty()) << "bf took the market back with its pre-outage price";
  EXPECT_EQ(selector_.active_source(1001), "sr");
  // Its recovery's prices, heard while still down, are fresh: it takes the market back on up.
  feed(source_status("bf", false), 4 * kSecond);
  feed(price("bf", 1, 26500), 4 * kSecond);
  EXPECT_EQ(selector_.active_source(1001), "sr");
  out = feed(source_status("bf", true), 4 * kSecond + 1);
  EXPECT_EQ(selector_.active_source(1001), "bf");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].odds.price_e4, 26500u);
}

TEST_F(SourceSelectorTest, ReconcileAfterAnOutageDoesNotPublishPreOutagePrices) {
  feed(price("bf", 1, 26000), 1 * kSecond);
  feed(source_status("bf", false), 2 * kSecond);
  feed(source_status("bf", true), 2 * kSecond);
  SourceSelector::PublishedMarket journal;
  journal.status = fb::MarketStatus::Open;
  journal.reason = fb::StatusReason::Provider;
  journal.prices = {{1, 25000}};
  std::vector<Event> out;
  selector_.reconcile({{1001, journal}}, 2 * kSecond, out);
  ASSERT_EQ(out.size(), 1u) << "no healthy source has data: suspended, nothing republished";
  EXPECT_EQ(out[0].type, EventType::kStatus);
  EXPECT_EQ(out[0].status, fb::MarketStatus::Suspended);
  EXPECT_EQ(out[0].reason, fb::StatusReason::FeedStale);
}

TEST_F(SourceSelectorTest, ASettlementHeardBeforeAnOutageStillStands) {
  feed(price("bf", 1, 26000), 1 * kSecond);
  Event settle;
  settle.type = EventType::kSettle;
  settle.market = 1001;
  settle.winners = {1};
  settle.source = "sr";
  feed(settle, 1 * kSecond);  // sr is not active: kept in its view
  feed(source_status("sr", false), 2 * kSecond);
  feed(source_status("sr", true), 2 * kSecond);
  auto out = feed(source_status("bf", false), 2 * kSecond);
  ASSERT_EQ(out.size(), 1u) << "a result is not a price: it does not go stale";
  EXPECT_EQ(out[0].type, EventType::kSettle);
  EXPECT_EQ(out[0].winners, std::vector<uint64_t>{1});
}

// Issue 17 item 10, and the rest of what the selector keeps and re-emits: an event published
// from a source's view says what the source said (factors, voided, odds text, reason, time).
TEST_F(SourceSelectorTest, ATakeoverRepublishesASettlementWithItsFactors) {
  feed(price("bf", 1, 26000), 1 * kSecond);
  Event settle;
  settle.type = EventType::kSettle;
  settle.market = 1001;
  settle.winners = {1};
  settle.factors = {{1, 0, 5000}, {2, 10000, 0}};  // a dead heat, a refund
  settle.source_ns = 222;
  settle.source = "sr";
  feed(settle, 1 * kSecond);
  auto out = feed(source_status("bf", false), 2 * kSecond);
  EXPECT_EQ(selector_.active_source(1001), "sr");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, EventType::kSettle);
  EXPECT_EQ(out[0].winners, settle.winners);
  EXPECT_EQ(out[0].factors, settle.factors);
  EXPECT_FALSE(out[0].voided);
  EXPECT_EQ(out[0].source_ns, 222u);
  EXPECT_EQ(out[0].source, "sr");
}

TEST_F(SourceSelectorTest, ATakeoverRepublishesAPriceAsTheSourceWroteIt) {
  feed(price("bf", 2, 26000), 1 * kSecond);
  Event p = price("sr", 2, 25000);
  p.odds_text = "3/2";
  p.odds.format = fb::OddsFormat::Fractional;
  p.odds.numerator = 3;
  p.odds.denominator = 2;
  p.source_ns = 111;
  feed(p, 1 * kSecond);
  auto out = feed(source_status("bf", false), 2 * kSecond);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, EventType::kPrice);
  EXPECT_EQ(out[0].odds_text, "3/2");
  EXPECT_EQ(out[0].odds.format, fb::OddsFormat::Fractional);
  EXPECT_EQ(out[0].odds.numerator, 3u);
  EXPECT_EQ(out[0].odds.denominator, 2u);
  EXPECT_EQ(out[0].source_ns, 111u);
}

TEST_F(SourceSelectorTest, ATakeoverRepublishesAStatusWithItsReasonAndTime) {
  feed(price("bf", 1, 26000), 1 * kSecond);
  feed(price("sr", 1, 26000), 1 * kSecond);
  Event s = status("sr", fb::MarketStatus::Suspended);
  s.reason = fb::StatusReason::Provider;
  s.source_ns = 333;
  feed(s, 1 * kSecond);
  auto out = feed(source_status("bf", false), 2 * kSecond);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, EventType::kStatus);
  EXPECT_EQ(out[0].status, fb::MarketStatus::Suspended);
  EXPECT_EQ(out[0].reason, fb::StatusReason::Provider);
  EXPECT_EQ(out[0].source_ns, 333u);
  EXPECT_EQ(out[0].source, "sr");
}

// A settlement republished at a takeover comes after the prices that came before it: the
// sequencer takes no price for a settled market, so prices emitted after it would be lost, and
// the market would settle on the prices it had before the failover window. Prices the source sent
// after its settlement are not kept: the sequencer (and `odds-engine ingest`) would reject them.
TEST_F(SourceSelectorTest, ATakeoverPublishesASettlementAfterThePricesBeforeIt) {
  feed(price("bf", 1, 26000), 1 * kSecond);
  feed(price("sr", 1, 25000), 1 * kSecond);
  Event settle;
  settle.type = EventType::kSettle;
  settle.market = 1001;
  settle.winners = {1};
  settle.source = "sr";
  feed(settle, 1 * kSecond);
  feed(price("sr", 1, 90000), 1 * kSecond);  // after its settlement: rejected by a sequencer
  feed(price("sr", 2, 90000), 1 * kSecond);
  auto out = feed(source_status("bf", false), 2 * kSecond);
  EXPECT_EQ(selector_.active_source(1001), "sr");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type, EventType::kPrice);
  EXPECT_EQ(out[0].selection, 1u);
  EXPECT_EQ(out[0].odds.price_e4, 25000u);
  EXPECT_EQ(out[1].type, EventType::kSettle);
  EXPECT_EQ(out[1].winners, std::vector<uint64_t>{1});
}

TEST(SourceSelectorSettled, PricesAfterASettlementAreNotKeptByTheActiveSourceEither) {
  auto mapping = *Mapping::parse(kMapping);
  SourceSelector selector(mapping, SourceSelectorConfig{});
  std::vector<Event> out;
  selector.on_event(price("bf", 1, 26000), 1 * kSecond, out);
  Event settled = status("bf", fb::MarketStatus::Settled);  // a settled status, as oddsjson has it
  selector.on_event(settled, 1 * kSecond, out);
  selector.on_event(price("bf", 1, 90000), 1 * kSecond,
                    out);  // passed on; the sequencer rejects it
  // A reopening of the market (a status after the settlement) takes prices again.
  selector.on_event(status("bf", fb::MarketStatus::Suspended), 1 * kSecond, out);
  selector.on_event(price("bf", 2, 31000), 1 * kSecond, out);
  // The journal as a sequencer left it: the price after the settlement is not in it.
  SourceSelector::PublishedMarket journal;
  journal.status = fb::MarketStatus::Suspended;
  journal.reason = fb::StatusReason::Provider;
  journal.prices = {{1, 26000}, {2, 31000}};
  out.clear();
  selector.reconcile({{1001, journal}}, 2 * kSecond, out);
  EXPECT_TRUE(out.empty()) << out.size() << " events, the first of type "
                           << static_cast<int>(out[0].type);
}

TEST(SourceSelectorSuspending, SuspendsOnDisagreementAndReopensWhenTheyAgree) {
  auto mapping = *Mapping::parse(kMapping);
  SourceSelectorConfig c;
  c.stale_after_ns = 100 * kSecond;
  c.disagree_after_ns = 1 * kSecond;
  c.suspend_on_disagreement = true;
  SourceSelector selector(mapping, c);
  std::vector<Event> out;
  selector.on_event(price("bf", 1, 20000), 1 * kSecond, out);
  selector.on_event(price("sr", 1, 30000), 1 * kSecond, out);
  out.clear();
  selector.on_tick(3 * kSecond, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, fb::MarketStatus::Suspended);
  out.clear();
  selector.on_event(price("sr", 1, 20100), 4 * kSecond, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, fb::MarketStatus::Open);
}

// Markets no mapping lists (an oddsjson feed with canonical ids): the selector keeps the feed's
// view of each, so a takeover reconciles them too (issue 10, defect 2).
class UnmappedSelectorTest : public SelectorHarness {
 protected:
  // An empty mapping: no market is mapped.
  explicit UnmappedSelectorTest(bool stale_unmapped = false)
      : SelectorHarness(Mapping{}, config(stale_unmapped)) {}

  static SourceSelectorConfig config(bool stale_unmapped) {
    SourceSelectorConfig c;
    c.stale_after_ns = 3 * kSecond;
    c.stale_unmapped = stale_unmapped;
    return c;
  }
  static Event definition(uint64_t market, std::vector<SelectionDefinition> selections,
                          fb::MarketStatus s = fb::MarketStatus::Open) {
    Event e;
    e.type = EventType::kMarket;
    e.market = market;
    e.event = 501;
    e.name = "Match Odds";
    e.selections = std::move(selections);
    e.status = s;
    e.source = "oj";
    return e;
  }
  static Event on(uint64_t market, Event e) {
    e.market = market;
    return e;
  }
  // The journal's record of a market as the feed defined it.
  static SourceSelector::PublishedMarket journal(fb::MarketStatus s,
                                                 std::vector<std::pair<uint64_t, uint32_t>> prices,
                                                 std::vector<SelectionDefinition> selections = {
                                                     {1, "Home"}, {2, "Away"}}) {
    SourceSelector::PublishedMarket p;
    p.status = s;
    p.prices = std::move(prices);
    p.event = 501;
    p.name = "Match Odds";
    p.selections = std::move(selections);
    return p;
  }
};

TEST_F(UnmappedSelectorTest, EveryEventPassesThroughAsItCame) {
  const auto def = definition(77, {{1, "Home"}, {2, "Away"}});
  auto out = feed(def, kSecond);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, EventType::kMarket);
  out = feed(on(77, price("oj", 1, 25000)), kSecond);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].odds.price_e4, 25000u);
  out = feed(on(77, status("oj", fb::MarketStatus::Suspended)), kSecond);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(selector_.active_source(77), "oj");
  // Without stale_unmapped a silent feed suspends nothing.
  EXPECT_TRUE(tick(60 * kSecond).empty());
}

TEST_F(UnmappedSelectorTest, TakeoverPublishesWhatTheFeedSaidSinceTheJournal) {
  // What the feed said; the journal (the dead primary's) stopped before the last two lines.
  feed(definition(77, {{1, "Home"}, {2, "Away"}}), kSecond);
  feed(on(77, price("oj", 1, 25000)), kSecond);
  feed(on(77, price("oj", 2, 30000)), kSecond);
  feed(on(77, status("oj", fb::MarketStatus::Suspended)), 2 * kSecond);
  feed(on(77, price("oj", 2, 32000)), 2 * kSecond);
  // Market 78 was defined in the window only; market 79 is settled in the journal.
  feed(definition(78, {{1, "Yes"}}), 2 * kSecond);
  feed(on(78, price("oj", 1, 15000)), 2 * kSecond);
  feed(definition(79, {{1, "Home"}, {2, "Away"}}), kSecond);
  feed(on(79, price("oj", 1, 40000)), 2 * kSecond);

  std::vector<Event> out;
  selector_.reconcile({{77, journal(fb::MarketStatus::Open, {{1, 25000}, {2, 30000}})},
                       {79, journal(fb::MarketStatus::Settled, {})}},
                      60 * kSecond, out);
  ASSERT_EQ(out.size(), 4u) << "the settled 79 is left alone";
  // 77: suspended first (it stays suspended), then its moved price; the unchanged one not again.
  EXPECT_EQ(out[0].market, 77u);
  EXPECT_EQ(out[0].type, EventType::kStatus);
  EXPECT_EQ(out[0].status, fb::MarketStatus::Suspended);
  EXPECT_EQ(out[0].reason, fb::StatusReason::Provider);
  EXPECT_EQ(out[1].market, 77u);
  EXPECT_EQ(out[1].type, EventType::kPrice);
  EXPECT_EQ(out[1].selection, 2u);
  EXPECT_EQ(out[1].odds.price_e4, 32000u);
  // 78: defined as the feed has it, then priced.
  EXPECT_EQ(out[2].market, 78u);
  EXPECT_EQ(out[2].type, EventType::kMarket);
  EXPECT_EQ(out[2].status, fb::MarketStatus::Open);
  ASSERT_EQ(out[2].selections.size(), 1u);
  EXPECT_EQ(out[3].market, 78u);
  EXPECT_EQ(out[3].type, EventType::kPrice);
  EXPECT_EQ(out[3].odds.price_e4, 15000u);

  // A journal that agrees with the feed: nothing to publish.
  out.clear();
  auto suspended = journal(fb::MarketStatus::Suspended, {{1, 25000}, {2, 32000}});
  suspended.reason = fb::StatusReason::Provider;  // as the status frame set it
  selector_.reconcile({{77, suspended},
                       {78, journal(fb::MarketStatus::Open, {{1, 15000}}, {{1, "Yes"}})},
                       {79, journal(fb::MarketStatus::Settled, {})}},
                      60 * kSecond, out);
  EXPECT_TRUE(out.empty()) << out.size() << " events, first for market " << out[0].market;
}

TEST_F(UnmappedSelectorTest, TakeoverRedefinesAMarketTheFeedRedefined) {
  feed(definition(77, {{1, "Home"}, {2, "Away"}}), kSecond);
  feed(on(77, price("oj", 1, 25000)), kSecond);
  feed(definition(77, {{1, "Home"}, {3, "Draw"}}), 2 * kSecond);  // in the window
  std::vector<Event> out;
  selector_.reconcile({{77, journal(fb::MarketStatus::Open, {{1, 25000}})}}, 3 * kSecond, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, EventType::kMarket);
  ASSERT_EQ(out[0].selections.size(), 2u);
  EXPECT_EQ(out[0].selections[1].id, 3u);
}

TEST_F(UnmappedSelectorTest, AMarketHeardOnlyByItsPricesKeepsTheJournalsStatus) {
  // This node started after the definition and never heard a status: it cannot know better.
  feed(on(77, price("oj", 1, 26000)), kSecond);
  std::vector<Event> out;
  selector_.reconcile({{77, journal(fb::MarketStatus::Suspended, {{1, 25000}})}}, 3 * kSecond, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, EventType::kPrice);
  EXPECT_EQ(out[0].odds.price_e4, 26000u);
}

class UnmappedStaleTest : public UnmappedSelectorTest {
 protected:
  UnmappedStaleTest() : UnmappedSelectorTest(true) {}
};

TEST_F(UnmappedStaleTest, ItsOneFeedGoingStaleSuspendsItAndItsReturnReopensItFresh) {
  feed(definition(77, {{1, "Home"}, {2, "Away"}}), kSecond);
  feed(on(77, price("oj", 1, 25000)), kSecond);
  EXPECT_TRUE(tick(3 * kSecond).empty());
  auto out = tick(5 * kSecond);  // oj silent for 4 s
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, fb::MarketStatus::Suspended);
  EXPECT_EQ(out[0].reason, fb::StatusReason::FeedStale);
  EXPECT_TRUE(tick(6 * kSecond).empty()) << "suspended once";
  // The feed is back with a new price: the price first, then open again.
  out = feed(on(77, price("oj", 1, 27000)), 7 * kSecond);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type, EventType::kPrice);
  EXPECT_EQ(out[0].odds.price_e4, 27000u);
  EXPECT_EQ(out[1].type, EventType::kStatus);
  EXPECT_EQ(out[1].status, fb::MarketStatus::Open);
  EXPECT_EQ(selector_.counters().reopens, 1u);
  // A trader suspension from the feed while it is healthy passes through and is not undone.
  out = feed(on(77, status("oj", fb::MarketStatus::Suspended)), 8 * kSecond);
  ASSERT_EQ(out.size(), 1u);
  out = tick(20 * kSecond);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].reason, fb::StatusReason::FeedStale);
  out = feed(heartbeat("oj"), 21 * kSecond);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, fb::MarketStatus::Suspended) << "back as the feed left it";
  EXPECT_EQ(out[0].reason, fb::StatusReason::Provider);
}

TEST_F(UnmappedStaleTest, ItsFeedBackFromAnOutageReopensItOnlyWithFreshPrices) {
  feed(definition(77, {{1, "Home"}, {2, "Away"}}), kSecond);
  feed(on(77, price("oj", 1, 25000)), kSecond);
  auto out = feed(source_status("oj", false), 2 * kSecond);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].reason, fb::StatusReason::FeedStale);
  out = feed(source_status("oj", true), 2 * kSecond);
  EXPECT_TRUE(out.empty()) << "reopened on its pre-outage price";
  out = feed(on(77, price("oj", 1, 26000)), 3 * kSecond);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].odds.price_e4, 26000u);
  EXPECT_EQ(out[1].status, fb::MarketStatus::Open);
  // A takeover after another outage: the journal's prices are not "corrected" to pre-outage ones.
  feed(source_status("oj", false), 4 * kSecond);
  feed(source_status("oj", true), 4 * kSecond);
  out.clear();
  selector_.reconcile({{77, journal(fb::MarketStatus::Open, {{1, 25000}})}}, 4 * kSecond, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, EventType::kStatus);
  EXPECT_EQ(out[0].reason, fb::StatusReason::FeedStale);
}

TEST_F(UnmappedSelectorTest, ReconcileRepublishesASettlementWithItsFactors) {
  feed(definition(77, {{1, "Home"}, {2, "Away"}}), kSecond);
  Event settle;
  settle.type = EventType::kSettle;
  settle.market = 77;
  settle.factors = {{1, 10000, 0}, {2, 10000, 0}};
  settle.voided = true;
  settle.source_ns = 444;
  settle.source = "oj";
  feed(settle, kSecond);
  std::vector<Event> out;
  selector_.reconcile({{77, journal(fb::MarketStatus::Open, {})}}, 2 * kSecond, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, EventType::kSettle);
  EXPECT_TRUE(out[0].winners.empty());
  EXPECT_EQ(out[0].factors, settle.factors);
  EXPECT_TRUE(out[0].voided);
  EXPECT_EQ(out[0].source_ns, 444u);
}

// The same at a takeover of a market no mapping lists: its settlement in the failover window
// comes after the prices before it, and the prices after it are not published.
TEST_F(UnmappedSelectorTest, ReconcilePublishesASettlementAfterThePricesBeforeIt) {
  feed(definition(77, {{1, "Home"}, {2, "Away"}}), kSecond);
  feed(on(77, price("oj", 1, 25000)), kSecond);
  // The journal stops here; the window:
  feed(on(77, price("oj", 2, 30000)), 2 * kSecond);
  feed(on(77, status("oj", fb::MarketStatus::Suspended)), 2 * kSecond);
  Event settle;
  settle.type = EventType::kSettle;
  settle.market = 77;
  settle.winners = {2};
  settle.source = "oj";
  feed(settle, 2 * kSecond);
  feed(on(77, price("oj", 1, 90000)), 2 * kSecond);  // after its settlement: rejected by ingest
  std::vector<Event> out;
  selector_.reconcile({{77, journal(fb::MarketStatus::Open, {{1, 25000}})}}, 3 * kSecond, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type, EventType::kPrice);
  EXPECT_EQ(out[0].selection, 2u);
  EXPECT_EQ(out[0].odds.price_e4, 30000u);
  EXPECT_EQ(out[1].type, EventType::kSettle);
  EXPECT_EQ(out[1].winners, std::vector<uint64_t>{2});
}

TEST_F(UnmappedStaleTest, ASettledMarketIsNeverSuspendedStale) {
  feed(definition(77, {{1, "Home"}, {2, "Away"}}), kSecond);
  Event settle;
  settle.type = EventType::kSettle;
  settle.market = 77;
  settle.winners = {1};
  settle.source = "oj";
  feed(settle, kSecond);
  EXPECT_TRUE(tick(60 * kSecond).empty());
}

// A node that starts as primary while a feed is silent (tests/sim/KNOWN_FINDINGS.md F2): the
// journal's markets no feed has spoken of are suspended feed-stale at once, and reopen with the
// first feed's fresh data.
class JournalMarketsTest : public UnmappedStaleTest {
 protected:
  static MarketRecord record(uint64_t id, fb::MarketStatus s,
                             fb::StatusReason r = fb::StatusReason::None) {
    MarketRecord m;
    m.id = id;
    m.event = 501;
    m.name = "Match Odds";
    m.status = s;
    m.reason = r;
    m.selections = {{1, "Home", 25000, "2.5", 0, 0}, {2, "Away", 0, "", 0, 0}};
    return m;
  }
  static MarketState journal_of(std::vector<MarketRecord> records) {
    std::map<uint64_t, MarketRecord> markets;
    for (auto& r : records) markets[r.id] = std::move(r);
    MarketState state;
    state.load(100, 1, std::move(markets));
    return state;
  }
};

TEST_F(JournalMarketsTest, AStartingPrimarySuspendsJournalMarketsNoFeedSpokeOf) {
  // 78 was heard since start (its feed is healthy); 77 and 80 were not; 79 is settled.
  feed(definition(78, {{1, "Yes"}}), kSecond);
  const MarketState journal =
      journal_of({record(77, fb::MarketStatus::Open), record(78, fb::MarketStatus::Open),
                  record(79, fb::MarketStatus::Settled, fb::StatusReason::Settlement),
                  record(80, fb::MarketStatus::Suspended, fb::StatusReason::Provider)});
  std::vector<Event> out;
  selector_.adopt_journal_markets(journal, kSecond, out);
  ASSERT_EQ(out.size(), 2u);
  for (const Event& e : out) {
    EXPECT_EQ(e.type, EventType::kStatus);
    EXPECT_EQ(e.status, fb::MarketStatus::Suspended);
    EXPECT_EQ(e.reason, fb::StatusReason::FeedStale);
  }
  EXPECT_EQ(out[0].market, 77u);
  EXPECT_EQ(out[1].market, 80u);
  out.clear();
  selector_.adopt_journal_markets(journal, 2 * kSecond, out);
  EXPECT_TRUE(out.empty()) << "adopted once";
  EXPECT_TRUE(tick(2 * kSecond).empty()) << "suspended once";

  // Its feed speaks again: a fresh price reopens 77 as it was (open), price first.
  out = feed(on(77, price("oj", 1, 27000)), 3 * kSecond);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type, EventType::kPrice);
  EXPECT_EQ(out[0].odds.price_e4, 27000u);
  EXPECT_EQ(out[1].status, fb::MarketStatus::Open);
  EXPECT_EQ(selector_.active_source(77), "oj");
  // 80 comes back as the feed left it: suspended by the provider.
  out = feed(on(80, price("oj", 1, 26000)), 3 * kSecond);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].status, fb::MarketStatus::Suspended);
  EXPECT_EQ(out[0].reason, fb::StatusReason::Provider);
  // And a later silence suspends them again, as any tracked market.
  out = tick(10 * kSecond);
  EXPECT_EQ(out.size(), 3u);
}

TEST_F(JournalMarketsTest, AJournalMarketHeldFeedStaleReopensOnFreshData) {
  const MarketState journal =
      journal_of({record(77, fb::MarketStatus::Suspended, fb::StatusReason::FeedStale)});
  std::vector<Event> out;
  selector_.adopt_journal_markets(journal, kSecond, out);
  EXPECT_TRUE(out.empty()) << "already suspended feed-stale";
  out = feed(on(77, price("oj", 1, 27000)), 2 * kSecond);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].status, fb::MarketStatus::Open) << "fresh data after an outage means open";
}

TEST_F(JournalMarketsTest, ATakeoverAlsoSuspendsJournalMarketsNoFeedSpokeOf) {
  std::vector<Event> out;
  selector_.reconcile(journal_of({record(77, fb::MarketStatus::Open)}), kSecond, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].reason, fb::StatusReason::FeedStale);
}

TEST_F(UnmappedSelectorTest, WithoutStaleUnmappedJournalMarketsAreLeftAlone) {
  MarketState state;
  std::map<uint64_t, MarketRecord> markets;
  markets[77].id = 77;
  state.load(10, 1, std::move(markets));
  std::vector<Event> out;
  selector_.adopt_journal_markets(state, kSecond, out);
  selector_.reconcile(state, kSecond, out);
  EXPECT_TRUE(out.empty());
}

TEST(UnmappedSelectorBound, MarketsBeyondTheBoundPassThroughUntrackedAndCounted) {
  const Mapping none;
  SourceSelectorConfig config;
  config.max_unmapped_markets = 1;
  SourceSelector selector(none, config);
  std::vector<Event> out;
  for (const uint64_t market : {77, 78}) {
    Event e = price("oj", 1, 20000);
    e.market = market;
    selector.on_event(e, kSecond, out);
  }
  ASSERT_EQ(out.size(), 2u) << "both pass through";
  EXPECT_EQ(selector.counters().untracked, 1u);
  EXPECT_EQ(selector.active_source(77), "oj");
  EXPECT_EQ(selector.active_source(78), "") << "not tracked";
}

}  // namespace
}  // namespace oddsbus::feeds
