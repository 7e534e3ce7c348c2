// A WebSocket client of an edge's /v1/stream that subscribes to "all" and writes every message it
// is sent, as sent, one per line, to a log file: the client log tools/chaos/stream_check.h checks.
// When the connection drops (the edge was killed, reset or closed it) it reconnects every
// retry interval, writes {"type": "client-connect"} and subscribes again with resume_from and
// resume_epoch of the last image or delta it got, as a real client would.
//
// Threads: its own I/O thread; every public function is thread-safe. stop() ends the connection
// and the thread and flushes the log.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

namespace oddsbus::chaos {

class StreamRecorder {
 public:
  // Starts connecting to ws://127.0.0.1:port/v1/stream; the log is created (truncated).
  StreamRecorder(uint16_t port, std::string log_path,
                 std::chrono::milliseconds retry = std::chrono::milliseconds(200));
  ~StreamRecorder();
  StreamRecorder(const StreamRecorder&) = delete;
  StreamRecorder& operator=(const StreamRecorder&) = delete;

  void stop();
  // The highest seq the edge has told it of (image, delta or heartbeat) on the live connection.
  uint64_t last_seq() const { return last_seq_.load(); }
  bool connected() const { return connected_.load(); }
  uint64_t messages() const { return messages_.load(); }
  const std::string& log_path() const { return log_path_; }

  class Impl;

 private:
  std::string log_path_;
  std::atomic<uint64_t> last_seq_{0};
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> messages_{0};
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace oddsbus::chaos
