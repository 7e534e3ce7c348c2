#include "engine/node_metrics.h"

#include <lmdb.h>
#include <sys/stat.h>

#include "engine/node_assembly.h"
#include "engine/node_roles.h"
#include "engine/publisher.h"
#include "engine/replica.h"
#include "feeds/source_selector.h"
#include "schemas/metric_text.h"

namespace oddsbus::engine {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

double seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace

NodeSample::NodeSample(const std::vector<std::string>& feed_names) : sources(feed_names.size()) {
  for (size_t i = 0; i < feed_names.size(); ++i) sources[i].name = feed_names[i];
}

void sample_node(NodeSample& s, const NodeRoles& roles, const feeds::SourceSelector* selector,
                 const ZmqPublisher& publisher, uint64_t now_ns, bool force) {
  if (!force && s.sampled.load(kRelaxed) && now_ns - s.last_sample_ns < kNodeSampleIntervalNs) {
    return;
  }
  s.last_sample_ns = now_ns;
  const RoleCore& core = roles.core();
  s.epoch.store(core.epoch(), kRelaxed);
  s.committed_seq.store(core.committed_seq(), kRelaxed);
  uint64_t lag = core.replication_lag();
  if (const Replica* replica = roles.replica();
      replica != nullptr && roles.role() == NodeRole::kSecondary) {
    const uint64_t primary_seq = replica->primary_last_seq();
    lag = primary_seq > core.committed_seq() ? primary_seq - core.committed_seq() : 0;
    const ReplicaCounters& r = replica->counters();
    s.replica_frames.store(r.frames, kRelaxed);
    s.replica_batches.store(r.batches, kRelaxed);
    s.replica_divergences.store(r.divergences, kRelaxed);
    s.replica_bad_replies.store(r.bad_replies, kRelaxed);
    s.replica_handshake_failures.store(replica->subscriber_counters().handshake_failures, kRelaxed);
  }
  if (lag == 0) {
    s.behind_since_ns = 0;
  } else if (s.behind_since_ns == 0) {
    s.behind_since_ns = now_ns;
  }
  s.lag_frames.store(lag, kRelaxed);
  s.lag_ns.store(s.behind_since_ns == 0 ? 0 : now_ns - s.behind_since_ns, kRelaxed);
  const RoleCoreCounters& c = core.counters();
  s.set_asides.store(c.set_asides, kRelaxed);
  s.held_batches.store(c.held_batches, kRelaxed);
  s.alone_episodes.store(c.alone_episodes, kRelaxed);
  s.alone.store(core.alone(), kRelaxed);
  if (selector != nullptr) {
    const feeds::SelectorCounters& f = selector->counters();
    s.selector_passed.store(f.passed, kRelaxed);
    s.selector_shadowed.store(f.shadowed, kRelaxed);
    s.selector_switches.store(f.switches, kRelaxed);
    s.stale_suspensions.store(f.stale_suspensions, kRelaxed);
    s.stale_reopens.store(f.reopens, kRelaxed);
    s.disagreements.store(f.disagreements, kRelaxed);
    s.untracked_events.store(f.untracked, kRelaxed);
    for (NodeSample::Source& source : s.sources) {
      source.healthy.store(selector->healthy(source.name, now_ns), kRelaxed);
      source.active_markets.store(selector->active_markets(source.name), kRelaxed);
    }
  }
  s.published_batches.store(publisher.published(), kRelaxed);
  s.publish_failures.store(publisher.send_failures(), kRelaxed);
  s.sampled.store(true, std::memory_order_release);
}

std::string render_node_metrics(const Node& node) {
  MetricText m;
  const NodeSample& s = node.sample();
  const NodeRole role = node.role();
  m.gauge("oddsbus_engine_info", "The node's id and channel (value 1)", 1,
          {{"node", std::to_string(node.config().node)},
           {"channel", std::to_string(node.config().channel)}});
  m.gauge("oddsbus_engine_role", "1 for the role this node has now", role == NodeRole::kPrimary,
          {{"role", "primary"}});
  m.gauge("oddsbus_engine_role", "1 for the role this node has now", role == NodeRole::kSecondary,
          {{"role", "secondary"}});
  m.gauge("oddsbus_engine_epoch", "The epoch of the node's history", s.epoch.load(kRelaxed));
  m.gauge("oddsbus_engine_seq", "The last seq the node journaled", node.last_seq());
  m.gauge("oddsbus_engine_up", "0 once a journal write failure stopped the sequencer",
          node.failed() ? 0 : 1);

  // Sequencing.
  const SequencerCounters& q = node.sequencer_counters();
  m.counter("oddsbus_engine_frames_total", "Frames sequenced and journaled by this node",
            q.frames.load(kRelaxed));
  m.counter("oddsbus_engine_batches_total", "Batches (journal write transactions) committed",
            q.batches.load(kRelaxed));
  m.counter("oddsbus_engine_heartbeats_total", "Heartbeats published", q.heartbeats.load(kRelaxed));
  std::array<double, kCommitLatencyBoundsNs.size()> bounds{};
  for (size_t i = 0; i < bounds.size(); ++i) bounds[i] = seconds(kCommitLatencyBoundsNs[i]);
  std::array<uint64_t, kCommitLatencyBoundsNs.size() + 1> buckets{};
  for (size_t i = 0; i < buckets.size(); ++i) buckets[i] = q.commit_latency[i].load(kRelaxed);
  m.histogram("oddsbus_engine_commit_latency_seconds",
              "Time to commit one batch to the journal (one write transaction)", bounds, buckets,
              seconds(q.commit_ns_total.load(kRelaxed)));
  for (size_t i = 0; i < q.rejected.size(); ++i) {
    m.counter("oddsbus_engine_sequencer_rejections_total",
              "Events the sequencer refused, by reason (after the feeds' own checks)",
              q.rejected[i].load(kRelaxed), {{"reason", feeds::kRejectReasonNames[i]}});
  }
  m.counter("oddsbus_engine_desk_held_events_total",
            "Feed events held back because the desk holds their market",
            q.desk_held.load(kRelaxed));
  m.counter("oddsbus_engine_desk_expiries_total", "Desk overrides released because they expired",
            q.desk_expiries.load(kRelaxed));
  m.counter("oddsbus_engine_evictions_total",
            "Settled or closed markets evicted from the live state (--evict-after)",
            q.evictions.load(kRelaxed));
  m.gauge("oddsbus_engine_live_markets", "Markets in the live state (as primary)",
          q.live_markets.load(kRelaxed));
  m.counter("oddsbus_engine_desk_forbidden_total",
            "Desk requests refused because the desk has no right to them (--desk-rights)",
            q.desk_forbidden.load(kRelaxed));
  m.counter("oddsbus_engine_desk_replayed_total",
            "Desk requests answered from the journal's request table (a retry after a restart or "
            "takeover)",
            q.desk_replayed.load(kRelaxed));
  m.gauge("oddsbus_engine_desk_held_markets", "Markets a desk holds now (held overrides)",
          q.desk_held_markets.load(kRelaxed));

  // Ingest queues: one producer per feed, then the desk, then in-process producers.
  const IngestQueues& queues = node.queues();
  const auto& feeds = node.config().feeds;
  const auto producer_name = [&](size_t p) {
    return p < feeds.size()    ? "feed-" + feeds[p].name
           : p == feeds.size() ? std::string("desk")
                               : "local-" + std::to_string(p - feeds.size());
  };
  for (size_t p = 0; p < queues.producers(); ++p) {
    m.gauge("oddsbus_engine_ingest_queue_depth", "Events waiting in an ingest queue",
            queues.depth(p), {{"producer", producer_name(p)}});
  }
  for (size_t p = 0; p < queues.producers(); ++p) {
    m.counter("oddsbus_engine_ingest_backpressure_total",
              "Times a producer found its ingest queue full and waited", queues.backpressure(p),
              {{"producer", producer_name(p)}});
  }

  // Feeds: rejections by feed and reason, messages and duplicates per line, source health.
  for (const auto& provider : node.providers()) {
    for (size_t i = 0; i < provider->rejected.size(); ++i) {
      m.counter("oddsbus_engine_feed_rejections_total",
                "Feed messages rejected by the feed's adapter, by feed and reason",
                provider->rejected[i].load(kRelaxed),
                {{"feed", provider->spec.name}, {"reason", feeds::kRejectReasonNames[i]}});
    }
  }
  for (const auto& provider : node.providers()) {
    m.counter("oddsbus_engine_feed_messages_total",
              "Feed messages delivered (each once, whichever line brought it first)",
              provider->link->counters().messages.load(kRelaxed), {{"feed", provider->spec.name}});
  }
  for (const auto& provider : node.providers()) {
    for (size_t line = 0; line < provider->spec.urls.size(); ++line) {
      m.counter("oddsbus_engine_feed_line_duplicates_total",
                "Copies a line delivered after another line of the feed had delivered them",
                provider->link->line_counters(line).duplicates.load(kRelaxed),
                {{"feed", provider->spec.name}, {"line", std::to_string(line)}});
    }
  }
  for (const auto& provider : node.providers()) {
    for (size_t line = 0; line < provider->spec.urls.size(); ++line) {
      m.gauge("oddsbus_engine_feed_line_connected", "1 while the feed's line is connected",
              provider->link->line_counters(line).connected.load(kRelaxed),
              {{"feed", provider->spec.name}, {"line", std::to_string(line)}});
    }
  }
  for (const auto& provider : node.providers()) {
    for (size_t line = 0; line < provider->spec.urls.size(); ++line) {
      m.counter("oddsbus_engine_feed_line_connects_total", "Connections a feed's line made",
                provider->link->line_counters(line).connects.load(kRelaxed),
                {{"feed", provider->spec.name}, {"line", std::to_string(line)}});
    }
  }
  for (const NodeSample::Source& source : s.sources) {
    m.gauge("oddsbus_engine_source_healthy",
            "1 while the source is connected and heard within --stale-after-ms",
            source.healthy.load(kRelaxed), {{"source", source.name}});
  }
  for (const NodeSample::Source& source : s.sources) {
    m.gauge("oddsbus_engine_source_active_markets", "Markets whose prices come from this source",
            source.active_markets.load(kRelaxed), {{"source", source.name}});
  }
  uint64_t healthy_sources = 0;
  for (const NodeSample::Source& source : s.sources)
    healthy_sources += source.healthy.load(kRelaxed);
  m.gauge("oddsbus_engine_sources_healthy", "Sources healthy now", healthy_sources);
  m.counter("oddsbus_engine_source_switches_total", "Times a market's active source changed",
            s.selector_switches.load(kRelaxed));
  m.counter("oddsbus_engine_stale_suspensions_total",
            "Markets suspended because no source of theirs was healthy",
            s.stale_suspensions.load(kRelaxed));
  m.counter("oddsbus_engine_stale_reopens_total", "Markets reopened after a stale suspension",
            s.stale_reopens.load(kRelaxed));
  m.counter("oddsbus_engine_disagreements_total", "Cross-feed price disagreements reported",
            s.disagreements.load(kRelaxed));
  m.counter("oddsbus_engine_shadowed_events_total",
            "Events from sources that are not the market's active one (kept as views only)",
            s.selector_shadowed.load(kRelaxed));

  // Publishing and replication.
  m.counter("oddsbus_engine_published_batches_total", "Batches sent on the PUB socket",
            s.published_batches.load(kRelaxed));
  m.counter("oddsbus_engine_publish_failures_total", "Batches the PUB socket refused",
            s.publish_failures.load(kRelaxed));
  m.gauge("oddsbus_engine_replication_lag_frames",
          "Secondary: frames behind the seq its primary stated; sync primary: frames its "
          "secondary has not acknowledged",
          s.lag_frames.load(kRelaxed));
  m.gauge("oddsbus_engine_replication_lag_seconds",
          "How long the replication lag has been above zero", seconds(s.lag_ns.load(kRelaxed)));
  m.counter("oddsbus_engine_replicated_frames_total",
            "Frames a secondary journaled from its primary", s.replica_frames.load(kRelaxed));
  m.counter("oddsbus_engine_replica_divergences_total",
            "Times a secondary found its frames lost to a higher epoch",
            s.replica_divergences.load(kRelaxed));
  const NodeRoleCounters& r = node.role_counters();
  m.counter("oddsbus_engine_takeovers_total", "Times this secondary took over as primary",
            r.takeovers.load(kRelaxed));
  m.counter("oddsbus_engine_fencings_total", "Times this primary saw a higher epoch and stood down",
            r.fencings.load(kRelaxed));
  m.counter("oddsbus_engine_set_asides_total", "Times frames were set aside after fencing",
            s.set_asides.load(kRelaxed));
  m.counter("oddsbus_engine_sync_held_batches_total",
            "Sync replication: batches that waited for the secondary's ack",
            s.held_batches.load(kRelaxed));
  m.counter("oddsbus_engine_sync_alone_episodes_total",
            "Sync replication: times the primary went on without its secondary",
            s.alone_episodes.load(kRelaxed));
  m.gauge("oddsbus_engine_sync_alone", "1 while a sync primary publishes without its secondary",
          s.alone.load(kRelaxed));
  m.counter("oddsbus_engine_committed_queue_dropped_total",
            "Committed batches the recovery thread had to read back from the journal",
            node.committed().counters().dropped.load(kRelaxed));

  // Recovery service.
  if (const RecoveryServer* recovery = node.recovery()) {
    const RecoveryCounters& v = recovery->counters();
    for (const auto& [kind, value] : {std::pair{"status", &v.status_requests},
                                      {"range", &v.range_requests},
                                      {"snapshot", &v.snapshot_requests},
                                      {"ack", &v.acks}}) {
      m.counter("oddsbus_engine_recovery_requests_total", "Recovery requests received, by kind",
                value->load(kRelaxed), {{"kind", kind}});
    }
    for (const auto& [reason, value] : {std::pair{"busy", &v.busy},
                                        {"bad_request", &v.bad_requests},
                                        {"gone", &v.gone},
                                        {"internal", &v.internal_errors}}) {
      m.counter("oddsbus_engine_recovery_refusals_total",
                "Recovery requests answered with a refusal, by reason", value->load(kRelaxed),
                {{"reason", reason}});
    }
    m.counter("oddsbus_engine_recovery_served_frames_total", "Frames sent in range replies",
              v.frames_served.load(kRelaxed));
    m.counter("oddsbus_engine_recovery_served_bytes_total", "Bytes sent in range replies",
              v.bytes_served.load(kRelaxed));
    m.counter("oddsbus_engine_recovery_snapshots_encoded_total", "Snapshots encoded",
              v.snapshots_encoded.load(kRelaxed));
    m.counter("oddsbus_engine_recovery_replies_dropped_total",
              "Replies dropped because the requester left or its queue was full",
              recovery->server_counters().replies_dropped.load(kRelaxed));
  }

  // Desk API.
  if (const DeskService* desk = node.desk()) {
    const DeskServiceCounters& d = desk->counters();
    m.counter("oddsbus_engine_desk_requests_total", "Desk requests received",
              d.requests.load(kRelaxed));
    m.counter("oddsbus_engine_desk_replies_total", "Desk requests answered, by outcome",
              d.applied.load(kRelaxed), {{"outcome", "applied"}});
    m.counter("oddsbus_engine_desk_replies_total", "Desk requests answered, by outcome",
              d.retries.load(kRelaxed), {{"outcome", "retry"}});
    uint64_t rejected = 0;
    for (const auto& n : d.rejected) rejected += n.load(kRelaxed);
    m.counter("oddsbus_engine_desk_replies_total", "Desk requests answered, by outcome", rejected,
              {{"outcome", "rejected"}});
    for (size_t i = 0; i < d.rejected.size(); ++i) {
      m.counter("oddsbus_engine_desk_rejections_total", "Desk requests rejected, by reason",
                d.rejected[i].load(kRelaxed), {{"reason", desk::kRejectReasonNames[i]}});
    }
  }

  // CURVE (issue 14): connections the ZAP handler refused (a key not on --curve-allow, or no
  // CURVE); as the peer's client, handshakes with a peer that is not who its key names.
  if (const curve::CurveServer* curve = node.curve_server()) {
    m.counter("oddsbus_engine_curve_refusals_total",
              "Connections to the PUB, recovery and desk sockets refused by CURVE authentication",
              curve->refused());
    m.counter("oddsbus_engine_curve_accepted_total",
              "Connections to the PUB, recovery and desk sockets CURVE authentication let in",
              curve->accepted());
  }
  m.counter("oddsbus_engine_curve_handshake_failures_total",
            "Failed CURVE handshakes with the peer's PUB and recovery (as its replica)",
            s.replica_handshake_failures.load(kRelaxed));

  // Journal: the file, and how much of the reserved map it uses.
  const Journal& journal = node.journal();
  struct stat file {};
  const std::string data_path = journal.dir() + "/data.mdb";
  m.gauge("oddsbus_engine_journal_file_bytes", "Size of the journal's data file",
          ::stat(data_path.c_str(), &file) == 0 ? static_cast<double>(file.st_size) : 0);
  MDB_envinfo info{};
  MDB_stat stat{};
  if (mdb_env_info(journal.env(), &info) == 0 && mdb_env_stat(journal.env(), &stat) == 0) {
    m.gauge("oddsbus_engine_journal_map_bytes", "Address space reserved for the journal's map",
            static_cast<double>(info.me_mapsize));
    m.gauge("oddsbus_engine_journal_used_bytes", "Bytes of the journal's map in use",
            static_cast<double>((info.me_last_pgno + 1) * stat.ms_psize));
  }
  return m.text();
}

}  // namespace oddsbus::engine
