#include "engine/file_ingest.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/ingest_queues.h"
#include "engine/replay.h"
#include "engine/restore.h"
#include "engine/sequencer_agent.h"
#include "feeds/adapter.h"
#include "feeds/mapping.h"
#include "feeds/source_selector.h"
#include "schemas/state_digest.h"
#include "tests/engine/engine_test_support.h"

namespace oddsbus::engine {
namespace {

using feeds::RejectReason;
using testing_support::TempDir;

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void open() {
    journal_.reset();
    JournalConfig config;
    config.dir = dir_.sub("journal");
    config.durability = Durability::kNoSync;
    auto journal = Journal::open(config);
    ASSERT_TRUE(journal) << journal.error();
    journal_ = std::move(*journal);
  }

  std::string write_file(const std::string& name, const std::string& content) {
    const std::string path = dir_.sub(name);
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  std::expected<IngestSummary, std::string> ingest(const std::vector<std::string>& files,
                                                   IngestOptions options = {}) {
    return ingest_files(*journal_, files, options);
  }

  MarketState state() {
    auto state = state_at(*journal_, StateQuery{});
    EXPECT_TRUE(state) << state.error();
    return state.value_or(MarketState{});
  }

  static uint64_t rejected(const IngestSummary& summary, RejectReason reason) {
    return summary.rejected[static_cast<size_t>(reason)];
  }

  TempDir dir_;
  std::unique_ptr<Journal> journal_;
};

constexpr const char* kMarket =
    R"({"type":"market","market":1001,"event":501,"name":"Match Odds","status":"open",)"
    R"("selections":[{"id":1,"name":"Home"},{"id":2,"name":"Draw"},{"id":3,"name":"Away"}]})";

TEST_F(IngestTest, CountsEveryKindOfBadLineByReason) {
  const std::string long_line = R"({"type":"heartbeat","pad":")" + std::string(300, 'x') + "\"}";
  const std::string content = std::string(kMarket) + "\n" +
                              R"({"type":"price","market":1001,"selection":1,"odds":"2.50"})"
                              "\n"
                              R"({"type":"price","market":1001,"selection":2,"odds":"5/2"})"
                              "\n"
                              "\n"  // empty: skipped
                              R"({"type":"price","market":1001,)"
                              "\n"  // malformed_json
                              R"({"type":"price","market":1001,"selection":1})"
                              "\n"  // missing_field
                              R"({"type":"price","market":"1001","selection":1,"odds":"2.5"})"
                              "\n"  // bad_field_type
                              R"({"type":"teleport","market":1001})"
                              "\n"  // unknown_type
                              R"({"type":"price","market":1001,"selection":1,"odds":"0.5"})"
                              "\n"  // bad_odds
                              R"({"type":"status","market":1001,"status":"paused"})"
                              "\n"  // bad_status
                              R"({"type":"price","market":999,"selection":1,"odds":"2.5"})"
                              "\n"  // unknown_market
                              R"({"type":"price","market":1001,"selection":9,"odds":"2.5"})"
                              "\n"                  // unknown_selection
                              + long_line + "\n" +  // line_too_long
                              R"({"type":"heartbeat"})"
                              "\n"
                              R"({"type":"settle","market":1001,"winners":[1]})"
                              "\n"
                              R"({"type":"price","market":1001,"selection":3,"odds":"+150"})"
                              "\n";  // market_settled
  IngestOptions options;
  options.max_line = 200;
  auto summary = ingest({write_file("feed.jsonl", content)}, options);
  ASSERT_TRUE(summary) << summary.error();

  EXPECT_EQ(summary->lines, 15u);
  EXPECT_EQ(summary->accepted, 5u);  // market, 2 prices, heartbeat, settle
  EXPECT_EQ(summary->heartbeats, 1u);
  for (const RejectReason reason :
       {RejectReason::kMalformedJson, RejectReason::kMissingField, RejectReason::kBadFieldType,
        RejectReason::kUnknownType, RejectReason::kBadOdds, RejectReason::kBadStatus,
        RejectReason::kUnknownMarket, RejectReason::kUnknownSelection, RejectReason::kMarketSettled,
        RejectReason::kLineTooLong}) {
    EXPECT_EQ(rejected(*summary, reason), 1u) << feeds::to_string(reason);
  }
  EXPECT_EQ(summary->rejected_total(), 10u);
  EXPECT_EQ(summary->lines, summary->accepted + summary->rejected_total());
  EXPECT_EQ(summary->first_seq, 1u);
  EXPECT_EQ(summary->last_seq, 4u);
  EXPECT_EQ(journal_->last_seq(), 4u);

