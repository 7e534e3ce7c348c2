#include "schemas/iso8601.h"

#include <charconv>

namespace oddsbus {
namespace {

// Days from 1970-01-01 to the given civil date (proleptic Gregorian), after Howard Hinnant's
// days_from_civil.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool take_digits(std::string_view& s, size_t n, int& out) {
  if (s.size() < n) return false;
  for (size_t i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  std::from_chars(s.data(), s.data() + n, out);
  s.remove_prefix(n);
  return true;
}

bool take(std::string_view& s, char c) {
  if (s.empty() || s.front() != c) return false;
  s.remove_prefix(1);
  return true;
}

}  // namespace

std::expected<uint64_t, std::string> parse_iso8601_ns(std::string_view text) {
  const std::string bad =
      "'" + std::string(text) + "' is not an ISO 8601 time such as 2026-11-23T09:30:00Z";
  std::string_view s = text;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!take_digits(s, 4, year) || !take(s, '-') || !take_digits(s, 2, month) || !take(s, '-') ||
      !take_digits(s, 2, day)) {
    return std::unexpected(bad);
  }
  int64_t nanos = 0;
  int64_t offset_s = 0;
  if (!s.empty()) {
    if (!take(s, 'T') && !take(s, 't') && !take(s, ' ')) return std::unexpected(bad);
    if (!take_digits(s, 2, hour) || !take(s, ':') || !take_digits(s, 2, minute)) {
      return std::unexpected(bad);
    }
    if (take(s, ':') && !take_digits(s, 2, second)) return std::unexpected(bad);
    if (take(s, '.') || take(s, ',')) {
      int64_t scale = 100'000'000;
      size_t digits = 0;
      while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
        nanos += (s.front() - '0') * scale;
        scale /= 10;
        s.remove_prefix(1);
        ++digits;
      }
      if (digits == 0 || digits > 9) return std::unexpected(bad);
    }
    if (take(s, 'Z') || take(s, 'z')) {
    } else if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
      const int sign = s.front() == '+' ? 1 : -1;
      s.remove_prefix(1);
      int oh = 0, om = 0;
      if (!take_digits(s, 2, oh)) return std::unexpected(bad);
      take(s, ':');
      if (!take_digits(s, 2, om)) return std::unexpected(bad);
      offset_s = sign * (oh * 3600 + om * 60);
    } else {
      return std::unexpected(bad + " (give the zone: Z or +hh:mm)");
    }
  }
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (!s.empty() || month < 1 || month > 12 || day < 1 ||
      day > kDays[month - 1] + (month == 2 && leap ? 1 : 0) || hour > 23 || minute > 59 ||
      second > 60) {
    return std::unexpected(bad);
  }
  const int64_t seconds =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second - offset_s;
  if (seconds < 0) return std::unexpected(bad + " (before 1970)");
  return static_cast<uint64_t>(seconds) * 1'000'000'000ull + static_cast<uint64_t>(nanos);
}

}  // namespace oddsbus
