// `odds-replay republish` followed by a real `odds-edge` (DESIGN section 10, issue 13), over
// loopback. The journals have known histories (tests/engine/incident_journal.h: a feed outage, a
// failover, a desk override and a takeover; and the same followed by a stream of prices).
// Asserted: an edge that follows a republished journal ends at its last seq and epoch with the
// digest `odds-replay digest` prints there; an edge that joins while the republish is under way
// recovers what it missed from the republisher's recovery service and ends at the same digest;
// republish stops cleanly on SIGTERM.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/journal.h"
#include "tests/engine/incident_journal.h"
#include "tests/integration/child_process.h"
#include "tests/integration/loopback.h"
#include "tests/integration/ws_test_client.h"

namespace oddsbus {
namespace {

using namespace std::chrono_literals;
using engine::testing_support::FrameWriter;
using engine::testing_support::kIncidentT0;
using engine::testing_support::kSecond;
using testing::bin_dir;
using testing::ChildProcess;
using testing::free_port;
using testing::http_get;
using testing::url;
using testing::wait_until;

struct EdgeSnapshot {
  uint64_t seq = 0;
  uint64_t epoch = 0;
  std::string digest;
};

std::optional<EdgeSnapshot> snapshot_of(uint16_t http) {
  auto [status, body] = http_get(http, "/v1/snapshot");
  if (status != 200) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) return std::nullopt;
  return EdgeSnapshot{uint64_t(doc["seq"]), uint64_t(doc["epoch"]),
                      std::string(std::string_view(doc["digest"]))};
}

// A counter or gauge from the edge's /metrics (-1: absent).
double metric(uint16_t http, const std::string& name) {
  auto [status, body] = http_get(http, "/metrics");
  if (status != 200) return -1;
  const auto at = body.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(body.substr(at + name.size() + 2));
}

class ReplayRepublishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_test_dir("replay_republish");
    pub_ = free_port();
    recovery_ = free_port();
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::string journal_dir() const { return (dir_ / "journal").string(); }

  // The incident journal, then `extra` price frames in records of five, 10 ms apart.
  uint64_t write_journal(int extra) {
    auto journal = engine::testing_support::create_journal(journal_dir());
    EXPECT_TRUE(journal);
    if (!journal) return 0;
    engine::testing_support::write_incident(*journal);
    FrameWriter w(*journal, 2, 2);
    static const char* const kOdds[] = {"2.10", "2.20", "2.30", "2.40", "2.50", "2.60", "2.70"};
    for (int i = 0; i < extra; ++i) {
      const uint64_t t = kIncidentT0 + 26 * kSecond + static_cast<uint64_t>(i / 5) * 10'000'000;
      w.price(t, 1001 + i % 2, 1 + i % 2, kOdds[i % 7], "feed-b");
      if (i % 5 == 4) w.commit();
    }
    w.commit();
    return journal->last_seq();
  }

  std::unique_ptr<ChildProcess> start_republish(const std::vector<std::string>& extra) {
    std::vector<std::string> argv{bin_dir() + "/odds-replay",
                                  "republish",
                                  "--journal",
                                  journal_dir(),
                                  "--pub",
                                  url(pub_),
                                  "--recovery",
                                  url(recovery_)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(argv, (dir_ / "republish.log").string());
  }
  std::unique_ptr<ChildProcess> start_edge(int i, uint16_t http) {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{bin_dir() + "/odds-edge", "--sub", url(pub_), "--recovery",
                                 url(recovery_), "--http", "127.0.0.1:" + std::to_string(http),
                                 "--stale-after-ms", "3000"},
        (dir_ / ("edge" + std::to_string(i) + ".log")).string());
  }
  std::string replay_digest(uint64_t seq) {
    auto [code, out] =
        testing::run_to_completion({bin_dir() + "/odds-replay", "digest", "--journal",
                                    journal_dir(), "--at-seq", std::to_string(seq)},
                                   (dir_ / "digest.log").string());
    EXPECT_EQ(code, 0) << out;
    const auto start = out.find("\"digest\": \"");
    return start == std::string::npos ? out : out.substr(start + 11, 16);
  }
  // Waits for the edge on `http` to reach `seq`; its snapshot then.
  std::optional<EdgeSnapshot> edge_at(uint16_t http, uint64_t seq, std::chrono::seconds timeout) {
    std::optional<EdgeSnapshot> snapshot;
    wait_until(
        [&] {
          snapshot = snapshot_of(http);
          return snapshot && snapshot->seq >= seq;
        },
        timeout);
    return snapshot;
  }

