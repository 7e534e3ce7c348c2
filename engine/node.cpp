#include "engine/node.h"

#include <pthread.h>

#include <chrono>
#include <cinttypes>
#include <memory>
#include <optional>
#include <thread>

#include "engine/clocks.h"
#include "engine/desk_overrides.h"
#include "engine/desk_service.h"
#include "engine/frame_ring.h"
#include "engine/ingest_queues.h"
#include "engine/node_roles.h"
#include "engine/publisher.h"
#include "engine/recovery_server.h"
#include "engine/replica.h"
#include "engine/restore.h"
#include "engine/sequencer_agent.h"
#include "engine/sync_gate.h"
#include "feeds/adapter.h"
#include "feeds/link/provider_link.h"
#include "feeds/mapping.h"
#include "feeds/source_selector.h"
#include "feeds/tcp_line_source.h"
#include "schemas/log.h"

namespace oddsbus::engine {

std::expected<FeedSpec, std::string> parse_feed_spec(std::string_view text) {
  const size_t eq = text.find('=');
  const size_t at = text.find('@', eq == std::string_view::npos ? 0 : eq);
  if (eq == std::string_view::npos || at == std::string_view::npos || eq == 0 || at == eq + 1) {
    return std::unexpected("--feed '" + std::string(text) + "' is not NAME=FORMAT@URL[,URL]");
  }
  FeedSpec spec{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1, at - eq - 1)), {}};
  if (spec.format != "oddsjson" && spec.format != "betfair-stream" && spec.format != "uof-xml") {
    return std::unexpected("--feed " + spec.name + ": format '" + spec.format +
                           "' is not supported (supported: oddsjson, betfair-stream, uof-xml)");
  }
  std::string_view urls = text.substr(at + 1);
  while (!urls.empty()) {
    const size_t comma = urls.find(',');
    const std::string_view url = urls.substr(0, comma);
    if (auto endpoint = feeds::parse_tcp_url(url); !endpoint) {
      return std::unexpected("--feed " + spec.name + ": " + endpoint.error());
    }
    spec.urls.emplace_back(url);
    urls = comma == std::string_view::npos ? std::string_view{} : urls.substr(comma + 1);
  }
  if (spec.urls.empty()) return std::unexpected("--feed " + spec.name + ": no URL");
  return spec;
}

std::expected<void, std::string> add_feed(std::vector<FeedSpec>& feeds, FeedSpec spec) {
  for (FeedSpec& known : feeds) {
    if (known.name != spec.name) continue;
    if (known.format != spec.format) {
      return std::unexpected("--feed " + spec.name + " is given as both " + known.format + " and " +
                             spec.format);
    }
    known.urls.insert(known.urls.end(), spec.urls.begin(), spec.urls.end());
    return {};
  }
  feeds.push_back(std::move(spec));
  return {};
}

namespace {

// One provider's thread state: its link (all its lines), adapter and queue index.
struct ProviderFeed {
  FeedSpec spec;
  size_t producer = 0;
  IngestQueues* queues = nullptr;
  const std::atomic<bool>* stop = nullptr;
  std::unique_ptr<feeds::Adapter> adapter;
  std::unique_ptr<feeds::link::ProviderLink> link;
  std::vector<feeds::Event> events;
  feeds::Event status_event;
  LogLimiter reject_log;
  uint64_t last_unknown_markets = 0;
  uint64_t last_unknown_selections = 0;
  std::array<std::atomic<uint64_t>, static_cast<size_t>(feeds::RejectReason::kCount)> rejected{};

