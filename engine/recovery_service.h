// The recovery service core (DESIGN section 4): answers the requests of schemas/recovery_protocol.h
// (status, range, snapshot, ack) from what a node has committed. A plain range/snapshot/status
// server composed with two parts of their own: RequesterLimiter (engine/requester_limiter.h,
// per-requester token buckets) and LongPolls (engine/long_polls.h, parked range requests and the
// secondary's acks).
//
// It follows the journal: the owner feeds every committed batch, in seq order, to on_committed().
// From them it keeps its own FrameRing of recent batches and its own MarketState, and tracks the
// epoch and the seq at which it began (EpochChange frames). Ranges the ring no longer holds are
// read from a BatchLog (the journal). A range asked for past what its requester may be served,
// with WAIT_MS, is parked in LongPolls, and answered by the call that makes FROM servable, or with
// SERVED_TO 0 by the on_tick() that finds it expired.
//
// Visibility: how far frames may be seen is decided by the role core (engine/role_core.h,
// visible_seq(); sync replication holds back what the secondary has not acknowledged), and the
// owner passes it on (set_visible_limit()). Ranges, the LAST_SEQ and epoch that replies state, and
// snapshots stop there: the state applies committed frames only up to it, so a snapshot is taken
// at or below it. Only a range marked `replica` (the secondary replicating) is served to the last
// committed seq (RoleCore::served_limit()). With no limit (the default) everything committed is
// visible at once.
//
// Bounded everywhere: a range reply is capped in frames and bytes (it says how far it got), parked
// requests are capped in number (more are answered `busy`), and every requester (ZeroMQ routing
// identity) is rate-limited in requests and frames per second (over it: `busy RETRY_MS`) in a
// bounded table. Acks are never limited (they cost nothing and get no reply).
//
// Sans-I/O: no sockets, threads or clock (`now_ns` comes in: a monotonic clock, since it times
// rate limits and long-poll deadlines). It reads LMDB only through the BatchLog it is given.
// Replies are values the owner sends.
// Thread safety: none; owned by one thread (the recovery server's). counters() may be read from
// any thread (relaxed atomics).
// Invariants: last_seq() is the last seq of the last batch fed; batches are fed gap-free from seq
// 1; state().seq() == visible_seq() <= last_seq() (heartbeats are never journaled).
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "engine/frame_ring.h"
#include "engine/journal.h"
#include "engine/long_polls.h"
#include "engine/requester_limiter.h"
#include "schemas/batch.h"
#include "schemas/market_state.h"
#include "schemas/recovery_protocol.h"

namespace oddsbus::engine {

struct RecoveryServiceConfig {
  uint32_t node = 1;
  uint32_t channel = 0;
  size_t ring_slots = 4096;              // recent batches held in memory
  size_t ring_bytes = size_t{64} << 20;  // and at most this many bytes of them
  uint64_t max_frames = 65536;           // per range reply (a reply holds at least one batch)
  size_t max_bytes = size_t{16} << 20;   // per range reply
  uint32_t max_wait_ms = 60'000;         // a longer WAIT_MS is cut to this
  size_t max_parked = 256;               // parked range requests; more are answered busy
  double requests_per_s = 20000;         // per requester, refilled continuously
  double request_burst = 2000;
  double frames_per_s = 10'000'000;  // frames served (a snapshot costs its markets)
  double frame_burst = 2'000'000;
  size_t max_requesters = 1024;  // rate-limit table; the least recently seen go first
  size_t snapshot_markets_per_chunk = 1024;
};

// Every outcome counted. Written by the owner thread only; readable from any thread.
struct alignas(64) RecoveryCounters {
  std::atomic<uint64_t> status_requests{0};
  std::atomic<uint64_t> range_requests{0};
  std::atomic<uint64_t> snapshot_requests{0};
  std::atomic<uint64_t> acks{0};
  std::atomic<uint64_t> acks_beyond_last{0};  // acks past last_seq(), clamped to it
  std::atomic<uint64_t> bad_requests{0};      // answered `error bad-request`
  std::atomic<uint64_t> internal_errors{0};   // answered `error internal` (a journal read failed)
  std::atomic<uint64_t> busy{0};              // answered `busy` (rate limit or park table full)
  std::atomic<uint64_t> frames_served{0};     // frames in range replies (whole batches)
  std::atomic<uint64_t> batches_served{0};
  std::atomic<uint64_t> bytes_served{0};
  std::atomic<uint64_t> batches_from_journal{0};  // of batches_served, read from the journal
  std::atomic<uint64_t> ranges_capped{0};         // replies that stopped short of TO
  std::atomic<uint64_t> gone{0};                  // answered `gone`
  std::atomic<uint64_t> parked{0};                // range requests parked
  std::atomic<uint64_t> parked_answered{0};       // answered when their FROM was committed
  std::atomic<uint64_t> parked_expired{0};        // answered SERVED_TO 0 when WAIT_MS ran out
  std::atomic<uint64_t> snapshots_encoded{0};     // encodings (replies at one seq share one)
  std::atomic<uint64_t> requesters_evicted{0};
  std::atomic<uint64_t> committed_batches{0};
  std::atomic<uint64_t> committed_frames{0};
  std::atomic<uint64_t> resets{0};  // the followed history was forgotten (journal rewritten)
  std::atomic<uint64_t> replica_ranges{0};  // range requests marked replica (served past the limit)
};

// Committed batches older than the ring, in seq order: the journal. An interface so the core holds
// no LMDB handle and a test can serve from anything.
class BatchLog {
 public:
  virtual ~BatchLog() = default;
  // Calls visit(ctx, key, bytes) for each record that may hold seq >= from_seq (the one holding it
  // may begin below it), in seq order, until visit returns false. `bytes` is valid during the call.
  virtual std::expected<void, std::string> scan_records(uint64_t from_seq,
                                                        JournalReader::Visit visit, void* ctx) = 0;

