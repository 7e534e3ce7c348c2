// A local cluster on loopback, as a topology (tools/cluster/topology.h) describes it: an
// odds-feedsim per provider, odds-engine run nodes replicating each other, odds-edges following
// every engine, all under one Supervisor in one run directory:
//   DIR/mapping.toml        the mapping of every provider's markets (DESIGN section 10)
//   DIR/node<N>/            each engine's journal
//   DIR/<name>.log          each process's stdout and stderr (feed-<provider>, engine<N>, edges)
//   DIR/keys/               CURVE keys (tools/cluster/cluster_keys.h): every ZeroMQ link between
//                           engines and edges, and the supervisor's probes, run with CURVE on
// Ports are picked free (tools/cluster/ports.h) when the cluster is planned and kept across
// restarts, so a restarted process comes back where its peers and clients look for it.
//
// Readiness: a provider when every line accepts connections; an engine when its recovery service
// answers `status`; the engines as a pair when exactly one says primary at the highest epoch and
// the other has replicated up to near its seq (settled()); an edge when GET /healthz is 200.
//
// Thread safety: none; one owner thread (the supervisor's rules apply).
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tools/cluster/cluster_keys.h"
#include "tools/cluster/supervisor.h"
#include "tools/cluster/topology.h"

namespace oddsbus::cluster {

struct ProviderEndpoint {
  std::string process;  // supervisor name: feed-<provider>
  ProviderSpec spec;
  std::vector<uint16_t> ports;  // one per line
};

struct EngineEndpoint {
  std::string process;  // engine<node>
  uint32_t node = 0;
  std::string pub, recovery, desk;  // tcp://127.0.0.1:PORT
  std::filesystem::path journal;
};

struct EdgeEndpoint {
  std::string process;  // the edge's name
  uint16_t http = 0;
  std::string page() const { return "http://127.0.0.1:" + std::to_string(http) + "/"; }
};

class LocalCluster {
 public:
  // Plans the cluster: picks ports, writes DIR/mapping.toml (running odds-feedsim --write-mapping
  // once per provider from `bin_dir`) and registers every process. Starts nothing.
  static std::expected<std::unique_ptr<LocalCluster>, std::string> plan(
      const Topology& topology, const std::filesystem::path& bin_dir,
      const std::filesystem::path& run_dir);

  // Starts providers, then engines (primary first), then edges, each waited for (readiness
  // above) within what is left of `timeout`. The error names what was not ready, with its log.
  std::expected<void, std::string> start(std::chrono::milliseconds timeout);

  // Whether `process` is ready now (see the readiness rules above).
  bool ready(const std::string& process);
  // The engines agree on one primary and the secondary is within `max_lag` frames of it (true
  // for a single engine that answers).
  bool settled(uint64_t max_lag = 500);

  // Stops every process (edges, engines, providers) cleanly; false when one did not exit 0.
  bool stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  Supervisor& supervisor() { return supervisor_; }
  const Topology& topology() const { return topology_; }
  const std::vector<ProviderEndpoint>& providers() const { return providers_; }
  const std::vector<EngineEndpoint>& engines() const { return engines_; }
  const std::vector<EdgeEndpoint>& edges() const { return edges_; }
  const std::filesystem::path& run_dir() const { return supervisor_.run_dir(); }
  const std::filesystem::path& bin_dir() const { return bin_dir_; }

 private:
  LocalCluster(const Topology& topology, std::filesystem::path bin_dir,
               const std::filesystem::path& run_dir);
  std::expected<void, std::string> write_mapping();
  void register_processes();

  Topology topology_;
  std::filesystem::path bin_dir_;
  Supervisor supervisor_;
  std::vector<ProviderEndpoint> providers_;
  std::vector<EngineEndpoint> engines_;
  std::vector<EdgeEndpoint> edges_;
  std::optional<ClusterKeys> keys_;
  std::shared_ptr<const curve::CurveClient> probe_curve_;  // the supervisor's engine_status
};

}  // namespace oddsbus::cluster
