// The topology of a local cluster (`odds-cluster run --topology FILE.toml`): which simulated
// providers (format, lines), which engine nodes (one, or a primary and a secondary replicating
// each other), and how many edges, plus the few settings they share. tools/cluster/demo.toml is
// the default, written out with every key explained; default_topology() is the same, built in.
//
// Thread safety: values; parse_topology() is a pure function of its text.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace oddsbus::cluster {

struct ProviderSpec {
  std::string name;    // the engine's feed name (--feed NAME=...), also the mapping's source name
  std::string format;  // oddsjson, betfair-stream or uof-xml
  int lines = 1;       // 1 or 2 (odds-feedsim serves at most two lines of one provider)
};

struct EngineSpec {
  uint32_t node = 1;
  bool primary = true;  // --role primary (else secondary)
};

struct EdgeSpec {
  std::string name;
};

struct Topology {
  // Shared by every provider: the same seed and markets, so they simulate the same markets (a
  // mapping lists every provider as a source of each, in the order given: highest priority first).
  int markets = 8;
  double rate = 20;  // updates per second per provider
  uint64_t seed = 1;
  std::string replication = "async";  // async or sync (odds-engine run --replication)
  int failover_after_ms = 1000;
  int heartbeat_ms = 50;
  std::vector<ProviderSpec> providers;
  std::vector<EngineSpec> engines;  // one, or two (each the other's peer)
  std::vector<EdgeSpec> edges;
};

// Parses a topology file's text; the error names the key that is wrong.
std::expected<Topology, std::string> parse_topology(std::string_view toml_text);

// Two providers in different formats (bf: betfair-stream over two lines, oj: oddsjson), a primary
// and a secondary engine, two edges: what tools/cluster/demo.toml says.
Topology default_topology();

}  // namespace oddsbus::cluster
