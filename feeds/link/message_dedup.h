// De-duplication of provider messages that arrive over several redundant lines (DESIGN section 3,
// "Redundancy": copies are matched by occurrence, never by content alone).
//
// A provider may legitimately send the same message more than once: a market suspended, opened and
// suspended again by an oddsjson provider without pseq sends A, B, A, and the third message has the
// bytes of the first. So a message's content says which message it is, not whether it is new:
//  - Sequence keys (oddsjson with "pseq", see message_key) name one provider message: any repeat of
//    a sequence key, on any line, is a copy.
//  - Byte keys (every other message) are matched by occurrence: the n-th arrival of a key on one
//    line is the same message as its n-th arrival on another. Per key, MessageDedup counts the
//    arrivals on each line and how many occurrences it has delivered; an arrival is new exactly
//    when its line's count goes past the delivered count. So on one line nothing is ever a
//    duplicate, and with several lines each repeat is delivered once and each other line's copy of
//    it is dropped once.
//  - Keyless messages (an oddsjson heartbeat with neither pseq nor ts) are always delivered, on
//    every line: they change no state, and suppressing one would make a quiet, live provider look
//    stale.
//
// Lines are assumed to carry the provider's sequence in order, each possibly with gaps (a line
// that loses messages), never reordered or invented. The skew S between lines is the largest
// difference, at any moment, between the positions in the provider's sequence of any two lines
// (a lost message counts as passed). What is promised, with window >= 2 * S + 1 and max_skew >= S
// (the defaults: max_skew = (window - 1) / 2), when one line carries every message:
//  1. every occurrence of every message is delivered exactly once: no loss, no duplicate;
//  2. if no line loses a message, or every line that loses messages trails the complete one (gets
//     each message no earlier than the complete line), the delivered sequence is exactly the
//     provider's sequence. A line that lost an occurrence of a key and is ahead of the complete
//     line may get a later occurrence of that key delivered early, in place of the one it lost:
//     the order of first arrival, which first-copy-wins with sequence keys shares.
//
// How a line that lost messages recovers: its counts lag the delivered counts, so its next copies
// are matched with occurrences it never got. Once the line has received more than max_skew
// messages since a key's last occurrence was delivered, the skew bound says the line has passed
// that occurrence, so its lagging count for the key is a loss, not a copy still in flight: the
// count catches up (counted in lost_copies) and the line's next arrival of the key is new. So a
// line that lost messages and is then left alone delivers every new occurrence after at most
// max_skew of its messages, and before that drops at most one arrival per occurrence it lost.
//
// A line that reconnects continues its counts: the link treats it as the same line, which lost
// what the provider sent while it was down. A provider that resumes where the line left off (sends
// what it missed) has those copies dropped exactly; one that resumes at the present is a line with
// a gap, as above. A provider that replays messages the line already carried: with sequence keys
// the replayed copies are dropped; with byte keys a replay cannot be told from a repeat (the
// reason nothing is a duplicate on one line), so replayed messages are delivered again, in the
// provider's order, re-applying states the provider already set; and for each replayed key that
// line is then ahead by the replayed count, so other lines' next copies of it are dropped until the
// key leaves the window. Providers that replay after a reconnect should stamp pseq.
//
// Memory is fixed at construction: at most `window` keys, each with one count and one mark per
// line. When the window is full, the key touched least recently is forgotten (counted in
// evictions); with max_age, so is a key not touched for that long (counted in expirations). A key
// forgotten with every line's copies arrived changes nothing (the counts restart together). A copy
// that arrives after its key was forgotten is taken for a new occurrence and delivered again: this
// happens only beyond the skew bound (within it, at most 2 * S - 1 other keys arrive between a
// delivery and its last copy, and a key is forgotten only after `window` other keys were touched
// since its own last arrival), or with a max_age shorter than the lines' skew in time.
//
// Thread safety: none; owned by the provider's link thread. Performs no I/O.
// Invariants: size() <= window(); admit is O(lines) and allocates nothing; the index holds exactly
// the keys on the recency list.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace oddsbus::feeds::link {

enum class KeyKind : uint8_t {
  kNone,      // keyless: every arrival is delivered
  kSequence,  // names one provider message: any repeat is a copy
  kBytes,     // the message's content: matched by occurrence
};

struct MessageKey {
  uint64_t value = 0;
  KeyKind kind = KeyKind::kNone;
  friend bool operator==(const MessageKey&, const MessageKey&) = default;
};