  // The same with a callable f(key, bytes) -> bool.
  template <typename F>
  std::expected<void, std::string> scan(uint64_t from_seq, F&& f) {
    return scan_records(
        from_seq,
        [](void* ctx, uint64_t key, std::span<const uint8_t> bytes) {
          return (*static_cast<std::remove_reference_t<F>*>(ctx))(key, bytes);
        },
        &f);
  }
};

// The journal as a BatchLog, through its own JournalReader (so: one thread at a time).
class JournalBatchLog final : public BatchLog {
 public:
  explicit JournalBatchLog(const Journal& journal) : reader_(journal) {}
  std::expected<void, std::string> scan_records(uint64_t from_seq, JournalReader::Visit visit,
                                                void* ctx) override {
    return reader_.scan(from_seq, visit, ctx);
  }

 private:
  JournalReader reader_;
};

// One reply: a header part (schemas/recovery_protocol.h) and zero or more binary parts. An empty
// header means there is nothing to send (an ack). Parts are views, into the service's ring or
// snapshot or into this reply's own copies: valid until the next non-const call on the service or
// on this reply.
class RecoveryReply {
 public:
  void clear();
  bool empty() const { return header_.empty(); }
  const std::string& header() const { return header_; }
  std::span<const std::span<const uint8_t>> parts() const { return parts_; }

 private:
  friend class RecoveryService;
  void add_view(std::span<const uint8_t> bytes) { parts_.push_back(bytes); }
  void add_copy(std::span<const uint8_t> bytes);

  std::string header_;
  std::vector<std::span<const uint8_t>> parts_;
  std::vector<std::vector<uint8_t>> owned_;  // freed by clear(): copies are for catch-up only
};

// Replies to requesters other than the caller of handle(): parked requests answered by
// on_committed() or on_tick(). Reused across calls.
class RecoveryOutbox {
 public:
  size_t size() const { return used_; }
  const std::string& identity(size_t i) const { return items_[i].identity; }
  const RecoveryReply& reply(size_t i) const { return items_[i].reply; }
  void clear();

 private:
  friend class RecoveryService;
  RecoveryReply& add(std::string_view identity);

  struct Item {
    std::string identity;
    RecoveryReply reply;
  };
  std::vector<Item> items_;
  size_t used_ = 0;
};

class RecoveryService {
 public:
  // `log` may be null (the ring only: older ranges are `gone`); it must outlive the service.
  RecoveryService(const RecoveryServiceConfig& config, BatchLog* log);

  // Feeds the next committed batch (the journal record beginning at last_seq() + 1). Verifies it,
  // applies its frames, keeps it in the ring, and answers parked requests it satisfies into `out`
  // (out is not cleared first). Fails, changing nothing, on a batch that does not verify or does
  // not continue last_seq(): the owner must stop following (the journal is damaged).
  std::expected<void, std::string> on_committed(std::span<const uint8_t> batch,
                                                RecoveryOutbox& out);

  // Answers one request from `identity` at `now_ns` into `reply` (cleared first). A parked range
  // leaves `reply` empty and is answered later through an outbox; so is an ack, never answered.
  void handle(std::string_view identity, std::string_view request, uint64_t now_ns,
              RecoveryReply& reply);

  // Answers a message that is not one request part (the owner's transport saw its shape) with
  // `error bad-request DETAIL`, under the same rate limit as requests.
  void refuse(std::string_view identity, std::string_view detail, uint64_t now_ns,
              RecoveryReply& reply);

  // Forgets the followed history (state, ring, last seq, epoch) to follow the journal again
  // from seq 1, after it was rewritten (fencing set frames aside). Parked requests stay parked;
  // rate limits, the acked seq and counters are kept.
  void reset();

