// The subscriber's ZeroMQ shell around the Arbiter (edge/arbiter.h): one SUB socket per publisher
// line (subscribed to everything), one DEALER per recovery service. poll() receives what arrived,
// feeds the arbiter, sends the range and snapshot requests it asks for (schemas/
// recovery_protocol.h), optionally keeps a long poll open on a recovery service (a secondary's
// follow line), and decodes snapshot replies (schemas/snapshot_image.h) into an image the
// owner takes. The protocol logic is all in the Arbiter; this file only moves bytes, and logs the
// arbiter's notices (rate-limited, edge/arbiter_notice_log.h).
//
// Thread safety: created, polled and destroyed by one thread. zmq::error_t (a bad URL at
// construction, context shutdown while polling) propagates to the owner, who catches it at the top
// of its thread. Never blocks past poll's timeout: sends are non-blocking, and a request that
// cannot be sent is counted and left to the arbiter's request timeout.
// Clock: std::chrono::steady_clock, or the owner's monotonic clock given to poll() (the arbiter
// only compares differences).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "edge/arbiter.h"
#include "edge/arbiter_notice_log.h"
#include "schemas/curve_handshake_watch.h"
#include "schemas/curve_link.h"
#include "schemas/snapshot_image.h"

namespace oddsbus::edge {

struct SubscriberConfig {
  std::vector<std::string> publisher_urls;  // line i: a SUB connected to publisher_urls[i]
  std::vector<std::string> recovery_urls;   // service i: a DEALER connected to recovery_urls[i]
  ArbiterConfig arbiter;                    // recovery_services is taken from recovery_urls.size()
  int receive_hwm = 100000;                 // per SUB socket; past it ZeroMQ drops (seen as a gap)
  int receive_buffer_bytes = 0;             // kernel receive buffer per SUB (0: OS default)
  size_t max_messages_per_poll = 1024;  // per socket per poll(), so one line cannot starve others
  // ZMQ_MAXMSGSIZE on every socket: a peer sending a larger message is disconnected by ZeroMQ
  // before the message is held in memory (it reconnects; the message is lost, seen as a gap).
  // Far above any batch or reply a publisher or service sends (at most 4096 frames a batch, a
  // reply within 16 MiB and one batch): a hostile peer cannot make the edge allocate gigabytes.
  // Applies to tcp and ipc links (ZeroMQ does not check inproc). ZeroMQ takes an oversized
  // message for a protocol error and does not reconnect that link by itself: see below.
  int64_t max_message_bytes = int64_t{256} << 20;
  // A publisher line heard of nothing (no frame, no heartbeat) for this long is disconnected
  // and connected again, at most once per this interval: a link ZeroMQ gave up on (a protocol
  // error such as an oversized message) comes back when its publisher sends sound messages
  // again. Publishers heartbeat several times a second, so a live line is never touched. 0: never.
  uint64_t silent_line_reconnect_ns = 5'000'000'000;
  // Range requests (gap fills, probes, the follow long poll) are marked `replica`
  // (schemas/recovery_protocol.h): a replicating secondary's, served past the acknowledged seq.
  bool replica_requests = false;
  // Optional long poll (a replicating secondary): a DEALER connected here keeps one
  // `range LAST+1 LAST+follow_range follow_wait_ms` request outstanding, LAST being the arbiter's
  // last_seq; the reply's batches are fed to the arbiter as line publisher_urls.size(). A reply
  // that has not come within follow_wait_ms + 1 s is given up on: the socket is replaced, so a
  // late one is dropped. send_ack() uses this socket. Empty: none.
  std::string follow_url;
  uint32_t follow_wait_ms = 100;
  uint64_t follow_range = 65536;
  // CURVE (schemas/curve_link.h): every socket a CURVE client of its URL's server key, its
  // failed handshakes counted (a publisher or service that is not the one the key names sends
  // nothing in); null: every link in the clear.
  std::shared_ptr<const curve::CurveClient> curve;
};

struct SubscriberCounters {
  uint64_t batches = 0;               // messages received on publisher lines
  uint64_t replies = 0;               // recovery replies received
  uint64_t bad_replies = 0;           // replies whose header did not parse (dropped)
  uint64_t requests_sent = 0;         // range and snapshot requests sent
  uint64_t send_failures = 0;         // requests ZeroMQ would not take (the arbiter times them out)
  uint64_t snapshots_loaded = 0;      // snapshot replies decoded and handed to the arbiter
  uint64_t snapshot_failures = 0;     // snapshot replies refused (never installed), asked again
  uint64_t bad_crc_chunks = 0;        // of those: a chunk's CRC32C did not match its bytes
  uint64_t bad_digests = 0;           // of those: the image's digest was not the reply's
  uint64_t unwanted_snapshots = 0;    // snapshot replies that came when none was wanted (dropped)
  uint64_t superseded_snapshots = 0;  // snapshots of a history a higher epoch replaced (refused)
  uint64_t follow_requests = 0;       // long polls sent on the follow socket
  uint64_t follow_resets = 0;         // long polls given up on (socket replaced)
  uint64_t acks_sent = 0;
  // CURVE handshakes that failed (schemas/curve_handshake_watch.h): a peer that is not the
  // server our key names, or that refused our key. Nothing it sends is received.
  uint64_t handshake_failures = 0;
  // Publisher lines connected again after silent_line_reconnect_ns of silence, and recovery
  // services connected again after a request to them timed out.
  uint64_t line_reconnects = 0;
  uint64_t service_reconnects = 0;
};

class Subscriber {
 public:
  // Connects every socket. Throws zmq::error_t on a bad URL (start-up only).
  Subscriber(zmq::context_t& context, const SubscriberConfig& config);

