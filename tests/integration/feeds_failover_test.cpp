// Multi-process: two providers from odds-feedsim into a real `odds-engine run`, with a ZeroMQ
// subscriber in the test. Provider "bf" (betfair-stream, highest priority) arrives over two lines,
// each served by its own odds-feedsim with the same seed and epoch so both lines carry
// byte-identical messages; provider "sr" (uof-xml) over one line. The test kills one bf line,
// then stalls bf, then stalls both, then resumes bf, and checks what the frames say at each step.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <zmq.hpp>

#include <gtest/gtest.h>

#include "edge/frame_stream.h"
#include "engine/journal.h"
#include "schemas/batch.h"
#include "schemas/state_digest.h"
#include "tests/integration/child_process.h"
#include "tests/integration/loopback.h"

namespace oddsbus {
namespace {

using namespace std::chrono_literals;
using testing::bin_dir;
using testing::ChildProcess;
using testing::free_port;

constexpr int kMarkets = 3;
constexpr uint64_t kStaleAfterMs = 1000;
constexpr uint64_t kFeedHeartbeatMs = 100;

// The mapping for feedsim's id conventions: betfair market "1.<id>" with runners 101..103, and
// uof event "sr:match:<event>", market "1", outcomes "1".."3".
std::string mapping_text() {
  std::string text;
  for (int i = 0; i < kMarkets; ++i) {
    const std::string id = std::to_string(1001 + i);
    const std::string event = std::to_string(501 + i);
    text += "[[market]]\nid = " + id + "\nevent = " + event +
            "\nname = \"Match Odds\"\nsources = [\"bf\", \"sr\"]\n"
            "selections = [{ id = 1, name = \"Home\" }, { id = 2, name = \"Draw\" }, "
            "{ id = 3, name = \"Away\" }]\n"
            "[market.provider.bf]\nmarket = \"1." +
            id +
            "\"\nselections = { \"101\" = 1, \"102\" = 2, \"103\" = 3 }\n"
            "[market.provider.sr]\nevent = \"sr:match:" +
            event + "\"\nmarket = \"1\"\nselections = { \"1\" = 1, \"2\" = 2, \"3\" = 3 }\n\n";
  }
  return text;
}

struct SeenFrame {
  uint64_t seq;
  fb::Payload type;
  uint64_t market;
  std::string source;  // price frames
  fb::MarketStatus status = fb::MarketStatus::Open;
  fb::StatusReason reason = fb::StatusReason::None;
  uint32_t price_e4 = 0;
  uint64_t selection = 0;
};

class FeedsFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("feeds_failover_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "mapping.toml") << mapping_text();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<ChildProcess> start_feedsim(const std::string& format, uint16_t port,
                                              const std::string& log) {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{
            bin_dir() + "/odds-feedsim", "--format", format, "--listen",
            "tcp://127.0.0.1:" + std::to_string(port), "--markets", std::to_string(kMarkets),
            "--rate", "60", "--seed", "7", "--settle-after", "0", "--heartbeat-ms",
            std::to_string(kFeedHeartbeatMs), "--epoch-ms", "1795000000000", "--wait-for-clients"},
        (dir_ / log).string());
  }

