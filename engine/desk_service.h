// The desk service (DESIGN section 4, "Desk API"): the thread that serves trading desks on a
// ZeroMQ ROUTER, speaking engine/desk_protocol.h.
//
// A request is read, checked (well-formed, odds valid, this node primary, not too many in flight),
// turned into an event carrying a fresh request token and its origin (the desk's identity: the
// ZAP User-Id of a CURVE-authenticated link, read with zmq_msg_gets, else its CLIENT word; its
// CLIENT, ID and the request, journaled as the frames' provenance) and pushed into the node's
// ingest queues on the desk's own producer index. The sequencer thread (SequencerAgent::set_desk)
// sequences it and, once its batch is journaled, hands back a DeskAck on this service's
// DeskAckQueue; the service then answers every connection that asked. Requests are remembered by
// (client, id) in a bounded table so a retry is answered as the first request was, never applied
// twice (keyed by identity, CLIENT and ID). `held` is answered here, from the board the sequencer
// thread keeps.
//
// Threads: the constructor binds (call it at start-up: it throws zmq::error_t when it cannot);
// run() then owns the socket on one thread (the node names it "desk"). set_primary(),
// set_not_primary(), primary(), counters() and acks() may be used from any thread.
//
// Sync replication (config.visible_seq, the SyncGate's): an ack whose frame is past the visible
// seq waits until the secondary acknowledged it (the gate made it visible); if the node stops
// being primary first, the request is answered `reject ID unconfirmed`, never acked.
//
// Bounds: at most max_in_flight requests wait for their ack (more are answered busy); at most
// remembered (client, id) pairs are kept (the oldest answered ones are forgotten first). Since
// max_in_flight is below the ack queue's capacity, the sequencer never finds that queue full.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <deque>
#include <expected>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>
#include <zmq.hpp>

#include "engine/desk_protocol.h"
#include "engine/desk_rights.h"
#include "engine/ingest_queues.h"
#include "schemas/curve_link.h"
#include "schemas/log.h"

namespace oddsbus::engine {

// The sequencer's answer to one desk request.
struct DeskAck {
  uint64_t token = 0;
  bool ok = false;
  uint64_t seq = 0;                                           // ok: the request's (last) frame
  uint32_t epoch = 0;                                         // ok: the epoch it was sequenced in
  desk::RejectReason reason = desk::RejectReason::kInternal;  // !ok
  std::string detail;                                         // !ok: for people; may be empty
};

// The held overrides as the sequencer thread last saw them (engine/desk_ledger.h), for the desk
// thread to answer `held` with. set() from the sequencer thread, get() from any thread; a mutex
// guards the list (taken only when the held set changed, or a desk asks).
class DeskHeldBoard {
 public:
  void set(std::vector<desk::HeldEntry> held) {
    std::lock_guard lock(mutex_);
    held_ = std::move(held);
  }
  std::vector<desk::HeldEntry> get() const {
    std::lock_guard lock(mutex_);
    return held_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<desk::HeldEntry> held_;
};

// Acks from the sequencer thread (the one producer) to the desk thread (the one consumer): a
// Boost.Lockfree SPSC queue, plus an eventfd so the desk thread can sleep in zmq_poll until acks
// arrive. The producer pushes a batch's acks, then calls notify() once.
class DeskAckQueue {
 public:
  explicit DeskAckQueue(size_t capacity)
      : queue_(capacity), event_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~DeskAckQueue() {
    if (event_fd_ >= 0) ::close(event_fd_);
  }
  DeskAckQueue(const DeskAckQueue&) = delete;
  DeskAckQueue& operator=(const DeskAckQueue&) = delete;

