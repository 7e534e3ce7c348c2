// One WebSocket client of the edge's stream (DESIGN sections 5 and 10), sans-I/O: what it
// subscribed to, the messages queued for it, and conflation when it falls behind.
//
// The transport (edge/ws_session) hands it what the client sent and asks it for the next message
// to write, one write at a time; the edge hands it every change it applies and a tick. It never
// blocks and never touches a socket; `now_ns` (steady clock) is its only clock.
//
// Invariants:
//  - Deltas are queued in seq order; an image supersedes every delta queued before it.
//  - Bounded: deltas are queued only while the queue holds at most max_queue_bytes and nothing has
//    waited in it longer than max_queue_delay (so a client is never served prices seconds old
//    while newer ones exist). Past either bound the
//    stream conflates: queued deltas not yet being written are dropped, the markets they and
//    later changes touched are remembered, and once the queue has drained one delta flagged
//    "conflated" gives those markets' current values at the current seq. Memory per client is
//    thus about max_queue_bytes + one image + the set of markets touched meanwhile.
//  - A client that does not read at all (one write stuck for write_stall_timeout), or that sends
//    requests faster than it reads the answers (replies, or images it asked for: an image
//    superseded before it was written still cost its render), gets a close verdict (1008 and a
//    reason); the
//    transport closes the connection. One slow client never holds up any other.
//  - A client subscribed to "all" sees strictly increasing delta seqs; folding the image and the
//    deltas in order gives the edge's state of its markets.
//  - With market rights (set_rights(), from the client's bearer token) nothing about a market the
//    rights do not grant is ever queued: a subscribe naming one is answered with an error and
//    subscribes to the rest; "all" and events mean every granted market (of those events).
//  - A client sending messages faster than max_messages_per_second (past a burst) gets a close
//    verdict (1008, counted as a flood): parsing and answering it never takes the serving thread
//    from the other clients for long.
//
// Not thread-safe: owned by the edge's serving thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "edge/client_request.h"
#include "edge/frame_change.h"
#include "edge/market_cache.h"
#include "edge/stream_audit_note.h"
#include "edge/stream_messages.h"

namespace oddsbus::edge {

struct ClientStreamConfig {
  size_t max_queue_bytes = size_t{1} << 20;        // past it, deltas are conflated
  uint64_t max_queue_delay_ns = 500'000'000;       // a delta waiting this long: conflate too
  uint64_t heartbeat_interval_ns = 1'000'000'000;  // a heartbeat after this long without a message
  uint64_t write_stall_timeout_ns = 10'000'000'000;  // one write stuck this long: disconnect
  uint64_t pause_threshold_ns = 1'000'000'000;  // ticks further apart: the edge itself was paused
  size_t max_subscribed_ids = 10000;            // market and event ids one client may name
  // Images asked for (subscribes) and not yet read past which the client is closed: each costs a
  // render of its markets, however small the request that asked for it.
  size_t max_unread_images = 8;
  // An image larger than this is sent in parts of about this size at most (0: always whole).
  size_t max_image_part_bytes = size_t{1} << 20;
  // Keep audit notices (audit_notes()) of what the client subscribed to and was shown.
  bool audit = false;
  // Client messages: a token bucket of this many a second, holding at most message_burst.
  double max_messages_per_second = 100;
  double message_burst = 500;
};

// Totals over every client, kept by the edge (the streams add to them).
struct StreamTotals {
  uint64_t messages_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t deltas_sent = 0;
  uint64_t images_sent = 0;
  uint64_t conflations = 0;       // times a client fell behind and its deltas were conflated
  uint64_t conflated_deltas = 0;  // conflated deltas sent
  uint64_t heartbeats_sent = 0;
  uint64_t bad_requests = 0;          // client messages refused (answered with an error message)
  uint64_t resumes = 0;               // subscribes with resume_from that were honoured
  uint64_t resume_misses = 0;         // ... that got an image instead
  uint64_t slow_drops = 0;            // clients disconnected for not keeping up
  uint64_t floods = 0;                // clients disconnected for sending messages too fast
  uint64_t forbidden_subscribes = 0;  // subscribes naming markets beyond the client's rights
};

struct MarketRights;  // edge/client_tokens.h

struct CloseVerdict {
  uint16_t code = 1008;  // WebSocket close code
  std::string reason;
};

// Images rendered for one state, shared by every client that asks for the same markets (after a
// resync every client of "all" gets the same text, rendered once). An entry is reused only for the
// same state (install generation and seq), staleness, reason, subscription and wall-clock second
// (ages are whole milliseconds: within a second they may read up to that much younger).
// Holds at most kEntries images; owned by the serving thread with the cache.
// An image as the messages that carry it: one, or its parts in order.
using ImageParts = std::vector<std::shared_ptr<const std::string>>;

class ImageCache {
 public:
  static constexpr size_t kEntries = 8;
  // The image for `key` at this state, or nullptr (then the caller renders and put()s it).
  std::shared_ptr<const ImageParts> find(const std::string& key) const;
  void put(std::string key, std::shared_ptr<const ImageParts> parts);
  uint64_t hits() const { return hits_; }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const ImageParts> parts;
  };
  std::vector<Entry> entries_;
  size_t next_ = 0;
  mutable uint64_t hits_ = 0;
};

// What the stream needs to know about the edge at a call.
struct StreamContext {
  const MarketCache& cache;
  Freshness fresh;               // staleness and the wall clock, for served markets
  uint64_t now_ns = 0;           // steady clock
  ImageCache* images = nullptr;  // when given, identical images are rendered once
};

class ClientStream {
 public:
  ClientStream(const ClientStreamConfig& config, StreamTotals& totals, uint64_t now_ns);

