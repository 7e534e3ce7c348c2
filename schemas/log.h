// Logging to stderr for state changes and faults (never per frame), with rate limiting so a flood
// of bad input cannot flood the log. Every line names its component: the process's (set by
// configure_log(), e.g. "engine") and the thread's name ("sequencer", "recovery", "feed-bf"; the
// main thread adds nothing), e.g. "engine/sequencer". Two formats:
//   text: 2026-11-23T09:30:00.123Z WARN engine/feed-bf: message
//   json: {"time":"2026-11-23T09:30:00.123Z","level":"warn","component":"engine/feed-bf",
//          "message":"..."}  (one object a line, for log shippers)
// Lines below the configured level are not written.
// Thread safety: configure_log() at start-up, before other threads run; log() is safe from any
// thread (one write(2) per line). A LogLimiter is owned by one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace oddsbus {

enum class LogLevel : uint8_t { kInfo, kWarn, kError };

enum class LogFormat : uint8_t { kText, kJson };

__attribute__((format(printf, 2, 3))) void log(LogLevel level, const char* format, ...);

// Sets the format, the lowest level written (default: text, info) and the process's component
// name (default: none, the thread's name alone). Call from the main thread: its name is the one
// log lines of the main thread leave out.
void configure_log(LogFormat format, LogLevel min_level, std::string_view process_component);

// "info", "warn", "error" / "text", "json"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view text);
std::optional<LogFormat> parse_log_format(std::string_view text);

// Allows one line per `interval_ns`; counts what it suppressed so the next line can say so.
class LogLimiter {
 public:
  explicit LogLimiter(uint64_t interval_ns = 1'000'000'000) : interval_ns_(interval_ns) {}
  // True when a line may be written at `now_ns`; then suppressed() tells how many were skipped.
  bool allow(uint64_t now_ns) {
    if (now_ns - last_ns_ < interval_ns_ && last_ns_ != 0) {
      ++pending_;
      return false;
    }
    last_ns_ = now_ns == 0 ? 1 : now_ns;
    suppressed_ = pending_;
    pending_ = 0;
    return true;
  }
  uint64_t suppressed() const { return suppressed_; }

 private:
  uint64_t interval_ns_;
  uint64_t last_ns_ = 0;
  uint64_t pending_ = 0;
  uint64_t suppressed_ = 0;
};

// Wall clock, ns since the Unix epoch.
uint64_t wall_clock_ns();

}  // namespace oddsbus
