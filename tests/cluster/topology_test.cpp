// The topology file of odds-cluster (tools/cluster/topology.h) and its chaos schedule.
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tools/cluster/chaos_schedule.h"
#include "tools/cluster/topology.h"

namespace oddsbus::cluster {
namespace {

std::string demo_toml() {
  std::ifstream in(std::string(ODDSBUS_SOURCE_DIR) + "/tools/cluster/demo.toml");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Topology, TheShippedDemoFileIsTheDefault) {
  auto parsed = parse_topology(demo_toml());
  ASSERT_TRUE(parsed) << parsed.error();
  const Topology d = default_topology();
  EXPECT_EQ(parsed->markets, d.markets);
  EXPECT_EQ(parsed->rate, d.rate);
  EXPECT_EQ(parsed->seed, d.seed);
  EXPECT_EQ(parsed->replication, d.replication);
  EXPECT_EQ(parsed->failover_after_ms, d.failover_after_ms);
  EXPECT_EQ(parsed->heartbeat_ms, d.heartbeat_ms);
  ASSERT_EQ(parsed->providers.size(), d.providers.size());
  for (size_t i = 0; i < d.providers.size(); ++i) {
    EXPECT_EQ(parsed->providers[i].name, d.providers[i].name);
    EXPECT_EQ(parsed->providers[i].format, d.providers[i].format);
    EXPECT_EQ(parsed->providers[i].lines, d.providers[i].lines);
  }
  ASSERT_EQ(parsed->engines.size(), 2u);
  EXPECT_TRUE(parsed->engines[0].primary);
  EXPECT_FALSE(parsed->engines[1].primary);
  ASSERT_EQ(parsed->edges.size(), 2u);
  EXPECT_EQ(parsed->edges[1].name, "edge2");
  // Two providers in different formats, one of them over two lines.
  EXPECT_NE(d.providers[0].format, d.providers[1].format);
  EXPECT_EQ(d.providers[0].lines, 2);
}

TEST(Topology, RejectsWhatCannotRun) {
  const std::string provider = "[[provider]]\nname = \"oj\"\nformat = \"oddsjson\"\n";
  const std::string engine = "[[engine]]\nnode = 1\n";
  EXPECT_TRUE(parse_topology(provider + engine));
  EXPECT_FALSE(parse_topology(engine));                      // no provider
  EXPECT_FALSE(parse_topology(provider));                    // no engine
  EXPECT_FALSE(parse_topology(provider + engine + engine));  // the same node twice
  EXPECT_FALSE(parse_topology(provider + "[[engine]]\nnode = 1\nrole = \"secondary\"\n"));
  EXPECT_FALSE(parse_topology("[[provider]]\nname = \"x\"\nformat = \"fix\"\n" + engine));
  EXPECT_FALSE(
      parse_topology("[[provider]]\nname = \"x\"\nformat = \"oddsjson\"\nlines = 3\n" + engine));
  EXPECT_FALSE(parse_topology("[cluster]\nreplication = \"maybe\"\n" + provider + engine));
  EXPECT_FALSE(parse_topology("not toml ="));
}

TEST(ChaosSchedule, TheSameSeedGivesTheSameFaultsOnlyAgainstTheTargets) {
  const std::vector<std::string> targets{"feed-bf", "engine1", "engine2", "edge1"};
  for (uint64_t seed : {1u, 2u, 3u}) {
    ChaosSchedule a(seed, targets), b(seed, targets);
    std::set<std::string> hit;
    std::set<FaultKind> kinds;
    for (int i = 0; i < 200; ++i) {
      const Fault fa = a.next(), fb = b.next();
      EXPECT_EQ(fa.target, fb.target) << "seed " << seed;
      EXPECT_EQ(fa.kind, fb.kind) << "seed " << seed;
      EXPECT_EQ(fa.hold, fb.hold) << "seed " << seed;
      hit.insert(fa.target);
      kinds.insert(fa.kind);
      EXPECT_GT(fa.hold.count(), 0);
      EXPECT_GT(fa.gap.count(), 0);
    }
    EXPECT_EQ(hit, std::set<std::string>(targets.begin(), targets.end())) << "seed " << seed;
    EXPECT_EQ(kinds.size(), 2u);
  }
}

}  // namespace
}  // namespace oddsbus::cluster