  EXPECT_TRUE(verify_journal(*journal_).ok);
  const MarketState s = state();
  const MarketRecord* market = s.find(1001);
  ASSERT_NE(market, nullptr);
  EXPECT_EQ(market->status, fb::MarketStatus::Settled);
  EXPECT_EQ(market->find_selection(1)->price_e4, 25000u);
  EXPECT_EQ(market->find_selection(2)->odds, "5/2");
  EXPECT_EQ(market->find_selection(3)->price_e4, 0u) << "the rejected price was never applied";
}

TEST_F(IngestTest, ContinuesIntoTheSameJournal) {
  auto first = ingest(
      {write_file("a.jsonl", std::string(kMarket) + "\n" +
                                 R"({"type":"price","market":1001,"selection":1,"odds":"2.0"})"
                                 "\n")});
  ASSERT_TRUE(first) << first.error();
  EXPECT_EQ(first->first_seq, 1u);
  EXPECT_EQ(first->last_seq, 2u);

  open();  // as a second `odds-engine ingest` run would
  // Market 1001 is known only from the journal: the price must be accepted.
  auto second =
      ingest({write_file("b.jsonl", R"({"type":"price","market":1001,"selection":2,"odds":"3.0"})"
                                    "\n"
                                    R"({"type":"settle","market":1001,"winners":[2]})"
                                    "\n")});
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ(second->rejected_total(), 0u);
  EXPECT_EQ(second->first_seq, 3u);
  EXPECT_EQ(second->last_seq, 4u);

  open();
  // Settled in the previous run: the sequencer restored from the journal must know it.
  auto third = ingest(
      {write_file("c.jsonl", R"({"type":"price","market":1001,"selection":2,"odds":"4.0"})")});
  ASSERT_TRUE(third) << third.error();
  EXPECT_EQ(rejected(*third, RejectReason::kMarketSettled), 1u);
  EXPECT_EQ(third->first_seq, 0u) << "nothing written";
  EXPECT_EQ(third->last_seq, 4u);

  const VerifyReport report = verify_journal(*journal_);
  EXPECT_TRUE(report.ok) << report.fault.problem;
  EXPECT_EQ(state().find(1001)->find_selection(2)->price_e4, 30000u);
  EXPECT_EQ(state().find(1001)->find_selection(1)->price_e4, 20000u);
}

TEST_F(IngestTest, SeveralFilesAreSequencedInOrder) {
  const std::string a = write_file("a.jsonl", std::string(kMarket) + "\n");
  const std::string b =
      write_file("b.jsonl", R"({"type":"price","market":1001,"selection":1,"odds":"2.0"})"
                            "\n");
  auto summary = ingest({a, b});
  ASSERT_TRUE(summary) << summary.error();
  EXPECT_EQ(summary->accepted, 2u);
  EXPECT_EQ(summary->rejected_total(), 0u);
}

TEST_F(IngestTest, ReadsALastLineWithoutTrailingNewline) {
  auto summary = ingest({write_file(
      "feed.jsonl", std::string(kMarket) + "\n" +
                        R"({"type":"price","market":1001,"selection":3,"odds":"7/4"})")});
  ASSERT_TRUE(summary) << summary.error();
  EXPECT_EQ(summary->lines, 2u);
  EXPECT_EQ(summary->accepted, 2u);
  EXPECT_EQ(summary->last_seq, 2u);
  EXPECT_EQ(state().find(1001)->find_selection(3)->odds, "7/4");
}

TEST_F(IngestTest, FileBoundaryEndsALineWithoutNewline) {
  // The first file's last line has no newline; it must not run into the second file's first.
  const std::string a = write_file("a.jsonl", kMarket);
  const std::string b =
      write_file("b.jsonl", R"({"type":"price","market":1001,"selection":1,"odds":"2.0"})");
  auto summary = ingest({a, b});
  ASSERT_TRUE(summary) << summary.error();
  EXPECT_EQ(summary->lines, 2u);
  EXPECT_EQ(summary->accepted, 2u);
}

TEST_F(IngestTest, AcceptsCrlfLines) {
  const std::string content =
      std::string(kMarket) + "\r\n" +
      R"({"type":"price","market":1001,"selection":1,"odds":"2.50"})"
      "\r\n"
      R"({"type":"status","market":1001,"status":"suspended","reason":"trader"})"
      "\r\n"
      "\r\n"
      R"({"type":"price","market":1001,"selection":2,"odds":"evens"})";
  auto summary = ingest({write_file("crlf.jsonl", content)});
  ASSERT_TRUE(summary) << summary.error();
  EXPECT_EQ(summary->lines, 4u);
  EXPECT_EQ(summary->accepted, 4u);
  EXPECT_EQ(summary->rejected_total(), 0u);
  const MarketState s = state();
  const MarketRecord& market = *s.find(1001);
  EXPECT_EQ(market.name, "Match Odds");
  EXPECT_EQ(market.status, fb::MarketStatus::Suspended);
  EXPECT_EQ(market.find_selection(1)->odds, "2.50") << "no '\\r' kept in the odds text";
  EXPECT_EQ(market.find_selection(2)->odds, "evens");
}

TEST_F(IngestTest, JournalsInBatchesOfAtMostBatchFrames) {
  std::string content = std::string(kMarket) + "\n";
  for (int i = 0; i < 9; ++i) {
    content +=
        R"({"type":"price","market":1001,"selection":1,"odds":"2.)" + std::to_string(i) + "\"}\n";
  }
  IngestOptions options;
  options.batch_frames = 4;
  auto summary = ingest({write_file("feed.jsonl", content)}, options);
  ASSERT_TRUE(summary) << summary.error();
  EXPECT_EQ(summary->last_seq, 10u);
  const VerifyReport report = verify_journal(*journal_);
  EXPECT_TRUE(report.ok);
  EXPECT_EQ(report.stats.batches, 3u);  // 4 + 4 + 2
}

