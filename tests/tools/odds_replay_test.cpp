// odds-replay's incident commands run as the real binary (DESIGN section 10) against a journal
// with a known history (tests/engine/incident_journal.h: a feed outage, a failover, a desk
// override, a takeover) that this process keeps open for writing, as a live node would.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <pugixml.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/journal.h"
#include "tests/engine/incident_journal.h"
#include "tests/tools/run_tool.h"

namespace oddsbus {
namespace {

using engine::testing_support::FrameWriter;
using engine::testing_support::kIncidentT0;
using engine::testing_support::kSecond;
using testing::lines_of;
using testing::run_tool;
using testing::TempDir;
using testing::ToolResult;

std::string replay() { return testing::tool_dir() + "/odds-replay"; }

class OddsReplay : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (scratch_.path() / "journal").string();
    journal_ = engine::testing_support::create_journal(dir_);
    ASSERT_TRUE(journal_);
    engine::testing_support::write_incident(*journal_);
  }
  ToolResult run(std::vector<std::string> args) {
    args.insert(args.begin(), replay());
    return run_tool(args, scratch_);
  }
  TempDir scratch_;
  std::string dir_;
  std::unique_ptr<engine::Journal> journal_;
};

uint64_t seq_of(const std::string& json_line) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  EXPECT_EQ(parser.parse(json_line).get(object), simdjson::SUCCESS) << json_line;
  uint64_t seq = 0;
  EXPECT_EQ(object["seq"].get(seq), simdjson::SUCCESS) << json_line;
  return seq;
}

TEST_F(OddsReplay, EveryCommandExplainsItselfInHelp) {
  for (const char* command :
       {"state", "events", "history", "diff", "compare", "export", "timeline"}) {
    const ToolResult r = run({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
    EXPECT_NE(r.out.find("--journal"), std::string::npos) << command << ": " << r.out;
  }
  const ToolResult r = run({"--help"});
  EXPECT_NE(r.out.find("timeline"), std::string::npos) << r.out;
}

TEST_F(OddsReplay, ErrorsAreOneLineThatSayWhatToDo) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"state", "--journal", dir_, "--at-time", "23/11/2026 09:30"}, "not an ISO 8601 time"},
      {{"history", "--journal", dir_, "--market", "4242"}, "market 4242 is not in journal"},
      {{"history", "--journal", (scratch_.path() / "nowhere").string(), "--market", "1001"},
       "nowhere"},
      {{"timeline", "--journal", dir_, "--market", "1001"}, "--svg FILE or --html FILE"},
      {{"compare", "--journal", dir_}, "exactly two journals"},
      {{"compare", "--journal", dir_, "--journal", dir_ + "/"}, "both --journal options name"},
      {{"diff", "--journal", dir_, "--from-seq", "9", "--to-seq", "3"}, "oldest first"},
      {{"export", "--journal", dir_, "--format", "xml"}, "see --help"},
  };
  for (const Case& c : cases) {
    const ToolResult r = run(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args[0];
    EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(r.err.rfind("odds-replay: ", 0), 0u) << r.err;
  }
}

