// First-copy-wins de-duplication of provider messages that arrive over several redundant lines
// (DESIGN section 3: "the first copy of each provider message wins and the rest are counted as
// duplicates").
//
// A message is identified by a 64-bit key (message_key below). MessageDedup remembers the keys of
// the last `window` distinct messages; a key still in the window is a duplicate. Redundant lines
// deliver their copies of a message within a short skew of each other, far fewer messages apart
// than the window, so a bounded window suffices: memory is fixed at construction and never grows.
// Optionally a key is also forgotten once it is older than `max_age` (see first_copy(key, now)).
//
// Thread safety: none; owned by the provider's link thread. Performs no I/O.
// Invariants: the set holds exactly the keys in the ring; size() <= window; first_copy is O(1)
// (amortised O(1) with max_age) and allocates nothing.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace oddsbus::feeds::link {

// The key of one provider message, for MessageDedup.
//  - "oddsjson": when the line carries "pseq" (the provider's own sequence number, a JSON unsigned
//    integer), the key combines pseq with the "provider" string and "ts" when present, so copies
//    match even if the lines re-serialise the JSON differently (field order, spacing), and a
//    provider that restarts its pseq with a new ts is not mistaken for a copy. Found by a cheap
//    scan for the "pseq" key (no JSON parse): the text "pseq" followed by ':' can only be an object
//    key in valid JSON, since a quote inside a string value is escaped. Without pseq (or if it is
//    not a plain unsigned integer), XXH64 of the whole line.
//  - "betfair-stream", "uof-xml" and any other format: XXH64 of the whole message. Redundant lines
//    deliver byte-identical copies, and each message carries its own provider timestamp (Betfair
//    "pt", UOF "timestamp"), so distinct messages differ in their bytes.
// Limit: two genuinely distinct messages with identical bytes (same timestamp, no pseq) are
// indistinguishable from copies and the later one is dropped while the first is in the window. For
// state-setting messages (a price, a status) this is harmless: it sets the state it already set.
// It matters for a liveness message without a timestamp (an oddsjson heartbeat with neither pseq
// nor ts): repeats of it are suppressed, so such feeds should stamp pseq or ts, or the link should
// set a max_age shorter than the consumer's stale_after.
// message_key's answer for a message every copy of which may pass: a keyless oddsjson heartbeat.
inline constexpr uint64_t kNoDedupKey = 0;

uint64_t message_key(std::string_view format, std::string_view message);

struct MessageDedupConfig {
  size_t window = 65536;  // distinct keys remembered; at least 1
  // 0: keys are forgotten only when pushed out of the window. Otherwise, with first_copy(key, now),
  // a key seen longer ago than this is forgotten too.
  std::chrono::nanoseconds max_age{0};
};

struct MessageDedupCounters {
  uint64_t unique = 0;      // first copies
  uint64_t duplicates = 0;  // later copies
};

class MessageDedup {
 public:
  using Clock = std::chrono::steady_clock;

  explicit MessageDedup(MessageDedupConfig config = {});

  // True for the first copy of `key` (the key is then remembered, evicting the oldest key when the
  // window is full); false for a copy of a key still remembered.
  bool first_copy(uint64_t key);
  // As above, but first forgets keys older than config.max_age (when max_age > 0). `now` must not
  // go backwards between calls; use one overload or the other on a given MessageDedup, not both.
  bool first_copy(uint64_t key, Clock::time_point now);

  size_t size() const { return count_; }
  size_t window() const { return ring_.size(); }
  const MessageDedupCounters& counters() const { return counters_; }

 private:
  struct Entry {
    uint64_t key;
    Clock::time_point seen;
  };
  bool insert_if_absent(uint64_t key, Clock::time_point now);
  void evict_oldest();
  bool contains(uint64_t key) const;
  void set_insert(uint64_t key);
  void set_erase(uint64_t key);
  size_t home(uint64_t key) const;

  MessageDedupConfig config_;
  std::vector<Entry> ring_;  // the last `count_` keys, oldest at head_
  size_t head_ = 0;
  size_t count_ = 0;
  // Open addressing with linear probing and backward-shift deletion (no tombstones). kEmpty marks a
  // free slot; key kEmpty itself is tracked by has_empty_key_.
  static constexpr uint64_t kEmpty = 0;
  std::vector<uint64_t> slots_;
  size_t mask_ = 0;
  bool has_empty_key_ = false;
  MessageDedupCounters counters_;
};

}  // namespace oddsbus::feeds::link
