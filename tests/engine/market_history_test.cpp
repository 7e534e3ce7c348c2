// One market's history and the diff between two points, checked against the incident journal
// (tests/engine/incident_journal.h): a feed outage, a failover, a desk override and a takeover.
#include "engine/market_history.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/replay.h"
#include "engine/state_diff.h"
#include "tests/engine/engine_test_support.h"
#include "tests/engine/incident_journal.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;

class IncidentJournal : public ::testing::Test {
 protected:
  void SetUp() override {
    journal_ = create_journal(dir_.sub("j"));
    ASSERT_TRUE(journal_);
    write_incident(*journal_);
    ASSERT_EQ(journal_->last_seq(), 18u);
  }
  std::vector<std::string> history_json(uint64_t market, uint64_t from_seq = 1,
                                        uint64_t to_seq = kNoLimit) {
    auto result = market_history(*journal_, market, from_seq, to_seq);
    EXPECT_TRUE(result) << result.error();
    std::vector<std::string> lines;
    if (!result) return lines;
    for (const MarketChange& change : result->changes) {
      std::string line;
      append_change_json(line, change);
      lines.push_back(line);
    }
    return lines;
  }
  TempDir dir_;
  std::unique_ptr<Journal> journal_;
};

TEST_F(IncidentJournal, HistoryListsEveryChangeWithItsSourceAndEpoch) {
  const std::vector<std::string> expected = {
      R"({"seq": 1, "epoch": 1, "ts": "2026-11-23T09:30:00Z", "source": null, "type": "definition", "status": [null, "open"], "selections": [{"selection": 1, "price_e4": [null, 0]}, {"selection": 2, "price_e4": [null, 0]}, {"selection": 3, "price_e4": [null, 0]}]})",
      R"({"seq": 3, "epoch": 1, "ts": "2026-11-23T09:30:01Z", "source": "feed-a", "type": "price", "selections": [{"selection": 1, "price_e4": [0, 25000]}]})",
      R"({"seq": 4, "epoch": 1, "ts": "2026-11-23T09:30:01Z", "source": "feed-a", "type": "price", "selections": [{"selection": 2, "price_e4": [0, 32000]}]})",
      R"({"seq": 5, "epoch": 1, "ts": "2026-11-23T09:30:01Z", "source": "feed-a", "type": "price", "selections": [{"selection": 3, "price_e4": [0, 29000]}]})",
      R"({"seq": 7, "epoch": 1, "ts": "2026-11-23T09:30:03Z", "source": "feed-a", "type": "price", "selections": [{"selection": 1, "price_e4": [25000, 26000]}]})",
      R"({"seq": 8, "epoch": 1, "ts": "2026-11-23T09:30:05Z", "source": "feed-a", "type": "status", "status": ["open", "suspended"], "reason": "feed-stale"})",
      R"({"seq": 9, "epoch": 1, "ts": "2026-11-23T09:30:08Z", "source": "feed-b", "type": "price", "selections": [{"selection": 1, "price_e4": [26000, 27000]}], "source_switch": ["feed-a", "feed-b"]})",
      R"({"seq": 10, "epoch": 1, "ts": "2026-11-23T09:30:08Z", "source": "feed-b", "type": "status", "status": ["suspended", "open"], "reason": "provider"})",
      R"({"seq": 11, "epoch": 1, "ts": "2026-11-23T09:30:10Z", "source": "desk", "type": "price", "selections": [{"selection": 2, "price_e4": [32000, 30000]}], "source_switch": ["feed-b", "desk"], "desk": true})",
      R"({"seq": 12, "epoch": 1, "ts": "2026-11-23T09:30:12Z", "source": "desk", "type": "status", "status": ["open", "suspended"], "reason": "trader", "desk": true})",
      R"({"seq": 13, "epoch": 1, "ts": "2026-11-23T09:30:13Z", "source": "desk", "type": "status", "status": ["suspended", "open"], "reason": "trader", "desk": true})",
      R"({"seq": 14, "epoch": 2, "ts": "2026-11-23T09:30:20Z", "source": "desk", "type": "epoch_change", "epoch_change": [1, 2]})",
      R"({"seq": 15, "epoch": 2, "ts": "2026-11-23T09:30:20Z", "source": "feed-b", "type": "price", "selections": [{"selection": 2, "price_e4": [30000, 31000]}], "source_switch": ["desk", "feed-b"]})",
      R"({"seq": 16, "epoch": 2, "ts": "2026-11-23T09:30:21Z", "source": "feed-b", "type": "price", "selections": [{"selection": 1, "price_e4": [27000, 28000]}]})",
      R"({"seq": 17, "epoch": 2, "ts": "2026-11-23T09:30:22Z", "source": "feed-b", "type": "event_suspension", "status": ["open", "suspended"], "reason": "provider"})",
      R"({"seq": 18, "epoch": 2, "ts": "2026-11-23T09:30:25Z", "source": "feed-b", "type": "status", "status": ["suspended", "open"], "reason": "provider"})",
  };
  EXPECT_EQ(history_json(1001), expected);
}