TEST_F(OddsReplay, StateAtTimeAndEventsByTimeUseTheStamps) {
  ToolResult r = run({"state", "--journal", dir_, "--at-time", "2026-11-23T09:30:09Z", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(seq_of(r.out), 10u);
  r = run({"events", "--journal", dir_, "--from-time", "2026-11-23T09:30:05Z", "--to-time",
           "2026-11-23T09:30:13.000Z"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<uint64_t> seqs;
  for (const auto& line : lines_of(r.out)) seqs.push_back(seq_of(line));
  EXPECT_EQ(seqs, (std::vector<uint64_t>{8, 9, 10, 11, 12, 13}));
}

TEST_F(OddsReplay, HistoryPrintsTheMarketsChangesAsJsonLinesOrText) {
  ToolResult r = run({"history", "--journal", dir_, "--market", "1001", "--from-time",
                      "2026-11-23T09:30:05Z", "--to-time", "2026-11-23T09:30:20Z", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = lines_of(r.out);
  std::vector<uint64_t> seqs;
  for (const auto& line : lines) seqs.push_back(seq_of(line));
  EXPECT_EQ(seqs, (std::vector<uint64_t>{8, 9, 10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(
      lines[0],
      R"({"seq": 8, "epoch": 1, "ts": "2026-11-23T09:30:05Z", "source": "feed-a", "type": "status", "status": ["open", "suspended"], "reason": "feed-stale"})");

  r = run({"history", "--journal", dir_, "--market", "1001"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("market 1001 Match Odds: 16 change(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2026-11-23T09:30:08Z  seq 9 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SOURCE feed-a -> feed-b; Home 2.60 -> 2.70"), std::string::npos) << r.out;
}

TEST_F(OddsReplay, DiffBetweenTwoTimesListsOldAndNewValues) {
  ToolResult r = run({"diff", "--journal", dir_, "--from-time", "2026-11-23T09:30:04Z", "--to-time",
                      "2026-11-23T09:30:30Z", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(
      r.out,
      R"({"from": 7, "to": 18, "markets": [{"market": 1001, "selections": [{"selection": 1, "price_e4": [26000, 28000]}, {"selection": 2, "price_e4": [32000, 31000]}]}, {"market": 1002, "status": ["open", "suspended"], "selections": []}]})"
      "\n");
  r = run({"diff", "--journal", dir_, "--from-seq", "7", "--to-seq", "8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("market 1001 Match Odds  status open -> suspended"), std::string::npos)
      << r.out;
}

TEST_F(OddsReplay, CompareFindsTheFirstDifferenceAndExitsOneWhenJournalsDiverge) {
  // A copy of the incident journal agrees with it; a second journal whose history after the
  // takeover differs (another price at seq 16) diverges there.
  const std::string same_dir = (scratch_.path() / "same").string();
  auto same = engine::testing_support::create_journal(same_dir);
  ASSERT_TRUE(same);
  engine::testing_support::write_incident(*same);
  ToolResult r = run({"compare", "--journal", dir_, "--journal", same_dir});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::object report;
  ASSERT_EQ(parser.parse(r.out).get(report), simdjson::SUCCESS) << r.out;
  EXPECT_TRUE(report["first_difference"].is_null()) << r.out;
  uint64_t common = 0;
  ASSERT_EQ(report["common_last_seq"].get(common), simdjson::SUCCESS);
  EXPECT_EQ(common, 18u);

  const std::string other_dir = (scratch_.path() / "other").string();
  auto other = engine::testing_support::create_journal(other_dir);
  ASSERT_TRUE(other);
  {
    // The same 15 frames, then a different price at seq 16 and one frame more.
    auto source = engine::Journal::open({.dir = dir_, .read_only = true});
    ASSERT_TRUE(source) << source.error();
    engine::JournalReader reader(**source);
    BatchReader batch;
    ASSERT_TRUE(reader.scan(1, [&](uint64_t key, std::span<const uint8_t> bytes) {
      if (key > 14) return false;  // the record 14..15 is the last copied
      EXPECT_TRUE(batch.open(bytes));
      EXPECT_TRUE(other->append(key, key + batch.frames().size() - 1, bytes));
      return true;
    }));
  }
  ASSERT_EQ(other->last_seq(), 15u);
  ASSERT_TRUE(other->set_epoch(2));
  FrameWriter w(*other, 2, 2);
  w.price(kIncidentT0 + 21 * kSecond, 1001, 1, "2.90", "feed-b");
  w.price(kIncidentT0 + 23 * kSecond, 1001, 3, "3.50", "feed-b");
  w.commit();
  r = run({"compare", "--journal", dir_, "--journal", other_dir});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ASSERT_EQ(parser.parse(r.out).get(report), simdjson::SUCCESS) << r.out;
  uint64_t first = 0;
  ASSERT_EQ(report["first_difference"].get(first), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(first, 16u);
  simdjson::dom::array checkpoints;
  ASSERT_EQ(report["checkpoints"].get(checkpoints), simdjson::SUCCESS);
  std::map<std::string, std::pair<std::string, std::string>> digests;
  for (simdjson::dom::object c : checkpoints) {
    std::string_view point, a, b;
    ASSERT_EQ(c["point"].get(point), simdjson::SUCCESS);
    ASSERT_EQ(c["digest_a"].get(a), simdjson::SUCCESS);
    ASSERT_EQ(c["digest_b"].get(b), simdjson::SUCCESS);
    digests[std::string(point)] = {std::string(a), std::string(b)};
  }
  ASSERT_TRUE(digests.contains("epoch 2 begins")) << r.out;
  ASSERT_TRUE(digests.contains("last agreement")) << r.out;
  ASSERT_TRUE(digests.contains("first difference")) << r.out;
  EXPECT_EQ(digests["last agreement"].first, digests["last agreement"].second);
  EXPECT_NE(digests["first difference"].first, digests["first difference"].second);
  // The digest at the last agreement is what odds-replay digest prints at seq 15.
  const ToolResult d = run({"digest", "--journal", dir_, "--at-seq", "15"});
  EXPECT_NE(d.out.find(digests["last agreement"].first), std::string::npos) << d.out;
}

TEST_F(OddsReplay, ExportWritesStableColumnsAsCsvAndJsonLines) {
  ToolResult r = run({"export", "--journal", dir_, "--format", "csv", "--market", "1001"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = lines_of(r.out);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0],
            "seq,epoch,ts,sequenced_ns,source_ns,publisher,market_seq,type,event,market,selection,"
            "name,price_e4,odds,source,status,reason,winners,previous_epoch\r");
  // Header; market 1001: 1 definition + 3 selections, 8 prices, 5 statuses, 1 epoch change, 1
  // event suspension.
  EXPECT_EQ(rows.size(), 1u + 4 + 8 + 5 + 1 + 1);
  EXPECT_NE(r.out.find("11,1,2026-11-23T09:30:10Z,1795426210000000000,0,1,0,price,,1001,2,,30000,"
                       "3.00,desk,,,,\r\n"),
            std::string::npos)
      << r.out;

  r = run(
      {"export", "--journal", dir_, "--format", "jsonl", "--from-time", "2026-11-23T09:30:20Z"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 5u);  // seqs 14..18
  EXPECT_EQ(
      lines[0],
      R"({"seq": 14, "epoch": 2, "ts": "2026-11-23T09:30:20Z", "sequenced_ns": 1795426220000000000, "source_ns": 0, "publisher": 2, "market_seq": 0, "type": "epoch_change", "event": null, "market": null, "selection": null, "name": null, "price_e4": null, "odds": null, "source": null, "status": null, "reason": null, "winners": null, "previous_epoch": 1})");
}

// The per-selection point counts the incident's history gives market 1001 over the whole journal:
// Home priced at seqs 3, 7, 9, 16; Draw at 4, 11, 15; Away at 5.
TEST_F(OddsReplay, TimelineSvgHoldsOneSeriesPerSelectionAndTheMarks) {
  const std::string svg = (scratch_.path() / "t.svg").string();
  ToolResult r = run({"timeline", "--journal", dir_, "--market", "1001", "--svg", svg});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote " + svg), std::string::npos) << r.out;
  pugi::xml_document doc;
  const pugi::xml_parse_result parsed = doc.load_file(svg.c_str());
  ASSERT_TRUE(parsed) << parsed.description();
  const pugi::xml_node root = doc.child("svg");
  ASSERT_TRUE(root);
  std::map<std::string, size_t> circles;
  std::map<std::string, std::string> declared;
  for (const pugi::xpath_node& g : doc.select_nodes("//g[@class='series']")) {
    const std::string id = g.node().attribute("data-selection").value();
    declared[id] = g.node().attribute("data-points").value();
    circles[id] = g.node().select_nodes("circle[@class='point']").size();
    EXPECT_EQ(g.node().select_nodes("path[@class='step']").size(), 1u) << id;
  }
  EXPECT_EQ(circles, (std::map<std::string, size_t>{{"1", 4}, {"2", 3}, {"3", 1}}));
  EXPECT_EQ(declared, (std::map<std::string, std::string>{{"1", "4"}, {"2", "3"}, {"3", "1"}}));
  EXPECT_EQ(doc.select_nodes("//rect[@class='suspended']").size(), 3u);  // 5-8, 12-13, 22-25 s
  EXPECT_EQ(doc.select_nodes("//line[@class='source-switch']").size(), 3u);
  EXPECT_EQ(doc.select_nodes("//line[@class='epoch-change']").size(), 1u);
  EXPECT_GE(doc.select_nodes("//g[@class='x-ticks']/text").size(), 3u);
  EXPECT_GE(doc.select_nodes("//g[@class='y-ticks']/text").size(), 3u);
  EXPECT_EQ(doc.select_nodes("//g[@class='legend']/text").size(), 3u + 3);
  // ODDSBUS_INCIDENT_OUT=DIR keeps the journal (DIR/journal) and this picture (DIR/timeline.svg):
  // the README's worked example and picture are this incident.
  if (const char* keep = std::getenv("ODDSBUS_INCIDENT_OUT")) {
    namespace fs = std::filesystem;
    fs::create_directories(fs::path(keep) / "journal");
    for (const auto& entry : fs::directory_iterator(dir_)) {
      fs::copy_file(entry.path(), fs::path(keep) / "journal" / entry.path().filename(),
                    fs::copy_options::overwrite_existing);
    }
    fs::copy_file(svg, fs::path(keep) / "timeline.svg", fs::copy_options::overwrite_existing);
  }

  // From 09:30:09 the picture starts with the prices then in effect (one point each), then the
  // changes after: Home 16; Draw 11, 15.
  r = run({"timeline", "--journal", dir_, "--market", "1001", "--from-time", "2026-11-23T09:30:09Z",
           "--to-time", "2026-11-23T09:30:30Z", "--svg", svg});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(doc.load_file(svg.c_str()));
  circles.clear();
  for (const pugi::xpath_node& g : doc.select_nodes("//g[@class='series']")) {
    circles[g.node().attribute("data-selection").value()] =
        g.node().select_nodes("circle[@class='point']").size();
  }
  EXPECT_EQ(circles, (std::map<std::string, size_t>{{"1", 2}, {"2", 3}, {"3", 1}}));

  const std::string html = (scratch_.path() / "t.html").string();
  r = run({"timeline", "--journal", dir_, "--market", "1001", "--html", html});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string page = testing::read_text(html);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("<svg"), std::string::npos);
}

TEST_F(OddsReplay, ReadsFramesALiveWriterAppendsBetweenRuns) {
  ToolResult r = run({"state", "--journal", dir_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(seq_of(r.out), 18u);
  FrameWriter w(*journal_, 2, 2);
  w.price(kIncidentT0 + 40 * kSecond, 1001, 3, "4.00", "feed-b");
  w.commit();
  r = run({"history", "--journal", dir_, "--market", "1001", "--from-time", "2026-11-23T09:30:40Z",
           "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  EXPECT_EQ(seq_of(lines[0]), 19u);
}

}  // namespace
}  // namespace oddsbus
