// odds-replay client-view's logic (engine/client_view.h) against a journal with a known history
// (tests/engine/incident_journal.h) and an edge audit log written here, record by record, in the
// format edge/session_audit.h specifies.
#include "engine/client_view.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "engine/replay.h"
#include "schemas/state_json.h"
#include "tests/engine/engine_test_support.h"
#include "tests/engine/incident_journal.h"

namespace oddsbus::engine {
namespace {

using testing_support::kIncidentT0;
using testing_support::TempDir;

constexpr uint64_t kMs = 1'000'000;

uint64_t at_ms(uint64_t ms) { return kIncidentT0 + ms * kMs; }

std::string ts(uint64_t ms) { return "\"ts_ns\": " + std::to_string(at_ms(ms)); }

// Session 9-1 follows market 1001: image at seq 5, deltas 7 and 8, falls behind, a conflated
// delta at 13, unsubscribes, disconnects. 9-2 and 9-3 are other sessions in between.
const std::vector<std::string> kLog = {
    R"({"type": "open", )" + ts(0) + R"(, "run": "9"})",
    R"({"type": "connect", "session": "9-1", )" + ts(500) + R"(, "remote": "127.0.0.1:4000"})",
    R"({"type": "subscribe", "session": "9-1", )" + ts(600) +
        R"(, "subscription": 1, "all": false, "markets": [1001], "events": []})",
    R"({"type": "connect", "session": "9-2", )" + ts(700) + R"(, "remote": "127.0.0.1:4001"})",
    R"({"type": "subscribe", "session": "9-2", )" + ts(700) +
        R"(, "subscription": 1, "all": false, "markets": [], "events": [501]})",
    R"({"type": "image", "session": "9-1", )" + ts(1500) +
        R"(, "seq": 5, "epoch": 1, "subscription": 1, "reason": "subscribe"})",
    R"({"type": "image", "session": "9-2", )" + ts(1500) +
        R"(, "seq": 5, "epoch": 1, "subscription": 1, "reason": "subscribe"})",
    R"({"type": "deltas", "session": "9-1", )" + ts(3500) +
        R"(, "epoch": 1, "subscription": 1, "seqs": [7, 8], "dt_ns": [0, 1500000000]})",
    R"({"type": "conflating", "session": "9-1", )" + ts(9000) +
        R"(, "held_seq": 8, "dropped": 3, "subscription": 1})",
    R"({"type": "conflated", "session": "9-1", )" + ts(14000) +
        R"(, "seq": 13, "epoch": 1, "subscription": 1, "held_seq": 8, "markets": [1001]})",
    R"({"type": "unsubscribe", "session": "9-1", )" + ts(15000) +
        R"(, "subscription": 2, "all": false, "markets": [], "events": []})",
    R"({"type": "disconnect", "session": "9-1", )" + ts(16000) +
        R"(, "reason": "closed by the client"})",
    // 9-3 resumes at seq 16 of epoch 2 and is sent seq 17.
    R"({"type": "connect", "session": "9-3", )" + ts(21500) + R"(, "remote": "127.0.0.1:4002"})",
    R"({"type": "subscribe", "session": "9-3", )" + ts(21500) +
        R"(, "subscription": 1, "all": true, "markets": [], "events": [], "resume_from": 16, "resume_epoch": 2})",
    R"({"type": "resumed", "session": "9-3", )" + ts(21600) +
        R"(, "seq": 16, "epoch": 2, "subscription": 1})",
    R"({"type": "hole", )" + ts(22000) + R"(, "dropped": 4})",
    R"({"type": "deltas", "session": "9-3", )" + ts(22100) +
        R"(, "epoch": 2, "subscription": 1, "seqs": [17], "dt_ns": [0]})",
};

class ClientViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    journal_ = testing_support::create_journal(dir_.sub("journal"));
    ASSERT_NE(journal_, nullptr);
    testing_support::write_incident(*journal_);
    write_log(dir_.sub("audit.jsonl"), kLog);
  }

  static void write_log(const std::string& path, const std::vector<std::string>& lines) {
    std::ofstream out(path, std::ios::trunc);
    for (const std::string& line : lines) out << line << "\n";
  }

  std::expected<ClientView, std::string> view(const std::string& session, uint64_t ms,
                                              const std::string& log = "audit.jsonl") {
    auto point = find_client_view_point(audit_log_files(dir_.sub(log)), session, at_ms(ms));
    if (!point) return std::unexpected(point.error());
    return client_view(*journal_, *point);
  }