  static void on_message(void* ctx, size_t, std::string_view message) {
    auto* self = static_cast<ProviderFeed*>(ctx);
    self->events.clear();
    auto parsed = self->adapter->parse(message, self->events);
    const auto& counters = self->adapter->counters();
    if (!parsed) {
      const auto& rejection = parsed.error();
      self->rejected[static_cast<size_t>(rejection.reason)].fetch_add(1, std::memory_order_relaxed);
      if (self->reject_log.allow(read_clocks().monotonic_ns)) {
        log(LogLevel::kWarn, "feed %s: rejected message: %s%s%s (%" PRIu64 " more suppressed)",
            self->spec.name.c_str(), feeds::to_string(rejection.reason).data(),
            rejection.detail.empty() ? "" : ": ", rejection.detail.c_str(),
            self->reject_log.suppressed());
      }
      return;
    }
    if ((counters.unknown_markets != self->last_unknown_markets ||
         counters.unknown_selections != self->last_unknown_selections) &&
        self->reject_log.allow(read_clocks().monotonic_ns)) {
      std::string sample;
      for (const auto& id : self->adapter->unknown_ids())
        sample += (sample.empty() ? "" : ", ") + id;
      log(LogLevel::kWarn,
          "feed %s: %" PRIu64 " unknown market and %" PRIu64
          " unknown selection references so far, not in the mapping (e.g. %s)",
          self->spec.name.c_str(), counters.unknown_markets, counters.unknown_selections,
          sample.c_str());
    }
    self->last_unknown_markets = counters.unknown_markets;
    self->last_unknown_selections = counters.unknown_selections;
    for (feeds::Event& e : self->events) {
      e.source = self->spec.name;
      self->queues->push(self->producer, e, *self->stop);
    }
  }

  static void on_health(void* ctx, bool up) {
    auto* self = static_cast<ProviderFeed*>(ctx);
    log(up ? LogLevel::kInfo : LogLevel::kWarn, "feed %s: %s", self->spec.name.c_str(),
        up ? "connected" : "lost every line");
    self->status_event = feeds::Event{};
    self->status_event.type = feeds::EventType::kSourceStatus;
    self->status_event.source = self->spec.name;
    self->status_event.source_up = up;
    self->queues->push(self->producer, self->status_event, *self->stop);
  }

  static void on_line_state(void* ctx, size_t line, bool connected) {
    auto* self = static_cast<ProviderFeed*>(ctx);
    log(connected ? LogLevel::kInfo : LogLevel::kWarn, "feed %s: line %zu %s %s",
        self->spec.name.c_str(), line, connected ? "connected to" : "lost",
        self->spec.urls[line].c_str());
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
    publisher = std::make_unique<ZmqPublisher>(context, config.pub_url, config.pub_hwm,
                                               config.pub_send_buffer);
  } catch (const zmq::error_t& e) {
    return std::unexpected("cannot bind --pub " + config.pub_url + ": " + e.what());
  }
  log(LogLevel::kInfo,
      "node %u: journal %s at seq %" PRIu64 ", epoch %u, %zu markets; publishing on %s",
      config.node, config.journal_dir.c_str(), sequencer.last_seq(), sequencer.epoch(),
      sequencer.state().markets().size(), config.pub_url.c_str());

  std::optional<feeds::Mapping> mapping;
  if (!config.mapping_path.empty()) {
    auto loaded = feeds::Mapping::load(config.mapping_path);
    if (!loaded) return std::unexpected(loaded.error());
    mapping.emplace(std::move(*loaded));
  }
  // Selection runs with or without a mapping: it keeps the feeds' view of every market they speak
  // of, which a secondary reconciles at takeover (unmapped markets pass through as they come).
  const feeds::Mapping no_mapping;
  feeds::SourceSelectorConfig selector_config;
  selector_config.stale_after_ns = config.stale_after_ns;
  selector_config.tolerance_bps = config.tolerance_bps;
  selector_config.disagree_after_ns = config.disagree_after_ns;
  selector_config.suspend_on_disagreement = config.suspend_on_disagreement;
  selector_config.stale_unmapped = config.stale_unmapped;
  feeds::SourceSelector selector(mapping ? *mapping : no_mapping, selector_config);

