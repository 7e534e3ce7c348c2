#include "tools/cluster/topology.h"

#include <toml++/toml.h>
#include <cctype>
#include <set>

namespace oddsbus::cluster {

namespace {

using Error = std::unexpected<std::string>;

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace

std::expected<Topology, std::string> parse_topology(std::string_view toml_text) {
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return Error("not TOML: " + std::string(e.description()));
  }
  Topology t;
  if (const toml::table* c = root["cluster"].as_table()) {
    const toml::node_view<const toml::node> cluster(c);
    t.markets = cluster["markets"].value_or(t.markets);
    t.rate = cluster["rate"].value_or(t.rate);
    t.seed = cluster["seed"].value_or(t.seed);
    t.replication = cluster["replication"].value_or(t.replication);
    t.failover_after_ms = cluster["failover_after_ms"].value_or(t.failover_after_ms);
    t.heartbeat_ms = cluster["heartbeat_ms"].value_or(t.heartbeat_ms);
  }
  if (t.markets < 1 || t.markets > 100000) return Error("cluster.markets: 1 to 100000");
  if (!(t.rate > 0)) return Error("cluster.rate: a positive number of updates per second");
  if (t.replication != "async" && t.replication != "sync") {
    return Error("cluster.replication: async or sync");
  }
  if (t.failover_after_ms < 50) return Error("cluster.failover_after_ms: at least 50");
  if (t.heartbeat_ms < 1) return Error("cluster.heartbeat_ms: at least 1");

  std::set<std::string> names;
  if (const toml::array* providers = root["provider"].as_array()) {
    for (const toml::node& node : *providers) {
      const toml::node_view<const toml::node> p(node);
      ProviderSpec spec{p["name"].value_or(std::string()), p["format"].value_or(std::string()),
                        p["lines"].value_or(1)};
      if (!valid_name(spec.name)) {
        return Error("provider.name '" + spec.name + "': letters, digits, '_' and '-'");
      }
      if (spec.format != "oddsjson" && spec.format != "betfair-stream" &&
          spec.format != "uof-xml") {
        return Error("provider " + spec.name + ": format is oddsjson, betfair-stream or uof-xml");
      }
      if (spec.lines < 1 || spec.lines > 2)
        return Error("provider " + spec.name + ": lines 1 or 2");
      if (!names.insert(spec.name).second) return Error("two providers named " + spec.name);
      t.providers.push_back(spec);
    }
  }
  if (t.providers.empty()) return Error("no [[provider]]");

  if (const toml::array* engines = root["engine"].as_array()) {
    for (const toml::node& node : *engines) {
      const toml::node_view<const toml::node> e(node);
      const int64_t id = e["node"].value_or(int64_t{0});
      const std::string role = e["role"].value_or(std::string("primary"));
      if (id < 1 || id > 65535) return Error("engine.node: 1 to 65535");
      if (role != "primary" && role != "secondary") {
        return Error("engine " + std::to_string(id) + ": role is primary or secondary");
      }
      t.engines.push_back({static_cast<uint32_t>(id), role == "primary"});
    }
  }
  if (t.engines.empty() || t.engines.size() > 2) return Error("one or two [[engine]]");
  if (t.engines.size() == 2 && t.engines[0].node == t.engines[1].node) {
    return Error("the two engines need different node ids");
  }
  if (!t.engines[0].primary && (t.engines.size() == 1 || !t.engines[1].primary)) {
    return Error("no engine has role primary");
  }

  if (const toml::array* edges = root["edge"].as_array()) {
    for (const toml::node& node : *edges) {
      const toml::node_view<const toml::node> e(node);
      EdgeSpec spec{e["name"].value_or("edge" + std::to_string(t.edges.size() + 1))};
      if (!valid_name(spec.name)) return Error("edge.name '" + spec.name + "'");
      if (!names.insert(spec.name).second) return Error("two components named " + spec.name);
      t.edges.push_back(spec);
    }
  }
  return t;
}

Topology default_topology() {
  Topology t;
  t.providers = {{"bf", "betfair-stream", 2}, {"oj", "oddsjson", 1}};
  t.engines = {{1, true}, {2, false}};
  t.edges = {{"edge1"}, {"edge2"}};
  return t;
}

}  // namespace oddsbus::cluster