  // Follows a journal whose log begins after a snapshot (retention pruned what came before):
  // takes `state`, at state.seq() in epoch state.epoch() begun at `epoch_start`, as if its frames
  // had been fed; the next batch fed begins at state.seq() + 1. Ranges below it are read from the
  // log, which answers `gone` for what was pruned. Call on a new or reset() service only.
  void start_at(MarketState state, uint64_t epoch_start);

  // Answers parked requests whose wait ran out at `now_ns` (SERVED_TO 0) into `out`.
  void on_tick(uint64_t now_ns, RecoveryOutbox& out);

  // How far committed frames may be visible (kNoLimit: all). Applies the frames it uncovers to
  // the state and answers parked requests they satisfy into `out`. A limit below what is already
  // visible hides nothing again (what was shown stays shown). A frame to uncover that cannot be
  // read (older than the ring, and the journal read failed) is counted in internal_errors and
  // tried again at the next call or commit.
  static constexpr uint64_t kNoLimit = UINT64_MAX;
  void set_visible_limit(uint64_t limit, RecoveryOutbox& out);

  // The role `status` reports; the node sets it.
  void set_primary(bool primary) { primary_ = primary; }

  // The last committed seq followed, and its epoch (what a replica is served up to).
  uint64_t last_seq() const { return committed_.last_seq; }
  uint32_t epoch() const { return committed_.epoch; }
  uint64_t epoch_start() const { return committed_.epoch_start; }
  // The last visible seq (what everyone else is told and served), its epoch, and the state at it.
  uint64_t visible_seq() const { return visible_.last_seq; }
  uint32_t visible_epoch() const { return visible_.epoch; }
  const MarketState& state() const { return state_; }
  // The highest seq a requester acknowledged (0: none), and when (now_ns of the last ack). An ack
  // past last_seq() is clamped to it (engine/long_polls.h). `now_ns` of the last ack is on the
  // caller's (monotonic) clock.
  uint64_t acked_seq() const { return polls_.acked_seq(); }
  uint64_t last_ack_ns() const { return polls_.last_ack_ns(); }
  size_t parked() const { return polls_.size(); }
  // The earliest deadline of a parked request (UINT64_MAX: none parked).
  uint64_t next_deadline_ns() const { return polls_.next_deadline_ns(); }
  const RecoveryCounters& counters() const { return counters_; }

 private:
  // The head of a followed history: its last seq, epoch and the seq that epoch began at.
  struct Head {
    uint64_t last_seq = 0;
    uint32_t epoch = 1;
    uint64_t epoch_start = 1;
    void note(const fb::Frame& frame);
  };

  // True when the limiter admits a request from `identity`; else writes `busy` into reply.
  bool admit(std::string_view identity, uint64_t now_ns, RecoveryReply& reply);
  void write_busy(uint32_t retry_ms, RecoveryReply& reply);
  void serve_status(RecoveryReply& reply) const;
  // What `request` may see: the committed head for a replica, the visible one for anyone else.
  const Head& head_for(const recovery::Request& request) const {
    return request.replica ? committed_ : visible_;
  }
  // Serves FROM..TO (FROM <= head_for(request).last_seq); returns the frames served (for the
  // frame bucket). Never serves a batch reaching past that head.
  uint64_t serve_range(const recovery::Request& request, RecoveryReply& reply);
  // Applies committed frames up to min(limit, last seq) to the state (failures counted).
  void apply_visible();
  std::expected<void, std::string> apply_through(uint64_t seq);
  // Answers parked requests that can now be served into `out`.
  void answer_parked(RecoveryOutbox& out);
  // Serves the state image; returns its cost in frames (its markets, at least 1).
  uint64_t serve_snapshot(RecoveryReply& reply);
  void write_range_header(uint64_t from, uint64_t served_to, const Head& head,
                          RecoveryReply& reply) const;
  void write_error(std::string_view reason, std::string_view detail, RecoveryReply& reply);

  RecoveryServiceConfig config_;
  BatchLog* log_;
  FrameRing ring_;
  MarketState state_;
  BatchReader reader_;
  BatchReader apply_reader_;
  std::vector<uint8_t> apply_copy_;  // a batch read from the log to apply (older than the ring)
  Head committed_;
  Head visible_;  // state_ reflects frames through visible_.last_seq
  uint64_t limit_ = kNoLimit;
  bool primary_ = false;
  LongPolls polls_;
  RequesterLimiter limiter_;

  // The last snapshot encoded, reused while the state has not moved.
  std::vector<std::vector<uint8_t>> snapshot_chunks_;
  uint64_t snapshot_seq_ = UINT64_MAX;
  uint64_t snapshot_digest_ = 0;
  uint32_t snapshot_epoch_ = 0;

  RecoveryCounters counters_;
};

}  // namespace oddsbus::engine
