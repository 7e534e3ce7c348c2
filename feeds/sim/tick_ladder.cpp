#include "feeds/sim/tick_ladder.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <vector>

namespace oddsbus::feeds::sim {
namespace {

struct Band {
  uint32_t from_e4;  // exclusive, except the first band which starts at kLadderMinE4
  uint32_t to_e4;    // inclusive
  uint32_t step_e4;
};

constexpr std::array<Band, 10> kBands = {{{10'000, 20'000, 100},
                                          {20'000, 30'000, 200},
                                          {30'000, 40'000, 500},
                                          {40'000, 60'000, 1'000},
                                          {60'000, 100'000, 2'000},
                                          {100'000, 200'000, 5'000},
                                          {200'000, 300'000, 10'000},
                                          {300'000, 500'000, 20'000},
                                          {500'000, 1'000'000, 50'000},
                                          {1'000'000, 10'000'000, 100'000}}};

const std::vector<uint32_t>& ladder() {
  static const std::vector<uint32_t> prices = [] {
    std::vector<uint32_t> out;
    for (const Band& band : kBands) {
      for (uint32_t p = band.from_e4 + band.step_e4; p <= band.to_e4; p += band.step_e4) {
        out.push_back(p);
      }
    }
    return out;
  }();
  return prices;
}

}  // namespace

size_t ladder_size() { return ladder().size(); }

uint32_t ladder_price(size_t index) {
  assert(index < ladder().size());
  return ladder()[index];
}

std::optional<size_t> ladder_index(uint32_t price_e4) {
  const auto& prices = ladder();
  const auto it = std::lower_bound(prices.begin(), prices.end(), price_e4);
  if (it == prices.end() || *it != price_e4) return std::nullopt;
  return static_cast<size_t>(it - prices.begin());
}

uint32_t ladder_move(uint32_t price_e4, int ticks) {
  const auto index = ladder_index(price_e4);
  assert(index.has_value());
  const int64_t last = static_cast<int64_t>(ladder().size()) - 1;
  const int64_t moved = std::clamp<int64_t>(static_cast<int64_t>(*index) + ticks, 0, last);
  return ladder()[static_cast<size_t>(moved)];
}

void append_decimal_text(std::string& out, uint32_t price_e4) {
  out += std::to_string(price_e4 / 10'000);
  uint32_t fraction = price_e4 % 10'000;
  if (fraction == 0) return;
  char digits[5] = {'.', 0, 0, 0, 0};
  int length = 1;
  for (uint32_t scale = 1'000; fraction != 0; scale /= 10) {
    digits[length++] = static_cast<char>('0' + fraction / scale);
    fraction %= scale;
  }
  out.append(digits, static_cast<size_t>(length));
}

std::string decimal_text(uint32_t price_e4) {
  std::string out;
  append_decimal_text(out, price_e4);
  return out;
}

}  // namespace oddsbus::feeds::sim