  // The journal's own state JSON for one market at a seq (what `state --json` prints).
  std::string state_json(uint64_t seq, std::optional<uint64_t> market = std::nullopt) {
    auto state = state_at(*journal_, StateQuery{seq, std::nullopt});
    EXPECT_TRUE(state) << state.error();
    std::string out;
    append_state_json(out, *state, market);
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Journal> journal_;
};

TEST_F(ClientViewTest, BeforeTheFirstImageTheClientWasShownNothing) {
  auto v = view("9-1", 1000);
  ASSERT_TRUE(v) << v.error();
  EXPECT_FALSE(v->point.received);
  EXPECT_TRUE(v->state.markets().empty());
  EXPECT_EQ(v->point.remote, "127.0.0.1:4000");
}

TEST_F(ClientViewTest, AnImageShowsTheStateAtItsSeqOfTheSubscribedMarketsOnly) {
  auto v = view("9-1", 2000);
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(v->point.seq, 5u);
  EXPECT_EQ(v->point.shown_by, "image");
  ASSERT_EQ(v->state.markets().size(), 1u) << "market 1002 is not subscribed";
  const MarketRecord* m = v->state.find(1001);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->find_selection(1)->price_e4, 25000u);
  EXPECT_EQ(m->find_selection(2)->price_e4, 32000u);
  EXPECT_EQ(m->find_selection(3)->price_e4, 29000u);

  std::string json;
  append_client_view_json(json, *v, at_ms(2000));
  // The state JSON of `state --json --market 1001` at seq 5, after the client-view fields.
  const std::string expected = state_json(5, 1001);
  ASSERT_GE(json.size(), expected.size());
  EXPECT_EQ(json.substr(json.size() - (expected.size() - 1)), expected.substr(1)) << json;
  EXPECT_EQ(json.rfind("{\"session\": \"9-1\", \"at\": \"2026-11-23T09:30:02Z\"", 0), 0u) << json;
}

TEST_F(ClientViewTest, EventSubscriptionsShowEveryMarketOfTheEvent) {
  auto v = view("9-2", 2000);
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(v->state.markets().size(), 2u);
}

TEST_F(ClientViewTest, EachDeltaCountsFromTheTimeItWasWritten) {
  auto at_7 = view("9-1", 4999);
  ASSERT_TRUE(at_7) << at_7.error();
  EXPECT_EQ(at_7->point.seq, 7u);
  EXPECT_EQ(at_7->state.find(1001)->find_selection(1)->price_e4, 26000u);
  EXPECT_EQ(at_7->state.find(1001)->status, fb::MarketStatus::Open);
  auto at_8 = view("9-1", 5000);
  ASSERT_TRUE(at_8) << at_8.error();
  EXPECT_EQ(at_8->point.seq, 8u);
  EXPECT_EQ(at_8->state.find(1001)->status, fb::MarketStatus::Suspended);
}

TEST_F(ClientViewTest, AConflatedClientSawNothingBetweenWhatItHeldAndTheConflatedDelta) {
  // Frames 9-12 changed market 1001 while the client was behind: it went on showing seq 8.
  auto behind = view("9-1", 13999);
  ASSERT_TRUE(behind) << behind.error();
  EXPECT_EQ(behind->point.seq, 8u);
  EXPECT_EQ(behind->state.find(1001)->status, fb::MarketStatus::Suspended);
  EXPECT_EQ(behind->point.conflations, 0u);
  auto conflated = view("9-1", 14000);
  ASSERT_TRUE(conflated) << conflated.error();
  EXPECT_EQ(conflated->point.seq, 13u);
  EXPECT_EQ(conflated->point.shown_by, "conflated");
  EXPECT_EQ(conflated->point.conflations, 1u);
  const MarketRecord* m = conflated->state.find(1001);
  EXPECT_EQ(m->status, fb::MarketStatus::Open);
  EXPECT_EQ(m->find_selection(1)->price_e4, 27000u);
  EXPECT_EQ(m->find_selection(2)->price_e4, 30000u);
}

TEST_F(ClientViewTest, AnUnsubscribeTakesMarketsOutOfTheViewAtOnce) {
  auto v = view("9-1", 15000);
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(v->point.seq, 13u);
  EXPECT_TRUE(v->state.markets().empty());
  auto after = view("9-1", 20000);
  ASSERT_TRUE(after) << after.error();
  ASSERT_TRUE(after->point.disconnected_ns);
  EXPECT_EQ(*after->point.disconnected_ns, at_ms(16000));
  EXPECT_EQ(after->point.disconnect_reason, "closed by the client");
  EXPECT_EQ(after->point.lost_lines, 0u) << "the hole came after this session ended";
}