  // Waits up to timeout_ms for messages on any socket, handles at most max_messages_per_poll per
  // socket, ticks the arbiter, and sends the requests the arbiter asked for. Appends to `out`
  // (see ArbiterOutput for how long its contents stay valid); its actions list every action,
  // the requests among them already sent. When a snapshot was loaded, frames `out` held from
  // before it are removed (the image includes them) and take_snapshot() returns the image: the
  // owner installs it before applying out.frames. Returns how many messages it handled.
  // Pass a timeout no longer than the arbiter's gap_timeout, so timeouts fire on time.
  size_t poll(int timeout_ms, ArbiterOutput& out);
  // The same, on the owner's monotonic clock: now_ns (read before the call) times everything this
  // poll handles, instead of std::chrono::steady_clock read after the wait.
  size_t poll(int timeout_ms, uint64_t now_ns, ArbiterOutput& out);

  // Sends `ack SEQ` on the follow socket (non-blocking). False when there is no follow socket or
  // ZeroMQ would not take it (the next ack covers it).
  bool send_ack(uint64_t seq);

  // When a recovery reply (any service, or the follow socket) last parsed, on poll's clock; 0:
  // never.
  uint64_t last_reply_ns() const { return last_reply_ns_; }
  // The highest epoch any valid batch (arbiter) or reply header carried.
  uint32_t highest_epoch_heard() const {
    return std::max(arbiter_.highest_epoch_seen(), highest_reply_epoch_);
  }

  // The snapshot loaded by the last poll() that loaded one, once; nullopt otherwise.
  std::optional<SnapshotImage> take_snapshot();

  // The ZMQ_FD of every socket, for an event loop that waits on them (edge-triggered: readable
  // means "call poll()"; call poll(0) until it handles nothing before waiting again).
  std::vector<int> file_descriptors() const;

  // The arbiter, e.g. to reset() it at a known position before the first poll().
  Arbiter& arbiter() { return arbiter_; }
  const Arbiter& arbiter() const { return arbiter_; }
  const SubscriberCounters& counters() const { return counters_; }

 private:
  size_t poll_at(int timeout_ms, const uint64_t* given_now_ns, ArbiterOutput& out);
  void receive_line(size_t line, uint64_t now_ns, ArbiterOutput& out);
  void receive_replies(size_t service, uint64_t now_ns, ArbiterOutput& out);
  // Reads one multipart reply into parts_/part_spans_; false when none is waiting.
  bool receive_reply(zmq::socket_t& socket);
  void receive_follow(uint64_t now_ns, ArbiterOutput& out);
  void keep_following(uint64_t now_ns);
  void connect_follow();
  void handle_snapshot(size_t service, const recovery::ReplyHeader& header, uint64_t now_ns,
                       ArbiterOutput& out);
  void send_requests(size_t first_action, const ArbiterOutput& out);
  // Makes `socket` a CURVE client of `url` and watches its handshakes, when CURVE is on.
  void secure(zmq::socket_t& socket, const std::string& url);
  void count_handshake_failures(uint64_t now_ns);
  // Connects again every line silent for silent_line_reconnect_ns (see SubscriberConfig).
  void reconnect_silent_lines(uint64_t now_ns);
  // A request to a recovery service timed out: its DEALER is connected again, so a link ZeroMQ
  // dropped for good (an oversized reply is a protocol error it never reconnects after) comes
  // back; a late reply to the timed-out request is lost with the old connection, as wanted.
  void reconnect_timed_out_services(std::span<const ArbiterNotice> notices);
  static void reconnect(zmq::socket_t& socket, const std::string& url);

  SubscriberConfig config_;
  Arbiter arbiter_;
  std::vector<zmq::socket_t> lines_;
  std::vector<zmq::socket_t> services_;
  std::vector<uint64_t> line_connected_ns_;  // per line: when it was last (re)connected; 0: not yet
  zmq::context_t& context_;
  std::optional<zmq::socket_t> follow_;  // when follow_url is set
  bool follow_outstanding_ = false;
  uint64_t follow_sent_ns_ = 0;
  std::vector<zmq::pollitem_t> items_;  // lines first, then services, then follow
  std::vector<zmq::message_t> parts_;   // the reply being handled (header, then the rest)
  std::vector<std::span<const uint8_t>> part_spans_;
  std::optional<SnapshotImage> snapshot_;
  SubscriberCounters counters_;
  ArbiterNoticeLog notice_log_;
  LogLimiter error_log_;
  LogLimiter superseded_log_;
  uint64_t last_reply_ns_ = 0;
  uint32_t highest_reply_epoch_ = 0;
  // With CURVE: one per socket (lines, services), with the URL it watches; the follow socket's
  // apart (replaced with it).
  std::vector<std::pair<curve::HandshakeWatch, std::string>> watches_;
  std::optional<curve::HandshakeWatch> follow_watch_;
  LogLimiter handshake_log_;
};

}  // namespace oddsbus::edge