  // Limits the client to `rights` (nullptr: every market), which must outlive the stream. Set
  // before the first message.
  void set_rights(const MarketRights* rights) { rights_ = rights; }

  // A text message from the client: subscribe, unsubscribe or ping; anything else is answered
  // with an error message and counted.
  void on_text(std::string_view text, ClientRequestParser& parser, const StreamContext& ctx);
  // The edge applied a frame that changed `change->markets` (called in seq order).
  void on_change(const std::shared_ptr<const FrameChange>& change, const StreamContext& ctx);
  // The edge replaced its state from a snapshot: a subscribed client gets a new image.
  void on_resync(const StreamContext& ctx);
  // The edge lost (true) or regained (false) its publishers.
  void on_stale(bool stale, const StreamContext& ctx);
  // Heartbeats, the stalled-write check, a pending conflated delta.
  void on_tick(const StreamContext& ctx);

  // The next message to write, marked in flight; nullptr when one is in flight or none waits.
  std::shared_ptr<const std::string> start_write(uint64_t now_ns);
  // The in-flight message was written.
  void on_written(const StreamContext& ctx);

  // Set once the client must be disconnected; the stream then queues nothing more.
  const std::optional<CloseVerdict>& close_verdict() const { return verdict_; }
  bool subscribed() const { return subscribed_; }
  bool conflating() const { return conflating_; }
  size_t queued_bytes() const { return queued_bytes_; }
  size_t queued_messages() const { return queue_.size(); }
  // With config.audit: the notices since the caller last cleared them, oldest first. One call
  // adds at most two (a subscription and its image or resume, a written message, the start of a
  // conflation), so a shell that clears them after every call keeps this small.
  std::vector<StreamAuditNote>& audit_notes() { return notes_; }

 private:
  enum class Kind : uint8_t { kDelta, kConflatedDelta, kImage, kControl };
  struct Queued {
    std::shared_ptr<const std::string> text;
    Kind kind = Kind::kControl;
    std::shared_ptr<const FrameChange> change;  // for kDelta: dropped and conflated if behind
    uint64_t seq = 0;        // images and deltas: the client's state is as of seq once written
    uint64_t queued_ns = 0;  // set by enqueue()
    bool image_end = true;   // kImage: the last part of its image
    // For the audit notices (config.audit):
    uint32_t epoch = 0;                        // images and deltas
    uint64_t subscription = 0;                 // the subscription it was rendered for
    std::optional<uint64_t> resumed_seq = {};  // a "resumed" message: the seq it acknowledged
    uint64_t held_seq = 0;  // kConflatedDelta: the client held every change up to this
    std::shared_ptr<const std::vector<uint64_t>> conflated_markets = {};  // kConflatedDelta
    std::string reason = {};                                              // kImage
  };

  // kLeft: the market moved out of an event the client follows (it is told "removed").
  enum class Match : uint8_t { kNone, kIn, kLeft };

  void subscribe(const ClientRequest& request, const StreamContext& ctx);
  void unsubscribe(const ClientRequest& request, const StreamContext& ctx);
  Match match(const MarketChange& market) const;
  bool wants(const MarketRecord& market) const;
  void offer_delta(const std::shared_ptr<const FrameChange>& change, const StreamContext& ctx);
  bool behind(size_t next_bytes, uint64_t now_ns) const;
  void start_conflating(const FrameChange* change, const StreamContext& ctx);
  uint64_t consistent_seq(const StreamContext& ctx) const;
  void flush_conflated(const StreamContext& ctx);
  void queue_image(std::string_view reason, const StreamContext& ctx);
  void drop_pending_deltas_and_images();
  void queue_control(std::string text, const StreamContext& ctx);
  void enqueue(Queued queued, uint64_t now_ns);
  void refuse(std::string_view error, const StreamContext& ctx);
  void close(std::string reason);
  bool permitted(uint64_t market) const;
  // Takes out of `request` what the rights do not grant, and tells the client; false when nothing
  // is left to subscribe to.
  bool within_rights(ClientRequest& request, const StreamContext& ctx);
  bool flooding(uint64_t now_ns);
  void note_subscription(StreamAuditNote::Kind kind, const ClientRequest& request,
                         const StreamContext& ctx);
  void note_written(const Queued& done, const StreamContext& ctx);

  ClientStreamConfig config_;
  StreamTotals& totals_;

  bool subscribed_ = false;
  bool all_ = false;
  std::vector<uint64_t> markets_;            // ascending
  std::vector<uint64_t> events_;             // ascending
  std::optional<std::string> image_wanted_;  // subscribed before the edge had a state: the reason

  std::deque<Queued> queue_;  // front is in flight when in_flight_
  size_t queued_bytes_ = 0;
  size_t control_bytes_ = 0;  // of queued_bytes_, replies and other control messages
  bool in_flight_ = false;
  uint64_t write_started_ns_ = 0;
  uint64_t last_queued_ns_ = 0;
  uint64_t last_tick_ns_ = 0;

  uint64_t written_seq_ = 0;  // seq of the last image or delta written
  bool conflating_ = false;
  uint64_t conflation_base_seq_ = 0;  // the client is consistent as of this until it is flushed
  std::set<uint64_t> dirty_;          // markets touched by dropped or unqueued deltas

  size_t requested_images_ = 0;  // images answering requests, queued since one was written

  std::optional<CloseVerdict> verdict_;
  const MarketRights* rights_ = nullptr;
  double message_tokens_;
  uint64_t message_refill_ns_;

  uint64_t subscription_ = 0;  // subscribes and unsubscribes accepted (audit)
  std::vector<StreamAuditNote> notes_;
};

}  // namespace oddsbus::edge
