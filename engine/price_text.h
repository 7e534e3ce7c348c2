// Decimal odds as text for people (history, timeline): price_e4 25000 -> "2.50", 19091 ->
// "1.9091": at least two decimals, at most four, exact (price_e4 has four). Pure.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace oddsbus::engine {

inline std::string format_price_e4(uint32_t price_e4) {
  char text[32];
  int n = std::snprintf(text, sizeof text, "%u.%04u", price_e4 / 10000, price_e4 % 10000);
  while (n > 0 && text[n - 1] == '0' && text[n - 3] != '.') --n;
  return std::string(text, static_cast<size_t>(n));
}

}  // namespace oddsbus::engine
