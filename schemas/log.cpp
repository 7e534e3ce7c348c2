#include "schemas/log.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

namespace oddsbus {

namespace {

std::atomic<LogFormat> g_format{LogFormat::kText};
std::atomic<LogLevel> g_min_level{LogLevel::kInfo};
// Written by configure_log() before other threads run; read-only afterwards.
char g_process[32] = "";
char g_main_thread[17] = "";

// Appends `text` to line[n..cap) as the inside of a JSON string; returns the new length.
size_t append_json_text(char* line, size_t n, size_t cap, std::string_view text) {
  for (const char c : text) {
    if (n + 7 >= cap) break;
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      line[n++] = '\\';
      line[n++] = c;
    } else if (c == '\n') {
      line[n++] = '\\';
      line[n++] = 'n';
    } else if (u < 0x20) {
      n += static_cast<size_t>(std::snprintf(line + n, cap - n, "\\u%04x", u));
    } else {
      line[n++] = c;
    }
  }
  return n;
}

}  // namespace

uint64_t wall_clock_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void configure_log(LogFormat format, LogLevel min_level, std::string_view process_component) {
  g_format.store(format, std::memory_order_relaxed);
  g_min_level.store(min_level, std::memory_order_relaxed);
  const size_t n = std::min(process_component.size(), sizeof g_process - 1);
  std::memcpy(g_process, process_component.data(), n);
  g_process[n] = '\0';
  ::prctl(PR_GET_NAME, g_main_thread, 0, 0, 0);
}

std::optional<LogLevel> parse_log_level(std::string_view text) {
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return std::nullopt;
}

std::optional<LogFormat> parse_log_format(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return std::nullopt;
}

void log(LogLevel level, const char* format, ...) {
  if (level < g_min_level.load(std::memory_order_relaxed)) return;
  char message[1024];
  va_list args;
  va_start(args, format);
  const int m = std::vsnprintf(message, sizeof message, format, args);
  va_end(args);
  const std::string_view text(message, m < 0 ? 0 : std::min<size_t>(m, sizeof message - 1));

  char thread[17] = "";
  ::prctl(PR_GET_NAME, thread, 0, 0, 0);
  const bool main_thread = std::strcmp(thread, g_main_thread) == 0;
  std::string component = g_process;
  if (component.empty() || !main_thread) {
    component += component.empty() ? "" : "/";
    component += thread;
  }

  const uint64_t now = wall_clock_ns();
  const time_t seconds = static_cast<time_t>(now / 1'000'000'000ull);
  tm utc;
  gmtime_r(&seconds, &utc);
  char time_text[64];
  std::snprintf(time_text, sizeof time_text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                utc.tm_sec, static_cast<int>(now / 1'000'000 % 1000));

  char line[2400];
  size_t n = 0;
  if (g_format.load(std::memory_order_relaxed) == LogFormat::kJson) {
    const char* name = level == LogLevel::kInfo   ? "info"
                       : level == LogLevel::kWarn ? "warn"
                                                  : "error";
    n = static_cast<size_t>(std::snprintf(
        line, sizeof line, "{\"time\":\"%s\",\"level\":\"%s\",\"component\":\"", time_text, name));
    n = append_json_text(line, n, sizeof line, component);
    n += static_cast<size_t>(std::snprintf(line + n, sizeof line - n, "\",\"message\":\""));
    n = append_json_text(line, n, sizeof line, text);
    line[n++] = '"';
    line[n++] = '}';
  } else {
    const char* name = level == LogLevel::kInfo   ? "INFO"
                       : level == LogLevel::kWarn ? "WARN"
                                                  : "ERROR";
    const int k = std::snprintf(line, sizeof line, "%s %s %s: %.*s", time_text, name,
                                component.c_str(), static_cast<int>(text.size()), text.data());
    n = std::min<size_t>(static_cast<size_t>(k), sizeof line - 2);
  }
  line[n++] = '\n';
  [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line, n);
}

}  // namespace oddsbus