TEST_F(IngestTest, FailsOnAnUnreadableFileKeepingWhatWasCommitted) {
  const std::string good = write_file("good.jsonl", std::string(kMarket) + "\n");
  auto summary = ingest({good, dir_.sub("missing.jsonl")});
  ASSERT_FALSE(summary);
  EXPECT_NE(summary.error().find("missing.jsonl"), std::string::npos) << summary.error();
  EXPECT_TRUE(verify_journal(*journal_).ok);
}

TEST_F(IngestTest, RefusesAnUnsupportedFormat) {
  IngestOptions options;
  options.format = "csv";
  auto summary = ingest({write_file("feed.csv", "a,b\n")}, options);
  ASSERT_FALSE(summary);
  EXPECT_NE(summary.error().find("csv"), std::string::npos) << summary.error();
  EXPECT_EQ(journal_->last_seq(), 0u);
}

// --- Provider formats and mappings (DESIGN section 10: any of the three formats) ---

std::string test_data(const std::string& name) {
  return std::string(ODDSBUS_TEST_DATA_DIR) + "/" + name;
}

// The shared data folder beside the repository; ODDSBUS_SHARED_DATA_DIR in the environment
// overrides it (a worktree that is not beside shared/).
std::string shared_data(const std::string& name) {
  const char* dir = std::getenv("ODDSBUS_SHARED_DATA_DIR");
  return std::string(dir != nullptr ? dir : ODDSBUS_SHARED_DATA_DIR) + "/" + name;
}

feeds::Mapping must_load(const std::string& path) {
  auto mapping = feeds::Mapping::load(path);
  EXPECT_TRUE(mapping) << mapping.error();
  return mapping ? std::move(*mapping) : feeds::Mapping{};
}

feeds::Mapping must_parse(const std::string& text) {
  auto mapping = feeds::Mapping::parse(text);
  EXPECT_TRUE(mapping) << mapping.error();
  return mapping ? std::move(*mapping) : feeds::Mapping{};
}

