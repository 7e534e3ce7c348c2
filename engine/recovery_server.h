// The recovery service's thread (DESIGN section 4): a ZeroMQ ROUTER serving
// schemas/recovery_protocol.h around the sans-I/O RecoveryService (engine/recovery_service.h).
//
// It follows the journal: every ~0.5 ms, or at once when woken (wake(), after a commit), it feeds
// the batches committed after the last seq it holds to the service, which answers the requests
// parked on them. With a CommittedQueue (follow()), the node's sequencer thread hands it every
// committed batch and it reads the journal (its own JournalReader) only at start-up, after a gap
// (the queue was full and dropped batches: a catch-up) and after a rewrite; without one it reads
// every record from the journal. LMDB readers never block the writer, and the queue never blocks
// its producer, so the sequencer thread, which commits, never waits for this one; a flood of
// requests costs this thread only, and per-requester rate limits bound what each requester gets.
// A journal that retention pruned is followed from the snapshot its log begins after
// (engine/journal_snapshot.h); ranges it no longer holds are answered `gone`.
// If the journal is rewritten under it (fencing sets frames aside), it follows the journal again
// from seq 1 (or that snapshot): it learns of it from the queue's rewrite marker and generation
// (engine/committed_queue.h), or, reading the journal, from the record holding its last seq
// having changed.
//
// Requests arrive as [identity, request] (the client is a DEALER); replies go back as [identity,
// header, parts...]. Messages over 4 KiB make ZeroMQ drop the peer (ZMQ_MAXMSGSIZE); other shapes
// are answered `error bad-request`. Replies to peers that left, or whose queue is full, are dropped
// and counted.
//
// Clocks (DESIGN section 4): rate limits, long-poll deadlines and log rates are durations, timed
// by the monotonic clock; the wall clock only stamps the last ack for operators. Both are
// injected (RecoveryServerClocks), so a test can step either.
//
// In sync replication the node hands it the gate's visible seq (limit_to()): what it serves
// and states stops there (engine/recovery_service.h, "Visibility").
//
// Threads: run() on one thread (it names itself "recovery"). wake(), the primary flag, the acked
// seq and the counters may be used from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "engine/committed_queue.h"
#include "engine/journal.h"
#include "engine/recovery_service.h"
#include "schemas/curve_link.h"
#include "schemas/log.h"

namespace oddsbus::engine {

struct alignas(64) RecoveryServerCounters {
  std::atomic<uint64_t> messages{0};            // request messages received
  std::atomic<uint64_t> malformed_messages{0};  // not [identity, request]
  std::atomic<uint64_t> replies_sent{0};
  std::atomic<uint64_t> replies_dropped{0};   // the peer left or its queue was full
  std::atomic<uint64_t> journal_batches{0};   // records followed from the journal
  std::atomic<uint64_t> journal_errors{0};    // reads that failed or records that did not continue
  std::atomic<uint64_t> journal_rewrites{0};  // times the journal was followed again from seq 1
  std::atomic<uint64_t> queue_batches{0};     // batches followed from the committed queue
  std::atomic<uint64_t> catch_ups{0};         // gaps in the queue, filled from the journal
};

// std::chrono::steady_clock, in ns.
uint64_t steady_clock_ns();

struct RecoveryServerClocks {
  uint64_t (*monotonic_ns)() = steady_clock_ns;  // durations
  uint64_t (*wall_ns)() = wall_clock_ns;         // time stamps (the last ack)
};

class RecoveryServer {
 public:
  // Binds a ROUTER at `bind_url` (throws zmq::error_t when it cannot: start-up only). The channel
  // is the journal's; config.node is reported by `status`. `journal` must outlive the server;
  // only its read side is used (JournalReaders on this thread).
  // `curve`: a CURVE server (schemas/curve_link.h), or nullptr for a link in the clear.
  RecoveryServer(zmq::context_t& context, std::string bind_url, const Journal& journal,
                 RecoveryServiceConfig config, RecoveryServerClocks clocks = {},
                 const curve::CurveServer* curve = nullptr);
  ~RecoveryServer();
  RecoveryServer(const RecoveryServer&) = delete;
  RecoveryServer& operator=(const RecoveryServer&) = delete;

