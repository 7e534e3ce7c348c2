// Arbitration and gap recovery for a subscriber of several publishers (DESIGN sections 4 and 5):
// the core an edge and a replicating secondary share.
//
// Fed the batches each line delivers (one line per publisher's PUB socket) and the replies of
// recovery services, it delivers every frame exactly once in seq order, and says what to ask a
// recovery service for. Rules:
//  - Position: (epoch, last_seq, epoch_start). The frame at last_seq + 1 is delivered; frames at or
//    below last_seq are duplicates (counted); later frames wait in a reorder buffer bounded by
//    frames and bytes (past the bound the newest are dropped, counted, and recovered later).
//  - A gap (a frame past last_seq + 1, or a heartbeat saying the publisher has more) not filled by
//    another line within gap_timeout becomes a range request to a recovery service, capped at
//    max_range frames; a service that does not answer within request_timeout is replaced by the
//    next one (`busy` waits retry_ms and asks the same one; `error` moves to the next one). A
//    `gone` reply means a snapshot (in kSnapshot mode) or is reported (kTruncate mode, where the
//    journal must hold every frame). One request is outstanding at a time.
//  - Epochs: an EpochChange frame of a higher epoch at seq S moves the position to that epoch when
//    S == last_seq + 1. When S <= last_seq the frames S..last_seq this subscriber delivered belong
//    to a history that lost: in kTruncate mode it says kDiverged{from = S} (the owner moves its
//    frames from S on aside) and delivers the new history from S; in kSnapshot mode it asks for a
//    snapshot and delivers nothing until one is loaded. Where an epoch started is also learned
//    from heartbeats (epoch_start) and range replies (EPOCH EPOCH_START), so divergence is found
//    when the EpochChange frame itself was missed. A frame of a higher epoch whose EpochChange was
//    not seen waits until a heartbeat or range reply says where that epoch started. Frames of a
//    lower epoch at or past the start of a later epoch are fenced (dropped, counted).
//    Every EpochChange names the history it continued (previous_epoch, previous_start) and the
//    arbiter keeps the chain of epochs it delivered, so a new epoch that continued an epoch
//    before ours (two takeovers at the same seq, issue 12) is found to have lost ours from its
//    start, and a truncation there returns the position to the epoch ours continued.
//  - Epoch numbers rise by one per takeover: an epoch start learned from a heartbeat or reply
//    locates the divergence exactly only for epoch() + 1. Otherwise (two takeovers missed)
//    kTruncate mode probes: it asks for the range from epoch_start() + 1 and truncates at the first
//    frame of a higher epoch it is given.
//  - Start: reset() at a known position (a secondary's journal; kTruncate mode starts at
//    (epoch 1, last_seq 0, epoch_start 1) without it), or, in kSnapshot mode, a snapshot first;
//    live frames that arrive meanwhile wait in the reorder buffer.
//
//  - Mode: one of ArbiterMode (waiting for the first snapshot, live, probing for a divergence
//    point, resynchronising by snapshot). Every change goes through one transition function and
//    is reported as a kModeChange notice.
//
// Parts, each in its own file: the reorder buffer (edge/reorder_buffer.h), the routing of
// recovery requests over the services (edge/recovery_requests.h) and what is known of epochs
// ahead of the position (edge/epoch_tracker.h). The Arbiter composes them.
//
// Sans-I/O: time comes in as now_ns, requests go out as actions, and what an operator should hear
// of goes out as notices (the shell logs them, rate-limited); no sockets, clock, logging or
// threads.
// Not thread-safe: owned by one subscriber thread. Memory is bounded by the reorder buffer's
// limits (plus the output of one call: at most the frames of one batch or one reply, and those
// the reorder buffer released).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "edge/epoch_tracker.h"
#include "edge/recovery_requests.h"
#include "edge/reorder_buffer.h"
#include "schemas/batch.h"
#include "schemas/recovery_protocol.h"

