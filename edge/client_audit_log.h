// The edge's client audit log (issue 13, "What a client saw"): a bounded, rotating JSON-lines file
// of what every WebSocket session was sent, so `odds-replay client-view` can say what a client was
// shown at any time. This file is the writer: it takes whole lines from the serving thread and
// writes them from its own thread. edge/session_audit.h formats the records; their format is
// written down there.
//
// Bounds: the lines handed over wait in one buffer of at most max_pending_bytes; a line that does
// not fit is dropped and counted, and so is every later one until the writer has taken the buffer
// (so the log has one hole, not a scatter of them); the writer then writes a record
// {"type": "hole", "ts_ns": T, "dropped": N} where the lines were lost. On disk: the log is
// `path` and, older, `path.1` .. `path.(files - 1)`; once `path` would pass max_file_bytes it
// becomes `path.1` (and so on down, the oldest deleted), so the log never holds much more than
// files x max_file_bytes (a single line larger than max_file_bytes is dropped as a hole).
//
// Threading: submit() is called by one producer (the edge's serving thread) and never blocks on
// I/O: it takes a mutex only to append to the buffer. The writer thread ("audit-log") swaps the
// buffer out every flush_interval and writes it. counters() may be read from any thread.
// Start-up errors (the file cannot be opened) are returned by open(); write errors later are
// counted (as lines dropped) and logged rate-limited.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "schemas/log.h"

namespace oddsbus::edge {

struct ClientAuditLogConfig {
  std::string path;
  uint64_t max_file_bytes = uint64_t{64} << 20;
  unsigned files = 4;                          // path plus path.1 .. path.(files - 1)
  size_t max_pending_bytes = size_t{4} << 20;  // lines waiting for the writer
  uint64_t flush_interval_ns = 20'000'000;
};

struct ClientAuditLogCounters {
  uint64_t lines_written = 0;
  uint64_t bytes_written = 0;
  uint64_t lines_dropped = 0;  // lost to a full buffer, a write error or an oversized line
  uint64_t holes = 0;          // hole records written
  uint64_t rotations = 0;
};

class ClientAuditLog {
 public:
  // Opens (appends to) the log and starts the writer. The reason on failure names the path.
  static std::expected<std::unique_ptr<ClientAuditLog>, std::string> open(
      const ClientAuditLogConfig& config);
  // Writes what is pending, then stops the writer.
  ~ClientAuditLog();
  ClientAuditLog(const ClientAuditLog&) = delete;
  ClientAuditLog& operator=(const ClientAuditLog&) = delete;

  // Hands over `lines`: one or more whole lines, each ending in '\n'. Never blocks on I/O.
  // Returns false when they were dropped (the buffer is full, or a hole is open until the writer
  // takes it).
  bool submit(std::string_view lines);
  // Writes everything submitted so far before returning (tests, and before a clean exit).
  void flush();
  ClientAuditLogCounters counters() const;
  const ClientAuditLogConfig& config() const { return config_; }

 private:
  explicit ClientAuditLog(const ClientAuditLogConfig& config, int fd, uint64_t size);
  void run();
  void write_batch(const std::string& batch, uint64_t dropped_after);
  void write_line(std::string_view line);
  void rotate();

  const ClientAuditLogConfig config_;
  int fd_ = -1;
  uint64_t file_bytes_ = 0;  // of the current file; writer thread only

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable written_;
  std::string pending_;           // under mutex_
  uint64_t dropped_pending_ = 0;  // lines dropped since the writer last took the buffer
  uint64_t submitted_ = 0;        // batches handed over (under mutex_)
  uint64_t taken_ = 0;            // ... and taken and written by the writer (under mutex_)
  bool flush_wanted_ = false;
  bool stop_ = false;
  std::string writing_;          // writer thread only
  LogLimiter write_errors_log_;  // writer thread only
  LogLimiter holes_log_;         // writer thread only

  std::atomic<uint64_t> lines_written_{0};
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> lines_dropped_{0};
  std::atomic<uint64_t> holes_{0};
  std::atomic<uint64_t> rotations_{0};
  std::thread thread_;
};

}  // namespace oddsbus::edge