  // One producer per feed, and one more for the desk.
  const size_t desk_producer = config.feeds.size();
  IngestQueues queues(config.feeds.size() + 1, config.queue_capacity);
  std::atomic<bool> feeds_stop{false};
  std::vector<std::unique_ptr<ProviderFeed>> providers;
  for (size_t i = 0; i < config.feeds.size(); ++i) {
    auto provider = std::make_unique<ProviderFeed>();
    provider->spec = config.feeds[i];
    provider->producer = i;
    provider->queues = &queues;
    provider->stop = &feeds_stop;
    auto adapter = feeds::make_adapter(provider->spec.format, provider->spec.name,
                                       mapping ? &*mapping : nullptr);
    if (!adapter) return std::unexpected(adapter.error());
    provider->adapter = std::move(*adapter);
    feeds::link::ProviderLinkConfig link_config;
    link_config.feed = provider->spec.name;
    link_config.format = provider->spec.format;
    for (const std::string& url : provider->spec.urls) {
      link_config.lines.push_back(*feeds::parse_tcp_url(url));
    }
    link_config.jitter_seed = config.node * 1000 + i + 1;
    provider->link = std::make_unique<feeds::link::ProviderLink>(link_config);
    providers.push_back(std::move(provider));
  }

  FrameRing ring(1024);
  std::unique_ptr<RecoveryServer> recovery_server;
  if (!config.recovery_url.empty()) {
    RecoveryServiceConfig recovery_config;
    recovery_config.node = config.node;
    recovery_config.channel = config.channel;
    try {
      recovery_server = std::make_unique<RecoveryServer>(context, config.recovery_url, **journal,
                                                         recovery_config);
    } catch (const zmq::error_t& e) {
      return std::unexpected("cannot bind --recovery " + config.recovery_url + ": " + e.what());
    }
  }
  std::atomic<uint64_t> no_acks{0};
  std::atomic<bool> no_recovery_role{false};
  SyncGateConfig gate_config;
  gate_config.sync = config.sync_replication;
  gate_config.alone_after_ns = config.alone_after_ns;
  gate_config.journaled_seq = sequencer.last_seq();
  SyncGate gate(*publisher, recovery_server ? recovery_server->acked_seq() : no_acks, gate_config);
  if (recovery_server) recovery_server->limit_to(gate.visible_seq());
  SequencerAgentConfig agent_config;
  agent_config.max_batch_frames = config.max_batch_frames;
  agent_config.heartbeat_interval_ns = config.heartbeat_interval_ns;
  SequencerAgent agent(sequencer, **journal, queues, ring, &gate, agent_config, &selector);
  DeskOverrides overrides;
  std::unique_ptr<DeskService> desk;
  if (!config.desk_url.empty()) {
    DeskServiceConfig desk_config;
    desk_config.url = config.desk_url;
    desk_config.producer = desk_producer;
    if (config.sync_replication) desk_config.visible_seq = &gate.visible_seq();
    try {
      desk = std::make_unique<DeskService>(context, desk_config, queues);
    } catch (const zmq::error_t& e) {
      return std::unexpected("cannot bind --desk " + config.desk_url + ": " + e.what());
    }
    agent.set_desk(&overrides, &desk->acks());
  }

  NodeRole start_role = config.role;
  if (start_role == NodeRole::kPrimary && !config.peer_recovery.empty()) {
    auto peer = probe_status(context, config.peer_recovery, 500);
    if (peer && peer->kind == recovery::ReplyKind::kStatus && peer->primary) {
      log(LogLevel::kWarn,
          "node %u: peer node %u at %s is primary (epoch %u, seq %" PRIu64
          "); joining it as secondary",
          config.node, peer->node, config.peer_recovery.c_str(), peer->epoch, peer->last_seq);
      start_role = NodeRole::kSecondary;
    }
  }
  if (mapping && start_role == NodeRole::kPrimary) {
    // The mapping defines its markets, suspended until a source is heard.
    std::vector<feeds::Event> definitions;
    selector.definitions(definitions);
    if (auto ok = agent.sequence_now(definitions, read_clocks()); !ok) {
      return std::unexpected("journal write failed: " + ok.error());
    }
    log(LogLevel::kInfo, "node %u: %zu mapped markets defined from %s", config.node,
        definitions.size(), config.mapping_path.c_str());
  }
  NodeRoleDeps deps{context,
                    **journal,
                    sequencer,
                    agent,
                    gate,
                    *publisher,
                    queues,
                    &selector,
                    recovery_server ? &recovery_server->primary_flag() : &no_recovery_role,
                    recovery_server.get(),
                    desk.get()};
  NodeRoles roles(deps, config, start_role, read_clocks());

