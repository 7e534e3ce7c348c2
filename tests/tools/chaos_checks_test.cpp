// The chaos checks (tools/chaos): each passes on a faithful run and FAILS on a constructed bad
// one. Journals come from engine::ingest_files of small oddsjson feeds; client logs are written
// by hand the way the edge would have sent them (DESIGN section 10).
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/file_ingest.h"
#include "engine/journal_scan.h"
#include "engine/replay.h"
#include "schemas/state_digest.h"
#include "tests/engine/engine_test_support.h"
#include "tools/chaos/journal_checks.h"
#include "tools/chaos/stream_check.h"

namespace oddsbus::chaos {
namespace {

using engine::testing_support::TempDir;

// seq 1 defines market 1001 (selections 1 and 2); seqs 2..6 price them.
const std::vector<std::string> kFeed = {
    R"({"type":"market","market":1001,"event":501,"name":"M","status":"open","selections":[{"id":1,"name":"A"},{"id":2,"name":"B"}]})",
    R"({"type":"price","market":1001,"selection":1,"odds":"2.50"})",
    R"({"type":"price","market":1001,"selection":2,"odds":"3.00"})",
    R"({"type":"price","market":1001,"selection":1,"odds":"2.60"})",
    R"({"type":"price","market":1001,"selection":2,"odds":"3.10"})",
    R"({"type":"price","market":1001,"selection":1,"odds":"2.70"})",
};

std::string write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path);
  for (const std::string& line : lines) out << line << "\n";
  return path;
}

std::unique_ptr<engine::Journal> ingest(const std::string& dir, const std::string& feed_file,
                                        const feeds::Mapping* mapping = nullptr,
                                        const std::string& feed_name = "") {
  auto journal = engine::Journal::open({.dir = dir});
  EXPECT_TRUE(journal) << journal.error();
  engine::IngestOptions options;
  options.mapping = mapping;
  options.feed_name = feed_name;
  const std::vector<std::string> files{feed_file};
  auto summary = engine::ingest_files(**journal, files, options);
  EXPECT_TRUE(summary) << summary.error();
  return std::move(*journal);
}

// Messages as the edge sends them for kFeed.
std::string image(uint64_t seq, uint32_t epoch, uint32_t p1, uint32_t p2,
                  const std::string& reason = "subscribe") {
  return R"({"type":"image","seq":)" + std::to_string(seq) + R"(,"epoch":)" +
         std::to_string(epoch) + R"(,"stale":false,"reason":")" + reason +
         R"(","markets":[{"market":1001,"event":501,"name":"M","status":"open","market_seq":)" +
         std::to_string(seq) + R"(,"selections":[{"selection":1,"name":"A","price_e4":)" +
         std::to_string(p1) + R"(,"odds":""},{"selection":2,"name":"B","price_e4":)" +
         std::to_string(p2) + R"(,"odds":""}]}]})";
}
std::string delta(uint64_t seq, uint32_t epoch, uint64_t selection, uint32_t price,
                  bool conflated = false) {
  return R"({"type":"delta","seq":)" + std::to_string(seq) + R"(,"epoch":)" +
         std::to_string(epoch) + R"(,"markets":[{"market":1001,"market_seq":)" +
         std::to_string(seq) + R"(,"status":"open","selections":[{"selection":)" +
         std::to_string(selection) + R"(,"price_e4":)" + std::to_string(price) +
         R"(,"odds":""}]}],"conflated":)" + (conflated ? "true" : "false") + "}";
}
const std::string kConnect = R"({"type":"client-connect"})";
const std::string kHeartbeat = R"({"type":"heartbeat","seq":6,"epoch":1})";

// Everything a faithful client of kFeed sees from the market's definition on.
std::vector<std::string> faithful() {
  return {kConnect,
          image(1, 1, 0, 0),
          delta(2, 1, 1, 25000),
          delta(3, 1, 2, 30000),
          delta(4, 1, 1, 26000),
          delta(5, 1, 2, 31000),
          delta(6, 1, 1, 27000),
          kHeartbeat};
}

class ChaosChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    feed_ = write_lines(dir_.sub("feed.oddsjson"), kFeed);
    journal_ = ingest(dir_.sub("journal"), feed_);
    ASSERT_EQ(journal_->last_seq(), 6u);
  }
  CheckResult streams(const std::vector<std::string>& log, std::optional<uint64_t> final_seq = 6) {
    const std::vector<ClientLog> clients{
        {"client", write_lines(dir_.sub("client.log"), log), final_seq}};
    totals_ = {};
    return check_client_streams(*journal_, clients, totals_);
  }
  std::string joined(const CheckResult& r) {
    std::string out;
    for (const std::string& e : r.examples) out += e + "\n";
    return out;
  }

  TempDir dir_;
  std::string feed_;
  std::unique_ptr<engine::Journal> journal_;
  StreamTotals totals_;
};

TEST_F(ChaosChecksTest, AFaithfulClientPasses) {
  const CheckResult r = streams(faithful());
  EXPECT_TRUE(r.passed()) << joined(r);
  EXPECT_EQ(totals_.deltas, 5u);
  EXPECT_EQ(totals_.reimages, 0u);
  EXPECT_EQ(r.checked, 5u);
}

TEST_F(ChaosChecksTest, ALostSeqFails) {
  std::vector<std::string> log = faithful();
  log.erase(log.begin() + 4);  // delta 4
  const CheckResult r = streams(log);
  ASSERT_FALSE(r.passed());
  EXPECT_NE(joined(r).find("lost 1 frame(s) from seq 4"), std::string::npos) << joined(r);
}

TEST_F(ChaosChecksTest, ADuplicateFails) {
  std::vector<std::string> log = faithful();
  log.insert(log.begin() + 4, delta(3, 1, 2, 30000));
  const CheckResult r = streams(log);
  ASSERT_FALSE(r.passed());
  EXPECT_NE(joined(r).find("duplicate: delta seq 3 after 3"), std::string::npos) << joined(r);
}

TEST_F(ChaosChecksTest, DisorderFails) {
  std::vector<std::string> log = faithful();
  std::swap(log[4], log[5]);
  const CheckResult r = streams(log);
  ASSERT_FALSE(r.passed());
  EXPECT_NE(joined(r).find("out of order: delta seq 4 after 5"), std::string::npos) << joined(r);
}

TEST_F(ChaosChecksTest, AConflatedDeltaMayFoldFrames) {
  const std::vector<std::string> log = {kConnect, image(1, 1, 0, 0), delta(2, 1, 1, 25000),
                                        delta(5, 1, 2, 31000, true), delta(6, 1, 1, 27000)};
  const CheckResult r = streams(log);
  EXPECT_TRUE(r.passed()) << joined(r);
  EXPECT_EQ(totals_.conflated, 1u);
}

TEST_F(ChaosChecksTest, AWrongPriceFailsTheFinalDigest) {
  std::vector<std::string> log = faithful();
  log[6] = delta(6, 1, 1, 27001);
  const CheckResult r = streams(log);
  ASSERT_FALSE(r.passed());
  EXPECT_NE(joined(r).find("folded state at seq 6 has digest"), std::string::npos) << joined(r);
}

TEST_F(ChaosChecksTest, AClientThatStopsShortOfItsEdgeFails) {
  std::vector<std::string> log = faithful();
  log.resize(5);  // up to delta 4
  const CheckResult r = streams(log);
  ASSERT_FALSE(r.passed());
  EXPECT_NE(joined(r).find("stopped at seq 4, its edge at 6"), std::string::npos) << joined(r);
}

TEST_F(ChaosChecksTest, AReconnectThatResumesOrReimagesPasses) {
  const std::vector<std::string> log = {kConnect,
                                        image(1, 1, 0, 0),
                                        delta(2, 1, 1, 25000),
                                        kConnect,
                                        R"({"type":"resumed","seq":2,"epoch":1,"stale":false})",
                                        delta(3, 1, 2, 30000),
                                        kConnect,
                                        image(5, 1, 26000, 31000, "resume-unavailable"),
                                        delta(6, 1, 1, 27000)};
  const CheckResult r = streams(log);
  EXPECT_TRUE(r.passed()) << joined(r);
  EXPECT_EQ(totals_.connections, 3u);
  EXPECT_EQ(totals_.resumes, 1u);
  EXPECT_EQ(totals_.reimages, 1u);
  EXPECT_EQ(totals_.reimage_reasons["resume-unavailable"], 1u);
}

