// The recovery service's long polls and acks (DESIGN section 4, schemas/recovery_protocol.h).
//
// Long polls: a range request whose FROM is past what its requester may be served, with WAIT_MS,
// is parked here until FROM becomes servable or WAIT_MS (cut to max_wait_ms) runs out. What is
// servable differs by requester, and the owner says it each time (the role core's
// served_limit(), engine/role_core.h, as the recovery service sees it): a request marked `replica`
// (the secondary replicating) up to the committed seq, anyone else up to the visible seq. Parked
// requests are bounded in number; past max_parked, park() says kFull and the owner answers busy.
//
// Acks: the highest seq a secondary acknowledged journaling (`ack SEQ`), clamped to the committed
// seq (a secondary cannot hold frames that were not served, and a stray `ack 18446744073709551615`
// must not release a sync primary's held batches), and when the last ack came.
//
// Sans-I/O: it answers nothing itself; the owner is handed each parked request to answer. Time
// comes in as now_ns, on a monotonic clock.
// Thread safety: none; owned by one thread (the recovery server's).
// Invariants: size() <= max_parked; acked_seq() never decreases.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/recovery_protocol.h"

namespace oddsbus::engine {

struct LongPollsConfig {
  size_t max_parked = 256;        // parked range requests; more are refused (kFull)
  uint32_t max_wait_ms = 60'000;  // a longer WAIT_MS is cut to this
};

class LongPolls {
 public:
  struct Parked {
    std::string identity;
    recovery::Request request;
    uint64_t deadline_ns = 0;
  };
  enum class ParkResult : uint8_t { kParked, kFull };

  explicit LongPolls(const LongPollsConfig& config);

  // Parks a range request (its wait_ms > 0) from `identity` at now_ns.
  ParkResult park(std::string_view identity, const recovery::Request& request, uint64_t now_ns);

  // Hands every parked request whose FROM is now servable (at or below `replica_limit` for a
  // request marked replica, `others_limit` otherwise) to answer(const Parked&), in the order they
  // were parked, and forgets it. Returns how many.
  template <typename Answer>
  size_t answer_servable(uint64_t replica_limit, uint64_t others_limit, Answer&& answer) {
    return take_if(
        [&](const Parked& p) {
          return p.request.from <= (p.request.replica ? replica_limit : others_limit);
        },
        answer);
  }
  // Hands every parked request whose deadline is at or before now_ns to answer(const Parked&)
  // (the owner answers SERVED_TO 0), and forgets it. Returns how many.
  template <typename Answer>
  size_t expire(uint64_t now_ns, Answer&& answer) {
    return take_if([&](const Parked& p) { return p.deadline_ns <= now_ns; }, answer);
  }

  size_t size() const { return parked_.size(); }
  // The earliest deadline of a parked request (UINT64_MAX: none parked).
  uint64_t next_deadline_ns() const;

  // `ack SEQ` at now_ns, with `committed` the last committed seq. Returns false when SEQ was past
  // it (then clamped to it).
  bool on_ack(uint64_t seq, uint64_t committed, uint64_t now_ns);
  // The highest seq acknowledged (0: none), and now_ns of the last ack.
  uint64_t acked_seq() const { return acked_seq_; }
  uint64_t last_ack_ns() const { return last_ack_ns_; }

 private:
  template <typename Pred, typename Answer>
  size_t take_if(Pred&& pred, Answer& answer) {
    size_t taken = 0;
    auto kept = parked_.begin();
    for (auto it = parked_.begin(); it != parked_.end(); ++it) {
      if (!pred(*it)) {
        if (kept != it) *kept = std::move(*it);
        ++kept;
        continue;
      }
      answer(static_cast<const Parked&>(*it));
      ++taken;
    }
    parked_.erase(kept, parked_.end());
    return taken;
  }

  LongPollsConfig config_;
  std::vector<Parked> parked_;
  uint64_t acked_seq_ = 0;
  uint64_t last_ack_ns_ = 0;
};

}  // namespace oddsbus::engine
