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

}  // namespace

uint64_t message_key(std::string_view format, std::string_view message) {
  if (format == "oddsjson") {
    if (const std::optional<uint64_t> pseq = find_u64(message, "\"pseq\"")) {
      const std::string_view provider = find_provider(message);
      // ts, when present, is part of the identity too: it is the same in every copy, and it keeps a
      // provider that restarts its pseq from 1 from having its new messages taken for copies.
      const uint64_t ts = find_u64(message, "\"ts\"").value_or(0);
      return XXH64(provider.data(), provider.size(), XXH64(&ts, sizeof(ts), *pseq));
    }
    // A heartbeat without pseq or ts has the same bytes every time: deduplicating it would make a
    // quiet, live provider look stale. It changes no state, so every copy may pass.
    if (message.find("\"heartbeat\"") != std::string_view::npos &&
        message.find("\"ts\"") == std::string_view::npos) {
      return kNoDedupKey;
    }
  }
  return XXH64(message.data(), message.size(), 0);
}

MessageDedup::MessageDedup(MessageDedupConfig config) : config_(config) {
  const size_t window = std::max<size_t>(config_.window, 1);
  ring_.resize(window);
  // Load factor at most 1/2 keeps linear probes short.
  slots_.assign(std::bit_ceil(window * 2), kEmpty);
  mask_ = slots_.size() - 1;
}

bool MessageDedup::first_copy(uint64_t key) { return insert_if_absent(key, Clock::time_point{}); }

bool MessageDedup::first_copy(uint64_t key, Clock::time_point now) {
  if (config_.max_age.count() > 0) {
    while (count_ > 0 && now - ring_[head_].seen > config_.max_age) evict_oldest();
  }
  return insert_if_absent(key, now);
}

bool MessageDedup::insert_if_absent(uint64_t key, Clock::time_point now) {
  if (contains(key)) {
    ++counters_.duplicates;
    return false;
  }
  if (count_ == ring_.size()) evict_oldest();
  ring_[(head_ + count_) % ring_.size()] = Entry{key, now};
  ++count_;
  set_insert(key);
  ++counters_.unique;
  return true;
}

void MessageDedup::evict_oldest() {
  assert(count_ > 0);
  set_erase(ring_[head_].key);
  head_ = (head_ + 1) % ring_.size();
  --count_;
}

size_t MessageDedup::home(uint64_t key) const { return static_cast<size_t>(spread(key)) & mask_; }

bool MessageDedup::contains(uint64_t key) const {
  if (key == kEmpty) return has_empty_key_;
  for (size_t i = home(key);; i = (i + 1) & mask_) {
    if (slots_[i] == key) return true;
    if (slots_[i] == kEmpty) return false;
  }
}

void MessageDedup::set_insert(uint64_t key) {
  if (key == kEmpty) {
    has_empty_key_ = true;
    return;
  }
  size_t i = home(key);
  while (slots_[i] != kEmpty) i = (i + 1) & mask_;
  slots_[i] = key;
}

void MessageDedup::set_erase(uint64_t key) {
  if (key == kEmpty) {
    has_empty_key_ = false;
    return;
  }
  size_t hole = home(key);
  while (slots_[hole] != key) {
    assert(slots_[hole] != kEmpty);  // the ring and the set hold the same keys
    hole = (hole + 1) & mask_;
  }
  // Backward-shift: move later members of the probe run into the hole when their home allows it,
  // so lookups never need tombstones.
  for (size_t next = (hole + 1) & mask_; slots_[next] != kEmpty; next = (next + 1) & mask_) {
    const size_t want = home(slots_[next]);
    // `next` may move to `hole` unless its home lies cyclically in (hole, next].
    const bool home_between =
        hole <= next ? (hole < want && want <= next) : (hole < want || want <= next);
    if (!home_between) {
      slots_[hole] = slots_[next];
      hole = next;
    }
  }
  slots_[hole] = kEmpty;
}

}  // namespace oddsbus::feeds::link
