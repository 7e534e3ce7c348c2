// odds-feedsim's server: serves one simulated provider stream (feed_stream.h) over TCP on one or
// two lines (listening ports), applying each line's faults (fault_plan.h) and connection-level
// faults (disconnects, stalls), and recording what each line sent (record.h).
//
// Per line: any number of clients (up to max_clients_per_line) get the same bytes. A client that
// connects first gets the current image (seq 0 messages), then the live stream. Faults:
//   - per message (drop, duplicate, corrupt, delay): decided per line from the line's seed;
//     delays keep the line's order;
//   - disconnect_every_ns: each client is closed that long after it connected (it may reconnect);
//   - stall: from stall_after_ns (sim time) for stall_for_ns (0: until toggled) the stalled
//     lines send nothing, heartbeats included, and keep their sockets open; what the stream
//     produced meanwhile is lost to them, and when the stall ends their clients get a fresh
//     image. Every increment of `stall_toggles` (SIGUSR1 in odds-feedsim) flips the stall of the
//     stalled lines on or off, whatever the schedule says.
//
// Thread safety: run() owns everything and runs on its caller's thread; `stop` and
// `stall_toggles` may be changed from signal handlers or other threads. Plain POSIX sockets and
// poll(); never blocks in send.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "feeds/sim/fault_plan.h"
#include "feeds/sim/feed_stream.h"
#include "feeds/tcp_line_source.h"

namespace oddsbus::feeds::sim {

struct SimServerConfig {
  FeedStreamConfig stream;          // epoch_ms 0: the wall clock when the stream starts
  std::vector<TcpEndpoint> listen;  // one endpoint per line: 1 or 2
  FaultConfig faults;
  uint64_t disconnect_every_ns = 0;  // 0: never
  std::optional<uint64_t> stall_after_ns;
  uint64_t stall_for_ns = 0;      // 0: until toggled
  int stall_line = -1;            // the line that stalls; -1: every line
  std::string record_path;        // empty: no record
  bool wait_for_clients = false;  // start the stream once every line has a client
  size_t max_clients_per_line = 16;
  size_t max_client_buffer = 64 << 20;        // a client further behind than this is disconnected
  uint64_t flush_timeout_ns = 5'000'000'000;  // at the end, how long clients get to drain
};

class SimServer {
 public:
  ~SimServer();
  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;

  // Binds every line's port and opens the record file. The error says which line or file failed.
  static std::expected<std::unique_ptr<SimServer>, std::string> open(SimServerConfig config);

  // Serves until `stop` is set, or the stream is over (update count reached) and flushed.
  // Returns 0 on a clean end, 1 when the record file could not be written.
  int run(const std::atomic<bool>& stop, const std::atomic<uint32_t>& stall_toggles);

  // The bound port of each line.
  std::vector<uint16_t> ports() const;

 private:
  struct Line;
  struct Client;
  explicit SimServer(SimServerConfig config);

  void start_stream(uint64_t now);
  void accept_clients(Line& line, uint64_t now);
  void send_image(Line& line, Client& client, uint64_t now);
  void distribute(const std::vector<SimMessage>& messages, uint64_t now);
  void deliver_due(Line& line, uint64_t now);
  void flush_clients(Line& line, uint64_t now);
  void update_stall(uint64_t now, uint32_t toggles);
  void close_client(Line& line, size_t index, const char* why);
  void write_record(const std::string& text);
  void log_summary(bool final);
  uint64_t sim_now(uint64_t now) const;
  bool idle() const;

  SimServerConfig config_;
  FeedStream stream_;
  std::vector<std::unique_ptr<Line>> lines_;
  std::FILE* record_ = nullptr;
  bool record_failed_ = false;
  bool started_ = false;
  uint64_t start_ns_ = 0;  // steady clock at sim time 0
  bool stall_manual_ = false;
  uint32_t toggles_seen_ = 0;
  uint64_t last_summary_ns_ = 0;
  uint64_t last_record_flush_ns_ = 0;
  bool epoch_given_ = false;  // config gave epoch_ms; else it is the wall clock at stream start
};

}  // namespace oddsbus::feeds::sim
