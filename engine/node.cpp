#include "engine/node.h"

#include <pthread.h>

#include <chrono>
#include <cinttypes>
#include <memory>
#include <thread>

#include "engine/frame_ring.h"
#include "engine/ingest_queues.h"
#include "engine/publisher.h"
#include "engine/restore.h"
#include "engine/sequencer_agent.h"
#include "feeds/oddsjson/parser.h"
#include "feeds/tcp_line_source.h"
#include "schemas/log.h"

namespace oddsbus::engine {

std::expected<FeedSpec, std::string> parse_feed_spec(std::string_view text) {
  const size_t eq = text.find('=');
  const size_t at = text.find('@', eq == std::string_view::npos ? 0 : eq);
  if (eq == std::string_view::npos || at == std::string_view::npos || eq == 0 || at == eq + 1) {
    return std::unexpected("--feed '" + std::string(text) + "' is not NAME=FORMAT@URL");
  }
  FeedSpec spec{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1, at - eq - 1)),
                std::string(text.substr(at + 1))};
  if (spec.format != "oddsjson") {
    return std::unexpected("--feed " + spec.name + ": format '" + spec.format +
                           "' is not supported (supported: oddsjson)");
  }
  if (auto endpoint = feeds::parse_tcp_url(spec.url); !endpoint) {
    return std::unexpected("--feed " + spec.name + ": " + endpoint.error());
  }
  return spec;
}

namespace {

// One feed's thread state: its connector, parser and queue index.
struct FeedLine {
  FeedSpec spec;
  size_t producer = 0;
  IngestQueues* queues = nullptr;
  const std::atomic<bool>* stop = nullptr;
  feeds::oddsjson::Parser parser;
  feeds::Event event;
  LogLimiter reject_log;
  std::array<std::atomic<uint64_t>, static_cast<size_t>(feeds::RejectReason::kCount)> rejected{};

  static void on_line(void* ctx, std::string_view line) {
    auto* self = static_cast<FeedLine*>(ctx);
    if (auto parsed = self->parser.parse(line, self->event); !parsed) {
      const auto& rejection = parsed.error();
      self->rejected[static_cast<size_t>(rejection.reason)].fetch_add(1, std::memory_order_relaxed);
      if (self->reject_log.allow(wall_clock_ns())) {
        log(LogLevel::kWarn, "feed %s: rejected line: %s%s%s (%" PRIu64 " more suppressed)",
            self->spec.name.c_str(), feeds::to_string(rejection.reason).data(),
            rejection.detail.empty() ? "" : ": ", rejection.detail.c_str(),
            self->reject_log.suppressed());
      }
      return;
    }
    self->event.source = self->spec.name;
    self->queues->push(self->producer, self->event, *self->stop);
  }

  static void on_connection(void* ctx, bool connected) {
    auto* self = static_cast<FeedLine*>(ctx);
    log(connected ? LogLevel::kInfo : LogLevel::kWarn, "feed %s: %s %s", self->spec.name.c_str(),
        connected ? "connected to" : "lost", self->spec.url.c_str());
  }
};

void name_thread(std::thread& thread, const std::string& name) {
  pthread_setname_np(thread.native_handle(), name.substr(0, 15).c_str());
}

}  // namespace

std::expected<void, std::string> run_node(const NodeConfig& config, const std::atomic<bool>& stop) {
  JournalConfig journal_config;
  journal_config.dir = config.journal_dir;
  journal_config.durability = config.durability;
  journal_config.node = config.node;
  journal_config.channel = config.channel;
  auto journal = Journal::open(journal_config);
  if (!journal) return std::unexpected(journal.error());
  auto restored = restore_sequencer(**journal);
  if (!restored) return std::unexpected(restored.error());
  Sequencer& sequencer = **restored;

  zmq::context_t context(1);
  std::unique_ptr<ZmqPublisher> publisher;
  try {
    publisher = std::make_unique<ZmqPublisher>(context, config.pub_url);
  } catch (const zmq::error_t& e) {
    return std::unexpected("cannot bind --pub " + config.pub_url + ": " + e.what());
  }
  log(LogLevel::kInfo,
      "node %u: journal %s at seq %" PRIu64 ", epoch %u, %zu markets; publishing on %s",
      config.node, config.journal_dir.c_str(), sequencer.last_seq(), sequencer.epoch(),
      sequencer.state().markets().size(), config.pub_url.c_str());

  IngestQueues queues(std::max<size_t>(config.feeds.size(), 1), config.queue_capacity);
  FrameRing ring(1024);
  SequencerAgentConfig agent_config;
  agent_config.max_batch_frames = config.max_batch_frames;
  agent_config.heartbeat_interval_ns = config.heartbeat_interval_ns;
  SequencerAgent agent(sequencer, **journal, queues, ring, publisher.get(), agent_config);

  std::atomic<bool> feeds_stop{false};
  std::atomic<bool> sequencer_stop{false};
  std::string failure;
  std::atomic<bool> failed{false};

  std::thread sequencer_thread([&] {
    unsigned idle = 0;
    while (true) {
      const bool stopping = sequencer_stop.load(std::memory_order_acquire);
      auto done = agent.do_work(wall_clock_ns());
      if (!done) {
        failure = done.error();
        failed.store(true, std::memory_order_release);
        return;
      }
      if (*done > 0) {
        idle = 0;
        continue;
      }
      if (stopping) return;  // queues were drained after the stop was seen
      if (++idle < 100) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
  });
  name_thread(sequencer_thread, "sequencer");

  std::vector<std::unique_ptr<FeedLine>> lines;
  std::vector<std::unique_ptr<feeds::TcpLineSource>> sources;
  std::vector<std::thread> feed_threads;
  for (size_t i = 0; i < config.feeds.size(); ++i) {
    auto line = std::make_unique<FeedLine>();
    line->spec = config.feeds[i];
    line->producer = i;
    line->queues = &queues;
    line->stop = &feeds_stop;
    feeds::TcpLineSourceConfig source_config;
    source_config.endpoint = *feeds::parse_tcp_url(line->spec.url);
    source_config.jitter_seed = config.node * 1000 + i + 1;
    auto source = std::make_unique<feeds::TcpLineSource>(source_config);
    feed_threads.emplace_back([&feeds_stop, src = source.get(), ln = line.get()] {
      src->run(feeds_stop, &FeedLine::on_line, &FeedLine::on_connection, ln);
    });
    name_thread(feed_threads.back(), "feed-" + line->spec.name);
    lines.push_back(std::move(line));
    sources.push_back(std::move(source));
  }

  while (!stop.load(std::memory_order_acquire) && !failed.load(std::memory_order_acquire)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  feeds_stop.store(true, std::memory_order_release);
  for (auto& t : feed_threads) t.join();
  sequencer_stop.store(true, std::memory_order_release);
  sequencer_thread.join();

  const SequencerCounters& c = agent.counters();
  uint64_t rejected = 0;
  for (const auto& n : c.rejected) rejected += n.load();
  for (const auto& line : lines) {
    for (const auto& n : line->rejected) rejected += n.load();
  }
  log(LogLevel::kInfo,
      "node %u: stopped at seq %" PRIu64 ": %" PRIu64 " frames in %" PRIu64 " batches, %" PRIu64
      " rejected, %" PRIu64 " heartbeats published",
      config.node, sequencer.last_seq(), c.frames.load(), c.batches.load(), rejected,
      c.heartbeats.load());
  if (failed.load()) return std::unexpected("journal write failed, node stopped: " + failure);
  return {};
}

}  // namespace oddsbus::engine