// What `odds-feed normalize` says the file comes to: the file through the format's adapter
// alone, each selection's last price and each market's last status, folded as the sequencer
// would (nothing changes a settled market). Only for markets the events name.
struct Expected {
  std::map<std::pair<uint64_t, uint64_t>, uint32_t> prices;  // (market, selection) -> price_e4
  std::map<uint64_t, fb::MarketStatus> statuses;
  // False once the provider reported itself down or rolled a settlement back: the selector's
  // statuses then follow its health rules (feed-stale), not the adapter's events alone.
  bool statuses_checked = true;
  size_t events = 0;
};

Expected fold_adapter(const std::string& format, const std::string& feed,
                      const feeds::Mapping& mapping, const std::string& path) {
  Expected expected;
  auto adapter = feeds::make_adapter(format, feed, &mapping);
  EXPECT_TRUE(adapter) << adapter.error();
  if (!adapter) return expected;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  std::vector<feeds::Event> events;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    events.clear();
    if (!(*adapter)->parse(line, events)) continue;
    for (const feeds::Event& e : events) {
      ++expected.events;
      auto status = expected.statuses.find(e.market);
      const bool settled =
          status != expected.statuses.end() && status->second == fb::MarketStatus::Settled;
      if (e.type == feeds::EventType::kPrice && !settled) {
        expected.prices[{e.market, e.selection}] = e.odds.price_e4;
      } else if (e.type == feeds::EventType::kStatus && !settled) {
        expected.statuses[e.market] = e.status;
      } else if (e.type == feeds::EventType::kSettle) {
        expected.statuses[e.market] = fb::MarketStatus::Settled;
      } else if (e.type == feeds::EventType::kSettlementRollback) {
        expected.statuses.erase(e.market);
        expected.statuses_checked = false;
      } else if (e.type == feeds::EventType::kSourceStatus && !e.source_up) {
        expected.statuses_checked = false;
      }
    }
  }
  return expected;
}

void expect_state_is(const MarketState& state, const Expected& expected) {
  EXPECT_FALSE(expected.prices.empty());
  for (const auto& [key, price_e4] : expected.prices) {
    const MarketRecord* market = state.find(key.first);
    ASSERT_NE(market, nullptr) << "market " << key.first;
    const auto* selection = market->find_selection(key.second);
    ASSERT_NE(selection, nullptr) << "market " << key.first << " selection " << key.second;
    EXPECT_EQ(selection->price_e4, price_e4)
        << "market " << key.first << " selection " << key.second;
  }
  if (!expected.statuses_checked) return;
  for (const auto& [market, status] : expected.statuses) {
    ASSERT_NE(state.find(market), nullptr) << "market " << market;
    EXPECT_EQ(state.find(market)->status, status) << "market " << market;
  }
}

TEST_F(IngestTest, RealBetfairCaptureEndsWithTheAdapterPrices) {
  const std::string capture = shared_data("betfair/1.200806927");
  if (!std::filesystem::exists(capture)) {
    GTEST_SKIP() << "no capture at " << capture << " (set ODDSBUS_SHARED_DATA_DIR)";
  }
  const feeds::Mapping mapping = must_load(test_data("betfair/captures_mapping.toml"));
  const std::string greyhounds = shared_data("betfair/1.197931750");
  IngestOptions options;
  options.format = "betfair-stream";
  options.mapping = &mapping;  // feed name: its only feed, "bf"
  auto summary = ingest({capture, greyhounds}, options);
  ASSERT_TRUE(summary) << summary.error();
  EXPECT_EQ(summary->feed_name, "bf");
  EXPECT_EQ(summary->definitions, 2u);
  EXPECT_EQ(summary->lines, 18529u + 166u);
  EXPECT_EQ(summary->rejected_total(), 0u);
  EXPECT_EQ(summary->accepted, summary->lines);
  EXPECT_EQ(summary->unknown_markets, 0u);
  EXPECT_EQ(summary->unknown_selections, 0u);
  EXPECT_TRUE(verify_journal(*journal_).ok);

  Expected expected = fold_adapter("betfair-stream", "bf", mapping, capture);
  const Expected grey = fold_adapter("betfair-stream", "bf", mapping, greyhounds);
  expected.prices.insert(grey.prices.begin(), grey.prices.end());
  expected.statuses.insert(grey.statuses.begin(), grey.statuses.end());
  EXPECT_GT(expected.events, 1000u);
  const MarketState s = state();
  expect_state_is(s, expected);
  EXPECT_EQ(s.find(200806927)->status, fb::MarketStatus::Settled);
  EXPECT_EQ(s.find(200806927)->name, "Tennis: Match Odds") << "the mapping defines the market";
  EXPECT_EQ(s.find(197931750)->status, fb::MarketStatus::Settled);
}

