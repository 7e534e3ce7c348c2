// What a ClientStream tells the audit log (issue 13, "What a client saw"): a notice the sans-I/O
// stream returns when auditing is on, for its shell (edge/sessions.cpp) to format and hand to the
// log (edge/session_audit.h). A message's notice is given when it was written to the client, not
// when it was queued: that is when the client was shown it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace oddsbus::edge {

struct StreamAuditNote {
  enum class Kind : uint8_t {
    kSubscribe,       // a subscribe was accepted: the subscription is now `all`/`markets`/`events`
    kUnsubscribe,     // an unsubscribe was accepted: likewise
    kImage,           // the last part of an image at `seq` was written
    kResumed,         // "resumed" at `seq` was written: the client holds its state at seq
    kDelta,           // a delta of frame `seq` was written
    kConflatedDelta,  // a conflated delta at `seq` was written: `markets` at their value at seq;
                      // the frames in (held_seq, seq) were skipped for them
    kConflating,      // the client fell behind: it holds every change up to `held_seq`, and
                      // `dropped` queued deltas after it were dropped for a conflated one
  };
  Kind kind = Kind::kDelta;
  uint64_t wall_ns = 0;  // wall clock, ns since the Unix epoch
  uint64_t seq = 0;
  uint32_t epoch = 0;
  // The subscription a message was rendered for: it counts the subscribe and unsubscribe
  // notices of the stream (the first subscribe is 1).
  uint64_t subscription = 0;
  uint64_t held_seq = 0;               // kConflating, kConflatedDelta
  uint64_t dropped = 0;                // kConflating
  bool all = false;                    // kSubscribe, kUnsubscribe: the subscription after it
  std::vector<uint64_t> markets = {};  // ... (ascending); kConflatedDelta: the markets it carried
  std::vector<uint64_t> events = {};   // ... (ascending)
  bool resume = false;                 // kSubscribe: with resume_from
  uint64_t resume_from = 0;
  uint32_t resume_epoch = 0;
  std::string reason = {};  // kImage: "subscribe", "resume-unavailable" or "resync"
};

}  // namespace oddsbus::edge
