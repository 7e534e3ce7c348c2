// The full path through the node `odds-engine run` runs (engine/node_assembly.h), with a
// subscriber at the far end: producers -> the node's IngestQueues (local producers) -> its
// sequencer thread (source selection, Sequencer, Journal, sync gate, ZmqPublisher; the recovery
// thread fed over the committed queue) -> tcp loopback -> SUB -> edge::FrameStream.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "engine/node_assembly.h"
#include "feeds/event.h"
#include "schemas/batch.h"
#include "schemas/log.h"
#include "schemas/odds.h"
#include "tools/bench/bench.h"

namespace oddsbus::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kJoinTimeout = 5s;
constexpr auto kStallTimeout = 10s;
// Small, so an idle agent heartbeats quickly and the subscriber can tell it has joined.
constexpr uint64_t kHeartbeatIntervalNs = 1'000'000;
constexpr int kReceiveHighWaterMark = 1'000'000;
// No send limit: the load is bounded, and a PUB past its high-water mark drops silently (the
// benchmark would report the drop as a gap; it measures throughput, not loss under overload).
constexpr int kSendHighWaterMark = 0;

constexpr const char* kSource = "bench-feed";

uint64_t market_id(size_t m) { return 1000 + m; }
uint64_t selection_id(size_t m, size_t s) { return market_id(m) * 100 + s + 1; }

std::vector<feeds::Event> market_events(const PipelineOptions& options) {
  std::vector<feeds::Event> events(options.markets);
  for (size_t m = 0; m < options.markets; ++m) {
    feeds::Event& e = events[m];
    e.type = feeds::EventType::kMarket;
    e.market = market_id(m);
    e.event = 500 + m / 10;
    e.name = "Bench market " + std::to_string(m);
    e.status = fb::MarketStatus::Open;
    for (size_t s = 0; s < options.selections; ++s) {
      e.selections.push_back({selection_id(m, s), "Runner " + std::to_string(s + 1)});
    }
    e.provider = "bench";
    e.source = kSource;
  }
  return events;
}

// Every (market, selection, price) combination once; producers cycle through them.
std::expected<std::vector<feeds::Event>, std::string> price_events(const PipelineOptions& options) {
  static constexpr const char* kPrices[] = {"1.50", "1.91", "2.10", "2.50",
                                            "3.25", "4.00", "6.50", "11.0"};
  std::vector<feeds::Event> events;
  events.reserve(options.markets * options.selections * std::size(kPrices));
  for (const char* text : kPrices) {
    auto odds = parse_decimal_odds(text);
    if (!odds) return std::unexpected(std::string("bench price ") + text + " does not parse");
    for (size_t m = 0; m < options.markets; ++m) {
      for (size_t s = 0; s < options.selections; ++s) {
        feeds::Event e;
        e.type = feeds::EventType::kPrice;
        e.market = market_id(m);
        e.selection = selection_id(m, s);
        e.odds = *odds;
        e.odds_text = text;
        e.provider = "bench";
        e.source = kSource;
        events.push_back(std::move(e));
      }
    }
  }
  return events;
}

// The subscriber thread's inputs and, once joined, its outputs.
struct Subscriber {
  std::string url;
  uint64_t warmup_seq = 0;  // market definitions: seq 1..warmup_seq, before the timed load
  uint64_t target_seq = 0;  // the last seq the load produces
  const std::atomic<bool>* abort = nullptr;
  const std::atomic<bool>* load_started = nullptr;

  // Read by other threads while it runs, on their own cache lines.
  alignas(64) std::atomic<bool> joined{false};
  alignas(64) std::atomic<uint64_t> last_seq{0};

  // Valid after the thread is joined.
  edge::FrameStreamCounters counters;
  uint64_t load_bytes = 0;
  uint64_t load_batches = 0;
  Clock::time_point last_receive{};
  double cpu_s = 0;
  std::string error;