TEST_F(IngestTest, UofSampleEndsWithTheAdapterPricesAndCountsUnknownIds) {
  const feeds::Mapping mapping = must_load(test_data("uof/mapping.toml"));
  IngestOptions options;
  options.format = "uof-xml";
  options.mapping = &mapping;
  // The mapping has two uof feeds ("sr", "sr2"): one must be named.
  auto ambiguous = ingest({test_data("uof/sample_feed.txt")}, options);
  ASSERT_FALSE(ambiguous);
  EXPECT_NE(ambiguous.error().find("--feed-name"), std::string::npos) << ambiguous.error();
  EXPECT_EQ(journal_->last_seq(), 0u) << "nothing written for unusable options";

  options.feed_name = "sr";
  auto summary = ingest({test_data("uof/sample_feed.txt")}, options);
  ASSERT_TRUE(summary) << summary.error();
  EXPECT_EQ(summary->definitions, mapping.markets().size());
  EXPECT_GT(summary->unknown_markets, 0u) << "market 10 (double chance) is not mapped";
  EXPECT_FALSE(summary->unknown_ids.empty());
  EXPECT_EQ(summary->lines, summary->accepted + summary->rejected_total());
  EXPECT_TRUE(verify_journal(*journal_).ok);
  const Expected expected =
      fold_adapter("uof-xml", "sr", mapping, test_data("uof/sample_feed.txt"));
  expect_state_is(state(), expected);
  const MarketState s = state();
  EXPECT_EQ(s.find(1005)->status, fb::MarketStatus::Suspended)
      << "sr2's market: defined by the mapping, never heard of";
  // The sample ends with producer_down: the feed's live markets go feed-stale, as on a node.
  EXPECT_EQ(s.find(1001)->status, fb::MarketStatus::Suspended);
  EXPECT_EQ(s.find(1001)->reason, fb::StatusReason::FeedStale);
  EXPECT_EQ(s.find(1002)->status, fb::MarketStatus::Settled) << "a result does not go stale";
}

constexpr const char* kOddsJsonMapping = R"toml(
[[market]]
id = 1001
event = 501
name = "Match Odds (mapped)"
sources = ["oj"]
selections = [{ id = 1, name = "Home" }, { id = 2, name = "Draw" }, { id = 3, name = "Away" }]

[market.provider.oj]
market = "1001"
selections = { "1" = 1, "2" = 2, "3" = 3 }

[[market]]
id = 1002
event = 501
name = "Other feed's market"
sources = ["other"]
selections = [{ id = 1, name = "Yes" }, { id = 2, name = "No" }]

[market.provider.other]
event = "x"
market = "1002"
selections = { "1" = 1, "2" = 2 }
)toml";