// The key of one provider message, for MessageDedup.
//  - "oddsjson": when the line carries "pseq" (the provider's own sequence number, a JSON unsigned
//    integer), a sequence key combining pseq with the "provider" string and "ts" when present, so
//    copies match even if the lines re-serialise the JSON differently (field order, spacing), and a
//    provider that restarts its pseq with a new ts is not mistaken for a copy. Found by a cheap
//    scan for the "pseq" key (no JSON parse): the text "pseq" followed by ':' can only be an object
//    key in valid JSON, since a quote inside a string value is escaped. A heartbeat with neither
//    pseq nor ts is keyless. Otherwise (no pseq, or not a plain unsigned integer), a byte key:
//    XXH64 of the whole line.
//  - "betfair-stream", "uof-xml" and any other format: a byte key, XXH64 of the whole message.
//    Redundant lines deliver byte-identical copies.
MessageKey message_key(std::string_view format, std::string_view message);

struct MessageDedupConfig {
  size_t window = 65536;  // keys remembered; at least 1
  // The skew between lines, in messages, within which a lagging count is taken for copies still in
  // flight rather than losses. 0: (window - 1) / 2, the most the window supports; larger values
  // are cut to that.
  size_t max_skew = 0;
  // 0: keys are forgotten only when pushed out of the window. Otherwise, with admit(..., now), a
  // key not touched for longer than this is forgotten too.
  std::chrono::nanoseconds max_age{0};
  // Test-only: a planted bug for the cluster simulator's self-check (tests/sim/); never set in
  // production. Byte keys are matched by content alone, as sequence keys are: any repeat of a
  // key is dropped, whatever its line or occurrence (the old bug: A, B, A loses the second A).
  bool planted_by_content = false;
};

struct MessageDedupCounters {
  uint64_t unique = 0;       // arrivals delivered (keyless ones included)
  uint64_t duplicates = 0;   // arrivals dropped as copies
  uint64_t lost_copies = 0;  // copies a line was found to have lost (its count caught up)
  uint64_t evictions = 0;    // keys forgotten because the window was full
  uint64_t expirations = 0;  // keys forgotten because of max_age
};

class MessageDedup {
 public:
  using Clock = std::chrono::steady_clock;

  // `lines`: the number of redundant lines (at least 1); line indexes are 0..lines-1.
  explicit MessageDedup(size_t lines, MessageDedupConfig config = {});

  // One arrival of a message with `key` on `line`. True when it is to be delivered, false for a
  // copy of an occurrence already delivered.
  bool admit(size_t line, MessageKey key);
  // As above, but first forgets keys not touched for longer than config.max_age (when
  // max_age > 0). `now` must not go backwards between calls; use one overload or the other on a
  // given MessageDedup, not both.
  bool admit(size_t line, MessageKey key, Clock::time_point now);

  size_t size() const { return count_; }
  size_t window() const { return entries_.size(); }
  size_t lines() const { return lines_; }
  size_t max_skew() const { return max_skew_; }
  const MessageDedupCounters& counters() const { return counters_; }

 private:
  static constexpr uint32_t kNil = UINT32_MAX;
  struct Entry {
    uint64_t id = 0;         // the key's value mixed with its kind
    uint64_t delivered = 0;  // occurrences delivered (sequence keys: 1)
    Clock::time_point touched{};
    uint32_t older = kNil;  // recency list
    uint32_t newer = kNil;
  };
  uint32_t find(uint64_t id) const;
  uint32_t insert(uint64_t id, Clock::time_point now);
  void forget_oldest();
  void unlink(uint32_t e);
  void link_newest(uint32_t e);
  void index_insert(uint32_t e);
  void index_erase(uint32_t e);
  size_t home(uint64_t id) const;

  size_t lines_;
  size_t max_skew_;
  std::chrono::nanoseconds max_age_;
  bool planted_by_content_ = false;
  std::vector<Entry> entries_;
  // Per entry and line (entry * lines_ + line): arrivals of the key on the line, and the line's
  // message count when the key's delivered count last rose.
  std::vector<uint64_t> arrivals_;
  std::vector<uint64_t> marks_;
  std::vector<uint64_t> line_messages_;  // messages received per line, keyless ones included
  uint32_t oldest_ = kNil;
  uint32_t newest_ = kNil;
  std::vector<uint32_t> free_;  // unused entries; reserved to window() at construction
  size_t count_ = 0;
  // Open addressing with linear probing and backward-shift deletion (no tombstones): slot value is
  // entry index + 1, 0 for a free slot. The probe hash includes the kind, so a sequence key and a
  // byte key with the same value are different keys.
  std::vector<uint32_t> slots_;
  size_t mask_ = 0;
  MessageDedupCounters counters_;
};

}  // namespace oddsbus::feeds::link