TEST_F(IncidentJournal, HistoryOfTheOtherMarketHasOnlyItsOwnChangesAndTheTakeover) {
  const std::vector<std::string> lines = history_json(1002);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_NE(lines[0].find("\"seq\": 2,"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("\"seq\": 6,"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("\"epoch_change\": [1, 2]"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("\"seq\": 17,"), std::string::npos) << lines[3];
}

TEST_F(IncidentJournal, HistoryFromASeqKnowsWhatCameBefore) {
  auto result = market_history(*journal_, 1001, 9, 11);
  ASSERT_TRUE(result) << result.error();
  ASSERT_EQ(result->changes.size(), 3u);
  ASSERT_TRUE(result->before);
  EXPECT_EQ(result->before->status, fb::MarketStatus::Suspended);
  EXPECT_EQ(result->source_before, "feed-a");
  EXPECT_EQ(result->changes[0].seq, 9u);
  EXPECT_TRUE(result->changes[0].source_switched);
  EXPECT_EQ(result->changes[2].seq, 11u);
  ASSERT_TRUE(result->after);
  EXPECT_EQ(result->after->find_selection(2)->price_e4, 30000u);
}

TEST_F(IncidentJournal, HistoryOfAnUnknownMarketIsAnErrorThatSaysWhatToDo) {
  auto result = market_history(*journal_, 4242, 1, kNoLimit);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().find("market 4242 is not in journal"), std::string::npos)
      << result.error();
  EXPECT_NE(result.error().find("odds-replay state"), std::string::npos) << result.error();
}

TEST_F(IncidentJournal, HistoryTextSaysWhatChangedInWords) {
  auto result = market_history(*journal_, 1001, 8, 15);
  ASSERT_TRUE(result) << result.error();
  std::string text;
  for (const MarketChange& change : result->changes) {
    append_change_text(text, change, &*result->after);
  }
  EXPECT_NE(text.find("status open -> suspended (feed-stale)"), std::string::npos) << text;
  EXPECT_NE(text.find("SOURCE feed-a -> feed-b; Home 2.60 -> 2.70"), std::string::npos) << text;
  EXPECT_NE(text.find("Draw 3.20 -> 3.00 [desk]"), std::string::npos) << text;
  EXPECT_NE(text.find("EPOCH 1 -> 2 (takeover)"), std::string::npos) << text;
}

TEST_F(IncidentJournal, DiffListsOnlyWhatChangedBetweenTwoSeqs) {
  auto diff = diff_journal(*journal_, 7, 16);
  ASSERT_TRUE(diff) << diff.error();
  std::string json;
  append_diff_json(json, *diff);
  // Between 7 and 16: 1001's Home 2.60 -> 2.80 and Draw 3.20 -> 3.10; status open at both ends;
  // 1002 unchanged.
  EXPECT_EQ(
      json,
      R"({"from": 7, "to": 16, "markets": [{"market": 1001, "selections": [{"selection": 1, "price_e4": [26000, 28000]}, {"selection": 2, "price_e4": [32000, 31000]}]}]})");
}

TEST_F(IncidentJournal, DiffFromTheStartShowsNewMarketsWithNullOldValues) {
  auto diff = diff_journal(*journal_, 0, 18);
  ASSERT_TRUE(diff) << diff.error();
  std::string json;
  append_diff_json(json, *diff);
  EXPECT_EQ(
      json,
      R"({"from": 0, "to": 18, "markets": [{"market": 1001, "status": [null, "open"], "selections": [{"selection": 1, "price_e4": [null, 28000]}, {"selection": 2, "price_e4": [null, 31000]}, {"selection": 3, "price_e4": [null, 29000]}]}, {"market": 1002, "status": [null, "suspended"], "selections": [{"selection": 1, "price_e4": [null, 18000]}, {"selection": 2, "price_e4": [null, 0]}]}]})");
}

TEST_F(IncidentJournal, DiffByTimeMatchesDiffBySeq) {
  auto a = seq_range_for_times(*journal_, std::nullopt, kIncidentT0 + 4 * kSecond);
  auto b = seq_range_for_times(*journal_, std::nullopt, kIncidentT0 + 12 * kSecond);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->to_seq, 7u);
  EXPECT_EQ(b->to_seq, 12u);
  auto diff = diff_journal(*journal_, a->to_seq, b->to_seq);
  ASSERT_TRUE(diff) << diff.error();
  ASSERT_EQ(diff->markets.size(), 1u);
  EXPECT_TRUE(diff->markets[0].status_changed);
  EXPECT_EQ(diff->markets[0].old_status, fb::MarketStatus::Open);
  EXPECT_EQ(diff->markets[0].new_status, fb::MarketStatus::Suspended);
  std::string text;
  append_diff_text(text, *diff);
  EXPECT_NE(text.find("market 1001 Match Odds  status open -> suspended"), std::string::npos)
      << text;
}

TEST_F(IncidentJournal, DiffRefusesPointsOutOfOrderOrPastTheEnd) {
  auto backwards = diff_journal(*journal_, 9, 3);
  ASSERT_FALSE(backwards);
  EXPECT_NE(backwards.error().find("oldest first"), std::string::npos) << backwards.error();
  auto past = diff_journal(*journal_, 3, 30);
  ASSERT_FALSE(past);
  EXPECT_NE(past.error().find("ends at seq 18"), std::string::npos) << past.error();
}

}  // namespace
}  // namespace oddsbus::engine