  std::filesystem::path dir_;
  uint16_t pub_ = 0;
  uint16_t recovery_ = 0;
};

TEST_F(ReplayRepublishTest, AnEdgeFollowingARepublishedIncidentEndsAtTheJournalsDigest) {
  const uint64_t last = write_journal(0);
  ASSERT_EQ(last, 18u);
  const int slow = testing::sanitizer_slowdown();
  const uint16_t http = free_port();
  auto edge = start_edge(0, http);
  // The incident spans 25 s of journal time: at speed 25, about a second.
  auto republish = start_republish({"--speed", "25"});

  const auto snapshot = edge_at(http, last, slow * 20s);
  ASSERT_TRUE(snapshot && snapshot->seq == last)
      << republish->log() << edge->log() << (snapshot ? snapshot->seq : 0);
  EXPECT_EQ(snapshot->epoch, 2u) << "the takeover at seq 14 was republished";
  EXPECT_EQ(snapshot->digest, replay_digest(last));
  EXPECT_TRUE(republish->running()) << "republish serves on after the last batch";

  republish->signal(SIGTERM);
  EXPECT_EQ(republish->wait_for(10s), 0) << republish->log();
  EXPECT_NE(republish->log().find("published seq 1..18 (18 frames in 11 batches)"),
            std::string::npos)
      << republish->log();
}

TEST_F(ReplayRepublishTest, AnEdgeJoiningMidwayRecoversWhatItMissedAndEndsAtTheSameDigest) {
  // 18 incident frames, then 1500 prices over 3 s of journal time, republished at speed 1 from
  // seq 19: the incident is history, which the first edge gets as a snapshot.
  const uint64_t last = write_journal(1500);
  ASSERT_EQ(last, 1518u);
  const int slow = testing::sanitizer_slowdown();
  const uint16_t http_first = free_port();
  const uint16_t http_late = free_port();
  auto first = start_edge(0, http_first);
  auto republish = start_republish({"--from-seq", "19", "--speed", "1"});

  // The second edge joins once the first has seen a third of the stream.
  ASSERT_TRUE(edge_at(http_first, 500, slow * 20s)) << republish->log() << first->log();
  auto late = start_edge(1, http_late);

  for (auto [http, edge] : {std::pair{http_first, first.get()}, std::pair{http_late, late.get()}}) {
    const auto snapshot = edge_at(http, last, slow * 30s);
    ASSERT_TRUE(snapshot && snapshot->seq == last)
        << republish->log() << edge->log() << (snapshot ? snapshot->seq : 0);
    EXPECT_EQ(snapshot->epoch, 2u);
    EXPECT_EQ(snapshot->digest, replay_digest(last));
  }
  // The late edge joined when the stream was past seq 500: it recovered what came before from
  // the republisher's recovery service (a snapshot), and applied at most the rest.
  const double late_applied = metric(http_late, "oddsbus_edge_frames_applied_total");
  EXPECT_GE(late_applied, 0);
  EXPECT_LE(late_applied, static_cast<double>(last - 500)) << late->log();
  EXPECT_GE(metric(http_late, "oddsbus_edge_snapshots_installed_total"), 1);
  republish->signal(SIGTERM);
  EXPECT_EQ(republish->wait_for(10s), 0) << republish->log();
}

}  // namespace
}  // namespace oddsbus