namespace oddsbus::edge {

enum class ResyncMode : uint8_t {
  kSnapshot,  // an edge: start from a snapshot; resynchronise from one when history diverges
  kTruncate,  // a secondary: its journal holds every frame; divergence truncates, never snapshots
};

// What the arbiter is doing. Gaps are recovered within kLive (by range requests); the other modes
// deliver nothing until they end.
enum class ArbiterMode : uint8_t {
  kAwaitingSnapshot,  // kSnapshot: never positioned; asks for the first snapshot
  kLive,              // positioned: delivers in seq order, recovers gaps by range requests
  kProbing,           // kTruncate: delivered history lost to a higher epoch; probing for where
  kResyncing,         // kSnapshot: delivered history lost (or a range gone); asks for a snapshot
};

std::string_view mode_name(ArbiterMode mode);

struct ArbiterConfig {
  ResyncMode mode = ResyncMode::kSnapshot;
  size_t recovery_services = 1;                 // how many services the owner can ask (0: none)
  uint64_t gap_timeout_ns = 20'000'000;         // wait this long for another line before asking
  uint64_t request_timeout_ns = 1'000'000'000;  // then try the next service
  uint64_t max_range = 65536;                   // frames per range request
  size_t reorder_max_frames = 262144;
  size_t reorder_max_bytes = size_t{64} << 20;
  // test-only: planted bug for the simulator's self-check; never set in production. A frame past
  // last_seq + 1 (of the current epoch, while kLive) is delivered at once instead of waiting in
  // the reorder buffer: the stream jumps the gap.
  bool planted_skip_reorder = false;
};

struct ArbiterCounters {
  uint64_t delivered = 0;       // frames delivered in order
  uint64_t duplicates = 0;      // frames at or below the position (the other line's copies)
  uint64_t reordered = 0;       // frames that waited in the reorder buffer
  uint64_t overflow_drops = 0;  // frames dropped because the reorder buffer was full
  uint64_t fenced = 0;          // frames of a lower epoch past the current epoch's start
  uint64_t gaps = 0;            // gaps detected
  uint64_t range_requests = 0;
  uint64_t request_timeouts = 0;
  uint64_t snapshots = 0;        // snapshots requested
  uint64_t divergences = 0;      // times delivered history lost to a higher epoch
  uint64_t corrupt_batches = 0;  // batches that failed the checks (nothing of them used)
  uint64_t heartbeats = 0;
  uint64_t epoch_changes = 0;
  uint64_t busy_replies = 0;          // `busy`: asked the same service again after retry_ms
  uint64_t gone_replies = 0;          // `gone`: the range was no longer held
  uint64_t error_replies = 0;         // `error`: asked the next service
  uint64_t stale_replies = 0;         // replies to no outstanding request (frames still used)
  uint64_t unexpected_replies = 0;    // status or snapshot headers given to on_reply (ignored)
  uint64_t snapshot_failures = 0;     // on_snapshot_failed: asked the next service
  uint64_t superseded_snapshots = 0;  // on_snapshot_superseded: refused, the next service asked
  uint64_t probes = 0;                // kTruncate: range requests that look for a divergence point
  uint64_t unresolved_probes = 0;     // probes that found no frame of a higher epoch
};

struct ArbiterAction {
  enum class Kind : uint8_t {
    kRequestRange,     // send `range from to` to recovery service `service`
    kRequestSnapshot,  // send `snapshot` to recovery service `service`
    kDiverged,         // kTruncate: frames from `from` on that were delivered lost; set them aside
    kRangeGone,        // kTruncate: service `service` no longer holds `from`; nothing to do but log
  };
  Kind kind;
  size_t service = 0;
  uint64_t from = 0;
  uint64_t to = 0;
};

// Something an operator should hear of (the arbiter does not log: its shell does, rate-limited).
// Only the fields a kind names are set.
struct ArbiterNotice {
  enum class Kind : uint8_t {
    kModeChange,       // from_mode -> to_mode
    kCorruptBatch,     // line `source` sent a batch failing `error` at `seq`; ignored
    kEpochChange,      // the stream moved from `epoch` to `new_epoch` at `seq`
    kSnapshotLoaded,   // positioned at `seq` in `new_epoch` (which began at `to`)
    kDivergence,       // frames of `epoch` up to `seq` that were delivered lost to a higher epoch
    kTruncated,        // kTruncate: frames `seq`..`to` of `epoch` taken back (kDiverged)
    kProbeFound,       // kTruncate: a probe found the divergence at `seq`
    kProbeUnresolved,  // service `source` showed no divergence point between `seq` and `to`
    kRangeGone,        // service `source` no longer holds `seq` (its oldest is `to`)
    kServiceError,     // service `source` answered `error`; the next one is asked
    kRequestTimeout,   // service `source` did not answer within request_timeout
    kFenced,           // `count` frames of a deposed epoch dropped by this call
    kOverflow,         // `count` frames dropped by this call because the reorder buffer was full
  };
  Kind kind;
  size_t source = 0;
  uint64_t seq = 0;
  uint64_t to = 0;
  uint64_t count = 0;
  uint32_t epoch = 0;
  uint32_t new_epoch = 0;
  ArbiterMode from_mode = ArbiterMode::kLive;
  ArbiterMode to_mode = ArbiterMode::kLive;
  BatchError error = BatchError::kTruncated;
};

// What calls produced. Each call appends; the owner handles the contents and clear()s it (clear()
// keeps the capacity). Actions come before frames: a kDiverged must be handled before the frames
// that follow it are stored (frames of the same call at or past its `from` are taken back out).
//
// Lifetime: the frames and bytes point into the arbiter's own output memory, which is reused by
// the next call that is given an `out` holding no frames. So: handle, clear(), call again; or
// append several calls' output to one `out` and handle it all before clearing it.
struct ArbiterOutput {
  std::vector<ArbiterAction> actions;
  std::vector<const fb::Frame*> frames;         // delivered, consecutive seqs, in order
  std::vector<std::span<const uint8_t>> bytes;  // each frame's bytes, e.g. to re-batch unchanged
  std::vector<ArbiterNotice> notices;           // in the order they happened
  void clear() {
    actions.clear();
    frames.clear();
    bytes.clear();
    notices.clear();
  }
};

class Arbiter {
 public:
  explicit Arbiter(const ArbiterConfig& config);