TEST_F(ClientViewTest, AResumedSessionShowsTheSeqItResumedFrom) {
  auto resumed = view("9-3", 22000);
  ASSERT_TRUE(resumed) << resumed.error();
  EXPECT_EQ(resumed->point.seq, 16u);
  EXPECT_EQ(resumed->point.shown_by, "resumed");
  EXPECT_EQ(resumed->point.resumes, 1u);
  EXPECT_EQ(resumed->state.markets().size(), 2u);
  EXPECT_EQ(resumed->state.find(1001)->find_selection(1)->price_e4, 28000u);
  EXPECT_EQ(resumed->point.lost_lines, 4u) << "the log lost lines while it was open";
  auto later = view("9-3", 23000);
  ASSERT_TRUE(later) << later.error();
  EXPECT_EQ(later->point.seq, 17u);
  EXPECT_EQ(later->state.find(1002)->status, fb::MarketStatus::Suspended);
}

TEST_F(ClientViewTest, AWidenedSubscriptionShowsNewMarketsOnlyWithTheirImage) {
  write_log(dir_.sub("widen.jsonl"),
            {R"({"type": "connect", "session": "9-5", )" + ts(0) + R"(, "remote": "x:1"})",
             R"({"type": "subscribe", "session": "9-5", )" + ts(0) +
                 R"(, "subscription": 1, "all": false, "markets": [1001], "events": []})",
             R"({"type": "image", "session": "9-5", )" + ts(1500) +
                 R"(, "seq": 5, "epoch": 1, "subscription": 1, "reason": "subscribe"})",
             R"({"type": "subscribe", "session": "9-5", )" + ts(3000) +
                 R"(, "subscription": 2, "all": false, "markets": [1001, 1002], "events": []})",
             R"({"type": "image", "session": "9-5", )" + ts(4000) +
                 R"(, "seq": 7, "epoch": 1, "subscription": 2, "reason": "subscribe"})"});
  auto before = view("9-5", 3500, "widen.jsonl");
  ASSERT_TRUE(before) << before.error();
  EXPECT_EQ(before->state.markets().size(), 1u);
  auto after = view("9-5", 4000, "widen.jsonl");
  ASSERT_TRUE(after) << after.error();
  EXPECT_EQ(after->state.markets().size(), 2u);
}

TEST_F(ClientViewTest, ReadsRotatedFilesOldestFirst) {
  std::vector<std::string> older(kLog.begin(), kLog.begin() + 7);
  std::vector<std::string> newer(kLog.begin() + 7, kLog.end());
  write_log(dir_.sub("rotated.jsonl.1"), older);
  write_log(dir_.sub("rotated.jsonl"), newer);
  EXPECT_EQ(audit_log_files(dir_.sub("rotated.jsonl")),
            (std::vector<std::string>{dir_.sub("rotated.jsonl.1"), dir_.sub("rotated.jsonl")}));
  auto v = view("9-1", 14000, "rotated.jsonl");
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(v->point.seq, 13u);
  EXPECT_EQ(v->state.markets().size(), 1u);
}

TEST_F(ClientViewTest, RefusesWhatItCannotAnswer) {
  auto unknown = view("9-9", 2000);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find("not in the audit log"), std::string::npos) << unknown.error();
  auto early = view("9-1", 100);
  ASSERT_FALSE(early);
  EXPECT_NE(early.error().find("connected at 2026-11-23T09:30:00.500Z"), std::string::npos)
      << early.error();
  auto missing = find_client_view_point({dir_.sub("nothing.jsonl")}, "9-1", at_ms(2000));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("cannot read"), std::string::npos) << missing.error();

  // The edge served seq 15 in epoch 1; this journal holds it in epoch 2.
  write_log(dir_.sub("lost.jsonl"),
            {R"({"type": "connect", "session": "9-6", )" + ts(0) + R"(, "remote": "x:1"})",
             R"({"type": "subscribe", "session": "9-6", )" + ts(0) +
                 R"(, "subscription": 1, "all": true, "markets": [], "events": []})",
             R"({"type": "image", "session": "9-6", )" + ts(1000) +
                 R"(, "seq": 15, "epoch": 1, "subscription": 1, "reason": "subscribe"})"});
  auto lost = view("9-6", 2000, "lost.jsonl");
  ASSERT_FALSE(lost);
  EXPECT_NE(lost.error().find("epoch"), std::string::npos) << lost.error();
}

}  // namespace
}  // namespace oddsbus::engine