  std::atomic<bool> sequencer_stop{false};
  std::string failure;
  std::atomic<bool> failed{false};

  std::thread sequencer_thread([&] {
    unsigned idle = 0;
    while (true) {
      const bool stopping = sequencer_stop.load(std::memory_order_acquire);
      auto done = roles.do_work(read_clocks());
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
      if (roles.role() == NodeRole::kSecondary) continue;  // the replica waits in poll
      if (++idle < 100) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
  });
  name_thread(sequencer_thread, "sequencer");

  std::atomic<bool> recovery_stop{false};
  std::thread recovery_thread;
  if (recovery_server) {
    recovery_thread = std::thread([&] { recovery_server->run(recovery_stop); });
    log(LogLevel::kInfo, "node %u: recovery service on %s", config.node,
        recovery_server->endpoint().c_str());
  }

  std::atomic<bool> desk_stop{false};
  std::thread desk_thread;
  if (desk) {
    desk_thread = std::thread([&] {
      if (auto ran = desk->run(desk_stop); !ran) {
        log(LogLevel::kError, "node %u: desk API stopped: %s", config.node, ran.error().c_str());
      }
    });
    name_thread(desk_thread, "desk");
    log(LogLevel::kInfo, "node %u: desk API on %s", config.node, desk->endpoint().c_str());
  }

  std::vector<std::thread> feed_threads;
  for (auto& provider : providers) {
    feed_threads.emplace_back([&feeds_stop, p = provider.get()] {
      feeds::link::ProviderLink::Callbacks callbacks;
      callbacks.on_message = &ProviderFeed::on_message;
      callbacks.on_health = &ProviderFeed::on_health;
      callbacks.on_line_state = &ProviderFeed::on_line_state;
      callbacks.ctx = p;
      p->link->run(feeds_stop, callbacks);
    });
    name_thread(feed_threads.back(), "feed-" + provider->spec.name);
  }

  while (!stop.load(std::memory_order_acquire) && !failed.load(std::memory_order_acquire)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  desk_stop.store(true, std::memory_order_release);
  if (desk_thread.joinable()) desk_thread.join();
  feeds_stop.store(true, std::memory_order_release);
  for (auto& t : feed_threads) t.join();
  sequencer_stop.store(true, std::memory_order_release);
  sequencer_thread.join();
  recovery_stop.store(true, std::memory_order_release);
  if (recovery_thread.joinable()) recovery_thread.join();

  const SequencerCounters& c = agent.counters();
  uint64_t rejected = 0;
  for (const auto& n : c.rejected) rejected += n.load();
  uint64_t duplicates = 0;
  for (const auto& provider : providers) {
    for (const auto& n : provider->rejected) rejected += n.load();
    duplicates += provider->link->counters().duplicates.load();
  }
  log(LogLevel::kInfo,
      "node %u: stopped at seq %" PRIu64 ": %" PRIu64 " frames in %" PRIu64 " batches, %" PRIu64
      " rejected, %" PRIu64 " duplicate messages dropped, %" PRIu64 " heartbeats published",
      config.node, sequencer.last_seq(), c.frames.load(), c.batches.load(), rejected, duplicates,
      c.heartbeats.load());
  if (failed.load()) return std::unexpected("journal write failed, node stopped: " + failure);
  return {};
}

}  // namespace oddsbus::engine
