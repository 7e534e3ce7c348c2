// How a settlement pays one selection beyond won/lost: Sportradar UOF's void and dead-heat
// factors (bet_settlement <outcome void_factor=".." dead_heat_factor="..">), carried from the
// adapter through the Settlement frame (frame.fbs SettlementFactor) into market state.
#pragma once

#include <cstdint>

namespace oddsbus {

// Factors are in units of 1e-4, exact like price_e4 (0.5 -> 5000); 0 means the factor does not
// apply. void_factor_e4: the share of the stake refunded (10000: the whole stake).
// dead_heat_factor_e4: the share of the stake settled as a win when a place is shared (5000: a
// winner paid at half).
struct SettlementFactor {
  uint64_t selection = 0;
  uint32_t void_factor_e4 = 0;
  uint32_t dead_heat_factor_e4 = 0;

  friend bool operator==(const SettlementFactor&, const SettlementFactor&) = default;
};

}  // namespace oddsbus