  // Starts at a known position: frames continue at last_seq + 1 in `epoch` (the epoch of the
  // history held, begun at epoch_start), after the epochs in `ancestors` (oldest first; as many
  // as the owner knows, none is fine: divergences before epoch_start are then found by bound and
  // refinement rather than at once). A mode change it makes is reported in the next call's
  // notices.
  void reset(uint64_t last_seq, uint32_t epoch, uint64_t epoch_start,
             std::span<const EpochLink> ancestors = {});

  // A batch from a publisher line (bytes as received). Corrupt batches are counted and ignored.
  void on_batch(size_t line, std::span<const uint8_t> bytes, uint64_t now_ns, ArbiterOutput& out);

  // A recovery service's reply: its header and the batches that followed it (range replies; the
  // other kinds carry none). Snapshot replies are not given here: the owner decodes the chunks
  // and calls on_snapshot_loaded, or on_snapshot_failed when they do not decode.
  void on_reply(size_t service, const recovery::ReplyHeader& header,
                std::span<const std::span<const uint8_t>> batches, uint64_t now_ns,
                ArbiterOutput& out);

  // kSnapshot mode: the owner loaded the snapshot it asked for (seq, epoch, epoch_start); frames
  // after it that waited are delivered.
  // Also valid unasked (the owner loaded one from elsewhere): it becomes the position.
  void on_snapshot_loaded(uint64_t seq, uint32_t epoch, uint64_t epoch_start, uint64_t now_ns,
                          ArbiterOutput& out);

  // kSnapshot mode: service `service` answered the snapshot request with chunks that did not
  // decode; the next service is asked.
  void on_snapshot_failed(size_t service, uint64_t now_ns, ArbiterOutput& out);

  // kSnapshot mode: true when a snapshot at (seq, epoch, epoch_start) holds a history that an
  // epoch already heard of replaced (the same rule as a divergence of the position): installing
  // it would only be followed by another snapshot request, and while a deposed publisher still
  // answers (a partition between the engines) the edge would re-image every client in a loop.
  // The owner refuses it: on_snapshot_superseded().
  bool snapshot_superseded(uint64_t seq, uint32_t epoch, uint64_t epoch_start) const;
  // The owner refused service `service`'s snapshot as superseded: the next service is asked
  // after gap_timeout (not at once: when every service is deposed, asking again is all there is).
  void on_snapshot_superseded(size_t service, uint64_t now_ns, ArbiterOutput& out);

  // Time passed: gap timeouts, request timeouts, the first snapshot request.
  void on_tick(uint64_t now_ns, ArbiterOutput& out);

  ArbiterMode mode() const { return mode_; }
  uint64_t last_seq() const;
  uint32_t epoch() const;
  uint64_t epoch_start() const;
  // The highest seq any publisher said it has (frames, heartbeats, replies).
  uint64_t newest_seq() const;
  // The highest epoch of any frame in a batch that passed the checks (lines and range replies,
  // duplicates and fenced frames included; heartbeats too); 0: none yet.
  uint32_t highest_epoch_seen() const { return highest_epoch_seen_; }
  // True once positioned (reset, or a snapshot loaded) and not waiting for a snapshot: kLive or
  // kProbing.
  bool positioned() const;
  // ns when a line last delivered anything valid (frame or heartbeat), 0 if never; per line.
  uint64_t last_heard_ns(size_t line) const;
  // ns when any line last delivered a heartbeat or a new frame of the newest epoch heard of: a
  // publisher that is not fenced (a deposed node's heartbeats and duplicates do not count).
  uint64_t last_live_ns() const;
  // Like last_live_ns(), counting only a publisher that sequences: new frames, and heartbeats not
  // marked relayed (a secondary's republished heartbeats say nothing of a live primary). A
  // secondary's failover watches this one.
  uint64_t last_sequencer_ns() const { return last_sequencer_ns_; }
  // The (epoch, last seq) the last unrelayed heartbeat stated (0, 0: none yet).
  uint32_t sequencer_epoch() const { return sequencer_epoch_; }
  uint64_t sequencer_last_seq() const { return sequencer_last_seq_; }
  // ns since when a gap has been waiting to be filled (0: none). Lines filling it move it on.
  uint64_t gap_open_since_ns() const;
  const ArbiterCounters& counters() const;

