// Exact odds: parsing decimal, fractional and American odds text into `price_e4` without floating
// point (DESIGN section 10).
//
// price_e4 is the decimal equivalent times 10000, rounded to nearest with ties away from zero:
//   decimal "2.5" -> 25000; fractional n/d -> 1 + n/d ("1/3" -> 13333); American +a -> 1 + a/100,
//   -a -> 1 + 100/a ("-110" -> 19091). "evens" is 1/1.
// Valid odds are strictly greater than 1.0 and at most 10000 (decimal equivalent, compared
// exactly), and must round to a price_e4 above 10000; anything else is rejected.
//
// Thread safety: pure functions, safe from any thread. No allocation.
#pragma once

#include <cstdint>
#include <expected>
#include <string_view>

#include "schemas/frame_generated.h"

namespace oddsbus {

inline constexpr uint32_t kMinPriceE4Exclusive = 10000;  // 1.0
inline constexpr uint32_t kMaxPriceE4 = 100'000'000;     // 10000.0

struct Odds {
  uint32_t price_e4 = 0;
  fb::OddsFormat format = fb::OddsFormat::Decimal;
  // Fractional: n and d of n/d. American: |a| and 100 for +a, |a| and 0 for -a.
  // Decimal: the digits without the point and 10^(digits after the point), e.g. "2.50" -> 250, 100.
  uint64_t numerator = 0;
  uint64_t denominator = 0;
};

enum class OddsError : uint8_t {
  kMalformed,   // not decimal, fractional or American odds text
  kOutOfRange,  // well-formed but not > 1.0 and <= 10000 (or rounds to 1.0)
};

std::string_view to_string(OddsError error);

// Parses odds text of any supported format, detected from its shape: a leading '+' or '-' is
// American, a '/' (or "evens", any case) is fractional, otherwise decimal. Surrounding whitespace
// is not accepted.
std::expected<Odds, OddsError> parse_odds(std::string_view text);

// Parses decimal odds only ("2.48" -> 24800), as provider feeds carry them.
std::expected<Odds, OddsError> parse_decimal_odds(std::string_view text);

}  // namespace oddsbus