  // Receives for `duration`, folding batches into the stream and recording every frame.
  void receive_for(std::chrono::milliseconds duration) {
    const auto deadline = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < deadline) receive_one();
  }
  // Receives until `done()` or the timeout; returns whether done() became true.
  template <typename F>
  bool receive_until(F&& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      receive_one();
    }
    return true;
  }
  void receive_one() {
    zmq::message_t msg;
    if (!sub_->recv(msg, zmq::recv_flags::none)) return;
    fold({static_cast<const uint8_t*>(msg.data()), msg.size()});
  }
  // Until a recovery service exists, what was published before the subscription was live is read
  // from the journal (LMDB allows a reader beside the writing process).
  void catch_up_from_journal() {
    engine::JournalConfig config;
    config.dir = (dir_ / "journal").string();
    config.read_only = true;
    auto journal = engine::Journal::open(config);
    ASSERT_TRUE(journal) << journal.error();
    engine::JournalReader reader(**journal);
    auto scanned = reader.scan(1, [&](uint64_t, std::span<const uint8_t> bytes) {
      fold(bytes);
      return true;
    });
    ASSERT_TRUE(scanned) << scanned.error();
  }
  void fold(std::span<const uint8_t> bytes) {
    stream_.on_batch(bytes);
    if (!reader_.open(bytes) || reader_.heartbeat()) return;
    for (const fb::Frame* f : reader_.frames()) {
      SeenFrame seen{f->seq(), f->payload_type(), 0, {}};
      if (const auto* p = f->payload_as_PriceUpdate()) {
        seen.market = p->market();
        seen.source = p->source() ? p->source()->str() : "";
        seen.selection = p->prices()->Get(0)->selection();
        seen.price_e4 = p->prices()->Get(0)->price_e4();
      } else if (const auto* s = f->payload_as_MarketStatusUpdate()) {
        seen.market = s->market();
        seen.status = s->status();
        seen.reason = s->reason();
      }
      frames_.push_back(seen);
    }
  }
  size_t count_since(size_t from, const std::function<bool(const SeenFrame&)>& pred) const {
    size_t n = 0;
    for (size_t i = from; i < frames_.size(); ++i) n += pred(frames_[i]) ? 1 : 0;
    return n;
  }
  std::map<uint64_t, std::pair<fb::MarketStatus, fb::StatusReason>> statuses_from_state() const {
    std::map<uint64_t, std::pair<fb::MarketStatus, fb::StatusReason>> out;
    for (const auto& [id, m] : stream_.state().markets()) out[id] = {m.status, m.reason};
    return out;
  }
  bool all_markets(fb::MarketStatus status, fb::StatusReason reason) const {
    const auto s = statuses_from_state();
    if (s.size() != kMarkets) return false;
    for (const auto& [id, st] : s) {
      if (st.first != status || (reason != fb::StatusReason::None && st.second != reason)) {
        return false;
      }
    }
    return true;
  }

  std::filesystem::path dir_;
  zmq::context_t context_{1};  // declared before the socket: it must outlive it
  std::unique_ptr<zmq::socket_t> sub_;
  edge::FrameStream stream_;
  BatchReader reader_;
  std::vector<SeenFrame> frames_;
};

