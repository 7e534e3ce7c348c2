// Betfair's price ladder (the only prices the exchange accepts) as exact integers (price_e4), and
// the decimal text the simulator writes for a price.
//
// The ladder runs from 1.01 to 1000 in increments that widen with the price: 1.01-2 by 0.01,
// 2-3 by 0.02, 3-4 by 0.05, 4-6 by 0.1, 6-10 by 0.2, 10-20 by 0.5, 20-30 by 1, 30-50 by 2,
// 50-100 by 5, 100-1000 by 10: 350 ticks.
//
// Thread safety: pure functions over a constant table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace oddsbus::feeds::sim {

inline constexpr uint32_t kLadderMinE4 = 10'100;      // 1.01
inline constexpr uint32_t kLadderMaxE4 = 10'000'000;  // 1000

// Number of prices on the ladder.
size_t ladder_size();
// The price at `index` (0 is 1.01); index must be below ladder_size().
uint32_t ladder_price(size_t index);
// The index of `price_e4`, or nullopt when it is not on the ladder.
std::optional<size_t> ladder_index(uint32_t price_e4);
inline bool on_ladder(uint32_t price_e4) { return ladder_index(price_e4).has_value(); }
// `price_e4` (on the ladder) moved by `ticks` (negative: shorter odds), clamped to the ends.
uint32_t ladder_move(uint32_t price_e4, int ticks);

// Shortest exact decimal text of a price: 25000 -> "2.5", 24800 -> "2.48", 10000000 -> "1000".
std::string decimal_text(uint32_t price_e4);
void append_decimal_text(std::string& out, uint32_t price_e4);

}  // namespace oddsbus::feeds::sim
