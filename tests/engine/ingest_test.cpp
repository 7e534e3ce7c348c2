#include "engine/file_ingest.h"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/replay.h"
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
  options.format = "uof-xml";
  auto summary = ingest({write_file("feed.xml", "<odds_change/>\n")}, options);
  ASSERT_FALSE(summary);
  EXPECT_NE(summary.error().find("uof-xml"), std::string::npos) << summary.error();
  EXPECT_EQ(journal_->last_seq(), 0u);
}

}  // namespace
}  // namespace oddsbus::engine