// What a running node makes of the same single-source input: engine/node.cpp's path (adapter ->
// IngestQueues -> SequencerAgent with a SourceSelector), the mapping's definitions first, the
// feed connected, and a feed that is never quiet for long (1 ms a message on the monotonic clock).
MarketState node_path_state(const std::string& dir, const std::string& format,
                            const std::string& feed, const feeds::Mapping& mapping,
                            const std::string& path) {
  JournalConfig config;
  config.dir = dir;
  config.durability = Durability::kNoSync;
  auto journal = Journal::open(config);
  EXPECT_TRUE(journal) << journal.error();
  if (!journal) return {};
  auto sequencer = restore_sequencer(**journal);
  EXPECT_TRUE(sequencer) << sequencer.error();
  if (!sequencer) return {};
  feeds::SourceSelector selector(mapping, feeds::SourceSelectorConfig{});
  IngestQueues queues(1, 1 << 16);
  SequencerAgent agent(**sequencer, **journal, queues, nullptr, SequencerAgentConfig{}, &selector);
  std::atomic<bool> stop{false};
  uint64_t now = 1'000'000'000;
  auto work = [&] {
    while (true) {
      auto done = agent.do_work(Clocks{now, 1'700'000'000'000'000'000 + now});
      EXPECT_TRUE(done) << done.error();
      if (!done || *done == 0) return;
    }
  };
  std::vector<feeds::Event> events;
  selector.definitions(events);
  EXPECT_TRUE(agent.sequence_now(events, Clocks{now, now}));
  feeds::Event up;
  up.type = feeds::EventType::kSourceStatus;
  up.source = feed;
  up.source_up = true;
  queues.push(0, up, stop);
  auto adapter = feeds::make_adapter(format, feed, &mapping);
  EXPECT_TRUE(adapter) << adapter.error();
  if (!adapter) return {};
  std::ifstream in(path, std::ios::binary);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    events.clear();
    if (!(*adapter)->parse(line, events)) continue;
    for (feeds::Event& e : events) {
      e.source = feed;
      queues.push(0, e, stop);
    }
    now += 1'000'000;
    if (++n % 256 == 0) work();
  }
  work();
  auto state = state_at(**journal, StateQuery{});
  EXPECT_TRUE(state) << state.error();
  return state.value_or(MarketState{});
}

TEST_F(IngestTest, GivesTheStateARunningNodeGivesTheSameInput) {
  struct Case {
    std::string format, feed, mapping, file;
  };
  std::vector<Case> cases = {
      {"uof-xml", "sr", test_data("uof/mapping.toml"), test_data("uof/sample_feed.txt")},
      {"betfair-stream", "bf", test_data("betfair/sample_mapping.toml"),
       test_data("betfair/sample_stream.crlf")}};
  // oddsjson with a mapping: a mapped market of this feed, one of another feed, an unmapped one,
  // a repeated status, a settlement and a price after it.
  cases.push_back(
      {"oddsjson", "oj", write_file("oj.toml", kOddsJsonMapping),
       write_file(
           "oj.jsonl",
           std::string(kMarket) + "\n" +
               R"({"type":"price","market":1001,"selection":1,"odds":"2.50"})"
               "\n"
               R"({"type":"status","market":1001,"status":"suspended","reason":"trader"})"
               "\n"
               R"({"type":"price","market":1002,"selection":1,"odds":"1.5"})"
               "\n"
               R"({"type":"status","market":1001,"status":"open"})"
               "\n"
               R"({"type":"status","market":1001,"status":"suspended","reason":"trader"})"
               "\n"
               R"({"type":"market","market":2002,"event":9,"name":"U","selections":[{"id":1,"name":"A"}]})"
               "\n"
               R"({"type":"price","market":2002,"selection":1,"odds":"4.0"})"
               "\n"
               R"({"type":"settle","market":2002,"winners":[1]})"
               "\n"
               R"({"type":"price","market":2002,"selection":1,"odds":"5.0"})"
               "\n")});
  if (std::filesystem::exists(shared_data("betfair/1.200806927"))) {
    cases.push_back({"betfair-stream", "bf", test_data("betfair/captures_mapping.toml"),
                     shared_data("betfair/1.200806927")});
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.file);
    const feeds::Mapping mapping = must_load(c.mapping);
    JournalConfig config;
    config.dir = dir_.sub("ingested" + std::to_string(i));
    config.durability = Durability::kNoSync;
    auto journal = Journal::open(config);
    ASSERT_TRUE(journal) << journal.error();
    IngestOptions options;
    options.format = c.format;
    options.mapping = &mapping;
    options.feed_name = c.feed;
    auto summary = ingest_files(**journal, std::vector<std::string>{c.file}, options);
    ASSERT_TRUE(summary) << summary.error();
    auto ingested = state_at(**journal, StateQuery{});
    ASSERT_TRUE(ingested) << ingested.error();
    const MarketState node =
        node_path_state(dir_.sub("node" + std::to_string(i)), c.format, c.feed, mapping, c.file);
    EXPECT_GT(node.markets().size(), 0u);
    EXPECT_EQ(digest_hex(state_digest(*ingested)), digest_hex(state_digest(node)));
  }
}

