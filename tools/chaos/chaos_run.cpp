#include "tools/chaos/chaos_run.h"

#include <signal.h>
#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "engine/journal.h"
#include "feeds/mapping.h"
#include "tools/chaos/fault_schedule.h"
#include "tools/chaos/feed_record.h"
#include "tools/chaos/journal_checks.h"
#include "tools/chaos/stream_recorder.h"
#include "tools/cluster/cluster_keys.h"
#include "tools/cluster/ports.h"
#include "tools/cluster/readiness.h"
#include "tools/cluster/supervisor.h"
#include "tools/faultproxy/fault_proxy.h"

namespace oddsbus::chaos {

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using faultproxy::FaultProxy;

uint64_t wall_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string url(uint16_t port) { return cluster::loopback_url(port); }

struct EdgeSnapshot {
  uint64_t seq = 0;
  uint64_t epoch = 0;
  std::string digest;
};

std::optional<EdgeSnapshot> edge_snapshot(uint16_t http) {
  const cluster::HttpReply reply = cluster::http_get(http, "/v1/snapshot", 2s);
  if (reply.status != 200) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  EdgeSnapshot snap;
  std::string_view digest;
  if (parser.parse(reply.body).get(doc) != simdjson::SUCCESS ||
      doc["seq"].get(snap.seq) != simdjson::SUCCESS ||
      doc["digest"].get(digest) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  if (doc["epoch"].get(snap.epoch) != simdjson::SUCCESS) snap.epoch = 0;
  snap.digest = digest;
  return snap;
}

class ChaosCluster {
 public:
  ChaosCluster(const ChaosConfig& config, ChaosReport& report)
      : config_(config), report_(report), dir_(config.run_dir), sup_(config.run_dir) {}

  ~ChaosCluster() {
    for (auto& client : clients_) client->stop();
    sup_.stop_all(2s);
  }

  bool start() {
    const std::string& bin = config_.bin_dir;
    for (const char* name : {"odds-engine", "odds-edge", "odds-feedsim"}) {
      if (!fs::exists(fs::path(bin) / name)) return fail(bin + "/" + name + " was not built");
    }
    // The mapping of the simulated markets (feed name "oj", the oddsjson default).
    cluster::ChildProcess mapping(
        {bin + "/odds-feedsim", "--format", "oddsjson", "--markets",
         std::to_string(config_.markets), "--write-mapping", (dir_ / "mapping.toml").string()},
        dir_ / "mapping.log");
    if (!mapping.start() || mapping.wait_for(20s).value_or(-1) != 0) {
      return fail("odds-feedsim --write-mapping failed:\n" + mapping.log_tail());
    }
    for (uint16_t* port :
         {&feed_port_, &pub_[0], &rec_[0], &pub_[1], &rec_[1], &http_[0], &http_[1]}) {
      auto picked = cluster::pick_free_port();
      if (!picked) return fail("no free port on 127.0.0.1");
      *port = *picked;
    }
    // Proxies: listen on any free port, forward to the real one.
    FaultProxy* feed_to[2] = {proxy("feed->node1", feed_port_), proxy("feed->node2", feed_port_)};
    FaultProxy* peer_pub[2] = {proxy("engine<->engine", pub_[1]),
                               proxy("engine<->engine", pub_[0])};
    FaultProxy* peer_rec[2] = {proxy("engine<->engine", rec_[1]),
                               proxy("engine<->engine", rec_[0])};
    std::vector<std::string> edge_subs[2], edge_recs[2];
    for (int e = 0; e < 2; ++e) {
      const std::string group = e == 0 ? "engine->edge-a" : "engine->edge-b";
      for (int n = 0; n < 2; ++n) {
        edge_subs[e].push_back(url(proxy(group, pub_[n])->port()));
        edge_recs[e].push_back(url(proxy(group, rec_[n])->port()));
      }
    }
    if (!proxy_error_.empty()) return fail(proxy_error_);
    // CURVE on every ZeroMQ link (issue 14): through the proxies, which pass it unchanged.
    auto keys = cluster::ClusterKeys::create(dir_, {"node1", "node2", "edge-a", "edge-b"});
    if (!keys) return fail(keys.error());
    curve_ = keys->supervisor_client({{url(rec_[0]), "node1"}, {url(rec_[1]), "node2"}});

    sup_.add("feed",
             {bin + "/odds-feedsim", "--format", "oddsjson", "--listen", url(feed_port_),
              "--markets", std::to_string(config_.markets), "--rate", std::to_string(config_.rate),
              "--settle-after", "0", "--heartbeat-ms", "50", "--seed", std::to_string(config_.seed),
              "--record", record_path().string()},
             [port = feed_port_] { return cluster::accepts_connections(port); });
    for (int n = 0; n < 2; ++n) {
      const std::string name = node_name(n);
      const std::string rec = url(rec_[n]);
      sup_.add(name,
               {bin + "/odds-engine",
                "run",
                "--journal",
                (dir_ / name).string(),
                "--node",
                std::to_string(n + 1),
                "--pub",
                url(pub_[n]),
                "--recovery",
                rec,
                "--peer-pub",
                url(peer_pub[n]->port()),
                "--peer-recovery",
                url(peer_rec[n]->port()),
                "--role",
                n == 0 ? "primary" : "secondary",
                "--feed",
                "oj=oddsjson@" + url(feed_to[n]->port()),
                "--mapping",
                (dir_ / "mapping.toml").string(),
                "--failover-after-ms",
                std::to_string(config_.failover_after_ms),
                "--heartbeat-ms",
                "20",
                "--stale-after-ms",
                std::to_string(config_.stale_after_ms),
                "--replication",
                config_.replication,
                "--curve-key",
                keys->key(name),
                "--curve-allow",
                keys->allow(),
                "--curve-server-key",
                keys->pub(node_name(1 - n))},
               [rec, curve = curve_] {
                 return cluster::engine_status(rec, 500ms, curve.get()).has_value();
               });
    }
    for (int e = 0; e < 2; ++e) {
      sup_.add(edge_name(e),
               {bin + "/odds-edge", "--sub", edge_subs[e][0] + "," + edge_subs[e][1], "--recovery",
                edge_recs[e][0] + "," + edge_recs[e][1], "--http",
                "127.0.0.1:" + std::to_string(http_[e]), "--stale-after-ms", "3000", "--curve-key",
                keys->key(edge_name(e)), "--curve-server-key",
                keys->pub("node1") + "," + keys->pub("node2")},
               [port = http_[e]] { return cluster::edge_healthy(port); });
    }
    for (const std::string name : {"feed", "node1", "node2", "edge-a", "edge-b"}) {
      sup_.start(name);
      const cluster::Readiness ready = sup_.wait_ready(name, 30s);
      if (ready != cluster::Readiness::kReady) {
        return fail(name + " did not start (" + cluster::readiness_name(ready) + "):\n" +
                    sup_.process(name).log_tail());
      }
    }
    for (int e = 0; e < 2; ++e) {
      for (size_t c = 0; c < config_.clients_per_edge; ++c) {
        const std::string name = edge_name(e) + "-client" + std::to_string(c + 1);
        clients_.push_back(
            std::make_unique<StreamRecorder>(http_[e], (dir_ / (name + ".log")).string()));
        client_edge_.push_back(e);
        client_names_.push_back(name);
      }
    }
    return wait_recovered("start");
  }

  void apply(const ChaosFault& fault, size_t index) {
    ++report_.faults[fault.row()];
    ++report_.faults_applied;
    const std::string name = resolve(fault.target);
    if (config_.verbose) {
      std::fprintf(stderr, "odds-chaos: fault %zu/%zu: %s%s\n", index + 1, config_.faults,
                   fault.describe().c_str(),
                   name != fault.target ? (" (" + name + ")").c_str() : "");
    }
    const uint64_t from = wall_ns();
    const auto hold = std::chrono::milliseconds(fault.hold_ms);
    switch (fault.kind) {
      case ChaosFaultKind::kKill:
        sup_.kill9(name);
        if (name == "feed") {
          // The record of the dead simulator is kept; the restarted one writes a fresh file.
          std::error_code ec;
          fs::rename(record_path(), dir_ / ("feed.record." + std::to_string(++feed_restarts_)), ec);
        }
        std::this_thread::sleep_for(hold);
        sup_.start(name);
        break;
      case ChaosFaultKind::kPause:
        sup_.pause(name);
        std::this_thread::sleep_for(hold);
        sup_.resume(name);
        break;
      case ChaosFaultKind::kFeedStall:
        sup_.process("feed").signal(SIGUSR1);
        std::this_thread::sleep_for(hold);
        sup_.process("feed").signal(SIGUSR1);
        break;
      case ChaosFaultKind::kDelay:
      case ChaosFaultKind::kStall:
      case ChaosFaultKind::kReset:
      case ChaosFaultKind::kBlackHole: {
        const std::vector<FaultProxy*>& group = links(fault.target);
        for (FaultProxy* p : group) {
          if (fault.kind == ChaosFaultKind::kDelay)
            p->delay(std::chrono::milliseconds(fault.delay_ms));
          if (fault.kind == ChaosFaultKind::kStall) p->stall();
          if (fault.kind == ChaosFaultKind::kReset) p->reset();
          if (fault.kind == ChaosFaultKind::kBlackHole) p->black_hole();
        }
        std::this_thread::sleep_for(hold);
        for (FaultProxy* p : group) p->heal();
        break;
      }
    }
    if (silences_feed(fault)) outages_.push_back({"oj", from, wall_ns()});
  }

  // Both nodes answer with exactly one primary and the secondary caught up with where the
  // primary was; both edges healthy and there too; both engines' feed lines connected; every
  // client connected.
  bool wait_recovered(const std::string& after) {
    std::optional<uint64_t> target;
    std::string last_state = "no node answered";
    const bool ok = cluster::wait_until(
        [&] {
          const auto s1 = cluster::engine_status(url(rec_[0]), 300ms, curve_.get());
          const auto s2 = cluster::engine_status(url(rec_[1]), 300ms, curve_.get());
          last_state = "node1 " + describe(s1) + ", node2 " + describe(s2);
          if (!s1 || !s2 || s1->primary == s2->primary) return false;
          const cluster::EngineStatus& primary = s1->primary ? *s1 : *s2;
          const cluster::EngineStatus& secondary = s1->primary ? *s2 : *s1;
          if (!target) target = primary.last_seq;
          if (secondary.last_seq < *target) return false;
          for (int e = 0; e < 2; ++e) {
            const auto snap = edge_snapshot(http_[e]);
            last_state += ", " + edge_name(e) + " " + (snap ? std::to_string(snap->seq) : "-");
            if (!snap || snap->seq < *target || !cluster::edge_healthy(http_[e])) return false;
          }
          for (const char* link : {"feed->node1", "feed->node2"}) {
            if (groups_[link].front()->stats().open_connections == 0) {
              last_state += std::string(", ") + link + " not connected";
              return false;
            }
          }
          for (const auto& client : clients_) {
            if (!client->connected()) {
              last_state += ", a client not connected";
              return false;
            }
          }
          return true;
        },
        config_.recover_timeout, 100ms);
    if (!ok) {
      std::string logs;
      for (const std::string name : {"node1", "node2", "edge-a", "edge-b", "feed"}) {
        logs += "\n" + sup_.process(name).log_tail(8);
      }
      fail("the cluster did not recover within " +
           std::to_string(config_.recover_timeout.count() / 1000) + " s after " + after + " (" +
           last_state + ")" + logs);
    }
    return ok;
  }

  // Silences the feed, lets the cluster settle, records where the edges ended, stops everything.
  // The feed is silenced by its own stall (it keeps its connections and goes on flushing its
  // record), not by stopping it: a simulator that exits may reset a connection whose last bytes
  // an engine has not read yet, and the record would then hold lines no engine got.
  bool finish() {
    // The engines' feed lines are up again after the last fault: give each the image a
    // (re)connecting client is sent before the stall stops all sending.
    std::this_thread::sleep_for(1s);
    sup_.process("feed").signal(SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(config_.stale_after_ms + 1500));
    uint64_t previous = 0;
    std::string last_state;
    const bool settled = cluster::wait_until(
        [&] {
          const auto s1 = cluster::engine_status(url(rec_[0]), 300ms, curve_.get());
          const auto s2 = cluster::engine_status(url(rec_[1]), 300ms, curve_.get());
          last_state = "node1 " + describe(s1) + ", node2 " + describe(s2);
          const cluster::EngineStatus* primary =
              s1 && s1->primary ? &*s1 : (s2 && s2->primary ? &*s2 : nullptr);
          if (primary == nullptr) return false;
          survivor_ = (s1 && s1->primary) ? 0 : 1;
          const uint64_t last = primary->last_seq;
          const bool stable = last == previous;
          previous = last;
          if (!stable) return false;
          edge_ends_.clear();
          for (int e = 0; e < 2; ++e) {
            const auto snap = edge_snapshot(http_[e]);
            last_state += ", " + edge_name(e) + " " + (snap ? std::to_string(snap->seq) : "-");
            if (!snap || snap->seq != last) return false;
            edge_ends_.push_back({edge_name(e), snap->seq, snap->digest});
          }
          for (size_t c = 0; c < clients_.size(); ++c) {
            if (clients_[c]->last_seq() != last) {
              last_state += ", " + client_names_[c] + " " + std::to_string(clients_[c]->last_seq());
              return false;
            }
          }
          return true;
        },
        30s, 500ms);
    for (auto& client : clients_) client->stop();
    sup_.stop_all(10s);  // the feed flushes its record as it exits
    if (!settled)
      return fail("the cluster did not settle after the feed stopped (" + last_state + ")");
    return true;
  }

  void check() {
    std::unique_ptr<engine::Journal> journals[2];
    for (int n = 0; n < 2; ++n) {
      auto j = engine::Journal::open(
          {.dir = (dir_ / node_name(n)).string(), .create = false, .read_only = true});
      if (!j) {
        fail("cannot open the journal of " + node_name(n) + ": " + j.error());
        return;
      }
      journals[n] = std::move(*j);
    }
    const engine::Journal& survivor = *journals[survivor_];
    report_.survivor = node_name(survivor_);
    report_.frames = survivor.last_seq();
    report_.epoch = survivor.epoch();
    report_.takeovers = survivor.epoch() > 0 ? survivor.epoch() - 1 : 0;

    std::vector<ClientLog> logs;
    for (size_t c = 0; c < clients_.size(); ++c) {
      logs.push_back(
          {client_names_[c], clients_[c]->log_path(),
           edge_ends_.size() == 2 ? std::optional(edge_ends_[client_edge_[c]].seq) : std::nullopt});
    }
    report_.checks.push_back(check_client_streams(survivor, logs, report_.streams));
    report_.checks.push_back(check_edge_digests(survivor, edge_ends_, true));
    if (edge_ends_.size() != 2) {
      report_.checks.back().violation(
          "no final snapshot of every edge: the cluster did not settle");
    }
    const std::vector<NamedJournal> named{{"node1", journals[0].get()},
                                          {"node2", journals[1].get()}};
    report_.checks.push_back(check_journals(named));

    auto mapping = feeds::Mapping::load((dir_ / "mapping.toml").string());
    if (!mapping) {
      fail("cannot load the mapping: " + mapping.error());
      return;
    }
    const std::string sent = (dir_ / "feed-sent.oddsjson").string();
    std::error_code ec;
    fs::remove(sent, ec);
    for (int k = 1; k <= feed_restarts_ + 1; ++k) {
      const fs::path record =
          k <= feed_restarts_ ? dir_ / ("feed.record." + std::to_string(k)) : record_path();
      auto converted = append_record_as_oddsjson(record.string(), *mapping, sent);
      if (!converted) fail(converted.error());
    }
    IngestReference reference;
    reference.feed_files = {sent};
    reference.mapping = &*mapping;
    reference.feed_name = "oj";
    reference.scratch_dir = (dir_ / "ingest-reference").string();
    reference.feeds_stopped = true;
    report_.checks.push_back(check_final_state(survivor, reference));
    report_.checks.push_back(check_stale_markets(survivor, *mapping, outages_,
                                                 uint64_t{config_.stale_after_ms} * 1'000'000,
                                                 uint64_t{config_.stale_grace_ms} * 1'000'000));
  }

 private:
  static std::string node_name(int n) { return n == 0 ? "node1" : "node2"; }
  static std::string edge_name(int e) { return e == 0 ? "edge-a" : "edge-b"; }
  fs::path record_path() const { return dir_ / "feed.record"; }

  static std::string describe(const std::optional<cluster::EngineStatus>& s) {
    if (!s) return "silent";
    return std::string(s->primary ? "primary" : "secondary") + " epoch " +
           std::to_string(s->epoch) + " seq " + std::to_string(s->last_seq);
  }

  bool fail(const std::string& text) {
    report_.failures.push_back(text);
    return false;
  }

  FaultProxy* proxy(const std::string& group, uint16_t target) {
    auto started = FaultProxy::start({"127.0.0.1", 0}, {"127.0.0.1", target});
    if (!started) {
      proxy_error_ = "fault proxy for " + group + ": " + started.error();
      return nullptr;
    }
    FaultProxy* p = started->get();
    proxies_.push_back(std::move(*started));
    groups_[group].push_back(p);
    return p;
  }

  // The proxies of a link group; "feed->primary" and the like resolve to a node's.
  const std::vector<FaultProxy*>& links(const std::string& target) {
    static const std::vector<FaultProxy*> kNone;
    std::string group = target;
    if (target == "feed->primary" || target == "feed->secondary") {
      group = "feed->" + resolve(target.substr(6));
    } else if (target == "feed->engines") {
      auto& both = groups_["feed->engines"];
      if (both.empty()) {
        both = groups_["feed->node1"];
        both.insert(both.end(), groups_["feed->node2"].begin(), groups_["feed->node2"].end());
      }
      return both;
    }
    auto it = groups_.find(group);
    return it == groups_.end() ? kNone : it->second;
  }

  // "primary" and "secondary" to the node that has the role now (node1 / node2 when unclear).
  std::string resolve(const std::string& target) {
    if (target != "primary" && target != "secondary") return target;
    const auto s1 = cluster::engine_status(url(rec_[0]), 500ms, curve_.get());
    const bool node1_primary = !s1 || s1->primary;
    return (target == "primary") == node1_primary ? "node1" : "node2";
  }

  const ChaosConfig& config_;
  ChaosReport& report_;
  fs::path dir_;
  cluster::Supervisor sup_;
  std::shared_ptr<const curve::CurveClient> curve_;  // the supervisor's engine_status probes
  uint16_t feed_port_ = 0, pub_[2] = {}, rec_[2] = {}, http_[2] = {};
  std::vector<std::unique_ptr<FaultProxy>> proxies_;
  std::map<std::string, std::vector<FaultProxy*>> groups_;
  std::string proxy_error_;
  std::vector<std::unique_ptr<StreamRecorder>> clients_;
  std::vector<int> client_edge_;
  std::vector<std::string> client_names_;
  std::vector<FeedOutage> outages_;
  std::vector<EdgeEnd> edge_ends_;
  int feed_restarts_ = 0;
  int survivor_ = 0;
};

}  // namespace

bool ChaosReport::ok() const {
  if (!failures.empty()) return false;
  return std::all_of(checks.begin(), checks.end(), [](const CheckResult& c) { return c.passed(); });
}

ChaosReport run_chaos(const ChaosConfig& config) {
  ChaosReport report;
  const auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::create_directories(config.run_dir, ec);
  {
    ChaosCluster cluster(config, report);
    if (cluster.start()) {
      ScheduleConfig schedule_config;
      schedule_config.seed = config.seed;
      schedule_config.faults = config.faults;
      schedule_config.min_hold_ms = config.min_hold_ms;
      schedule_config.max_hold_ms = config.max_hold_ms;
      const std::vector<ChaosFault> schedule = make_schedule(schedule_config);
      for (size_t i = 0; i < schedule.size(); ++i) {
        cluster.apply(schedule[i], i);
        if (!cluster.wait_recovered("fault " + std::to_string(i + 1) + " (" +
                                    schedule[i].describe() + ")")) {
          break;
        }
      }
      // Even after a failure the checks run on what there is: they say what went wrong.
      cluster.finish();
      cluster.check();
    }
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

void print_summary(FILE* out, const ChaosConfig& config, const ChaosReport& report) {
  std::fprintf(out, "\n==== odds chaos: seed %llu, %zu faults, replication %s, %.1f s ====\n",
               static_cast<unsigned long long>(config.seed), config.faults,
               config.replication.c_str(), report.seconds);
  std::fprintf(out, "%-36s %8s\n", "fault", "count");
  for (const auto& [row, count] : report.faults) {
    std::fprintf(out, "%-36s %8llu\n", row.c_str(), static_cast<unsigned long long>(count));
  }
  const StreamTotals& s = report.streams;
  auto line = [&](const char* what, uint64_t n) {
    std::fprintf(out, "%-36s %8llu\n", what, static_cast<unsigned long long>(n));
  };
  std::fprintf(out, "%-36s %8s\n", "stream", "count");
  line("frames journaled (survivor)", report.frames);
  line("takeovers (epochs - 1)", report.takeovers);
  line("client connections", s.connections);
  line("client deltas received", s.deltas);
  line("  of which conflated", s.conflated);
  line("client images", s.images);
  line("announced re-images", s.reimages);
  for (const auto& [reason, n] : s.reimage_reasons) {
    std::fprintf(out, "  %-34s %8llu\n", ("reason " + reason).c_str(),
                 static_cast<unsigned long long>(n));
  }
  line("frames of a lost history (announced)", s.lost_history_frames);
  line("resumes", s.resumes);
  std::fprintf(out, "%-36s %8s  %s\n", "check", "result", "checked");
  for (const CheckResult& c : report.checks) {
    std::fprintf(out, "%-36s %8s  %llu %s%s%s\n", c.name.c_str(), c.passed() ? "PASS" : "FAIL",
                 static_cast<unsigned long long>(c.checked), c.unit.c_str(),
                 c.note.empty() ? "" : "; ", c.note.c_str());
    if (!c.passed()) {
      std::fprintf(out, "  %llu violation(s), the first:\n",
                   static_cast<unsigned long long>(c.violations));
      for (const std::string& e : c.examples) std::fprintf(out, "    %s\n", e.c_str());
    }
  }
  for (const std::string& f : report.failures) std::fprintf(out, "RUN FAILURE: %s\n", f.c_str());
  const std::string replay = "tools/odds chaos --faults " + std::to_string(config.faults) +
                             " --seed " + std::to_string(config.seed) + " --replication " +
                             config.replication;
  if (report.ok()) {
    std::fprintf(out, "RESULT: PASS (%s; run directory %s)\n", replay.c_str(),
                 config.run_dir.c_str());
  } else {
    std::fprintf(out, "RESULT: FAIL, seed %llu; replay: %s (run directory %s)\n",
                 static_cast<unsigned long long>(config.seed), replay.c_str(),
                 config.run_dir.c_str());
  }
}

}  // namespace oddsbus::chaos
