// `odds-replay republish` (DESIGN section 10, issue 13): serves a journal as a publisher, so a real
// odds-edge (or any subscriber) can be run against an incident. It publishes the journal's batches
// byte for byte on a ZeroMQ PUB socket, as the node's publisher did (engine/publisher.h), paced by
// their stamps scaled by a speed (engine/republish_pacing.h); sends heartbeats while quiet; and
// runs the node's own recovery server (engine/recovery_server.h) on the journal, so a subscriber
// that joins late or misses frames recovers them by snapshot and range requests exactly as it
// would from the node.
//
// What a subscriber may see follows what was published: the recovery server is limited to the last
// seq published (RecoveryServer::limit_to, as the sync gate limits a primary's), so a snapshot or
// range never runs ahead of the republished stream. Before the first batch, the frames before
// --from-seq count as published: a subscriber joining then starts from a snapshot at from-1.
//
// Whole batches: the journal's records are the batches the node published, and they are sent
// unchanged, so --from-seq is rounded down to the first seq of the record holding it, and
// --to-seq up to the last seq of the record holding it (range() says what was chosen). Without
// --to-seq the range ends at the journal's last seq when start() ran (a live journal grows on).
//
// Heartbeats (schemas/frame.fbs Heartbeat) state the last seq published, its epoch and the seq at
// which that epoch began, and are marked `relayed`: a republisher never sequences, so a
// secondary that hears it never takes it for a live primary (edge/arbiter.h).
//
// Threads: start(), publish() and serve() from one thread (the owner's); the recovery server runs
// on its own thread ("recovery") from start() until the destructor. The journal must outlive this
// object; only its read side is used.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "engine/journal.h"
#include "engine/publisher.h"
#include "engine/read_progress.h"
#include "engine/recovery_server.h"
#include "engine/republish_pacing.h"
#include "schemas/batch.h"
#include "schemas/frame_builder.h"

namespace oddsbus::engine {

struct RepublishConfig {
  std::string pub_url;       // bound; tcp://HOST:* picks a free port (pub_endpoint())
  std::string recovery_url;  // bound likewise (recovery_endpoint())
  uint64_t from_seq = 1;
  uint64_t to_seq = UINT64_MAX;  // UINT64_MAX: the journal's last seq at start()
  RepublishSpeed speed;
  uint64_t heartbeat_interval_ns = 200'000'000;  // the node's default (engine/node.h)
  // CURVE (schemas/curve_link.h): the secret key file and the allow list of the PUB and recovery
  // sockets; both empty: in the clear.
  std::string curve_key;
  std::string curve_allow;
};

struct RepublishRange {
  uint64_t from_seq = 0;  // the first seq of the first record published
  uint64_t to_seq = 0;    // the last seq of the last record published
};

struct RepublishSummary {
  uint64_t batches = 0;
  uint64_t frames = 0;
  uint64_t heartbeats = 0;
  uint64_t last_seq = 0;  // the last seq published
};

class JournalRepublisher {
 public:
  JournalRepublisher(const Journal& journal, RepublishConfig config);
  ~JournalRepublisher();  // stops and joins the recovery thread
  JournalRepublisher(const JournalRepublisher&) = delete;
  JournalRepublisher& operator=(const JournalRepublisher&) = delete;

  // Chooses the range, learns the epoch in force before it, binds both sockets and starts the
  // recovery thread. A one-line reason on failure (an empty journal, a range it does not hold,
  // an endpoint that cannot be bound, a damaged frame before the range). Call once.
  std::expected<void, std::string> start();

  // Publishes the range paced by the speed (heartbeats in the quiet between batches), and returns
  // when the whole range was published, or early when `stop` is set (checked at least every
  // 50 ms). Fails, naming the seq, on a record that does not verify or does not continue the
  // last one (the journal was damaged, or rewritten by fencing meanwhile). `progress` hears each
  // batch's last seq against the range's last seq.
  std::expected<RepublishSummary, std::string> publish(const std::atomic<bool>& stop,
                                                       const ReadProgress& progress = {});

  // Keeps sending heartbeats (recovery keeps being served) until `stop` is set.
  void serve(const std::atomic<bool>& stop);

  const RepublishRange& range() const { return range_; }
  const std::string& pub_endpoint() const { return publisher_->endpoint(); }
  const std::string& recovery_endpoint() const { return recovery_->endpoint(); }
  const RepublishSummary& summary() const { return summary_; }

 private:
  // One journal record read ahead of its turn, with what publishing it makes the heartbeats say.
  struct Pending {
    std::vector<uint8_t> bytes;
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;
    uint64_t stamp_ns = 0;  // the last frame's sequencer stamp
    uint32_t epoch = 0;     // of the last frame
    uint64_t epoch_start = 0;
  };

  // Reads the records from `next_seq_` on, up to the range's end, into pending_ (bounded).
  std::expected<void, std::string> read_ahead();
  void heartbeat();
  // Sleeps until `due_ns` on the monotonic clock, heartbeating while quiet; false when stopped.
  bool wait_until(uint64_t due_ns, const std::atomic<bool>& stop);

  const Journal& journal_;
  const RepublishConfig config_;
  RepublishRange range_;
  RepublishSummary summary_;
  uint64_t next_seq_ = 1;         // the first seq not yet read ahead
  uint32_t epoch_ = 1;            // of the last frame published (or before the range)
  uint64_t epoch_start_ = 1;      // where that epoch began
  uint32_t node_ = 1;             // heartbeats' publisher: the journal's node
  uint64_t last_publish_ns_ = 0;  // monotonic
  std::vector<Pending> pending_;
  BatchReader reader_;
  FrameBuilder builder_;
  BatchWriter heartbeat_batch_{4096};

  zmq::context_t context_{1};
  std::unique_ptr<curve::CurveServer> curve_;  // stops its ZAP thread before the context closes
  std::unique_ptr<ZmqPublisher> publisher_;
  std::unique_ptr<RecoveryServer> recovery_;
  std::atomic<uint64_t> visible_seq_{0};
  std::atomic<bool> recovery_stop_{false};
  std::thread recovery_thread_;
};

}  // namespace oddsbus::engine
