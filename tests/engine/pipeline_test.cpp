// The engine's hot path end to end, on real threads, through the node `odds-engine run` runs
// (engine/node_assembly.h): several producers push price events into the node's local ingest
// producers (small queues, so back-pressure happens); its sequencer thread selects, sequences,
// journals and publishes; its recovery thread follows the committed batches over the committed
// queue; a SUB thread reads every published batch as an edge would. Afterwards every event must be
// journaled exactly once, in its producer's order, under a gap-free seq, and the subscriber and the
// recovery service must have seen each seq once and in order.
//
// ODDSBUS_PIPELINE_EVENTS sets the number of price events (default 1,000,000), e.g. lower for a
// quick run under a sanitizer.

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "edge/frame_stream.h"
#include "engine/journal.h"
#include "engine/journal_scan.h"
#include "engine/node_assembly.h"
#include "engine/replay.h"
#include "schemas/log.h"
#include "schemas/state_digest.h"
#include "tests/engine/engine_test_support.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;

constexpr size_t kProducers = 4;
constexpr size_t kQueueCapacity = 1024;
constexpr uint64_t kMarketBase = 7000;  // producer p prices market kMarketBase + p
constexpr uint32_t kPriceBase = 20000;  // event i of a producer has price_e4 kPriceBase + i
// The test gives up (and fails) after this long without progress.
constexpr auto kStallLimit = std::chrono::seconds(120);

uint64_t configured_events() {
  const char* text = std::getenv("ODDSBUS_PIPELINE_EVENTS");
  if (text == nullptr || *text == '\0') return 1'000'000;
  return std::strtoull(text, nullptr, 10);
}

// Odds text for event i: decimal with four places, so its price_e4 is exactly kPriceBase + i
// ("2.0000", "2.0001", ..., "26.9999", ...). Fits the small-string buffer.
std::string odds_text_for(uint64_t i) {
  char text[32];
  std::snprintf(text, sizeof text, "%llu.%04llu", static_cast<unsigned long long>(2 + i / 10000),
                static_cast<unsigned long long>(i % 10000));
  return text;
}

std::string source_of(size_t producer) { return "feed-" + std::to_string(producer); }