// An async takeover lost seqs 4 and 5 of epoch 1 that the client had seen; the edge resyncs.
TEST_F(ChaosChecksTest, ALostHistoryAnnouncedByAnImagePasses) {
  const std::vector<std::string> log = {kConnect,
                                        image(1, 1, 0, 0),
                                        delta(2, 1, 1, 25000),
                                        delta(3, 1, 2, 30000),
                                        delta(4, 9, 1, 99000),
                                        delta(5, 9, 2, 99000),
                                        image(5, 1, 26000, 31000, "resync"),
                                        delta(6, 1, 1, 27000)};
  const CheckResult r = streams(log);
  EXPECT_TRUE(r.passed()) << joined(r);
  EXPECT_EQ(totals_.lost_history_frames, 2u);
  EXPECT_EQ(totals_.reimage_reasons["resync"], 1u);
}

TEST_F(ChaosChecksTest, ALostHistoryWithoutAnImageFails) {
  const std::vector<std::string> log = {kConnect,
                                        image(1, 1, 0, 0),
                                        delta(2, 1, 1, 25000),
                                        delta(3, 1, 2, 30000),
                                        delta(4, 9, 1, 99000),
                                        delta(5, 1, 2, 31000),
                                        delta(6, 1, 1, 27000)};
  const CheckResult r = streams(log);
  ASSERT_FALSE(r.passed());
  EXPECT_NE(joined(r).find("silent divergence"), std::string::npos) << joined(r);
  // ... and one that ends there fails too.
  const CheckResult ends = streams({kConnect, image(1, 1, 0, 0), delta(2, 9, 1, 1)}, std::nullopt);
  ASSERT_FALSE(ends.passed());
  EXPECT_NE(joined(ends).find("ended on a lost history"), std::string::npos) << joined(ends);
}

TEST_F(ChaosChecksTest, EdgeDigestsMatchOrFail) {
  auto state = engine::state_at(*journal_, {.at_seq = 4, .at_time_ns = std::nullopt});
  ASSERT_TRUE(state);
  const std::string at4 = digest_hex(state_digest(*state));
  const std::vector<EdgeEnd> good{{"edge-a", 4, at4}};
  EXPECT_TRUE(check_edge_digests(*journal_, good, false).passed());
  const CheckResult not_last = check_edge_digests(*journal_, good, true);
  ASSERT_FALSE(not_last.passed());
  EXPECT_NE(joined(not_last).find("edge-a ended at seq 4, the journal at 6"), std::string::npos);
  const std::vector<EdgeEnd> bad{{"edge-b", 5, at4}};
  const CheckResult r = check_edge_digests(*journal_, bad, false);
  ASSERT_FALSE(r.passed());
  EXPECT_NE(joined(r).find("edge-b digest " + at4 + " at seq 5, odds-replay digest"),
            std::string::npos)
      << joined(r);
}

TEST_F(ChaosChecksTest, JournalsAgreeWhereTheyOverlapOrFail) {
  journal_.reset();
  std::filesystem::copy(dir_.sub("journal"), dir_.sub("copy"));
  journal_ = engine::Journal::open({.dir = dir_.sub("journal")}).value();
  // The copy goes on further: a prefix, not a divergence.
  auto longer = ingest(dir_.sub("copy"), write_lines(dir_.sub("more.oddsjson"), {kFeed[1]}));
  ASSERT_EQ(longer->last_seq(), 7u);
  std::vector<NamedJournal> pair{{"node1", journal_.get()}, {"node2", longer.get()}};
  const CheckResult agree = check_journals(pair);
  EXPECT_TRUE(agree.passed()) << joined(agree);
  EXPECT_EQ(agree.note, "agree on 6 common frames");

  // Each goes on with a different price at seq 7.
  auto other = ingest(dir_.sub("journal"), write_lines(dir_.sub("other.oddsjson"), {kFeed[2]}));
  pair[0].journal = other.get();
  const CheckResult diverge = check_journals(pair);
  ASSERT_FALSE(diverge.passed());
  EXPECT_NE(joined(diverge).find("node1 and node2 diverge at seq 7"), std::string::npos)
      << joined(diverge);
}

