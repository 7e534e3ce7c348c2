// The parts the `edge` suite of odds-bench drives an `odds-edge` with (DESIGN sections 5, 8, 10):
//  - EdgeFeed: an in-process publisher. It journals frames (engine/journal.h, nosync) in a scratch
//    directory, serves them with the engine's own RecoveryServer (snapshot at start-up, ranges for
//    gaps) on its own thread, and publishes them on a ZeroMQ PUB socket, one price frame per batch,
//    recording the steady-clock time of every send by seq. It can also journal frames without
//    publishing them: a gap the edge must recover.
//  - RawHop: a plain ZeroMQ SUB on the same PUB, receiving the same bytes as the edge: the
//    baseline hop.
//  - WsFleet: WebSocket clients of /v1/stream (Boost.Beast, async, all on one thread), each
//    subscribed to "all"; they check that delta seqs rise strictly, and time every delta against
//    the publisher's send time.
//  - LatencyHistogram and http_get, for them and the suite.
// Benchmarks, not tests: these measure and count, the suite judges only integrity.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "engine/journal.h"
#include "engine/recovery_server.h"
#include "schemas/batch.h"
#include "schemas/frame_builder.h"
#include "schemas/market_state.h"

namespace oddsbus::bench {

// Latencies in ns, in log-linear buckets (64 per power of two: within 1.6% of the true value).
// Not thread-safe.
class LatencyHistogram {
 public:
  LatencyHistogram() : counts_(kBuckets, 0) {}
  void record(uint64_t ns);
  void merge(const LatencyHistogram& other);
  void clear();
  uint64_t count() const { return total_; }
  // The value at quantile q (0..1), in ns; 0 when empty.
  uint64_t quantile(double q) const;

 private:
  static constexpr size_t kBuckets = 128 + 57 * 64;
  static size_t bucket(uint64_t ns);
  static uint64_t midpoint(size_t bucket);
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
};

uint64_t steady_ns();

struct EdgeFeedConfig {
  std::filesystem::path dir;  // the journal is created here
  size_t markets = 50;
  size_t selections = 3;               // per market
  uint64_t heartbeat_ns = 50'000'000;  // heartbeat when nothing was published for this long
  size_t journal_batch_frames = 4096;  // frames per journal record for unpublished gaps
};

// Thread safety: every method on one thread (the suite's); sent_ns() from any thread.
class EdgeFeed {
 public:
  static std::expected<std::unique_ptr<EdgeFeed>, std::string> start(const EdgeFeedConfig& config);
  ~EdgeFeed();  // stops the recovery thread
  EdgeFeed(const EdgeFeed&) = delete;
  EdgeFeed& operator=(const EdgeFeed&) = delete;

  const std::string& pub_url() const { return pub_url_; }
  const std::string& recovery_url() const { return recovery_url_; }

  // Journals the next price frame and publishes it alone in one batch. Returns its seq.
  std::expected<uint64_t, std::string> publish_price();
  // Journals `frames` price frames without publishing them. Heartbeats keep announcing the last
  // published seq, so the edge learns of the gap only from the next published frame.
  std::expected<void, std::string> journal_only(uint64_t frames);
  // Publishes a heartbeat (the last published seq) if nothing went out for heartbeat_ns.
  void heartbeat_if_idle();

  uint64_t last_seq() const { return last_seq_; }
  uint64_t published_frames() const { return published_frames_; }
  // The seq the recovery service has followed the journal to.
  uint64_t recovery_seq() const { return recovery_->last_seq(); }
  // Steady-clock ns at which `seq` was handed to the PUB socket (0: not published, or so long ago
  // its slot was reused).
  uint64_t sent_ns(uint64_t seq) const {
    const Stamp& s = stamps_[seq & kStampMask];
    return s.seq.load(std::memory_order_acquire) == seq ? s.ns.load(std::memory_order_relaxed) : 0;
  }
  // The digest (DESIGN section 7) of every frame journaled so far.
  uint64_t digest() const;
  const engine::RecoveryCounters& recovery_counters() const { return recovery_->counters(); }

 private:
  EdgeFeed() = default;
  std::span<const uint8_t> next_price();  // builds the next price frame, applies it to state_
  std::expected<void, std::string> commit(const BatchWriter& batch);

  static constexpr size_t kStampSlots = size_t{1} << 20;
  static constexpr uint64_t kStampMask = kStampSlots - 1;
  struct Stamp {
    std::atomic<uint64_t> seq{0};
    std::atomic<uint64_t> ns{0};
  };