  void run() {
    name_this_thread("bench-sub");
    try {
      zmq::context_t context(1);
      zmq::socket_t socket(context, zmq::socket_type::sub);
      socket.set(zmq::sockopt::rcvhwm, kReceiveHighWaterMark);
      socket.set(zmq::sockopt::rcvtimeo, 100);
      socket.set(zmq::sockopt::subscribe, "");
      socket.connect(url);
      edge::FrameStream stream;
      zmq::message_t message;
      auto last_progress = Clock::now();
      while (stream.last_seq() < target_seq && !abort->load(std::memory_order_relaxed)) {
        const bool received = socket.recv(message).has_value();
        if (received) {
          const std::span<const uint8_t> bytes(static_cast<const uint8_t*>(message.data()),
                                               message.size());
          const uint64_t before = stream.last_seq();
          stream.on_batch(bytes);
          count_load_batch(bytes);
          if (stream.counters().heartbeats > 0 && !joined.load(std::memory_order_relaxed)) {
            joined.store(true, std::memory_order_release);
          }
          if (stream.last_seq() != before) {
            last_seq.store(stream.last_seq(), std::memory_order_release);
            last_progress = Clock::now();
          }
        }
        if (!load_started->load(std::memory_order_acquire)) {
          last_progress = Clock::now();
        } else if (Clock::now() - last_progress > kStallTimeout) {
          error = "subscriber stalled at seq " + std::to_string(stream.last_seq()) + " of " +
                  std::to_string(target_seq);
          break;
        }
      }
      last_receive = Clock::now();
      counters = stream.counters();
    } catch (const zmq::error_t& e) {
      error = std::string("subscriber: ") + e.what();
    }
    cpu_s = thread_cpu_seconds();
  }

  void count_load_batch(std::span<const uint8_t> bytes) {
    BatchHeader header;
    if (bytes.size() < sizeof header) return;
    std::memcpy(&header, bytes.data(), sizeof header);
    if ((header.flags & kBatchHeartbeat) != 0 || header.first_seq <= warmup_seq) return;
    load_bytes += bytes.size();
    ++load_batches;
  }
};

// Waits until `done()` or `deadline`, or until the node failed. Returns done().
template <typename F>
bool wait_for(F&& done, const engine::Node& node, std::chrono::nanoseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (node.failed() || Clock::now() > deadline) return false;
    std::this_thread::sleep_for(100us);
  }
  return true;
}

}  // namespace

std::string PipelineResult::integrity_error() const {
  const bool exact = stream.frames_applied == expected_frames && stream.duplicates == 0 &&
                     stream.gaps == 0 && stream.frames_missed == 0 && stream.corrupt_batches == 0 &&
                     rejected_events == 0;
  if (exact) return {};
  const uint64_t missing =
      expected_frames - std::min<uint64_t>(stream.frames_applied, expected_frames);
  return "subscriber applied " + std::to_string(stream.frames_applied) + " of " +
         std::to_string(expected_frames) + " frames: missing=" + std::to_string(missing) +
         " duplicates=" + std::to_string(stream.duplicates) +
         " gaps=" + std::to_string(stream.gaps) + " (frames missed " +
         std::to_string(stream.frames_missed) +
         ") corrupt_batches=" + std::to_string(stream.corrupt_batches) +
         " rejected_events=" + std::to_string(rejected_events) +
         " zmq_send_failures=" + std::to_string(send_failures);
}

