#include "feeds/sim/market_simulator.h"

#include <cassert>
#include <cmath>
#include <limits>

#include "feeds/sim/tick_ladder.h"

namespace oddsbus::feeds::sim {
namespace {

// New markets open with prices between these (typical match odds).
constexpr uint32_t kOpeningLowE4 = 12'000;
constexpr uint32_t kOpeningHighE4 = 120'000;
constexpr uint32_t kMinSizeE2 = 200;  // 2.00
constexpr uint32_t kMaxSizeE2 = 50'000;

}  // namespace

std::string_view to_string(SimStatus status) {
  switch (status) {
    case SimStatus::kOpen:
      return "open";
    case SimStatus::kSuspended:
      return "suspended";
    case SimStatus::kSettled:
      return "settled";
  }
  return "open";
}

MarketSimulator::MarketSimulator(const SimConfig& config) : config_(config), rng_(config.seed) {
  assert(config_.markets >= 1 && config_.rate > 0);
  if (config_.total_markets != 0 && config_.total_markets < config_.markets) {
    config_.total_markets = config_.markets;
  }
  live_.reserve(config_.markets);
  for (uint32_t i = 0; i < config_.markets; ++i) live_.push_back(start_market());
}

SimMarket MarketSimulator::start_market() {
  SimMarket market;
  market.id = kFirstMarketId + started_;
  market.event = kFirstEventId + started_;
  ++started_;
  const size_t low = *ladder_index(kOpeningLowE4);
  const size_t high = *ladder_index(kOpeningHighE4);
  for (size_t i = 0; i < kSelections; ++i) {
    market.price_e4[i] = ladder_price(low + rng_.below(high - low + 1));
    market.size_e2[i] = kMinSizeE2 + static_cast<uint32_t>(rng_.below(kMaxSizeE2 - kMinSizeE2));
  }
  if (config_.settle_after != 0) {
    const uint32_t half = config_.settle_after / 2;
    market.lifetime = half + 1 + static_cast<uint32_t>(rng_.below(config_.settle_after + 1));
  }
  return market;
}

uint64_t MarketSimulator::at_ns(uint64_t update) const {
  return static_cast<uint64_t>(std::llround(static_cast<double>(update) * 1e9 / config_.rate));
}

uint64_t MarketSimulator::next_event_ns() const {
  if (finished()) return std::numeric_limits<uint64_t>::max();
  return at_ns(updates_ + 1);
}

size_t MarketSimulator::advance(uint64_t now_ns, std::vector<SimEvent>& out) {
  const size_t before = out.size();
  while (!finished() && at_ns(updates_ + 1) <= now_ns) step(out);
  return out.size() - before;
}

void MarketSimulator::step(std::vector<SimEvent>& out) {
  SimEvent event;
  event.update = ++updates_;
  event.at_ns = at_ns(updates_);
  if (pending_starts_ > 0) {
    --pending_starts_;
    event.kind = SimEventKind::kMarketStart;
    live_.push_back(start_market());
    event.market = live_.back();
  } else {
    const size_t index = rng_.below(live_.size());
    SimMarket& market = live_[index];
    ++market.updates;
    const bool settling = config_.settle_after != 0 && market.updates >= market.lifetime;
    if (market.status == SimStatus::kSuspended) {
      if (settling) {
        event.kind = SimEventKind::kSettle;
        market.status = SimStatus::kSettled;
        market.winner = 1 + rng_.below(kSelections);
      } else {
        event.kind = SimEventKind::kStatus;
        market.status = SimStatus::kOpen;
      }
      ++market.version;
    } else if (settling || rng_.chance(config_.suspend_chance)) {
      event.kind = SimEventKind::kStatus;
      market.status = SimStatus::kSuspended;
      ++market.version;
    } else {
      event.kind = SimEventKind::kPrice;
      const size_t selection = rng_.below(kSelections);
      static constexpr int kMoves[] = {-2, -1, 1, 2};
      const int ticks = kMoves[rng_.below(4)];
      uint32_t moved = ladder_move(market.price_e4[selection], ticks);
      if (moved == market.price_e4[selection]) {
        moved = ladder_move(market.price_e4[selection], -ticks);
      }
      market.price_e4[selection] = moved;
      market.size_e2[selection] =
          kMinSizeE2 + static_cast<uint32_t>(rng_.below(kMaxSizeE2 - kMinSizeE2));
      event.selection = selection + 1;
    }
    event.market = market;
    if (market.status == SimStatus::kSettled) {
      live_.erase(live_.begin() + static_cast<std::ptrdiff_t>(index));
      if (config_.total_markets == 0 || started_ + pending_starts_ < config_.total_markets) {
        ++pending_starts_;
      }
    }
  }
  out.push_back(event);
  if (config_.max_updates != 0 && updates_ >= config_.max_updates) count_reached_ = true;
}

}  // namespace oddsbus::feeds::sim