  EdgeFeedConfig config_;
  std::unique_ptr<engine::Journal> journal_;
  zmq::context_t context_{1};
  std::unique_ptr<zmq::socket_t> pub_;
  std::unique_ptr<engine::RecoveryServer> recovery_;
  std::atomic<bool> recovery_stop_{false};
  std::thread recovery_thread_;
  std::string pub_url_;
  std::string recovery_url_;

  FrameBuilder builder_;
  BatchWriter batch_;
  BatchWriter heartbeat_batch_{4096};
  std::vector<uint64_t> aligned_;  // a frame copied for MarketState::apply
  MarketState state_;
  std::vector<uint64_t> market_seqs_;
  std::vector<Odds> prices_;
  std::vector<std::string> price_texts_;
  uint64_t next_price_ = 0;
  uint64_t last_seq_ = 0;
  uint64_t last_published_seq_ = 0;
  uint64_t published_frames_ = 0;
  uint64_t last_send_ns_ = 0;
  std::unique_ptr<Stamp[]> stamps_;
};

// A ZeroMQ SUB on the feed's PUB, on its own thread: per data batch, the time since the feed sent
// it, and the data frames received (the suite compares them with those published).
class RawHop {
 public:
  RawHop(const EdgeFeed& feed, const std::string& url);
  ~RawHop();
  RawHop(const RawHop&) = delete;
  RawHop& operator=(const RawHop&) = delete;

  bool joined() const { return joined_.load(std::memory_order_acquire); }
  uint64_t frames() const { return frames_.load(std::memory_order_acquire); }
  // Latencies recorded since the last call; clears them.
  LatencyHistogram take();
  std::string error() const;

 private:
  void run(std::string url);

  const EdgeFeed& feed_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> joined_{false};
  std::atomic<uint64_t> frames_{0};
  mutable std::mutex mutex_;
  LatencyHistogram histogram_;
  std::string error_;
  std::thread thread_;
};

// What a fleet's clients received since begin_window().
struct WindowStats {
  uint64_t deltas = 0;
  uint64_t conflated = 0;         // deltas flagged "conflated": true
  uint64_t first_arrival_ns = 0;  // steady ns
  uint64_t last_arrival_ns = 0;
  LatencyHistogram latency;  // publish -> client, deltas that are not conflated
};

// WebSocket clients of one edge, all on one thread.
class WsFleet {
 public:
  WsFleet(const EdgeFeed& feed, uint16_t port, size_t max_connecting = 256);
  ~WsFleet();  // closes every client and joins the thread
  WsFleet(const WsFleet&) = delete;
  WsFleet& operator=(const WsFleet&) = delete;

  // Connects `n` more clients (at most max_connecting at once); each subscribes to "all".
  void connect(size_t n);
  size_t ready() const { return ready_.load(std::memory_order_acquire); }    // received an image
  size_t failed() const { return failed_.load(std::memory_order_acquire); }  // could not connect
  size_t closed() const { return closed_.load(std::memory_order_acquire); }  // lost after ready
  // Deltas whose seq was not above the client's previous delta or image (contract breach).
  uint64_t order_errors() const { return order_errors_.load(std::memory_order_acquire); }
  std::string first_error() const;

  // Counts, from now on, how many clients have seen a delta at or past `seq`, and when the first
  // did.
  void watch(uint64_t seq);
  size_t watch_reached() const { return watch_reached_.load(std::memory_order_acquire); }
  uint64_t watch_first_ns() const { return watch_first_ns_.load(std::memory_order_acquire); }

  void begin_window();
  WindowStats end_window();

  // CPU seconds the fleet's thread has used.
  double cpu_seconds() const;

 private:
  class Session;
  struct Shared;
  std::unique_ptr<Shared> shared_;
  std::atomic<size_t> ready_{0};
  std::atomic<size_t> failed_{0};
  std::atomic<size_t> closed_{0};
  std::atomic<uint64_t> order_errors_{0};
  std::atomic<size_t> watch_reached_{0};
  std::atomic<uint64_t> watch_first_ns_{0};
  std::thread thread_;
};

// The value after the first `"key":` (quoted_key includes the quotes) in a JSON text the edge
// wrote, blanks skipped; an empty view when absent. Enough for the edge's flat messages, whose
// top-level keys come first (DESIGN section 10).
std::string_view value_of(std::string_view text, std::string_view quoted_key);
std::optional<uint64_t> number_of(std::string_view text, std::string_view quoted_key);

// One HTTP/1.1 GET to 127.0.0.1:port, bounded by timeout_ms: {status, body}, or {0, reason}.
std::pair<int, std::string> http_get(uint16_t port, const std::string& target,
                                     int timeout_ms = 3000);

}  // namespace oddsbus::bench
