#include "engine/time_text.h"

#include <cstdio>

namespace oddsbus::engine {
namespace {

// Civil date of a day count from 1970-01-01 (proleptic Gregorian), after Howard Hinnant's
// civil_from_days, the inverse of the days_from_civil that schemas/iso8601.cpp uses.
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

}  // namespace

void append_iso8601_ns(std::string& out, uint64_t ns) {
  const uint64_t seconds = ns / 1'000'000'000ull;
  const uint64_t nanos = ns % 1'000'000'000ull;
  int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(static_cast<int64_t>(seconds / 86400), y, m, d);
  const uint64_t of_day = seconds % 86400;
  char text[48];
  int n =
      std::snprintf(text, sizeof text, "%04lld-%02u-%02uT%02u:%02u:%02u", static_cast<long long>(y),
                    m, d, static_cast<unsigned>(of_day / 3600),
                    static_cast<unsigned>(of_day / 60 % 60), static_cast<unsigned>(of_day % 60));
  if (nanos != 0) {
    if (nanos % 1'000'000 == 0) {
      n += std::snprintf(text + n, sizeof text - n, ".%03u",
                         static_cast<unsigned>(nanos / 1'000'000));
    } else if (nanos % 1'000 == 0) {
      n += std::snprintf(text + n, sizeof text - n, ".%06u", static_cast<unsigned>(nanos / 1'000));
    } else {
      n += std::snprintf(text + n, sizeof text - n, ".%09u", static_cast<unsigned>(nanos));
    }
  }
  out.append(text, static_cast<size_t>(n));
  out.push_back('Z');
}

std::string format_iso8601_ns(uint64_t ns) {
  std::string out;
  append_iso8601_ns(out, ns);
  return out;
}

}  // namespace oddsbus::engine
