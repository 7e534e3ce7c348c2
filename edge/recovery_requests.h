// Routing of the arbiter's recovery requests (edge/arbiter.h) over the recovery services it may
// ask: which service the next request goes to, when it may go, and when an outstanding one has
// waited too long.
//
// Rules:
//  - At most one request is outstanding. send() records it; settle() ends it (an answer came).
//  - An outstanding request not answered within request_timeout expires: the next service (in
//    rotation) is asked at once.
//  - `busy` retries the same service after the time it gave; `error`, `gone` and a snapshot that
//    did not decode move on to the next service; hold_until() backs off (nothing there yet).
//  - No request goes before ready_at (the backoff), whatever the arbiter wants.
//
// Invariants: service() < services whenever services > 0; outstanding().active only between a
// send() and its settle(), expire() or cancel().
// Thread safety: none; owned by the arbiter's thread. Performs no I/O; time comes in as now_ns.
#pragma once

#include <cstddef>
#include <cstdint>

namespace oddsbus::edge {

enum class RecoveryRequestKind : uint8_t {
  kRange,     // frames the lines did not deliver
  kProbe,     // kTruncate mode: frames that show where a diverged history parted
  kSnapshot,  // kSnapshot mode: an image to start or resynchronise from
};

struct RecoveryRequest {
  bool active = false;
  RecoveryRequestKind kind = RecoveryRequestKind::kRange;
  size_t service = 0;
  uint64_t from = 0;
  uint64_t to = 0;
  uint64_t sent_ns = 0;
};

class RecoveryRequests {
 public:
  RecoveryRequests(size_t services, uint64_t request_timeout_ns);

  size_t services() const { return services_; }
  const RecoveryRequest& outstanding() const { return request_; }
  // True when the outstanding request went to `service` (a reply from it answers it).
  bool awaits(size_t service) const { return request_.active && request_.service == service; }
  // True when the outstanding request is a range or probe to `service` starting at `from`.
  bool awaits_range(size_t service, uint64_t from) const {
    return awaits(service) && request_.kind != RecoveryRequestKind::kSnapshot &&
           request_.from == from;
  }

  // Records a request to service() sent at now_ns; returns it.
  const RecoveryRequest& send(RecoveryRequestKind kind, uint64_t from, uint64_t to,
                              uint64_t now_ns);
  // The outstanding request was answered (or is no longer wanted).
  void settle() { request_.active = false; }
  // Ends the outstanding request when it is of `kind`.
  void cancel(RecoveryRequestKind kind) {
    if (request_.active && request_.kind == kind) request_.active = false;
  }
  // When the outstanding request has waited request_timeout at now_ns: ends it, turns to the next
  // service, and allows a request at once. Returns true then.
  bool expire(uint64_t now_ns);

  // `busy`: the same service again, not before at_ns.
  void retry_at(size_t service, uint64_t at_ns);
  // The next service after `service`, not before at_ns.
  void move_on(size_t service, uint64_t at_ns);
  // No request before at_ns.
  void hold_until(uint64_t at_ns) { ready_at_ns_ = at_ns; }
  bool ready(uint64_t now_ns) const { return now_ns >= ready_at_ns_; }

  // The service the next request goes to.
  size_t service() const { return service_; }
  size_t next_service(size_t service) const;
  uint64_t request_timeout_ns() const { return request_timeout_ns_; }

  // Forgets the outstanding request and any backoff (the service rotation stays).
  void reset();

 private:
  size_t services_;
  uint64_t request_timeout_ns_;
  RecoveryRequest request_;
  size_t service_ = 0;        // the service the next request goes to
  uint64_t ready_at_ns_ = 0;  // no request before this (busy, backoff)
};

}  // namespace oddsbus::edge
