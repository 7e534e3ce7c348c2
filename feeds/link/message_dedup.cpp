#include "feeds/link/message_dedup.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <charconv>
#include <optional>

namespace oddsbus::feeds::link {
namespace {

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Position just after `"name"` and the ':' that follows it (whitespace allowed around the colon),
// or npos. A match of the quoted name that is not followed by ':' is a string value, not a key.
size_t find_json_key(std::string_view json, std::string_view quoted_name) {
  size_t from = 0;
  while (true) {
    const size_t at = json.find(quoted_name, from);
    if (at == std::string_view::npos) return std::string_view::npos;
    size_t i = at + quoted_name.size();
    while (i < json.size() && is_json_space(json[i])) ++i;
    if (i < json.size() && json[i] == ':') {
      ++i;
      while (i < json.size() && is_json_space(json[i])) ++i;
      return i;
    }
    from = at + 1;
  }
}

// The value of the key when it is a plain JSON unsigned integer that fits u64.
std::optional<uint64_t> find_u64(std::string_view json, std::string_view quoted_name) {
  const size_t at = find_json_key(json, quoted_name);
  if (at == std::string_view::npos) return std::nullopt;
  uint64_t value = 0;
  const char* end = json.data() + json.size();
  const auto [stop, error] = std::from_chars(json.data() + at, end, value);
  if (error != std::errc{} || stop == json.data() + at) return std::nullopt;
  // "1.5", "1e3", "12abc" are not sequence numbers the parser would accept.
  if (stop != end && *stop != ',' && *stop != '}' && !is_json_space(*stop)) return std::nullopt;
  return value;
}

// The raw (still escaped) text of the "provider" string, or empty when absent or not a string.
std::string_view find_provider(std::string_view json) {
  const size_t at = find_json_key(json, "\"provider\"");
  if (at == std::string_view::npos || at >= json.size() || json[at] != '"') return {};
  for (size_t i = at + 1; i < json.size(); ++i) {
    if (json[i] == '\\') {
      ++i;
    } else if (json[i] == '"') {
      return json.substr(at + 1, i - at - 1);
    }
  }
  return {};
}

// Fibonacci hashing: pseq keys are consecutive numbers, so spread them before masking.
uint64_t spread(uint64_t key) { return (key ^ (key >> 29)) * 0x9e3779b97f4a7c15ULL; }

// One identity for a key and its kind, so a sequence key and a byte key never match.
uint64_t identity(MessageKey key) {
  return key.kind == KeyKind::kSequence ? key.value ^ 0x5bd1e9955bd1e995ULL : key.value;
}

}  // namespace

MessageKey message_key(std::string_view format, std::string_view message) {
  if (format == "oddsjson") {
    if (const std::optional<uint64_t> pseq = find_u64(message, "\"pseq\"")) {
      const std::string_view provider = find_provider(message);
      // ts, when present, is part of the identity too: it is the same in every copy, and it keeps a
      // provider that restarts its pseq from 1 from having its new messages taken for copies.
      const uint64_t ts = find_u64(message, "\"ts\"").value_or(0);
      return {XXH64(provider.data(), provider.size(), XXH64(&ts, sizeof(ts), *pseq)),
              KeyKind::kSequence};
    }
    if (message.find("\"heartbeat\"") != std::string_view::npos &&
        message.find("\"ts\"") == std::string_view::npos) {
      return {0, KeyKind::kNone};
    }
  }
  return {XXH64(message.data(), message.size(), 0), KeyKind::kBytes};
}

MessageDedup::MessageDedup(size_t lines, MessageDedupConfig config)
    : lines_(std::max<size_t>(lines, 1)),
      max_age_(config.max_age),
      planted_by_content_(config.planted_by_content) {
  const size_t window = std::clamp<size_t>(config.window, 1, kNil - 1);
  const size_t supported = (window - 1) / 2;
  max_skew_ = config.max_skew == 0 ? supported : std::min(config.max_skew, supported);
  entries_.resize(window);
  arrivals_.assign(window * lines_, 0);
  marks_.assign(window * lines_, 0);
  line_messages_.assign(lines_, 0);
  free_.reserve(window);
  for (size_t e = window; e > 0; --e) free_.push_back(static_cast<uint32_t>(e - 1));
  // Load factor at most 1/2 keeps linear probes short.
  slots_.assign(std::bit_ceil(window * 2), 0);
  mask_ = slots_.size() - 1;
}

bool MessageDedup::admit(size_t line, MessageKey key) {
  return admit(line, key, Clock::time_point{});
}

bool MessageDedup::admit(size_t line, MessageKey key, Clock::time_point now) {
  assert(line < lines_);
  const uint64_t received = ++line_messages_[line];
  if (key.kind == KeyKind::kNone) {
    ++counters_.unique;
    return true;
  }
  if (max_age_.count() > 0) {
    while (oldest_ != kNil && now - entries_[oldest_].touched > max_age_) {
      forget_oldest();
      ++counters_.expirations;
    }
  }
  const uint64_t id = identity(key);
  uint32_t e = find(id);
  if (e == kNil) {
    e = insert(id, now);
  } else {
    unlink(e);
    link_newest(e);
    entries_[e].touched = now;
  }
  Entry& entry = entries_[e];
  const size_t row = static_cast<size_t>(e) * lines_;
  bool fresh = false;
  if (key.kind == KeyKind::kSequence || planted_by_content_) {
    fresh = entry.delivered == 0;
    if (fresh) entry.delivered = 1;
  } else {
    uint64_t& arrivals = arrivals_[row + line];
    if (arrivals < entry.delivered && received - marks_[row + line] > max_skew_) {
      // This line has passed the last delivered occurrence by more than the skew allows, so the
      // copies it still owes were lost, not delayed.
      counters_.lost_copies += entry.delivered - arrivals;
      arrivals = entry.delivered;
    }
    ++arrivals;
    fresh = arrivals > entry.delivered;
    if (fresh) entry.delivered = arrivals;
  }
  if (!fresh) {
    ++counters_.duplicates;
    return false;
  }
  for (size_t l = 0; l < lines_; ++l) marks_[row + l] = line_messages_[l];
  ++counters_.unique;
  return true;
}

uint32_t MessageDedup::insert(uint64_t id, Clock::time_point now) {
  if (free_.empty()) {
    forget_oldest();
    ++counters_.evictions;
  }
  const uint32_t e = free_.back();
  free_.pop_back();
  entries_[e] = Entry{.id = id, .delivered = 0, .touched = now};
  const size_t row = static_cast<size_t>(e) * lines_;
  std::fill_n(arrivals_.begin() + static_cast<std::ptrdiff_t>(row), lines_, 0);
  std::fill_n(marks_.begin() + static_cast<std::ptrdiff_t>(row), lines_, 0);
  link_newest(e);
  index_insert(e);
  ++count_;
  return e;
}

void MessageDedup::forget_oldest() {
  assert(oldest_ != kNil);
  const uint32_t e = oldest_;
  index_erase(e);
  unlink(e);
  free_.push_back(e);
  --count_;
}

void MessageDedup::unlink(uint32_t e) {
  Entry& entry = entries_[e];
  if (entry.older != kNil) {
    entries_[entry.older].newer = entry.newer;
  } else {
    oldest_ = entry.newer;
  }
  if (entry.newer != kNil) {
    entries_[entry.newer].older = entry.older;
  } else {
    newest_ = entry.older;
  }
  entry.older = entry.newer = kNil;
}

void MessageDedup::link_newest(uint32_t e) {
  entries_[e].older = newest_;
  entries_[e].newer = kNil;
  if (newest_ != kNil) {
    entries_[newest_].newer = e;
  } else {
    oldest_ = e;
  }
  newest_ = e;
}

size_t MessageDedup::home(uint64_t id) const { return static_cast<size_t>(spread(id)) & mask_; }

uint32_t MessageDedup::find(uint64_t id) const {
  for (size_t i = home(id);; i = (i + 1) & mask_) {
    if (slots_[i] == 0) return kNil;
    if (entries_[slots_[i] - 1].id == id) return slots_[i] - 1;
  }
}

void MessageDedup::index_insert(uint32_t e) {
  size_t i = home(entries_[e].id);
  while (slots_[i] != 0) i = (i + 1) & mask_;
  slots_[i] = e + 1;
}

void MessageDedup::index_erase(uint32_t e) {
  size_t hole = home(entries_[e].id);
  while (slots_[hole] != e + 1) {
    assert(slots_[hole] != 0);  // the index and the recency list hold the same entries
    hole = (hole + 1) & mask_;
  }
  // Backward-shift: move later members of the probe run into the hole when their home allows it,
  // so lookups never need tombstones.
  for (size_t next = (hole + 1) & mask_; slots_[next] != 0; next = (next + 1) & mask_) {
    const size_t want = home(entries_[slots_[next] - 1].id);
    // `next` may move to `hole` unless its home lies cyclically in (hole, next].
    const bool home_between =
        hole <= next ? (hole < want && want <= next) : (hole < want || want <= next);
    if (!home_between) {
      slots_[hole] = slots_[next];
      hole = next;
    }
  }
  slots_[hole] = 0;
}

}  // namespace oddsbus::feeds::link