  // Serves until `stop` is set (checked at least every ~0.5 ms) or the context is shut down.
  void run(const std::atomic<bool>& stop);

  // Makes run() read the journal now rather than at its next poll. Any thread; one write(2).
  void wake();

  // Serves others only up to `visible_seq` (SyncGate::visible_seq()), read at every loop turn.
  // Call before run(); `visible_seq` must outlive the server. Without it, all is visible.
  void limit_to(const std::atomic<uint64_t>& visible_seq) { visible_seq_ = &visible_seq; }

  // Takes committed batches from `queue` (the journal's observer) instead of reading each back
  // from the journal. Call before run(); `queue` must outlive the server, whose run() thread is
  // its one consumer.
  void follow(CommittedQueue& queue) { committed_ = &queue; }

  // The role `status` reports: the node sets it (NodeRoleDeps::primary_flag).
  std::atomic<bool>& primary_flag() { return primary_.value; }
  // The highest seq a secondary acknowledged (`ack SEQ`), and the wall-clock time of the last ack
  // (ns since the Unix epoch; 0: none yet). Written by run()'s thread.
  const std::atomic<uint64_t>& acked_seq() const { return published_.acked_seq; }
  const std::atomic<uint64_t>& last_ack_ns() const { return published_.last_ack_ns; }
  // The last seq the service has followed the journal to.
  uint64_t last_seq() const { return published_.last_seq.load(std::memory_order_acquire); }
  // The endpoint actually bound (a wildcard port resolved).
  const std::string& endpoint() const { return endpoint_; }

  const RecoveryCounters& counters() const { return service_.counters(); }
  const RecoveryServerCounters& server_counters() const { return counters_; }

 private:
  // How many records (and request messages) one loop turn handles at most, so neither starves
  // the other.
  static constexpr size_t kMaxBatchesPerTurn = 256;
  static constexpr size_t kMaxRequestsPerTurn = 256;

  size_t follow(uint64_t now_ns);
  // Reads up to kMaxBatchesPerTurn records from the journal; `at_end`: it read all there was.
  size_t follow_journal(uint64_t now_ns, bool* at_end = nullptr);
  size_t follow_queue();
  // A log that retention pruned begins after a snapshot: starts the service from it. False when
  // that snapshot cannot be read now (pruning moved on, or it is damaged): try again later.
  bool start_from_snapshot();
  void refollow(const char* why);  // forget what was followed: from seq 1 again
  size_t serve_requests(uint64_t now_ns);
  void send(std::string_view identity, const RecoveryReply& reply);
  void send_outbox();
  void wait(std::chrono::microseconds timeout);
  void publish_acks();

  // What the record last followed looked like, to notice it being rewritten.
  struct RecordPrint {
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;
    size_t size = 0;
    uint32_t first_crc = 0;
    bool operator==(const RecordPrint&) const = default;
  };

  RecoveryServerClocks clocks_;
  const Journal& journal_;
  const std::atomic<uint64_t>* visible_seq_ = nullptr;
  uint64_t last_ack_seen_ns_ = 0;  // the service's (monotonic) time of the last ack published
  JournalReader tail_reader_;
  JournalBatchLog log_;
  RecoveryService service_;
  zmq::socket_t router_;
  std::string endpoint_;
  int wake_fd_ = -1;

  static RecordPrint print_of(std::span<const uint8_t> record);

  CommittedQueue* committed_ = nullptr;
  bool catching_up_ = true;  // the journal holds batches the queue will not bring
  uint64_t generation_ = 0;  // the queue's generation what was followed belongs to
  RecordPrint last_record_;
  bool journal_failed_ = false;
  RecoveryReply reply_;
  RecoveryOutbox outbox_;
  std::vector<zmq::message_t> parts_;
  LogLimiter log_limiter_;

  struct alignas(64) Published {
    std::atomic<uint64_t> acked_seq{0};
    std::atomic<uint64_t> last_ack_ns{0};
    std::atomic<uint64_t> last_seq{0};
  } published_;
  struct alignas(64) Primary {
    std::atomic<bool> value{false};
  } primary_;
  RecoveryServerCounters counters_;
};

}  // namespace oddsbus::engine
