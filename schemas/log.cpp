#include "schemas/log.h"

#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace oddsbus {

uint64_t wall_clock_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void log(LogLevel level, const char* format, ...) {
  char line[1024];
  const uint64_t now = wall_clock_ns();
  const time_t seconds = static_cast<time_t>(now / 1'000'000'000ull);
  tm utc;
  gmtime_r(&seconds, &utc);
  const char* name = level == LogLevel::kInfo   ? "INFO"
                     : level == LogLevel::kWarn ? "WARN"
                                                : "ERROR";
  int n = std::snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s ",
                        utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                        utc.tm_sec, static_cast<int>(now / 1'000'000 % 1000), name);
  va_list args;
  va_start(args, format);
  const int m = std::vsnprintf(line + n, sizeof line - static_cast<size_t>(n) - 1, format, args);
  va_end(args);
  if (m > 0) n += std::min(m, static_cast<int>(sizeof line) - n - 2);
  line[n++] = '\n';
  [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line, static_cast<size_t>(n));
}

}  // namespace oddsbus