std::expected<PipelineResult, std::string> run_pipeline(const PipelineOptions& options) {
  if (options.producers == 0 || options.markets == 0 || options.selections == 0 ||
      options.selections >= 100) {
    return std::unexpected("pipeline: needs producers >= 1, markets >= 1, 1..99 selections");
  }
  auto prices = price_events(options);
  if (!prices) return std::unexpected(prices.error());
  const std::vector<feeds::Event> markets = market_events(options);

  auto scratch = ScratchDir::create(options.parent_dir);
  if (!scratch) return std::unexpected(scratch.error());
  engine::NodeConfig config;
  config.journal_dir = (scratch->path() / "journal").string();
  config.durability = options.durability;
  config.pub_url = "tcp://127.0.0.1:*";
  config.pub_hwm = kSendHighWaterMark;
  config.recovery_url = "tcp://127.0.0.1:*";
  config.queue_capacity = options.queue_capacity;
  config.max_batch_frames = options.max_batch_frames;
  config.heartbeat_interval_ns = kHeartbeatIntervalNs;
  engine::NodeOptions node_options;
  node_options.local_producers = options.producers;

  const double process_cpu_start = process_cpu_seconds();
  engine::Node node(config, node_options);
  if (auto started = node.start(); !started) return std::unexpected("pipeline: " + started.error());
  const std::string url = node.pub_endpoint();

  std::atomic<bool> abort{false};
  std::atomic<bool> load_started{false};
  Subscriber sub;
  sub.url = url;
  sub.warmup_seq = markets.size();
  sub.target_seq = markets.size() + options.frames;
  sub.abort = &abort;
  sub.load_started = &load_started;
  std::thread subscriber_thread([&] { sub.run(); });

  std::atomic<bool> producers_stop{false};
  std::atomic<bool> go{false};
  std::vector<std::thread> producers;
  std::vector<double> producer_cpu_s(options.producers, 0.0);
  Clock::time_point first_push{};
  std::string setup_error;

  // Slow joiner: the load starts only once a heartbeat has crossed the wire.
  if (!wait_for([&] { return sub.joined.load(std::memory_order_acquire); }, node, kJoinTimeout)) {
    setup_error = "pipeline: the subscriber received no heartbeat within 5 s";
  } else {
    // As a feed connector does: its source is up, then its markets.
    feeds::Event up;
    up.type = feeds::EventType::kSourceStatus;
    up.source = kSource;
    up.source_up = true;
    node.push(0, up, producers_stop);
    for (const feeds::Event& e : markets) node.push(0, e, producers_stop);
    if (!wait_for([&] { return sub.last_seq.load(std::memory_order_acquire) >= sub.warmup_seq; },
                  node, kJoinTimeout)) {
      setup_error = "pipeline: the market definitions did not reach the subscriber within 5 s";
    }
  }

  if (setup_error.empty()) {
    for (size_t p = 0; p < options.producers; ++p) {
      const uint64_t count =
          options.frames / options.producers + (p < options.frames % options.producers ? 1 : 0);
      producers.emplace_back([&, p, count] {
        name_this_thread(("bench-producer" + std::to_string(p)).c_str());
        const std::vector<feeds::Event>& events = *prices;
        size_t next = (p * 7919) % events.size();
        while (!go.load(std::memory_order_acquire)) {
        }
        for (uint64_t i = 0; i < count; ++i) {
          if (node.push(p, events[next], producers_stop) == engine::PushResult::kStopped) break;
          if (++next == events.size()) next = 0;
        }
        producer_cpu_s[p] = thread_cpu_seconds();
      });
    }
    load_started.store(true, std::memory_order_release);
    first_push = Clock::now();
    go.store(true, std::memory_order_release);
  }

  // Shut down in the order data flows, so nothing is left half-sent.
  if (!setup_error.empty()) abort.store(true, std::memory_order_release);
  subscriber_thread.join();
  producers_stop.store(true, std::memory_order_release);
  for (std::thread& t : producers) t.join();
  if (auto stopped = node.stop(); !stopped) return std::unexpected("pipeline: " + stopped.error());
  if (!setup_error.empty()) return std::unexpected(setup_error);

  PipelineResult result;
  const engine::SequencerCounters& c = node.sequencer_counters();
  result.expected_frames = markets.size() + options.frames;
  result.stream = sub.counters;
  result.sequenced_frames = c.frames.load();
  for (const auto& n : c.rejected) result.rejected_events += n.load();
  result.sequencer_batches = c.batches.load();
  result.heartbeats_published = c.heartbeats.load();
  result.commit_ns_total = c.commit_ns_total.load();
  for (size_t p = 0; p < node.queues().producers(); ++p) {
    result.backpressure += node.queues().backpressure(p);
  }
  result.send_failures = node.send_failures();
  result.sequencer_cpu_s = node.sequencer_cpu_seconds();
  for (const double s : producer_cpu_s) result.producers_cpu_s += s;
  result.subscriber_cpu_s = sub.cpu_s;
  result.other_cpu_s =
      std::max(0.0, process_cpu_seconds() - process_cpu_start - result.sequencer_cpu_s -
                        result.producers_cpu_s - result.subscriber_cpu_s);
  Measurement& m = result.measurement;
  m.frames =
      sub.counters.frames_applied - std::min<uint64_t>(sub.counters.frames_applied, markets.size());
  m.bytes = sub.load_bytes;
  m.batches = sub.load_batches;
  m.seconds = std::chrono::duration<double>(sub.last_receive - first_push).count();
  if (!sub.error.empty() && result.integrity_error().empty()) return std::unexpected(sub.error);
  return result;
}

}  // namespace oddsbus::bench
