#include "tools/cluster/local_cluster.h"

#include <toml++/toml.h>
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "tools/cluster/ports.h"
#include "tools/cluster/readiness.h"

namespace oddsbus::cluster {

namespace {

using Error = std::unexpected<std::string>;
using namespace std::chrono_literals;

std::chrono::milliseconds left_until(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return std::max(left, 0ms);
}

std::string format_rate(double rate) {
  std::ostringstream s;
  s << rate;
  return s.str();
}

}  // namespace

LocalCluster::LocalCluster(const Topology& topology, std::filesystem::path bin_dir,
                           const std::filesystem::path& run_dir)
    : topology_(topology), bin_dir_(std::move(bin_dir)), supervisor_(run_dir) {}

std::expected<std::unique_ptr<LocalCluster>, std::string> LocalCluster::plan(
    const Topology& topology, const std::filesystem::path& bin_dir,
    const std::filesystem::path& run_dir) {
  for (const char* binary : {"odds-feedsim", "odds-engine", "odds-edge"}) {
    if (!std::filesystem::exists(bin_dir / binary)) {
      return Error(std::string(binary) + " not found in " + bin_dir.string() +
                   " (build it first: tools/odds build)");
    }
  }
  std::unique_ptr<LocalCluster> cluster(new LocalCluster(topology, bin_dir, run_dir));
  auto port = []() -> std::expected<uint16_t, std::string> {
    if (auto p = pick_free_port()) return *p;
    return Error("no free loopback port");
  };
  for (const ProviderSpec& spec : topology.providers) {
    ProviderEndpoint p{"feed-" + spec.name, spec, {}};
    for (int line = 0; line < spec.lines; ++line) {
      auto picked = port();
      if (!picked) return Error(picked.error());
      p.ports.push_back(*picked);
    }
    cluster->providers_.push_back(p);
  }
  for (const EngineSpec& spec : topology.engines) {
    EngineEndpoint e;
    e.process = "engine" + std::to_string(spec.node);
    e.node = spec.node;
    for (std::string* url : {&e.pub, &e.recovery, &e.desk}) {
      auto picked = port();
      if (!picked) return Error(picked.error());
      *url = loopback_url(*picked);
    }
    e.journal = run_dir / ("node" + std::to_string(spec.node));
    cluster->engines_.push_back(e);
  }
  for (const EdgeSpec& spec : topology.edges) {
    auto picked = port();
    if (!picked) return Error(picked.error());
    cluster->edges_.push_back({spec.name, *picked});
  }
  if (auto written = cluster->write_mapping(); !written) return Error(written.error());
  std::vector<std::string> components;
  std::vector<std::pair<std::string, std::string>> probed;
  for (const EngineEndpoint& e : cluster->engines_) {
    components.push_back(e.process);
    probed.emplace_back(e.recovery, e.process);
  }
  for (const EdgeEndpoint& edge : cluster->edges_) components.push_back(edge.process);
  components.push_back("desk");  // for odds-desk against the demo
  auto keys = ClusterKeys::create(run_dir, components);
  if (!keys) return Error(keys.error());
  cluster->keys_.emplace(std::move(*keys));
  cluster->probe_curve_ = cluster->keys_->supervisor_client(probed);
  try {
    cluster->register_processes();
  } catch (const std::exception& e) {
    return Error(e.what());
  }
  return cluster;
}

// Every provider simulates the same markets (one seed, one market count), so one mapping lists
// all of them as sources of each market, in topology order: odds-feedsim writes each provider's
// part; the parts are merged here by market id.
std::expected<void, std::string> LocalCluster::write_mapping() {
  toml::table merged;
  std::map<int64_t, toml::table*> by_id;
  for (const ProviderEndpoint& p : providers_) {
    const std::filesystem::path part = run_dir() / ("mapping-" + p.spec.name + ".toml");
    ChildProcess writer(
        {(bin_dir_ / "odds-feedsim").string(), "--format", p.spec.format, "--markets",
         std::to_string(topology_.markets), "--total-markets", std::to_string(topology_.markets),
         "--settle-after", "0", "--seed", std::to_string(topology_.seed), "--feed-name",
         p.spec.name, "--write-mapping", part.string()},
        run_dir() / ("mapping-" + p.spec.name + ".log"));
    if (!writer.start() || writer.wait_for(30s) != 0) {
      return Error("odds-feedsim --write-mapping failed" + writer.log_tail());
    }
    toml::table table;
    try {
      table = toml::parse_file(part.string());
    } catch (const toml::parse_error& e) {
      return Error(part.string() + ": " + std::string(e.description()));
    }
    toml::array* markets = table["market"].as_array();
    if (markets == nullptr) return Error(part.string() + ": no [[market]]");
    if (by_id.empty()) {
      merged = std::move(table);
      for (toml::node& m : *merged["market"].as_array()) {
        toml::table* t = m.as_table();
        by_id[(*t)["id"].value_or(int64_t{0})] = t;
      }
      continue;
    }
    for (toml::node& m : *markets) {
      toml::table* t = m.as_table();
      auto found = by_id.find((*t)["id"].value_or(int64_t{0}));
      if (found == by_id.end()) return Error(part.string() + ": a market the others lack");
      toml::table& into = *found->second;
      const toml::table* provider = (*t)["provider"][p.spec.name].as_table();
      toml::table* into_providers = into["provider"].as_table();
      if (provider == nullptr || into_providers == nullptr ||
          into["sources"].as_array() == nullptr) {
        return Error(part.string() + ": a market without sources or provider table");
      }
      into["sources"].as_array()->push_back(p.spec.name);
      into_providers->insert_or_assign(p.spec.name, toml::table(*provider));
    }
  }
  std::ofstream out(run_dir() / "mapping.toml", std::ios::trunc);
  out << "# Written by odds-cluster: every provider's simulated markets (odds-feedsim\n"
      << "# --write-mapping, one run per provider), merged; sources in topology order.\n\n"
      << merged << "\n";
  out.flush();
  if (!out) return Error("cannot write " + (run_dir() / "mapping.toml").string());
  return {};
}

void LocalCluster::register_processes() {
  const std::string mapping = (run_dir() / "mapping.toml").string();
  std::vector<std::string> feed_args;
  for (const ProviderEndpoint& p : providers_) {
    std::vector<std::string> argv{(bin_dir_ / "odds-feedsim").string(),
                                  "--format",
                                  p.spec.format,
                                  "--markets",
                                  std::to_string(topology_.markets),
                                  "--total-markets",
                                  std::to_string(topology_.markets),
                                  "--settle-after",
                                  "0",
                                  "--rate",
                                  format_rate(topology_.rate),
                                  "--seed",
                                  std::to_string(topology_.seed),
                                  "--heartbeat-ms",
                                  "200",
                                  "--feed-name",
                                  p.spec.name};
    std::string urls;
    for (uint16_t port : p.ports) {
      argv.insert(argv.end(), {"--listen", loopback_url(port)});
      urls += (urls.empty() ? "" : ",") + loopback_url(port);
    }
    feed_args.insert(feed_args.end(), {"--feed", p.spec.name + "=" + p.spec.format + "@" + urls});
    const std::vector<uint16_t> ports = p.ports;
    supervisor_.add(p.process, argv, [ports] {
      for (uint16_t port : ports) {
        if (!accepts_connections(port)) return false;
      }
      return true;
    });
  }
  std::string pubs, recoveries;
  for (size_t i = 0; i < engines_.size(); ++i) {
    const EngineEndpoint& e = engines_[i];
    pubs += (i == 0 ? "" : ",") + e.pub;
    recoveries += (i == 0 ? "" : ",") + e.recovery;
    std::vector<std::string> argv{(bin_dir_ / "odds-engine").string(),
                                  "run",
                                  "--journal",
                                  e.journal.string(),
                                  "--node",
                                  std::to_string(e.node),
                                  "--pub",
                                  e.pub,
                                  "--recovery",
                                  e.recovery,
                                  "--desk",
                                  e.desk,
                                  "--role",
                                  topology_.engines[i].primary ? "primary" : "secondary",
                                  "--mapping",
                                  mapping,
                                  "--replication",
                                  topology_.replication,
                                  "--failover-after-ms",
                                  std::to_string(topology_.failover_after_ms),
                                  "--heartbeat-ms",
                                  std::to_string(topology_.heartbeat_ms)};
    argv.insert(argv.end(),
                {"--curve-key", keys_->key(e.process), "--curve-allow", keys_->allow()});
    if (engines_.size() == 2) {
      const EngineEndpoint& peer = engines_[1 - i];
      argv.insert(argv.end(),
                  {"--peer-pub", peer.pub, "--peer-recovery", peer.recovery, "--peer-desk",
                   peer.desk, "--curve-server-key", keys_->pub(peer.process)});
    }
    argv.insert(argv.end(), feed_args.begin(), feed_args.end());
    const std::string recovery = e.recovery;
    supervisor_.add(e.process, argv, [recovery, curve = probe_curve_] {
      return engine_status(recovery, 500ms, curve.get()).has_value();
    });
  }
  std::string server_keys;
  for (const EngineEndpoint& e : engines_) {
    server_keys += (server_keys.empty() ? "" : ",") + keys_->pub(e.process);
  }
  for (const EdgeEndpoint& edge : edges_) {
    const uint16_t http = edge.http;
    supervisor_.add(edge.process,
                    {(bin_dir_ / "odds-edge").string(), "--sub", pubs, "--recovery", recoveries,
                     "--http", "127.0.0.1:" + std::to_string(http), "--curve-key",
                     keys_->key(edge.process), "--curve-server-key", server_keys},
                    [http] { return edge_healthy(http); });
  }
}

std::expected<void, std::string> LocalCluster::start(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto start_and_wait = [&](const std::string& name) -> std::expected<void, std::string> {
    if (!supervisor_.start(name)) return Error("cannot start " + name);
    const Readiness r = supervisor_.wait_ready(name, left_until(deadline));
    if (r == Readiness::kReady) return {};
    return Error(name + ": " + readiness_name(r) + supervisor_.process(name).log_tail());
  };
  for (const ProviderEndpoint& p : providers_) {
    if (auto r = start_and_wait(p.process); !r) return r;
  }
  // The primary first: a secondary started alone would take over once failover_after passed.
  for (bool primary : {true, false}) {
    for (size_t i = 0; i < engines_.size(); ++i) {
      if (topology_.engines[i].primary != primary) continue;
      if (auto r = start_and_wait(engines_[i].process); !r) return r;
    }
  }
  if (!wait_until([this] { return settled(); }, left_until(deadline), 50ms)) {
    std::string logs;
    for (const EngineEndpoint& e : engines_) logs += supervisor_.process(e.process).log_tail();
    return Error("the engines did not settle on one primary" + logs);
  }
  for (const EdgeEndpoint& edge : edges_) {
    if (auto r = start_and_wait(edge.process); !r) return r;
  }
  return {};
}

bool LocalCluster::ready(const std::string& process) { return supervisor_.ready(process); }

bool LocalCluster::settled(uint64_t max_lag) {
  std::vector<EngineStatus> statuses;
  for (const EngineEndpoint& e : engines_) {
    auto status = engine_status(e.recovery, 500ms, probe_curve_.get());
    if (!status) return false;
    statuses.push_back(*status);
  }
  if (statuses.size() == 1) return true;
  const EngineStatus& a = statuses[0];
  const EngineStatus& b = statuses[1];
  if (a.primary == b.primary || a.epoch != b.epoch) return false;
  const EngineStatus& primary = a.primary ? a : b;
  const EngineStatus& secondary = a.primary ? b : a;
  return secondary.last_seq + max_lag >= primary.last_seq;
}

bool LocalCluster::stop(std::chrono::milliseconds grace) {
  bool clean = true;
  auto stop_one = [&](const std::string& name) {
    ChildProcess& p = supervisor_.process(name);
    if (p.running() && p.stop(grace) != 0) clean = false;
  };
  for (auto it = edges_.rbegin(); it != edges_.rend(); ++it) stop_one(it->process);
  // The secondary before the primary, so no takeover starts while the cluster shuts down.
  std::vector<std::string> primaries;
  for (const EngineEndpoint& e : engines_) {
    auto status = engine_status(e.recovery, 300ms, probe_curve_.get());
    if (status && status->primary) {
      primaries.push_back(e.process);
    } else {
      stop_one(e.process);
    }
  }
  for (const std::string& name : primaries) stop_one(name);
  return supervisor_.stop_all(grace) && clean;
}

}  // namespace oddsbus::cluster