// Reads every published batch exactly as a subscriber would, on its own thread, until it has
// applied `target` seqs or is told to give up.
class Subscriber {
 public:
  Subscriber(const std::string& url, uint64_t target) : target_(target) {
    thread_ = std::thread([this, url] { run(url); });
  }
  ~Subscriber() { join(); }
  void join() {
    abort_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  bool joined() const { return joined_.load(); }
  uint64_t last_seq() const { return last_seq_.load(); }
  // After join().
  const edge::FrameStream& stream() const { return stream_; }

 private:
  void run(const std::string& url) {
    pthread_setname_np(pthread_self(), "test-sub");
    zmq::context_t context(1);
    zmq::socket_t socket(context, zmq::socket_type::sub);
    socket.set(zmq::sockopt::rcvhwm, 0);
    socket.set(zmq::sockopt::rcvtimeo, 100);
    socket.set(zmq::sockopt::subscribe, "");
    socket.connect(url);
    zmq::message_t message;
    while (stream_.last_seq() < target_ && !(abort_.load() && stream_.last_seq() == 0)) {
      if (!socket.recv(message)) {
        if (abort_.load()) break;
        continue;
      }
      stream_.on_batch({static_cast<const uint8_t*>(message.data()), message.size()});
      if (stream_.counters().heartbeats > 0) joined_.store(true);
      last_seq_.store(stream_.last_seq());
    }
  }

  const uint64_t target_;
  edge::FrameStream stream_;
  std::atomic<bool> abort_{false};
  std::atomic<bool> joined_{false};
  std::atomic<uint64_t> last_seq_{0};
  std::thread thread_;
};

// True once `done()` holds; false when `progress()` stood still for kStallLimit.
template <typename Done, typename Progress>
bool await(Done done, Progress progress) {
  auto last = progress();
  auto last_change = std::chrono::steady_clock::now();
  while (!done()) {
    if (progress() != last) {
      last = progress();
      last_change = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_change > kStallLimit) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(Pipeline, SeveralProducersMillionEventsGapFreeAndJournaledOnce) {
  const uint64_t total_prices = configured_events();
  ASSERT_GT(total_prices, 0u) << "ODDSBUS_PIPELINE_EVENTS must be a positive number";
  std::vector<uint64_t> per_producer(kProducers, total_prices / kProducers);
  for (size_t p = 0; p < total_prices % kProducers; ++p) ++per_producer[p];
  const uint64_t total_events = total_prices + kProducers;  // one market definition each

  TempDir dir;
  NodeConfig config;
  config.journal_dir = dir.sub("journal");
  config.durability = Durability::kNoSync;
  config.pub_url = "tcp://127.0.0.1:*";
  config.pub_hwm = 0;  // unbounded: the subscriber must see every batch
  config.recovery_url = "tcp://127.0.0.1:*";
  config.queue_capacity = kQueueCapacity;
  config.heartbeat_interval_ns = 1'000'000;  // the subscriber knows it joined at once
  NodeOptions options;
  options.local_producers = kProducers;
  Node node(config, options);
  auto started = node.start();
  ASSERT_TRUE(started) << started.error();
  Subscriber subscriber(node.pub_endpoint(), total_events);
  ASSERT_TRUE(await([&] { return subscriber.joined(); }, [] { return 0; }))
      << "the subscriber heard no heartbeat";

  std::atomic<bool> stop{false};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> producers;
  for (size_t p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      pthread_setname_np(pthread_self(), ("test-producer-" + std::to_string(p)).c_str());
      // As a feed connector does: its source is up, then its data, all through its own queue,
      // so the definition must come out first.
      feeds::Event up;
      up.type = feeds::EventType::kSourceStatus;
      up.source = source_of(p);
      up.source_up = true;
      if (node.push(p, up, stop) != PushResult::kPushed) return;
      feeds::Event definition =
          market_event(kMarketBase + p, 500, "Producer " + std::to_string(p), {{1, "Only"}});
      definition.source = source_of(p);
      if (node.push(p, definition, stop) != PushResult::kPushed) return;
      feeds::Event price;
      price.type = feeds::EventType::kPrice;
      price.market = kMarketBase + p;
      price.selection = 1;
      price.source = source_of(p);
      for (uint64_t i = 0; i < per_producer[p]; ++i) {
        price.odds_text = odds_text_for(i);
        price.odds = parse_odds(price.odds_text).value();
        if (node.push(p, price, stop) != PushResult::kPushed) return;
      }
    });
  }
  const bool sequenced = await([&] { return node.last_seq() >= total_events || node.failed(); },
                               [&] { return node.last_seq(); });
  stop.store(true);  // releases producers blocked on a full queue if we gave up early
  for (std::thread& t : producers) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(sequenced) << "no progress for 120 s after seq " << node.last_seq();
  EXPECT_TRUE(await([&] { return subscriber.last_seq() >= node.last_seq(); },
                    [&] { return subscriber.last_seq(); }))
      << "the subscriber stopped at seq " << subscriber.last_seq();
  EXPECT_TRUE(await([&] { return node.recovery()->last_seq() >= node.last_seq(); },
                    [&] { return node.recovery()->last_seq(); }))
      << "the recovery service stopped at seq " << node.recovery()->last_seq();
  subscriber.join();
  auto stopped = node.stop();
  ASSERT_TRUE(stopped) << stopped.error();
  const Journal& journal = node.journal();
  const SequencerCounters& counters = node.sequencer_counters();

  uint64_t backpressure = 0;
  for (size_t p = 0; p < node.queues().producers(); ++p)
    backpressure += node.queues().backpressure(p);
  std::printf(
      "pipeline: %llu events from %zu producers in %.2f s (%.0f events/s), %llu batches, "
      "%llu back-pressure waits, %llu batches dropped by the committed queue\n",
      static_cast<unsigned long long>(total_events), kProducers, seconds,
      static_cast<double>(total_events) / seconds,
      static_cast<unsigned long long>(counters.batches.load()),
      static_cast<unsigned long long>(backpressure),
      static_cast<unsigned long long>(node.committed().counters().dropped.load()));
  ::testing::Test::RecordProperty("events", std::to_string(total_events));
  ::testing::Test::RecordProperty("seconds", std::to_string(seconds));
  ::testing::Test::RecordProperty("backpressure_waits", std::to_string(backpressure));

  // Sequencing: gap-free, every event accepted.
  EXPECT_EQ(journal.last_seq(), total_events);
  EXPECT_EQ(node.last_seq(), total_events);
  EXPECT_EQ(counters.frames.load(), total_events);
  uint64_t rejected = 0;
  for (const auto& count : counters.rejected) rejected += count.load();
  EXPECT_EQ(rejected, 0u);

  // The journal is whole.
  const VerifyReport report = verify_journal(journal);
  EXPECT_TRUE(report.ok) << "seq " << report.fault.seq << ": " << report.fault.problem;
  EXPECT_EQ(report.stats.frames, total_events);
  EXPECT_EQ(report.stats.batches, counters.batches.load());

  // The recovery service followed every batch, from the committed queue or, past a gap, the
  // journal.
  const RecoveryServerCounters& followed = node.recovery()->server_counters();
  EXPECT_EQ(node.recovery()->last_seq(), total_events);
  EXPECT_EQ(followed.journal_errors.load(), 0u);
  EXPECT_EQ(followed.journal_rewrites.load(), 0u);
  EXPECT_GT(followed.queue_batches.load(), 0u);

  // The subscriber saw every seq once and in order, and holds the journal's state.
  MarketState replayed;
  auto replay = scan_frames(journal, 1, kNoLimit, [&](const fb::Frame& frame) {
    replayed.apply(frame);
    return true;
  });
  ASSERT_TRUE(replay) << replay.error().problem;
  const edge::FrameStream& stream = subscriber.stream();
  EXPECT_EQ(stream.counters().duplicates, 0u);
  EXPECT_EQ(stream.counters().gaps, 0u);
  EXPECT_EQ(stream.counters().corrupt_batches, 0u);
  EXPECT_EQ(stream.counters().frames_applied, journal.last_seq());
  EXPECT_EQ(stream.last_seq(), journal.last_seq());
  EXPECT_EQ(state_digest(stream.state()), state_digest(replayed));

  // Every event journaled exactly once, each producer's in the order it pushed them.
  std::vector<bool> defined(kProducers, false);
  std::vector<uint64_t> next_i(kProducers, 0);
  uint64_t misplaced = 0;
  std::string first_problem;
  auto problem = [&](const std::string& what) {
    if (misplaced++ == 0) first_problem = what;
  };
  auto scanned = scan_frames(journal, 1, kNoLimit, [&](const fb::Frame& frame) {
    if (frame.payload_type() == fb::Payload::MarketDefinition) {
      const uint64_t p = frame.payload_as_MarketDefinition()->market() - kMarketBase;
      if (p >= kProducers || defined[p] || next_i[p] != 0) {
        problem("seq " + std::to_string(frame.seq()) + ": unexpected definition");
      } else {
        defined[p] = true;
      }
      return true;
    }
    const auto* update = frame.payload_as_PriceUpdate();
    if (update == nullptr || update->prices() == nullptr || update->prices()->size() != 1) {
      problem("seq " + std::to_string(frame.seq()) + ": not a one-price frame");
      return true;
    }
    const uint64_t p = update->market() - kMarketBase;
    const auto* price = update->prices()->Get(0);
    const uint64_t i = price->price_e4() - kPriceBase;
    const std::string_view original =
        price->original() ? std::string_view(price->original()->c_str(), price->original()->size())
                          : std::string_view();
    if (p >= kProducers || !defined[p] || i != next_i[p] || original != odds_text_for(i)) {
      problem("seq " + std::to_string(frame.seq()) + ": market " +
              std::to_string(update->market()) + " price " + std::to_string(price->price_e4()) +
              " where event " + (p < kProducers ? std::to_string(next_i[p]) : "?") +
              " was expected");
    } else {
      ++next_i[p];
    }
    return true;
  });
  ASSERT_TRUE(scanned) << scanned.error().problem;
  EXPECT_EQ(misplaced, 0u) << "first: " << first_problem;
  for (size_t p = 0; p < kProducers; ++p) {
    EXPECT_TRUE(defined[p]) << "producer " << p;
    EXPECT_EQ(next_i[p], per_producer[p]) << "producer " << p << " events journaled in order";
  }
}

}  // namespace
}  // namespace oddsbus::engine
