// A seeded market simulator: a fixed number of live markets whose prices random-walk on Betfair's
// tick ladder, each going open -> (suspended -> open)* -> suspended -> settled over its life; a
// settled market is replaced by a new one until `total_markets` have started.
//
// Sans-I/O: time is sim time (ns since the simulation started), passed in; updates fall at fixed
// intervals of 1/rate seconds. Everything else comes from one splitmix64 stream seeded by
// `seed`, so the same config yields the same events, in the same order, at the same sim times.
//
// Ids: market k (k = 0, 1, ...) has canonical id 1001 + k and event 501 + k; every market has the
// selections 1, 2 and 3 ("Home", "Draw", "Away").
//
// Thread safety: none; one owner.
// Invariants: every price is on the ladder (1.01..1000); live() is ascending by id and holds no
// settled market; a market's events follow its lifecycle (no price or status after settle).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "feeds/sim/random.h"

namespace oddsbus::feeds::sim {

inline constexpr uint64_t kFirstMarketId = 1001;
inline constexpr uint64_t kFirstEventId = 501;
inline constexpr size_t kSelections = 3;  // selection ids 1..kSelections
inline constexpr std::array<std::string_view, kSelections> kSelectionNames = {"Home", "Draw",
                                                                              "Away"};
inline constexpr std::string_view kMarketName = "Match Odds";

enum class SimStatus : uint8_t { kOpen, kSuspended, kSettled };
std::string_view to_string(SimStatus status);  // "open", "suspended", "settled"

struct SimMarket {
  uint64_t id = 0;
  uint64_t event = 0;
  SimStatus status = SimStatus::kOpen;
  std::array<uint32_t, kSelections> price_e4{};  // index i is selection i + 1
  std::array<uint32_t, kSelections> size_e2{};   // back size on offer, in cents (betfair)
  uint32_t version = 1;                          // bumped on every status change
  uint64_t winner = 0;                           // the winning selection once settled
  uint32_t updates = 0;                          // updates this market has had
  uint32_t lifetime = 0;                         // updates before it heads for settlement
};

enum class SimEventKind : uint8_t {
  kMarketStart,  // a new market opens with a price for every selection
  kPrice,        // one selection's price (and back size) changed
  kStatus,       // open <-> suspended
  kSettle,       // the market settled; market.winner won
};

struct SimEvent {
  SimEventKind kind = SimEventKind::kPrice;
  uint64_t update = 0;     // 1-based number of the update
  uint64_t at_ns = 0;      // sim time
  uint64_t selection = 0;  // kPrice: the selection that moved
  SimMarket market;        // the market as it is after the event
};

struct SimConfig {
  uint64_t seed = 1;
  uint32_t markets = 10;         // live markets at any time
  double rate = 100;             // updates per second, all markets together
  uint64_t max_updates = 0;      // stop after this many updates (0: never)
  uint32_t settle_after = 100;   // mean updates of a market before it settles (0: never settles)
  uint32_t total_markets = 0;    // markets that ever start, initial ones included (0: no limit)
  double suspend_chance = 0.03;  // per update of an open market
};

class MarketSimulator {
 public:
  // config.markets >= 1 and config.rate > 0 (checked by the caller; asserted here).
  explicit MarketSimulator(const SimConfig& config);

  // Appends every event due at or before `now_ns` (sim time); returns how many.
  size_t advance(uint64_t now_ns, std::vector<SimEvent>& out);
  // Sim time of the next event, or UINT64_MAX once finished().
  uint64_t next_event_ns() const;

  // max_updates reached: the simulation is over.
  bool count_reached() const { return count_reached_; }
  // No live market is left and none may start: nothing more will happen.
  bool exhausted() const { return live_.empty() && pending_starts_ == 0; }
  bool finished() const { return count_reached() || exhausted(); }

  const std::vector<SimMarket>& live() const { return live_; }
  uint64_t updates() const { return updates_; }
  uint64_t markets_started() const { return started_; }

 private:
  SimMarket start_market();
  uint64_t at_ns(uint64_t update) const;
  void step(std::vector<SimEvent>& out);

  SimConfig config_;
  SplitMix64 rng_;
  std::vector<SimMarket> live_;
  uint64_t updates_ = 0;
  uint64_t started_ = 0;
  uint64_t pending_starts_ = 0;
  bool count_reached_ = false;
};

}  // namespace oddsbus::feeds::sim