TEST_F(FeedsFailoverTest, RedundantLinesFailoverStaleSuspensionAndReopen) {
  const uint16_t bf1 = free_port(), bf2 = free_port(), sr = free_port(), pub = free_port();
  const std::string pub_url = "tcp://127.0.0.1:" + std::to_string(pub);

  sub_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::sub);
  sub_->set(zmq::sockopt::rcvhwm, 1'000'000);
  sub_->set(zmq::sockopt::rcvtimeo, 50);
  sub_->set(zmq::sockopt::subscribe, "");
  sub_->connect(pub_url);
  // The engine starts before its feeds exist (it retries with backoff). Once the subscriber sees
  // its heartbeat, the definitions it published on start-up are caught up from the journal; only
  // then do the simulators start, so the subscriber misses no frame.
  auto engine = std::make_unique<ChildProcess>(
      std::vector<std::string>{
          bin_dir() + "/odds-engine", "run", "--journal", (dir_ / "journal").string(), "--node",
          "1", "--pub", pub_url, "--mapping", (dir_ / "mapping.toml").string(), "--feed",
          "bf=betfair-stream@tcp://127.0.0.1:" + std::to_string(bf1) +
              ",tcp://127.0.0.1:" + std::to_string(bf2),
          "--feed", "sr=uof-xml@tcp://127.0.0.1:" + std::to_string(sr), "--stale-after-ms",
          std::to_string(kStaleAfterMs), "--heartbeat-ms", "20"},
      (dir_ / "engine.log").string());
  ASSERT_TRUE(receive_until([&] { return stream_.counters().heartbeats > 0; }, 10s))
      << engine->log();
  catch_up_from_journal();
  ASSERT_EQ(stream_.state().markets().size(), size_t{kMarkets}) << engine->log();
  auto bf_line1 = start_feedsim("betfair-stream", bf1, "bf1.log");
  auto bf_line2 = start_feedsim("betfair-stream", bf2, "bf2.log");
  auto sr_line = start_feedsim("uof-xml", sr, "sr.log");

  // Phase 1: everything up. Markets open from bf, the highest-priority source.
  ASSERT_TRUE(receive_until(
      [&] { return all_markets(fb::MarketStatus::Open, fb::StatusReason::None); }, 20s))
      << engine->log();
  // The engine reconnects each line with its own jittered backoff, so sr may connect first and be
  // active (it is healthy and has data) until bf is heard: wait for bf, then watch.
  ASSERT_TRUE(receive_until(
      [&] { return count_since(0, [](const SeenFrame& f) { return f.source == "bf"; }) > 0; }, 20s))
      << engine->log();
  receive_for(500ms);
  size_t mark = frames_.size();
  receive_for(1500ms);
  EXPECT_GT(count_since(mark, [](const SeenFrame& f) { return f.source == "bf"; }), 0u);
  EXPECT_EQ(count_since(mark, [](const SeenFrame& f) { return f.source == "sr"; }), 0u)
      << "sr is lower priority and must only be shadowed while bf is healthy";

  // Phase 2: lose one bf line. Nothing is suspended; bf prices keep flowing over the other line.
  bf_line1->signal(SIGKILL);
  mark = frames_.size();
  receive_for(2000ms);
  EXPECT_GT(count_since(mark, [](const SeenFrame& f) { return f.source == "bf"; }), 0u)
      << engine->log();
  EXPECT_EQ(count_since(mark,
                        [](const SeenFrame& f) {
                          return f.type == fb::Payload::MarketStatusUpdate &&
                                 f.reason == fb::StatusReason::FeedStale;
                        }),
            0u);

  // Phase 3: bf stalls (socket open, nothing sent). Within stale_after plus a heartbeat, sr takes
  // over: its prices appear in the stream, and no market is suspended (sr is healthy).
  bf_line2->signal(SIGUSR1);
  mark = frames_.size();
  const auto stalled_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(receive_until(
      [&] { return count_since(mark, [](const SeenFrame& f) { return f.source == "sr"; }) > 0; },
      std::chrono::milliseconds(kStaleAfterMs + 3000)))
      << engine->log();
  EXPECT_LT(std::chrono::steady_clock::now() - stalled_at,
            std::chrono::milliseconds(kStaleAfterMs + kFeedHeartbeatMs + 1500));
  receive_for(500ms);
  EXPECT_EQ(count_since(mark,
                        [](const SeenFrame& f) {
                          return f.type == fb::Payload::MarketStatusUpdate &&
                                 f.reason == fb::StatusReason::FeedStale;
                        }),
            0u);

  // Phase 4: sr stalls too. Every market is suspended feed-stale within stale_after + heartbeat.
  sr_line->signal(SIGUSR1);
  const auto both_stalled_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(receive_until(
      [&] { return all_markets(fb::MarketStatus::Suspended, fb::StatusReason::FeedStale); },
      std::chrono::milliseconds(kStaleAfterMs + 3000)))
      << engine->log();
  EXPECT_LT(std::chrono::steady_clock::now() - both_stalled_at,
            std::chrono::milliseconds(kStaleAfterMs + kFeedHeartbeatMs + 1500));
  mark = frames_.size();
  receive_for(500ms);
  EXPECT_EQ(
      count_since(mark, [](const SeenFrame& f) { return f.type == fb::Payload::PriceUpdate; }), 0u)
      << "no price may be published while no source is healthy";

  // Phase 5: bf comes back: fresh prices, then every market reopens.
  bf_line2->signal(SIGUSR1);
  mark = frames_.size();
  ASSERT_TRUE(receive_until(
      [&] { return all_markets(fb::MarketStatus::Open, fb::StatusReason::None); }, 10s))
      << engine->log();
  for (uint64_t market = 1001; market < 1001 + kMarkets; ++market) {
    size_t first_open = frames_.size();
    size_t first_price = frames_.size();
    for (size_t i = mark; i < frames_.size(); ++i) {
      if (frames_[i].market != market) continue;
      if (frames_[i].type == fb::Payload::PriceUpdate) first_price = std::min(first_price, i);
      if (frames_[i].type == fb::Payload::MarketStatusUpdate &&
          frames_[i].status == fb::MarketStatus::Open) {
        first_open = std::min(first_open, i);
      }
    }
    EXPECT_LT(first_price, first_open) << "market " << market << " reopened before a fresh price";
  }

  EXPECT_EQ(stream_.counters().gaps, 0u);
  EXPECT_EQ(stream_.counters().duplicates, 0u);
  EXPECT_EQ(stream_.counters().corrupt_batches, 0u);

  engine->signal(SIGTERM);
  ASSERT_EQ(engine->wait_for(10s), std::optional<int>(0)) << engine->log();
  receive_for(300ms);  // what the engine flushed on its way out
  const std::string log = engine->log();
  EXPECT_NE(log.find("duplicate messages dropped"), std::string::npos) << log;
  EXPECT_EQ(log.find(" 0 duplicate messages dropped"), std::string::npos)
      << "two bf lines deliver every message twice; the copies must be dropped\n"
      << log;

  // What the subscriber saw is what the journal holds.
  const std::string journal = (dir_ / "journal").string();
  auto [verify_code, verify_out] = testing::run_to_completion(
      {bin_dir() + "/odds-replay", "verify", "--journal", journal}, (dir_ / "verify.log").string());
  EXPECT_EQ(verify_code, 0) << verify_out;
  auto [digest_code, digest_out] = testing::run_to_completion(
      {bin_dir() + "/odds-replay", "digest", "--journal", journal}, (dir_ / "digest.log").string());
  EXPECT_EQ(digest_out, "{\"seq\": " + std::to_string(stream_.last_seq()) + ", \"digest\": \"" +
                            digest_hex(state_digest(stream_.state())) + "\"}\n");
}

}  // namespace
}  // namespace oddsbus
