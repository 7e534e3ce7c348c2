// The mapping file (TOML, DESIGN section 10) for simulated markets, so an engine can be pointed
// at odds-feedsim: every market the simulation will start, its selections, its sources (the feed
// names, in the order given, highest priority first) and, for each feed, the provider ids the
// writers use (writer.h). oddsjson carries canonical ids; its provider sections map them to
// themselves.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "feeds/sim/market_simulator.h"
#include "feeds/sim/writer.h"

namespace oddsbus::feeds::sim {

struct MappingFeed {
  std::string name;  // the engine's feed name (--feed NAME=...)
  Format format = Format::kOddsJson;
};

struct PlannedMarket {
  uint64_t id = 0;
  uint64_t event = 0;
};

// The markets a run with `config` will ever start: all of them when the run is bounded by
// max_updates (found by running the simulator, which is cheap and deterministic), else the first
// total_markets (at least config.markets).
std::vector<PlannedMarket> planned_markets(const SimConfig& config);

// The TOML text; parses with feeds::Mapping::parse.
std::string write_mapping(const std::vector<PlannedMarket>& markets,
                          const std::vector<MappingFeed>& feeds);

}  // namespace oddsbus::feeds::sim
