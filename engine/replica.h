// The secondary's replication (DESIGN section 4): consumes the primary's stream exactly like an
// edge (edge/arbiter.h: both of the primary's outputs, its PUB socket and a long poll on its
// recovery service, arbitrated by seq; gaps recovered by range requests), journals identical
// frames (same seq, epoch and bytes; batch boundaries may differ), applies them to the node's
// sequencer state so a takeover starts warm, and republishes them on the node's own PUB socket so
// edges can listen to both nodes (hot-hot).
//
// In sync replication it acknowledges every journaled seq to the primary (`ack SEQ`), and the
// primary publishes only what was acknowledged; the long poll is then how the frames arrive.
// Its range requests (the long poll and gap fills) are marked `replica`: the primary serves
// everyone else only up to the acknowledged seq, and the secondary must fetch past it to ack.
// When the primary's history turns out to have diverged from what this node journaled (a higher
// epoch that started at or below its last seq), the lost frames are set aside in the journal
// directory (set-aside/epoch-E-from-S.batches, never deleted) and the sequencer is rebuilt.
//
// The ZeroMQ side is the edge's subscriber shell (edge/subscriber.h) with its follow long poll and
// `replica` requests; this class only journals, republishes and acknowledges what it delivers.
//
// Thread safety: owned by the node's sequencer thread; one do_work() at a time.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "edge/arbiter.h"
#include "edge/subscriber.h"
#include "engine/clocks.h"
#include "engine/journal.h"
#include "engine/publisher.h"
#include "engine/sequencer.h"

namespace oddsbus::engine {

struct ReplicaConfig {
  std::string peer_pub;       // the primary's PUB endpoint
  std::string peer_recovery;  // the primary's recovery (ROUTER) endpoint
  bool sync_acks = false;     // acknowledge journaled seqs (sync replication)
  uint32_t long_poll_ms = 100;
  uint64_t heartbeat_interval_ns = 200'000'000;
  // CURVE client keys for peer_pub and peer_recovery (schemas/curve_link.h); null: in the clear.
  std::shared_ptr<const curve::CurveClient> curve;
};

struct ReplicaCounters {
  uint64_t frames = 0;       // frames journaled
  uint64_t batches = 0;      // journal records written
  uint64_t divergences = 0;  // times frames were set aside
  uint64_t frames_set_aside = 0;
  uint64_t bad_replies = 0;
};

class Replica {
 public:
  // Connects to the primary (connecting never fails for lack of a peer: ZeroMQ retries).
  // `sequencer` must reflect `journal` and is rebuilt in place after a divergence.
  Replica(zmq::context_t& context, Journal& journal, Sequencer& sequencer, BatchSink* republish,
          const ReplicaConfig& config);

  // Waits up to timeout_ms for anything from the primary; journals and republishes what arrived
  // in order. Returns the frames journaled, or the journal error that stops the node. Timeouts
  // run on clocks.monotonic_ns; the heartbeats it republishes are stamped with clocks.wall_ns.
  std::expected<size_t, std::string> do_work(const Clocks& clocks, int timeout_ms);

  // When a sequencing primary was last heard from, on the monotonic clock (0: never): a new frame
  // (on its stream or in a reply), or a heartbeat not marked relayed. A secondary's republished
  // heartbeats and a recovery service's empty replies do not count: two secondaries must never
  // keep each other from taking over (issue 11, simulator finding F1).
  uint64_t last_heard_ns() const;
  // The (epoch, last seq) the primary's last heartbeat stated ((0, 0): none yet).
  uint32_t primary_epoch() const { return subscriber_.arbiter().sequencer_epoch(); }
  uint64_t primary_last_seq() const { return subscriber_.arbiter().sequencer_last_seq(); }
  // The highest epoch any frame or reply from the primary carried.
  uint32_t highest_epoch_heard() const { return subscriber_.highest_epoch_heard(); }
  const ReplicaCounters& counters() const { return counters_; }
  const edge::ArbiterCounters& arbiter_counters() const { return subscriber_.arbiter().counters(); }
  const edge::SubscriberCounters& subscriber_counters() const { return subscriber_.counters(); }

 private:
  std::expected<void, std::string> handle_output(uint64_t now_ns);
  std::expected<void, std::string> store(uint64_t now_ns);

  Journal& journal_;
  Sequencer& sequencer_;
  BatchSink* republish_;
  ReplicaConfig config_;
  edge::Subscriber subscriber_;  // the primary's PUB (line 0), its recovery service, the long poll
  edge::ArbiterOutput out_;
  BatchWriter batch_;
  BatchWriter heartbeat_batch_{4096};
  uint64_t last_publish_ns_ = 0;
  ReplicaCounters counters_;
};

// Watches the peer's PUB socket from a primary, to notice a higher epoch at once (fencing).
// Thread safety: owned by the sequencer thread.
class PeerWatch {
 public:
  // `curve`: CURVE client keys covering peer_pub, or null for the clear.
  PeerWatch(zmq::context_t& context, const std::string& peer_pub,
            const curve::CurveClient* curve = nullptr);
  // Reads whatever arrived (never blocks); returns the highest epoch seen in valid batches.
  uint32_t poll();

 private:
  zmq::socket_t sub_;
  BatchReader reader_;
  uint32_t highest_epoch_ = 0;
};

// Asks the recovery service at `url` for its status, waiting up to timeout_ms. `curve`: CURVE
// client keys covering `url`, or null for the clear.
std::expected<recovery::ReplyHeader, std::string> probe_status(
    zmq::context_t& context, const std::string& url, int timeout_ms,
    const curve::CurveClient* curve = nullptr);

}  // namespace oddsbus::engine
