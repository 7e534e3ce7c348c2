// odds-replay backup (issue 15) as the real binary: a hot copy of a journal this process keeps
// writing, as a live node would; the copy verifies, digests like the source at the copy's seq,
// and an ingest continues on it (a restore).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "engine/journal.h"
#include "engine/journal_snapshot_writer.h"
#include "tests/engine/incident_journal.h"
#include "tests/engine/seeded_journal.h"
#include "tests/tools/run_tool.h"

namespace oddsbus {
namespace {

using testing::run_tool;
using testing::TempDir;
using testing::ToolResult;

std::string tool(const char* name) { return testing::tool_dir() + "/" + name; }

TEST(OddsReplayBackup, AHotCopyOfALiveJournalVerifiesAndAnIngestContinuesOnIt) {
  TempDir scratch;
  const std::string dir = (scratch.path() / "journal").string();
  const std::string copy = (scratch.path() / "copy").string();
  auto journal = engine::testing_support::create_journal(dir);
  ASSERT_TRUE(journal);
  engine::testing_support::write_seeded({journal.get()}, 1, 2000);
  engine::SnapshotWriter snapshots(*journal, {500, 0}, {});
  for (int i = 0; i < 1000 && snapshots.do_work(0, 0).value_or(0) > 0; ++i) {
  }

  // Keep writing while the copy is taken.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> rounds{0};
  std::thread writer([&] {
    uint64_t t = engine::testing_support::kIncidentT0 + 3'600'000'000'000ull;
    for (uint32_t seed = 2; !stop.load(); ++seed) {
      t = engine::testing_support::write_seeded({journal.get()}, seed, 200, t + 1'000'000);
      rounds.fetch_add(1);
    }
  });
  while (rounds.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const ToolResult backup =
      run_tool({tool("odds-replay"), "backup", "--journal", dir, "--out", copy}, scratch);
  while (rounds.load() < 4) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  stop.store(true);
  writer.join();
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  unsigned long long at = 0;
  ASSERT_EQ(std::sscanf(backup.out.c_str() + backup.out.find(" at seq "), " at seq %llu", &at), 1)
      << backup.out;
  ASSERT_GE(at, 2000u);
  ASSERT_LT(at, journal->last_seq());  // the source went on after the copy

  const ToolResult verified = run_tool({tool("odds-replay"), "verify", "--journal", copy}, scratch);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_NE(verified.out.find("snapshots checked"), std::string::npos) << verified.out;
  const std::string seq = std::to_string(at);
  const ToolResult source_digest =
      run_tool({tool("odds-replay"), "digest", "--journal", dir, "--at-seq", seq}, scratch);
  const ToolResult copy_digest =
      run_tool({tool("odds-replay"), "digest", "--journal", copy}, scratch);
  ASSERT_EQ(source_digest.exit_code, 0) << source_digest.err;
  ASSERT_EQ(copy_digest.exit_code, 0) << copy_digest.err;
  EXPECT_EQ(copy_digest.out, source_digest.out);

  // Restore: an ingest continues the copy.
  const std::string feed =
      scratch.file("more.jsonl",
                   "{\"type\":\"market\",\"market\":9001,\"event\":77,\"name\":\"After restore\","
                   "\"selections\":[{\"id\":1,\"name\":\"Yes\"},{\"id\":2,\"name\":\"No\"}]}\n"
                   "{\"type\":\"price\",\"market\":9001,\"selection\":1,\"odds\":\"1.80\"}\n"
                   "{\"type\":\"price\",\"market\":9001,\"selection\":2,\"odds\":\"2.10\"}\n");
  const ToolResult ingest = run_tool(
      {tool("odds-engine"), "ingest", "--journal", copy, "--format", "oddsjson", feed}, scratch);
  ASSERT_EQ(ingest.exit_code, 0) << ingest.out << ingest.err;
  const ToolResult again = run_tool({tool("odds-replay"), "verify", "--journal", copy}, scratch);
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  const ToolResult state = run_tool(
      {tool("odds-replay"), "state", "--journal", copy, "--market", "9001", "--json"}, scratch);
  ASSERT_EQ(state.exit_code, 0) << state.err;
  EXPECT_NE(state.out.find("\"seq\": " + std::to_string(at + 3)), std::string::npos) << state.out;
  EXPECT_NE(state.out.find("\"price_e4\": 21000"), std::string::npos) << state.out;
  const ToolResult old_digest =
      run_tool({tool("odds-replay"), "digest", "--journal", copy, "--at-seq", seq}, scratch);
  EXPECT_EQ(old_digest.out, source_digest.out);

  // A copy is never written over a directory that holds something.
  const ToolResult refused =
      run_tool({tool("odds-replay"), "backup", "--journal", dir, "--out", copy}, scratch);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("not empty"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace oddsbus