 private:
  enum class Verdict : uint8_t { kDeliver, kFence, kDiverged };

  // The one place the mode changes; reports it (to `out`, or to the next call when null).
  void transition(ArbiterMode to, ArbiterOutput* out);
  void notify(const ArbiterNotice& notice, ArbiterOutput* out);
  StreamPosition position() const;

  void begin_call(ArbiterOutput& out);
  void end_call(uint64_t now_ns, ArbiterOutput& out);
  void offer(const fb::Frame& frame, std::span<const uint8_t> bytes, uint64_t now_ns,
             ArbiterOutput& out);
  void on_heartbeat(const fb::Frame& frame, uint64_t now_ns, ArbiterOutput& out);
  void on_range(size_t service, const recovery::ReplyHeader& header,
                std::span<const std::span<const uint8_t>> batches, uint64_t now_ns,
                ArbiterOutput& out);
  Verdict judge_head(const fb::Frame& frame, ArbiterOutput& out);
  void deliver(const fb::Frame& frame, std::span<const uint8_t> bytes, ArbiterOutput& out);
  void drain(uint64_t now_ns, ArbiterOutput& out);
  void store(const fb::Frame& frame, std::span<const uint8_t> bytes);
  void learn_epoch(uint32_t epoch, uint64_t start, uint32_t previous, uint64_t previous_start);
  void check_divergence(uint64_t now_ns, ArbiterOutput& out);
  void diverged(uint64_t now_ns, ArbiterOutput& out);
  void truncate(uint64_t from, ArbiterOutput& out);
  void want_snapshot(ArbiterOutput& out);
  // `continues`: the new epoch continues the current one (which becomes an ancestor).
  void position_at(uint64_t last_seq, uint32_t epoch, uint64_t epoch_start, ArbiterOutput* out,
                   bool continues = false);
  void update_gap(uint64_t now_ns);
  uint64_t gap_end() const;
  void service_recovery(uint64_t now_ns, ArbiterOutput& out);
  void send(RecoveryRequestKind kind, uint64_t from, uint64_t to, uint64_t now_ns,
            ArbiterOutput& out);
  std::span<uint8_t> output_bytes(size_t size);

  ArbiterConfig config_;
  ArbiterCounters counters_;
  BatchReader reader_;

  ArbiterMode mode_ = ArbiterMode::kAwaitingSnapshot;
  uint64_t last_seq_ = 0;
  uint32_t epoch_ = 0;
  uint64_t epoch_start_ = 1;
  // The delivered history's epochs before epoch_, oldest first (at most kMaxAncestors): a
  // truncation at or before epoch_start_ returns the position to the epoch it continued.
  static constexpr size_t kMaxAncestors = 16;
  std::vector<EpochLink> ancestors_;
  EpochTracker epochs_;
  ReorderBuffer buffer_;
  RecoveryRequests requests_;

  bool gap_ = false;
  uint64_t gap_since_ns_ = 0;
  uint64_t call_start_seq_ = 0;
  uint64_t call_start_fenced_ = 0;
  uint64_t call_start_overflow_ = 0;
  bool ask_now_ = false;     // a capped range reply: ask for the rest without waiting gap_timeout
  uint64_t probe_from_ = 0;  // kProbing: the next seq to ask about
  uint64_t accept_at_ = 0;   // a probe's truncation point: the frame there starts the new history

  std::vector<uint64_t> last_heard_ns_;
  uint64_t last_live_ns_ = 0;
  uint64_t last_sequencer_ns_ = 0;
  uint32_t sequencer_epoch_ = 0;
  uint64_t sequencer_last_seq_ = 0;
  uint32_t highest_epoch_seen_ = 0;

  std::vector<std::vector<uint64_t>> output_blocks_;  // delivered frames' copies
  size_t output_block_ = 0;
  size_t output_used_ = 0;  // words used in output_blocks_[output_block_]

  std::vector<ArbiterNotice> pending_notices_;  // made outside a call (reset)
};

}  // namespace oddsbus::edge