TEST_F(ChaosChecksTest, ADamagedJournalFailsVerify) {
  const std::string junk = "not a batch";
  ASSERT_TRUE(journal_->put_raw_for_test(
      7, std::span(reinterpret_cast<const uint8_t*>(junk.data()), junk.size())));
  const std::vector<NamedJournal> one{{"node1", journal_.get()}};
  const CheckResult r = check_journals(one);
  ASSERT_FALSE(r.passed());
  EXPECT_NE(joined(r).find("node1 fails verify"), std::string::npos) << joined(r);
}

TEST_F(ChaosChecksTest, FinalStateEqualsIngestOfWhatTheFeedSentOrFails) {
  IngestReference reference;
  reference.feed_files = {feed_};
  reference.scratch_dir = dir_.sub("reference");
  const CheckResult same = check_final_state(*journal_, reference);
  EXPECT_TRUE(same.passed()) << joined(same);
  EXPECT_EQ(same.checked, 1u);
  std::vector<std::string> short_feed = kFeed;
  short_feed.pop_back();  // the feed "sent" one price fewer than the journal holds
  reference.feed_files = {write_lines(dir_.sub("short.oddsjson"), short_feed)};
  const CheckResult differ = check_final_state(*journal_, reference);
  ASSERT_FALSE(differ.passed());
  EXPECT_NE(joined(differ).find("market 1001: ingest open [1:26000 2:31000], journal open "
                                "[1:27000 2:31000]"),
            std::string::npos)
      << joined(differ);
}

TEST_F(ChaosChecksTest, AMarketOpenThroughAnOutageOfAllItsSourcesFails) {
  auto mapping = feeds::Mapping::parse(R"(
[[market]]
id = 1001
event = 501
name = "M"
sources = ["oj"]
selections = [{ id = 1, name = "A" }, { id = 2, name = "B" }]
[market.provider.oj]
market = "1001"
selections = { "1" = 1, "2" = 2 }
)");
  ASSERT_TRUE(mapping) << mapping.error();
  uint64_t last_ns = 0;
  ASSERT_TRUE(engine::scan_frames(*journal_, 1, engine::kNoLimit, [&](const fb::Frame& f) {
    last_ns = f.sequenced_ns();
    return true;
  }));
  const uint64_t second = 1'000'000'000;
  // All frames were stamped by last_ns: an outage that began then finds the market open.
  const std::vector<FeedOutage> outage{{"oj", last_ns, last_ns + 10 * second}};
  const CheckResult r = check_stale_markets(*journal_, *mapping, outage, second, second);
  ASSERT_FALSE(r.passed());
  EXPECT_NE(joined(r).find("market 1001 still open 2000 ms into an outage"), std::string::npos)
      << joined(r);
  // A short outage, or one of another feed, asks nothing.
  const std::vector<FeedOutage> short_one{{"oj", last_ns, last_ns + second}, {"bf", 0, last_ns}};
  EXPECT_TRUE(check_stale_markets(*journal_, *mapping, short_one, second, second).passed());

  // Suspended (feed-stale, as an engine would) before the outage's grace ran out: passes.
  auto suspended =
      ingest(dir_.sub("journal2"),
             write_lines(dir_.sub("stale.oddsjson"),
                         {kFeed[0], R"({"type":"status","market":1001,"status":"suspended"})"}));
  uint64_t suspended_ns = 0;
  ASSERT_TRUE(engine::scan_frames(*suspended, 1, engine::kNoLimit, [&](const fb::Frame& f) {
    suspended_ns = f.sequenced_ns();
    return true;
  }));
  const std::vector<FeedOutage> before{
      {"oj", suspended_ns - 2 * second, suspended_ns + 10 * second}};
  const CheckResult ok = check_stale_markets(*suspended, *mapping, before, second, second);
  EXPECT_TRUE(ok.passed()) << joined(ok);
  EXPECT_EQ(ok.checked, 1u);
}

}  // namespace
}  // namespace oddsbus::chaos