TEST_F(IngestTest, OddsJsonWithAMappingDefinesTheMarketsAndSelectsTheFeed) {
  const feeds::Mapping mapping = must_parse(kOddsJsonMapping);
  IngestOptions options;
  options.mapping = &mapping;  // feed name: "oj", the only one whose sections fit oddsjson
  // Provider timestamps an hour apart: a file has no silence, nothing goes feed-stale.
  const std::string content =
      std::string(kMarket) + "\n" +
      R"({"type":"price","market":1001,"selection":1,"odds":"2.50","ts":1700000000000})"
      "\n"
      R"({"type":"price","market":1001,"selection":2,"odds":"3.0","ts":1700003600000})"
      "\n"
      R"({"type":"price","market":1002,"selection":1,"odds":"1.5"})"
      "\n"  // 1002 belongs to another feed: kept as this feed's view only
      R"({"type":"market","market":2002,"event":9,"name":"Unmapped","selections":[{"id":1,"name":"A"}]})"
      "\n"
      R"({"type":"price","market":2002,"selection":1,"odds":"4.0","ts":1700007200000})"
      "\n";
  auto summary = ingest({write_file("feed.jsonl", content)}, options);
  ASSERT_TRUE(summary) << summary.error();
  EXPECT_EQ(summary->feed_name, "oj");
  EXPECT_EQ(summary->definitions, 2u);
  EXPECT_EQ(summary->lines, 6u);
  EXPECT_EQ(summary->accepted, 6u);
  EXPECT_EQ(summary->rejected_total(), 0u);

  const MarketState s = state();
  const MarketRecord* mapped = s.find(1001);
  ASSERT_NE(mapped, nullptr);
  EXPECT_EQ(mapped->name, "Match Odds (mapped)") << "the mapping defines a mapped market";
  EXPECT_EQ(mapped->status, fb::MarketStatus::Open);
  EXPECT_EQ(mapped->find_selection(1)->price_e4, 25000u);
  EXPECT_EQ(mapped->find_selection(2)->price_e4, 30000u);
  const MarketRecord* other = s.find(1002);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->status, fb::MarketStatus::Suspended);
  EXPECT_EQ(other->find_selection(1)->price_e4, 0u) << "not this feed's market";
  const MarketRecord* unmapped = s.find(2002);
  ASSERT_NE(unmapped, nullptr);
  EXPECT_EQ(unmapped->status, fb::MarketStatus::Open);
  EXPECT_EQ(unmapped->find_selection(1)->price_e4, 40000u);
}

TEST_F(IngestTest, RefusesProviderFormatsWithoutAMappingAndWritesNothing) {
  for (const char* format : {"betfair-stream", "uof-xml"}) {
    IngestOptions options;
    options.format = format;
    auto summary = ingest({write_file("feed.txt", "{\"op\":\"heartbeat\"}\n")}, options);
    ASSERT_FALSE(summary) << format;
    EXPECT_NE(summary.error().find("--mapping"), std::string::npos) << summary.error();
    EXPECT_EQ(summary.error().find('\n'), std::string::npos) << "one line";
    EXPECT_FALSE(check_ingest_options(options)) << format;
  }
  EXPECT_EQ(journal_->last_seq(), 0u);
}

TEST_F(IngestTest, RefusesAFeedNameTheMappingDoesNotKnow) {
  const feeds::Mapping mapping = must_load(test_data("betfair/captures_mapping.toml"));
  IngestOptions options;
  options.format = "betfair-stream";
  options.mapping = &mapping;
  options.feed_name = "nope";
  auto summary = ingest({write_file("feed.txt", "{\"op\":\"heartbeat\"}\n")}, options);
  ASSERT_FALSE(summary);
  EXPECT_NE(summary.error().find("nope"), std::string::npos) << summary.error();
  EXPECT_NE(summary.error().find("bf"), std::string::npos) << "names the feeds it has";
  EXPECT_EQ(journal_->last_seq(), 0u);
}

}  // namespace
}  // namespace oddsbus::engine
