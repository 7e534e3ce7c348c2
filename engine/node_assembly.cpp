#include "engine/node_assembly.h"

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>

#include "engine/replica.h"
#include "engine/restore.h"
#include "feeds/tcp_line_source.h"
#include "schemas/log.h"

namespace oddsbus::engine {

namespace {

void name_thread(std::thread& thread, const std::string& name) {
  pthread_setname_np(thread.native_handle(), name.substr(0, 15).c_str());
}

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

Node::Node(NodeConfig config, NodeOptions options)
    : config_(std::move(config)), options_(options), committed_(options.committed) {}

Node::~Node() { stop(); }

NodeRole Node::role() const { return roles_ ? roles_->role() : config_.role; }

PushResult Node::push(size_t producer, const feeds::Event& event, const std::atomic<bool>& stop) {
  return queues_->push(local_producer_base_ + producer, event, stop);
}

uint64_t Node::feed_rejections() const {
  uint64_t rejected = 0;
  for (const auto& provider : providers_) {
    for (const auto& n : provider->rejected) rejected += n.load(std::memory_order_relaxed);
  }
  return rejected;
}

uint64_t Node::feed_duplicates() const {
  uint64_t duplicates = 0;
  for (const auto& provider : providers_) {
    if (provider->link) {
      duplicates += provider->link->counters().duplicates.load(std::memory_order_relaxed);
    }
  }
  return duplicates;
}

std::expected<void, std::string> Node::start() {
  if (started_) return std::unexpected("node " + std::to_string(config_.node) + " started twice");
  started_ = true;
  if (auto assembled = assemble(); !assembled) {
    stopped_ = true;  // no thread runs yet
    if (journal_) journal_->set_observer(nullptr);
    return assembled;
  }
  start_threads();
  return {};
}

std::expected<void, std::string> Node::load_curve() {
  if (config_.curve_key.empty()) {
    if (!config_.curve_allow.empty() || !config_.curve_server_keys.empty()) {
      return std::unexpected(
          "--curve-allow and --curve-server-key need --curve-key (this node's secret key file)");
    }
    log(LogLevel::kWarn,
        "node %u: CURVE off: the ZeroMQ links (pub, recovery, desk, replication) run in the "
        "clear, open to anyone who can reach them (give --curve-key, --curve-allow and, with a "
        "peer, --curve-server-key)",
        config_.node);
    return {};
  }
  if (config_.curve_allow.empty()) {
    return std::unexpected("--curve-key needs --curve-allow (the clients' public keys)");
  }
  try {
    auto server = curve::CurveServer::start(context_, config_.curve_key, config_.curve_allow);
    if (!server) return std::unexpected(server.error().message);
    curve_server_ = std::move(*server);
  } catch (const zmq::error_t& e) {
    return std::unexpected(std::string("CURVE: cannot start the ZAP handler: ") + e.what());
  }
  if (!config_.peer_pub.empty()) {
    if (config_.curve_server_keys.empty()) {
      return std::unexpected(
          "CURVE with a peer needs --curve-server-key (the peer's public key file)");
    }
    auto client = curve::load_curve_client(config_.curve_key, config_.curve_server_keys,
                                           {config_.peer_pub, config_.peer_recovery});
    if (!client) return std::unexpected(client.error().message);
    curve_client_ = std::make_shared<const curve::CurveClient>(std::move(*client));
  } else if (!config_.curve_server_keys.empty()) {
    return std::unexpected("--curve-server-key is for the peer's links: give --peer-pub too");
  }
  log(LogLevel::kInfo, "node %u: CURVE on: key %s, clients allowed by %s%s", config_.node,
      curve::z85(curve_server_->keys().public_key).c_str(), config_.curve_allow.c_str(),
      curve_client_ ? ", the peer's links authenticated too" : "");
  return {};
}

std::expected<void, std::string> Node::assemble() {
  JournalConfig journal_config;
  journal_config.dir = config_.journal_dir;
  journal_config.durability = config_.durability;
  journal_config.node = config_.node;
  journal_config.channel = config_.channel;
  auto journal = Journal::open(journal_config);
  if (!journal) return std::unexpected(journal.error());
  journal_ = std::move(*journal);
  auto restored = restore_sequencer(*journal_);
  if (!restored) return std::unexpected(restored.error());
  sequencer_ = std::move(*restored);
  last_seq_.store(sequencer_->last_seq(), std::memory_order_release);

  if (auto curve = load_curve(); !curve) return curve;
  try {
    publisher_ = std::make_unique<ZmqPublisher>(context_, config_.pub_url, config_.pub_hwm,
                                                config_.pub_send_buffer, curve_server_.get());
  } catch (const zmq::error_t& e) {
    return std::unexpected("cannot bind --pub " + config_.pub_url + ": " + e.what());
  }
  pub_endpoint_ = publisher_->endpoint();
  log(LogLevel::kInfo,
      "node %u: journal %s at seq %" PRIu64 ", epoch %u, %zu markets; publishing on %s",
      config_.node, config_.journal_dir.c_str(), sequencer_->last_seq(), sequencer_->epoch(),
      sequencer_->state().markets().size(), pub_endpoint_.c_str());

  if (!config_.mapping_path.empty()) {
    auto loaded = feeds::Mapping::load(config_.mapping_path);
    if (!loaded) return std::unexpected(loaded.error());
    mapping_.emplace(std::move(*loaded));
  }
  // Selection runs with or without a mapping: it keeps the feeds' view of every market they speak
  // of, which a secondary reconciles at takeover (unmapped markets pass through as they come).
  feeds::SourceSelectorConfig selector_config;
  selector_config.stale_after_ns = config_.stale_after_ns;
  selector_config.tolerance_bps = config_.tolerance_bps;
  selector_config.disagree_after_ns = config_.disagree_after_ns;
  selector_config.suspend_on_disagreement = config_.suspend_on_disagreement;
  selector_config.stale_unmapped = config_.stale_unmapped;
  selector_ =
      std::make_unique<feeds::SourceSelector>(mapping_ ? *mapping_ : no_mapping_, selector_config);

  // One producer per feed, one for the desk, then the local ones.
  const size_t desk_producer = config_.feeds.size();
  local_producer_base_ = desk_producer + 1;
  queues_ = std::make_unique<IngestQueues>(local_producer_base_ + options_.local_producers,
                                           config_.queue_capacity);
  for (size_t i = 0; i < config_.feeds.size(); ++i) {
    auto provider = std::make_unique<ProviderFeed>();
    provider->spec = config_.feeds[i];
    provider->producer = i;
    provider->queues = queues_.get();
    provider->stop = &feeds_stop_;
    if (std::ranges::any_of(provider->spec.urls, [](const auto& url) { return is_tls_url(url); })) {
      if (auto opened = open_betfair_session(*provider, mapping_ ? &*mapping_ : nullptr,
                                             config_.node * 1000 + i + 1);
          !opened) {
        return std::unexpected(opened.error());
      }
      providers_.push_back(std::move(provider));
      continue;
    }
    auto adapter = feeds::make_adapter(provider->spec.format, provider->spec.name,
                                       mapping_ ? &*mapping_ : nullptr);
    if (!adapter) return std::unexpected(adapter.error());
    provider->adapter = std::move(*adapter);
    if (std::any_of(provider->spec.urls.begin(), provider->spec.urls.end(), is_amqp_url)) {
      if (auto opened = open_uof_session(*provider, mapping_ ? &*mapping_ : nullptr,
                                         config_.node * 1000 + i + 1);
          !opened) {
        return std::unexpected(opened.error());
      }
      providers_.push_back(std::move(provider));
      continue;
    }
    feeds::link::ProviderLinkConfig link_config;
    link_config.feed = provider->spec.name;
    link_config.format = provider->spec.format;
    for (const std::string& url : provider->spec.urls) {
      link_config.lines.push_back(*feeds::parse_tcp_url(url));
    }
    link_config.jitter_seed = config_.node * 1000 + i + 1;
    provider->link = std::make_unique<feeds::link::ProviderLink>(link_config);
    providers_.push_back(std::move(provider));
  }

  if (!config_.recovery_url.empty()) {
    RecoveryServiceConfig recovery_config;
    recovery_config.node = config_.node;
    recovery_config.channel = config_.channel;
    const RecoveryServerClocks recovery_clocks{options_.clocks.monotonic_ns,
                                               options_.clocks.wall_ns};
    try {
      recovery_server_ =
          std::make_unique<RecoveryServer>(context_, config_.recovery_url, *journal_,
                                           recovery_config, recovery_clocks, curve_server_.get());
    } catch (const zmq::error_t& e) {
      return std::unexpected("cannot bind --recovery " + config_.recovery_url + ": " + e.what());
    }
    recovery_endpoint_ = recovery_server_->endpoint();
    // Every batch the sequencer thread commits, whoever appends it (the agent, a takeover, the
    // replica), reaches the recovery thread through the queue.
    journal_->set_observer(&committed_);
    recovery_server_->follow(committed_);
  }
  SyncGateConfig gate_config;
  gate_config.sync = config_.sync_replication;
  gate_config.journaled_seq = sequencer_->last_seq();
  gate_ = std::make_unique<SyncGate>(
      *publisher_, recovery_server_ ? recovery_server_->acked_seq() : no_acks_, gate_config);
  if (recovery_server_) recovery_server_->limit_to(gate_->visible_seq());
  SequencerAgentConfig agent_config;
  agent_config.max_batch_frames = config_.max_batch_frames;
  agent_config.heartbeat_interval_ns = config_.heartbeat_interval_ns;
  agent_config.evict_after_ns = config_.evict_after_ns;
  agent_ = std::make_unique<SequencerAgent>(*sequencer_, *journal_, *queues_, gate_.get(),
                                            agent_config, selector_.get());
  if (!config_.desk_rights_path.empty()) {
    auto rights = DeskRights::load(config_.desk_rights_path);
    if (!rights) return std::unexpected(rights.error());
    desk_rights_.emplace(std::move(*rights));
    log(LogLevel::kInfo, "node %u: desk rights for %zu desk(s) from %s", config_.node,
        desk_rights_->size(), config_.desk_rights_path.c_str());
  } else if (!config_.desk_url.empty()) {
    log(LogLevel::kWarn, "node %u: no --desk-rights: every desk that reaches %s may do everything",
        config_.node, config_.desk_url.c_str());
  }
  const DeskRights* rights = desk_rights_ ? &*desk_rights_ : nullptr;
  if (!config_.desk_url.empty()) {
    DeskServiceConfig desk_config;
    desk_config.url = config_.desk_url;
    desk_config.producer = desk_producer;
    desk_config.rights = rights;
    if (config_.sync_replication) desk_config.visible_seq = &gate_->visible_seq();
    desk_config.curve = curve_server_.get();
    try {
      desk_ = std::make_unique<DeskService>(context_, desk_config, *queues_);
    } catch (const zmq::error_t& e) {
      return std::unexpected("cannot bind --desk " + config_.desk_url + ": " + e.what());
    }
    desk_endpoint_ = desk_->endpoint();
  }
  // Held overrides are honoured with or without a desk service: the journal says which markets a
  // desk holds, and their feeds stay held back until a release or the expiry.
  agent_->set_desk(&overrides_, desk_ ? &desk_->acks() : nullptr, rights,
                   desk_ ? &desk_->held_board() : nullptr);
  if (const size_t held = agent_->restore_desk(options_.clocks.now()); held > 0) {
    log(LogLevel::kInfo, "node %u: %zu desk override(s) held, as the journal says", config_.node,
        held);
  }

  NodeRole start_role = config_.role;
  if (start_role == NodeRole::kPrimary && !config_.peer_recovery.empty()) {
    auto peer = probe_status(context_, config_.peer_recovery, 500, curve_client_.get());
    std::optional<PeerStatus> status;
    if (peer && peer->kind == recovery::ReplyKind::kStatus) {
      status = PeerStatus{peer->primary, peer->epoch, peer->last_seq};
    }
    start_role = choose_start_role(start_role, sequencer_->last_seq(), sequencer_->epoch(), status);
    if (start_role == NodeRole::kSecondary) {
      log(LogLevel::kWarn,
          "node %u: peer node %u at %s is %s (epoch %u, seq %" PRIu64
          "; ours: epoch %u, seq %" PRIu64 "); joining it as secondary",
          config_.node, peer->node, config_.peer_recovery.c_str(),
          peer->primary ? "primary" : "a secondary holding more of the history", peer->epoch,
          peer->last_seq, sequencer_->epoch(), sequencer_->last_seq());
    }
  }
  if (mapping_ && start_role == NodeRole::kPrimary) {
    // The mapping defines its markets, suspended until a source is heard.
    std::vector<feeds::Event> definitions;
    selector_->definitions(definitions);
    if (auto ok = agent_->sequence_now(definitions, options_.clocks.now()); !ok) {
      return std::unexpected("journal write failed: " + ok.error());
    }
    last_seq_.store(sequencer_->last_seq(), std::memory_order_release);
    log(LogLevel::kInfo, "node %u: %zu mapped markets defined from %s", config_.node,
        definitions.size(), config_.mapping_path.c_str());
  }
  if (selector_ && start_role == NodeRole::kPrimary) {
    // Journal markets no mapping lists and no feed has spoken of yet: suspended feed-stale until
    // a feed does (with stale_unmapped only; tests/sim/KNOWN_FINDINGS.md F2).
    std::vector<feeds::Event> adopted;
    const Clocks now = options_.clocks.now();
    selector_->adopt_journal_markets(sequencer_->state(), now.monotonic_ns, adopted);
    selector_->notices().clear();
    if (!adopted.empty()) {
      if (auto ok = agent_->sequence_now(adopted, now); !ok) {
        return std::unexpected("journal write failed: " + ok.error());
      }
      last_seq_.store(sequencer_->last_seq(), std::memory_order_release);
      log(LogLevel::kInfo,
          "node %u: %zu journal markets no feed has spoken of suspended feed-stale", config_.node,
          adopted.size());
    }
  }
  if (config_.snapshot_every_frames > 0 || config_.snapshot_every_seconds > 0) {
    SnapshotPolicy snapshot_policy;
    snapshot_policy.every_frames = config_.snapshot_every_frames;
    snapshot_policy.every_ns = config_.snapshot_every_seconds * 1'000'000'000ull;
    RetentionPolicy retention;
    retention.retain_frames = config_.retain_frames;
    retention.retain_age_ns = config_.retain_age_ns;
    snapshot_writer_ = std::make_unique<SnapshotWriter>(*journal_, snapshot_policy, retention);
  } else if (config_.retain_frames > 0 || config_.retain_age_ns > 0) {
    return std::unexpected(
        "retention prunes only behind journal snapshots: give --snapshot-every-frames or "
        "--snapshot-every-seconds above 0");
  }
  NodeRoleDeps deps{context_,
                    *journal_,
                    *sequencer_,
                    *agent_,
                    *gate_,
                    *publisher_,
                    *queues_,
                    selector_.get(),
                    recovery_server_ ? &recovery_server_->primary_flag() : &no_recovery_role_,
                    recovery_server_.get(),
                    desk_.get(),
                    curve_client_};
  roles_ = std::make_unique<NodeRoles>(deps, config_, start_role, options_.clocks.now());
  std::vector<std::string> feed_names;
  for (const FeedSpec& feed : config_.feeds) feed_names.push_back(feed.name);
  sample_ = std::make_unique<NodeSample>(feed_names);
  sample_node(*sample_, *roles_, selector_.get(), *publisher_, options_.clocks.monotonic_ns(),
              true);
  return {};
}

void Node::run_sequencer() {
  unsigned idle = 0;
  while (true) {
    const bool stopping = sequencer_stop_.load(std::memory_order_acquire);
    const Clocks clocks = options_.clocks.now();
    auto done = roles_->do_work(clocks);
    last_seq_.store(sequencer_->last_seq(), std::memory_order_release);
    sample_node(*sample_, *roles_, selector_.get(), *publisher_, clocks.monotonic_ns);
    if (!done) {
      failure_ = done.error();
      failed_.store(true, std::memory_order_release);
      break;
    }
    if (*done > 0) {
      idle = 0;
      continue;
    }
    if (stopping) break;  // queues were drained after the stop was seen
    if (roles_->role() == NodeRole::kSecondary) continue;  // the replica waits in poll
    if (++idle < 100) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  sample_node(*sample_, *roles_, selector_.get(), *publisher_, options_.clocks.monotonic_ns(),
              true);
  sequencer_cpu_s_ = thread_cpu_seconds();
}

void Node::start_threads() {
  sequencer_thread_ = std::thread([this] { run_sequencer(); });
  name_thread(sequencer_thread_, "sequencer");

  if (recovery_server_) {
    recovery_thread_ = std::thread([this] { recovery_server_->run(recovery_stop_); });
    log(LogLevel::kInfo, "node %u: recovery service on %s", config_.node,
        recovery_endpoint_.c_str());
  }

  if (desk_) {
    desk_thread_ = std::thread([this] {
      if (auto ran = desk_->run(desk_stop_); !ran) {
        log(LogLevel::kError, "node %u: desk API stopped: %s", config_.node, ran.error().c_str());
      }
    });
    name_thread(desk_thread_, "desk");
    log(LogLevel::kInfo, "node %u: desk API on %s", config_.node, desk_endpoint_.c_str());
  }

  if (snapshot_writer_) {
    snapshot_thread_ = std::thread([this] {
      LogLimiter limiter(10'000'000'000ull);
      while (!snapshot_stop_.load(std::memory_order_acquire)) {
        const Clocks now = options_.clocks.now();
        auto done = snapshot_writer_->do_work(now.monotonic_ns, now.wall_ns);
        if (!done && limiter.allow(now.monotonic_ns)) {
          log(LogLevel::kError, "node %u: journal snapshots: %s", config_.node,
              done.error().c_str());
        }
        if (!done || *done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
    name_thread(snapshot_thread_, "snapshots");
  }

  for (auto& provider : providers_) {
    feed_threads_.emplace_back([this, p = provider.get()] {
      if (p->betfair) return run_betfair_session(*p, feeds_stop_);
      feeds::link::ProviderLink::Callbacks callbacks;
      callbacks.on_message = &ProviderFeed::on_message;
      callbacks.on_health = &ProviderFeed::on_health;
      callbacks.on_line_state = &ProviderFeed::on_line_state;
      callbacks.ctx = p;
      if (p->uof_session) {
        p->uof_session->run(feeds_stop_, callbacks);
      } else {
        p->link->run(feeds_stop_, callbacks);
      }
    });
    name_thread(feed_threads_.back(), "feed-" + provider->spec.name);
  }
}

std::expected<void, std::string> Node::stop() {
  if (!started_ || stopped_) {
    return failed() ? std::expected<void, std::string>(
                          std::unexpected("journal write failed, node stopped: " + failure_))
                    : std::expected<void, std::string>{};
  }
  stopped_ = true;
  desk_stop_.store(true, std::memory_order_release);
  if (desk_thread_.joinable()) desk_thread_.join();
  feeds_stop_.store(true, std::memory_order_release);
  for (auto& t : feed_threads_) t.join();
  sequencer_stop_.store(true, std::memory_order_release);
  sequencer_thread_.join();
  recovery_stop_.store(true, std::memory_order_release);
  if (recovery_thread_.joinable()) recovery_thread_.join();
  snapshot_stop_.store(true, std::memory_order_release);
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  journal_->set_observer(nullptr);

  const SequencerCounters& c = agent_->counters();
  uint64_t rejected = feed_rejections();
  for (const auto& n : c.rejected) rejected += n.load();
  log(LogLevel::kInfo,
      "node %u: stopped at seq %" PRIu64 ": %" PRIu64 " frames in %" PRIu64 " batches, %" PRIu64
      " rejected, %" PRIu64 " duplicate messages dropped, %" PRIu64 " heartbeats published",
      config_.node, sequencer_->last_seq(), c.frames.load(), c.batches.load(), rejected,
      feed_duplicates(), c.heartbeats.load());
  if (snapshot_writer_) {
    const SnapshotWriterCounters& s = snapshot_writer_->counters();
    log(LogLevel::kInfo,
        "node %u: %" PRIu64 " journal snapshots written (last at seq %" PRIu64
        "; encode max %.2f "
        "ms, put max %.2f ms), %" PRIu64 " log records pruned (step max %.2f ms)",
        config_.node, s.written.load(), s.last_snapshot_seq.load(), s.encode_ns_max.load() / 1e6,
        s.put_ns_max.load() / 1e6, s.records_pruned.load(), s.prune_ns_max.load() / 1e6);
  }
  for (const auto& provider : providers_) log_session_summary(*provider);
  if (failed()) return std::unexpected("journal write failed, node stopped: " + failure_);
  return {};
}

}  // namespace oddsbus::engine
