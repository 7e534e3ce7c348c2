#include "schemas/odds.h"

#include <cstddef>
#include <cstdint>

namespace oddsbus {
namespace {

using u128 = unsigned __int128;

// More significant digits than this could overflow u64 (and no bookmaker quotes them); such text is
// treated as malformed rather than silently rounded.
constexpr size_t kMaxSignificantDigits = 18;

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Parses a non-empty run of ASCII digits (leading zeros allowed, not counted as significant).
std::expected<uint64_t, OddsError> parse_digits(std::string_view digits) {
  if (digits.empty()) return std::unexpected(OddsError::kMalformed);
  uint64_t value = 0;
  size_t significant = 0;
  for (const char c : digits) {
    if (!is_digit(c)) return std::unexpected(OddsError::kMalformed);
    if (value != 0 || c != '0') ++significant;
    if (significant > kMaxSignificantDigits) return std::unexpected(OddsError::kMalformed);
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

bool equals_ignoring_case(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

// Validates the exact decimal value num/den and rounds it to price_e4 (ties away from zero; the
// value is positive, so ties go up). den > 0 and num < 2^65, so num * 10000 cannot overflow.
std::expected<uint32_t, OddsError> to_price_e4(u128 num, u128 den) {
  // The same arithmetic in 64 bits when nothing in it can overflow them (every odds text a feed
  // really sends): 128-bit division is a library call, and the feeds parse odds per message.
  constexpr uint64_t kFits = UINT64_MAX / 10000;
  if (num <= kFits && den <= kFits) {
    const auto n = static_cast<uint64_t>(num);
    const auto d = static_cast<uint64_t>(den);
    if (n <= d) return std::unexpected(OddsError::kOutOfRange);
    if (n > d * 10000) return std::unexpected(OddsError::kOutOfRange);
    const uint64_t scaled = n * 10000;
    uint64_t price = scaled / d;
    if ((scaled % d) * 2 >= d) ++price;  // the remainder is < d <= kFits: doubling fits
    if (price <= kMinPriceE4Exclusive) return std::unexpected(OddsError::kOutOfRange);
    return static_cast<uint32_t>(price);
  }
  if (num <= den) return std::unexpected(OddsError::kOutOfRange);         // <= 1.0
  if (num > den * 10000) return std::unexpected(OddsError::kOutOfRange);  // > 10000
  const u128 scaled = num * 10000;
  u128 price = scaled / den;
  if ((scaled % den) * 2 >= den) ++price;
  if (price <= kMinPriceE4Exclusive) return std::unexpected(OddsError::kOutOfRange);
  return static_cast<uint32_t>(price);
}

std::expected<Odds, OddsError> parse_fractional(std::string_view text) {
  uint64_t n = 1;
  uint64_t d = 1;
  if (!equals_ignoring_case(text, "evens")) {
    const size_t slash = text.find('/');
    if (slash == std::string_view::npos) return std::unexpected(OddsError::kMalformed);
    auto parsed_n = parse_digits(text.substr(0, slash));
    if (!parsed_n) return std::unexpected(parsed_n.error());
    auto parsed_d = parse_digits(text.substr(slash + 1));
    if (!parsed_d) return std::unexpected(parsed_d.error());
    if (*parsed_d == 0) return std::unexpected(OddsError::kMalformed);  // no such fraction
    n = *parsed_n;
    d = *parsed_d;
  }
  // 1 + n/d = (d + n) / d
  auto price = to_price_e4(u128{d} + n, d);
  if (!price) return std::unexpected(price.error());
  return Odds{*price, fb::OddsFormat::Fractional, n, d};
}

std::expected<Odds, OddsError> parse_american(std::string_view text) {
  const bool positive = text.front() == '+';
  auto parsed = parse_digits(text.substr(1));
  if (!parsed) return std::unexpected(parsed.error());
  const uint64_t a = *parsed;
  if (a == 0) {
    // +0 is even money minus everything (1.0); -0 would divide by zero.
    return std::unexpected(positive ? OddsError::kOutOfRange : OddsError::kMalformed);
  }
  // +a -> 1 + a/100 = (100 + a) / 100;  -a -> 1 + 100/a = (a + 100) / a
  auto price = positive ? to_price_e4(u128{a} + 100, 100) : to_price_e4(u128{a} + 100, a);
  if (!price) return std::unexpected(price.error());
  return Odds{*price, fb::OddsFormat::American, a, positive ? uint64_t{100} : uint64_t{0}};
}

}  // namespace

std::string_view to_string(OddsError error) {
  switch (error) {
    case OddsError::kMalformed:
      return "malformed";
    case OddsError::kOutOfRange:
      return "out_of_range";
  }
  return "unknown";
}

std::expected<Odds, OddsError> parse_decimal_odds(std::string_view text) {
  const size_t point = text.find('.');
  const std::string_view whole = text.substr(0, point);
  const std::string_view places =
      point == std::string_view::npos ? std::string_view{} : text.substr(point + 1);
  if (whole.empty()) return std::unexpected(OddsError::kMalformed);  // ".5"
  if (point != std::string_view::npos && places.empty()) {           // "2."
    return std::unexpected(OddsError::kMalformed);
  }
  if (places.size() > kMaxSignificantDigits) return std::unexpected(OddsError::kMalformed);
  for (const char c : places) {
    if (!is_digit(c)) return std::unexpected(OddsError::kMalformed);
  }
  // Every digit, without the point, as one number: "2.50" -> 250, at most 18 significant digits.
  auto parsed_whole = parse_digits(whole);
  if (!parsed_whole) return std::unexpected(parsed_whole.error());
  uint64_t numerator = *parsed_whole;
  uint64_t denominator = 1;
  size_t significant = 0;
  for (uint64_t v = numerator; v != 0; v /= 10) ++significant;
  for (const char c : places) {
    if (numerator != 0 || c != '0') ++significant;
    if (significant > kMaxSignificantDigits) return std::unexpected(OddsError::kMalformed);
    numerator = numerator * 10 + static_cast<uint64_t>(c - '0');
    denominator *= 10;
  }
  auto price = to_price_e4(numerator, denominator);
  if (!price) return std::unexpected(price.error());
  return Odds{*price, fb::OddsFormat::Decimal, numerator, denominator};
}

std::expected<Odds, OddsError> parse_odds(std::string_view text) {
  if (text.empty()) return std::unexpected(OddsError::kMalformed);
  if (text.front() == '+' || text.front() == '-') return parse_american(text);
  if (text.find('/') != std::string_view::npos || equals_ignoring_case(text, "evens")) {
    return parse_fractional(text);
  }
  return parse_decimal_odds(text);
}

}  // namespace oddsbus