  // Producer. False when full (counted in dropped(); the service's in-flight bound prevents it).
  bool push(const DeskAck& ack) {
    if (queue_.push(ack)) return true;
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // Producer: wakes the consumer. One write(2), once per batch that had desk requests.
  void notify() {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(event_fd_, &one, sizeof one);
  }

  // Consumer: the fd that becomes readable after notify().
  int fd() const { return event_fd_; }
  // Consumer: clears the wake-up, then calls f(const DeskAck&) for every queued ack.
  template <typename F>
  size_t drain(F&& f) {
    uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = ::read(event_fd_, &count, sizeof count);
    return queue_.consume_all(f);
  }

  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  boost::lockfree::spsc_queue<DeskAck> queue_;
  int event_fd_;
  std::atomic<uint64_t> dropped_{0};
};

struct DeskServiceConfig {
  std::string url;      // where the ROUTER binds (tcp://, ipc://, inproc://)
  size_t producer = 0;  // the desk's producer index in the node's IngestQueues
  size_t max_in_flight = 1024;
  size_t remembered = 16384;  // (client, id) pairs kept for retries
  int poll_ms = 50;           // how often run() looks at `stop` when idle
  // Sync replication: ack only frames at or below this seq (SyncGate::visible_seq()); null: ack
  // once journaled. Must outlive the service.
  const std::atomic<uint64_t>* visible_seq = nullptr;
  // Desk rights (engine/desk_rights.h): null, every desk may do everything. The sequencer checks
  // them (it knows each market's event); the service only for held. Must outlive the service.
  const DeskRights* rights = nullptr;
  // CURVE (schemas/curve_link.h): clients authenticated by its ZAP handler, each request's
  // User-Id their Z85 public key; null: in the clear. Must outlive the service.
  const curve::CurveServer* curve = nullptr;
};

struct alignas(64) DeskServiceCounters {
  std::atomic<uint64_t> requests{0};  // every request part received
  std::atomic<uint64_t> applied{0};   // acked: sequenced and journaled
  std::atomic<uint64_t> retries{0};   // answered from the table, not applied again
  std::array<std::atomic<uint64_t>, static_cast<size_t>(desk::RejectReason::kCount)> rejected{};
  std::atomic<uint64_t> send_failures{0};  // replies ZeroMQ refused (the client went away)
  std::atomic<uint64_t> acks_held{0};      // acks that waited for the secondary's ack
};

class DeskService {
 public:
  // Binds config.url. Throws zmq::error_t when it cannot (start-up only). `queues` must outlive
  // the service and have a producer config.producer used by no one else.
  DeskService(zmq::context_t& context, const DeskServiceConfig& config, IngestQueues& queues);

  // Serves until `stop` is set (checked every poll_ms). Returns an error when the socket fails;
  // a terminated context is a normal stop.
  std::expected<void, std::string> run(const std::atomic<bool>& stop);

  // The queue the sequencer thread answers on (SequencerAgent::set_desk).
  DeskAckQueue& acks() { return acks_; }
  // Where the sequencer thread posts the held overrides (SequencerAgent::set_desk).
  DeskHeldBoard& held_board() { return held_board_; }

  // Role: a node that does not sequence answers not-primary, naming the primary's desk URL
  // ("" when unknown). Primary until told otherwise.
  void set_primary();
  void set_not_primary(std::string primary_desk_url);
  bool primary() const { return primary_.load(std::memory_order_acquire); }

  // The endpoint actually bound (resolves a "tcp://HOST:*" wildcard port).
  const std::string& endpoint() const { return endpoint_; }
  const DeskServiceCounters& counters() const { return counters_; }
  size_t in_flight() const { return in_flight_; }
  // Acks journaled here and waiting for the secondary (sync replication). Desk thread only.
  size_t acks_waiting() const { return held_acks_.size(); }

 private:
  using Envelope = std::vector<std::string>;  // routing parts before the request part
  struct Entry {
    std::string request;            // canonical request text, to tell a retry from a reused id
    std::string reply;              // empty while waiting for the ack
    std::vector<Envelope> waiting;  // who to answer when the ack comes
  };

  void on_request(std::vector<zmq::message_t>& parts, const std::atomic<bool>& stop);
  void on_ack(const DeskAck& ack);
  void answer(const DeskAck& ack);
  void release_acks();
  void reject(const Envelope& to, std::string_view id, desk::RejectReason reason,
              std::string detail);
  void send(const Envelope& to, const std::string& reply);
  void remember(std::string key, Entry entry);
  std::string primary_url() const;

  DeskServiceConfig config_;
  IngestQueues& queues_;
  zmq::socket_t socket_;
  std::string endpoint_;
  DeskAckQueue acks_;
  DeskHeldBoard held_board_;
  std::atomic<bool> primary_{true};
  mutable std::mutex primary_url_mutex_;  // guards primary_url_ only; never on the sequencer path
  std::string primary_url_;

  uint64_t next_token_ = 1;
  size_t in_flight_ = 0;
  std::unordered_map<std::string, Entry> entries_;    // by key (client, '\n', id)
  std::deque<std::string> order_;                     // keys, oldest first
  std::unordered_map<uint64_t, std::string> tokens_;  // waiting token -> key
  std::deque<DeskAck> held_acks_;                     // ok acks past the visible seq, in seq order
  DeskServiceCounters counters_;
  LogLimiter reject_log_;
  LogLimiter apply_log_{10'000'000};
};

}  // namespace oddsbus::engine
