#include "feeds/sim/mapping_writer.h"

#include <algorithm>
#include <limits>

#include "schemas/append_printf.h"

namespace oddsbus::feeds::sim {

std::vector<PlannedMarket> planned_markets(const SimConfig& config) {
  uint64_t count = config.markets;
  if (config.max_updates != 0) {
    MarketSimulator simulator(config);
    std::vector<SimEvent> events;
    while (!simulator.finished()) {
      events.clear();
      simulator.advance(simulator.next_event_ns(), events);
    }
    count = simulator.markets_started();
  } else if (config.total_markets != 0 || config.settle_after == 0) {
    count = std::max<uint64_t>(config.total_markets, config.markets);
  }
  std::vector<PlannedMarket> markets;
  markets.reserve(count);
  for (uint64_t k = 0; k < count; ++k) {
    markets.push_back({kFirstMarketId + k, kFirstEventId + k});
  }
  return markets;
}

std::string write_mapping(const std::vector<PlannedMarket>& markets,
                          const std::vector<MappingFeed>& feeds) {
  std::string out = "# Written by odds-feedsim: the simulated markets and their provider ids.\n";
  for (const PlannedMarket& market : markets) {
    append_printf(out, "\n[[market]]\nid = %llu\nevent = %llu\nname = \"%s\"\nsources = [",
                  static_cast<unsigned long long>(market.id),
                  static_cast<unsigned long long>(market.event), std::string(kMarketName).c_str());
    for (size_t i = 0; i < feeds.size(); ++i) {
      append_printf(out, "%s\"%s\"", i == 0 ? "" : ", ", feeds[i].name.c_str());
    }
    out += "]\nselections = [";
    for (size_t i = 0; i < kSelections; ++i) {
      append_printf(out, "%s{ id = %zu, name = \"%s\" }", i == 0 ? "" : ", ", i + 1,
                    std::string(kSelectionNames[i]).c_str());
    }
    out += "]\n";
    for (const MappingFeed& feed : feeds) {
      append_printf(out, "\n[market.provider.\"%s\"]\n", feed.name.c_str());
      switch (feed.format) {
        case Format::kOddsJson:
          append_printf(out, "market = \"%llu\"\n", static_cast<unsigned long long>(market.id));
          break;
        case Format::kBetfairStream:
          append_printf(out, "market = \"%s\"\n", betfair_market_id(market.id).c_str());
          break;
        case Format::kUofXml:
          append_printf(out, "event = \"%s\"\nmarket = \"1\"\nspecifiers = \"\"\n",
                        uof_event_id(market.event).c_str());
          break;
      }
      out += "selections = { ";
      for (size_t i = 0; i < kSelections; ++i) {
        const uint64_t provider_id =
            feed.format == Format::kBetfairStream ? betfair_runner_id(i + 1) : i + 1;
        append_printf(out, "%s\"%llu\" = %zu", i == 0 ? "" : ", ",
                      static_cast<unsigned long long>(provider_id), i + 1);
      }
      out += " }\n";
    }
  }
  return out;
}

}  // namespace oddsbus::feeds::sim
