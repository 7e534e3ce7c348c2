// One WebSocket session's records in the client audit log (issue 13, "What a client saw"): formats
// what its ClientStream noted (edge/stream_audit_note.h) as JSON lines and hands them to the log
// (edge/client_audit_log.h). `odds-replay client-view` (engine/client_view.h) reads them back.
//
// Records, one JSON object a line. Every record has "type" and "ts_ns" (wall clock, ns since the
// Unix epoch, when it happened: for messages, when the write to the client completed); session
// records have "session" (unique in the log: "RUN-N", RUN the edge's start in ms since the Unix
// epoch). "subscription" K numbers a session's subscribes and unsubscribes from 1; a message says
// which subscription it was rendered for.
//   {"type": "open", "ts_ns": T, "run": "RUN"}                          the edge started logging
//   {"type": "connect", "session": S, "ts_ns": T, "remote": "ADDR:PORT"}
//   {"type": "subscribe"|"unsubscribe", "session": S, "ts_ns": T, "subscription": K, "all": B,
//    "markets": [ID, ...], "events": [ID, ...]}  the subscription after the request; a subscribe
//    with resume_from adds "resume_from": N, "resume_epoch": E
//   {"type": "image", "session": S, "ts_ns": T, "seq": N, "epoch": E, "subscription": K,
//    "reason": R}                                  the client was shown the state at seq N
//   {"type": "resumed", "session": S, "ts_ns": T, "seq": N, "epoch": E, "subscription": K}
//                                                  the client holds its state at N (a resume)
//   {"type": "deltas", "session": S, "ts_ns": T0, "epoch": E, "subscription": K, "seqs": [N, ...],
//    "dt_ns": [D, ...]}                            delta N[i] was written at T0 + D[i]
//   {"type": "conflating", "session": S, "ts_ns": T, "held_seq": B, "dropped": D,
//    "subscription": K}       the client fell behind at seq B; D queued deltas after B dropped
//   {"type": "conflated", "session": S, "ts_ns": T, "seq": N, "epoch": E, "subscription": K,
//    "held_seq": B, "markets": [ID, ...]}  a conflated delta at N was written: those markets at
//                                          their values at N; the frames in (B, N) skipped
//   {"type": "disconnect", "session": S, "ts_ns": T, "reason": R}
//   {"type": "hole", "ts_ns": T, "dropped": D}    D lines were lost before this point
// Consecutive deltas of one epoch and subscription are batched into one "deltas" record (at most
// kMaxBatch; any other record of the session, flush_if_older() and close() write the batch
// first), so a busy client costs a few bytes per delta and one line per batch.
//
// Not thread-safe: owned by the session, on the edge's serving thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edge/client_audit_log.h"
#include "edge/stream_audit_note.h"

namespace oddsbus::edge {

class SessionAudit {
 public:
  static constexpr size_t kMaxBatch = 64;

  // Writes the "connect" record.
  SessionAudit(ClientAuditLog& log, std::string session, std::string_view remote, uint64_t wall_ns);
  void record(const StreamAuditNote& note);
  // Writes the batched deltas when the oldest was written more than `max_age_ns` before `wall_ns`.
  void flush_if_older(uint64_t wall_ns, uint64_t max_age_ns);
  // Writes the batched deltas and the "disconnect" record; later calls do nothing.
  void close(std::string_view reason, uint64_t wall_ns);
  const std::string& session() const { return session_; }

 private:
  void begin(std::string_view type, uint64_t wall_ns);
  void flush_deltas();
  void submit();

  ClientAuditLog& log_;
  const std::string session_;
  std::string line_;  // reused
  bool closed_ = false;
  // The batch of written deltas not yet recorded.
  uint64_t batch_start_ns_ = 0;
  uint32_t batch_epoch_ = 0;
  uint64_t batch_subscription_ = 0;
  std::vector<uint64_t> batch_seqs_;
  std::vector<uint64_t> batch_dt_ns_;
};

// "RUN-N" ids for the sessions of one edge run: RUN is when it started, in ms since the Unix
// epoch. Owned by the serving thread.
class SessionIds {
 public:
  explicit SessionIds(uint64_t start_wall_ns) : run_(std::to_string(start_wall_ns / 1'000'000)) {}
  std::string next() { return run_ + "-" + std::to_string(++count_); }
  const std::string& run() const { return run_; }

 private:
  std::string run_;
  uint64_t count_ = 0;
};

// The "open" record that starts an edge run's records.
std::string audit_open_record(const std::string& run, uint64_t wall_ns);

}  // namespace oddsbus::edge
