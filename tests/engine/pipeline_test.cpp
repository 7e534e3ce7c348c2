// The engine's hot path end to end, on real threads: several producers push price events into
// IngestQueues (small, so back-pressure happens), one sequencer thread runs SequencerAgent with a
// journal, a ring and a sink that reads every published batch as an edge would. Afterwards every
// event must be journaled exactly once, in its producer's order, under a gap-free seq, and the sink
// must have seen each seq once and in order.
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

#include "edge/frame_stream.h"
#include "engine/frame_ring.h"
#include "engine/ingest_queues.h"
#include "engine/journal.h"
#include "engine/journal_scan.h"
#include "engine/publisher.h"
#include "engine/replay.h"
#include "engine/sequencer.h"
#include "engine/sequencer_agent.h"
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
// The sequencer gives up (and the test fails) after this long without consuming anything.
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

// Reads every published batch exactly as a subscriber would, on the sequencer thread.
class EdgeSink final : public BatchSink {
 public:
  void publish(std::span<const uint8_t> batch) override {
    ++batches_;
    stream_.on_batch(batch);
  }
  const edge::FrameStream& stream() const { return stream_; }
  uint64_t batches() const { return batches_; }

 private:
  edge::FrameStream stream_;
  uint64_t batches_ = 0;
};

TEST(Pipeline, SeveralProducersMillionEventsGapFreeAndJournaledOnce) {
  const uint64_t total_prices = configured_events();
  ASSERT_GT(total_prices, 0u) << "ODDSBUS_PIPELINE_EVENTS must be a positive number";
  std::vector<uint64_t> per_producer(kProducers, total_prices / kProducers);
  for (size_t p = 0; p < total_prices % kProducers; ++p) ++per_producer[p];
  const uint64_t total_events = total_prices + kProducers;  // one market definition each

  TempDir dir;
  JournalConfig journal_config;
  journal_config.dir = dir.sub("journal");
  journal_config.durability = Durability::kNoSync;
  auto opened = Journal::open(journal_config);
  ASSERT_TRUE(opened) << opened.error();
  Journal& journal = **opened;

  Sequencer sequencer(SequencerConfig{});
  IngestQueues queues(kProducers, kQueueCapacity);
  FrameRing ring(64);
  EdgeSink sink;
  SequencerAgent agent(sequencer, journal, queues, ring, &sink, SequencerAgentConfig{});
  std::atomic<bool> stop{false};
  std::string sequencer_error;

  const auto start = std::chrono::steady_clock::now();
  std::thread sequencer_thread([&] {
    pthread_setname_np(pthread_self(), "test-sequencer");
    uint64_t consumed = 0;
    auto last_progress = std::chrono::steady_clock::now();
    while (consumed < total_events) {
      auto done = agent.do_work(read_clocks());
      if (!done) {
        sequencer_error = done.error();
        break;
      }
      consumed += *done;
      if (*done > 0) {
        last_progress = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - last_progress > kStallLimit) {
        sequencer_error = "no event consumed for 120 s after " + std::to_string(consumed);
        break;
      }
    }
    stop.store(true);  // releases producers blocked on a full queue if we gave up early
  });

  std::vector<std::thread> producers;
  for (size_t p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      pthread_setname_np(pthread_self(), ("test-producer-" + std::to_string(p)).c_str());
      // The definition goes through the producer's own queue, so it must come out first.
      feeds::Event definition =
          market_event(kMarketBase + p, 500, "Producer " + std::to_string(p), {{1, "Only"}});
      if (queues.push(p, definition, stop) != PushResult::kPushed) return;
      feeds::Event price;
      price.type = feeds::EventType::kPrice;
      price.market = kMarketBase + p;
      price.selection = 1;
      for (uint64_t i = 0; i < per_producer[p]; ++i) {
        price.odds_text = odds_text_for(i);
        price.odds = parse_odds(price.odds_text).value();
        if (queues.push(p, price, stop) != PushResult::kPushed) return;
      }
    });
  }
  for (std::thread& t : producers) t.join();
  sequencer_thread.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(sequencer_error, "");

  uint64_t backpressure = 0;
  for (size_t p = 0; p < kProducers; ++p) backpressure += queues.backpressure(p);
  std::printf(
      "pipeline: %llu events from %zu producers in %.2f s (%.0f events/s), %llu batches, "
      "%llu back-pressure waits\n",
      static_cast<unsigned long long>(total_events), kProducers, seconds,
      static_cast<double>(total_events) / seconds,
      static_cast<unsigned long long>(agent.counters().batches.load()),
      static_cast<unsigned long long>(backpressure));
  ::testing::Test::RecordProperty("events", std::to_string(total_events));
  ::testing::Test::RecordProperty("seconds", std::to_string(seconds));
  ::testing::Test::RecordProperty("backpressure_waits", std::to_string(backpressure));

  // Sequencing: gap-free, every event accepted.
  EXPECT_EQ(journal.last_seq(), total_events);
  EXPECT_EQ(sequencer.last_seq(), total_events);
  EXPECT_EQ(agent.counters().frames.load(), total_events);
  uint64_t rejected = 0;
  for (const auto& count : agent.counters().rejected) rejected += count.load();
  EXPECT_EQ(rejected, 0u);

  // The journal is whole.
  const VerifyReport report = verify_journal(journal);
  EXPECT_TRUE(report.ok) << "seq " << report.fault.seq << ": " << report.fault.problem;
  EXPECT_EQ(report.stats.frames, total_events);
  EXPECT_EQ(report.stats.batches, agent.counters().batches.load());

  // The sink saw every seq once and in order, and holds the same state.
  const edge::FrameStream& stream = sink.stream();
  EXPECT_EQ(stream.counters().duplicates, 0u);
  EXPECT_EQ(stream.counters().gaps, 0u);
  EXPECT_EQ(stream.counters().corrupt_batches, 0u);
  EXPECT_EQ(stream.counters().frames_applied, journal.last_seq());
  EXPECT_EQ(stream.last_seq(), journal.last_seq());
  EXPECT_EQ(state_digest(stream.state()), state_digest(sequencer.state()));

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

  // The ring holds the newest batch.
  const auto newest = ring.find(journal.last_seq());
  ASSERT_FALSE(newest.empty());
  BatchReader reader;
  ASSERT_TRUE(reader.open(newest));
  EXPECT_EQ(reader.frames().back()->seq(), journal.last_seq());
}

}  // namespace
}  // namespace oddsbus::engine
