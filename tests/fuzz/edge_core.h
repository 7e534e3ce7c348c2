// Test support: the edge's subscriber path without sockets, for the fuzz targets and the security
// suite. What Subscriber (edge/subscriber.cpp: receive_line, receive_replies, handle_snapshot) and
// the edge server (edge/edge_server.cpp: apply_output) do with the bytes a publisher line or a
// recovery service sends: the Arbiter (kSnapshot mode) judges them, a snapshot reply is decoded
// with decode_checked_snapshot and installed, and delivered frames are folded into a MarketCache.
// The protocol logic is all in those classes; this only moves bytes between them as the shells do.
//
// Every call records what it did (Step) and checks, with FUZZ_CHECK, the properties the edge relies
// on: delivered frames are the next seqs of the cache, never of a lower epoch than it holds; the
// cache's position is the arbiter's; counters never go down; and a refused input (a corrupt batch,
// a reply whose header does not parse, a snapshot that does not decode) changes no state.
//
// Not thread-safe; owns everything it uses. Header-only (tests only).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "edge/arbiter.h"
#include "edge/market_cache.h"
#include "schemas/batch.h"
#include "schemas/crc32c.h"
#include "schemas/market_state.h"
#include "schemas/recovery_protocol.h"
#include "schemas/snapshot_image.h"
#include "schemas/state_digest.h"
#include "tests/fuzz/fuzz_check.h"

namespace oddsbus::fuzzing {

// What the edge holds: the arbiter's position and the cache's state. A refused input leaves all of
// it as it was.
struct EdgeFingerprint {
  edge::ArbiterMode mode = edge::ArbiterMode::kAwaitingSnapshot;
  uint64_t last_seq = 0;
  uint32_t epoch = 0;
  uint64_t epoch_start = 0;
  bool cache_positioned = false;
  uint64_t cache_seq = 0;
  uint32_t cache_epoch = 0;
  uint64_t generation = 0;
  uint64_t digest = 0;
  bool operator==(const EdgeFingerprint&) const = default;
};

// What one call did.
struct EdgeStep {
  bool refused = false;    // the input was refused whole (nothing of it used)
  size_t delivered = 0;    // frames folded into the cache
  bool installed = false;  // a snapshot was installed
  size_t requests = 0;     // range or snapshot requests the arbiter asked to send
};

class EdgeCore {
 public:
  static constexpr uint32_t kChannel = 7;

  explicit EdgeCore(const edge::ArbiterConfig& config = default_config())
      : arbiter_(config), cache_(edge::MarketCacheConfig{64, size_t{1} << 20}) {}

  static edge::ArbiterConfig default_config() {
    edge::ArbiterConfig config;
    config.mode = edge::ResyncMode::kSnapshot;
    config.recovery_services = 2;
    config.gap_timeout_ns = 20'000'000;
    config.request_timeout_ns = 200'000'000;
    config.max_range = 1000;
    config.reorder_max_frames = 256;
    config.reorder_max_bytes = size_t{1} << 20;
    return config;
  }

  // Positions the edge at seq 0 of epoch 1 with an empty state, as an empty snapshot would.
  void start_empty(uint64_t now_ns) {
    SnapshotImage image;
    image.channel = kChannel;
    image.epoch = 1;
    image.epoch_start = 1;
    image.seq = 0;
    cache_.install(std::move(image));
    out_.clear();
    arbiter_.on_snapshot_loaded(0, 1, 1, now_ns, out_);
    apply(nullptr);
  }

  // A message from publisher line `line` (Subscriber::receive_line).
  EdgeStep batch(size_t line, std::span<const uint8_t> bytes, uint64_t now_ns) {
    const EdgeFingerprint before = fingerprint();
    const edge::ArbiterCounters counters = arbiter_.counters();
    const bool corrupt = !check_reader_.open(bytes).has_value();
    out_.clear();
    arbiter_.on_batch(line, bytes, now_ns, out_);
    EdgeStep step = apply(nullptr);
    step.refused = corrupt;
    check_counters(counters);
    if (corrupt) {
      FUZZ_CHECK(arbiter_.counters().corrupt_batches == counters.corrupt_batches + 1);
      FUZZ_CHECK(step.delivered == 0 && !step.installed);
      FUZZ_CHECK(fingerprint() == before);
    }
    return step;
  }

  // A recovery service's reply, header part then the others (Subscriber::receive_replies).
  EdgeStep reply(size_t service, std::string_view header_text,
                 std::span<const std::span<const uint8_t>> parts, uint64_t now_ns) {
    const EdgeFingerprint before = fingerprint();
    const edge::ArbiterCounters counters = arbiter_.counters();
    out_.clear();
    EdgeStep step;
    auto header = recovery::parse_reply_header(header_text);
    if (!header) {
      ++bad_replies_;
      step.refused = true;
      FUZZ_CHECK(fingerprint() == before);
      return step;
    }
    std::optional<SnapshotImage> image;
    if (header->kind == recovery::ReplyKind::kSnapshot) {
      if (arbiter_.positioned()) {
        ++unwanted_snapshots_;
        step.refused = true;
      } else if (auto decoded = decode_checked_snapshot(parts, header->seq, header->epoch,
                                                        header->digest, header->chunks)) {
        // What decode_checked_snapshot promises: the image is the reply's.
        FUZZ_CHECK(decoded->seq == header->seq && decoded->epoch == header->epoch);
        FUZZ_CHECK(decoded->state.seq() == decoded->seq);
        FUZZ_CHECK(state_digest(decoded->state) == header->digest);
        if (arbiter_.snapshot_superseded(decoded->seq, decoded->epoch, decoded->epoch_start)) {
          step.refused = true;  // a history a higher epoch replaced: never installed
          arbiter_.on_snapshot_superseded(service, now_ns, out_);
        } else {
          image = std::move(*decoded);
          const uint64_t seq = image->seq;
          const uint32_t epoch = image->epoch;
          const uint64_t start = image->epoch_start;
          arbiter_.on_snapshot_loaded(seq, epoch, start, now_ns, out_);
        }
      } else {
        ++snapshot_failures_;
        step.refused = true;
        arbiter_.on_snapshot_failed(service, now_ns, out_);
      }
    } else {
      arbiter_.on_reply(service, *header, parts, now_ns, out_);
    }
    const EdgeStep applied = apply(image ? &*image : nullptr);
    step.delivered = applied.delivered;
    step.installed = applied.installed;
    step.requests = applied.requests;
    check_counters(counters);
    if (step.refused) {
      FUZZ_CHECK(step.delivered == 0 && !step.installed);
      FUZZ_CHECK(fingerprint() == before);
    }
    return step;
  }

  // Time passed (the subscriber's poll tick).
  EdgeStep tick(uint64_t now_ns) {
    const EdgeFingerprint before = fingerprint();
    const edge::ArbiterCounters counters = arbiter_.counters();
    out_.clear();
    arbiter_.on_tick(now_ns, out_);
    EdgeStep step = apply(nullptr);
    check_counters(counters);
    // Time alone delivers nothing and moves no position.
    FUZZ_CHECK(step.delivered == 0 && fingerprint() == before);
    return step;
  }

  EdgeFingerprint fingerprint() const {
    EdgeFingerprint f;
    f.mode = arbiter_.mode();
    f.last_seq = arbiter_.last_seq();
    f.epoch = arbiter_.epoch();
    f.epoch_start = arbiter_.epoch_start();
    f.cache_positioned = cache_.positioned();
    f.cache_seq = cache_.seq();
    f.cache_epoch = cache_.epoch();
    f.generation = cache_.generation();
    f.digest = digest_;
    return f;
  }

  const edge::Arbiter& arbiter() const { return arbiter_; }
  const edge::MarketCache& cache() const { return cache_; }
  const edge::ArbiterOutput& last_output() const { return out_; }
  uint64_t bad_replies() const { return bad_replies_; }
  uint64_t snapshot_failures() const { return snapshot_failures_; }
  uint64_t unwanted_snapshots() const { return unwanted_snapshots_; }

 private:
  // edge_server's apply_output: install the image, then fold the frames delivered after it.
  EdgeStep apply(SnapshotImage* image) {
    EdgeStep step;
    for (const edge::ArbiterAction& action : out_.actions) {
      if (action.kind == edge::ArbiterAction::Kind::kRequestRange ||
          action.kind == edge::ArbiterAction::Kind::kRequestSnapshot) {
        ++step.requests;
        FUZZ_CHECK(action.service < 2);
      }
      if (action.kind == edge::ArbiterAction::Kind::kRequestRange) {
        FUZZ_CHECK(action.from == arbiter_.last_seq() + 1 ||
                   arbiter_.mode() != edge::ArbiterMode::kLive);
        FUZZ_CHECK(action.from <= action.to);
        FUZZ_CHECK(action.to - action.from < 1000);
      }
      // An edge never truncates: it resynchronises from a snapshot.
      FUZZ_CHECK(action.kind != edge::ArbiterAction::Kind::kDiverged);
    }
    if (image != nullptr) {
      const uint64_t seq = image->seq;
      const uint32_t epoch = image->epoch;
      cache_.install(std::move(*image));
      step.installed = true;
      FUZZ_CHECK(cache_.seq() == seq && cache_.epoch() == epoch);
    }
    FUZZ_CHECK(out_.frames.size() == out_.bytes.size());
    for (size_t i = 0; i < out_.frames.size(); ++i) {
      const fb::Frame& frame = *out_.frames[i];
      FUZZ_CHECK(cache_.positioned());
      FUZZ_CHECK(frame.seq() == cache_.seq() + 1);
      // Within one history epochs only rise, and only through an EpochChange frame.
      FUZZ_CHECK(frame.epoch() >= cache_.epoch());
      if (frame.epoch() > cache_.epoch()) {
        FUZZ_CHECK(frame.payload_type() == fb::Payload::EpochChange);
      }
      FUZZ_CHECK(frame.payload_type() != fb::Payload::Heartbeat);
      FUZZ_CHECK(out_.bytes[i].size() <= kMaxFrameSize);
      cache_.apply(frame);
      ++step.delivered;
    }
    if (step.delivered != 0 || step.installed) digest_ = state_digest(cache_.state());
    // The cache is where the arbiter is, once both are positioned.
    if (cache_.positioned() && arbiter_.positioned()) {
      FUZZ_CHECK(arbiter_.last_seq() == cache_.seq());
      FUZZ_CHECK(arbiter_.epoch() == cache_.epoch());
    }
    if (!arbiter_.positioned()) FUZZ_CHECK(out_.frames.empty());
    return step;
  }

  void check_counters(const edge::ArbiterCounters& before) const {
    constexpr size_t n = sizeof(edge::ArbiterCounters) / sizeof(uint64_t);
    static_assert(n * sizeof(uint64_t) == sizeof(edge::ArbiterCounters));
    uint64_t a[n];
    uint64_t b[n];
    std::memcpy(a, &before, sizeof a);
    std::memcpy(b, &arbiter_.counters(), sizeof b);
    for (size_t i = 0; i < n; ++i) FUZZ_CHECK(b[i] >= a[i]);
  }

  edge::Arbiter arbiter_;
  edge::MarketCache cache_;
  edge::ArbiterOutput out_;
  BatchReader check_reader_;
  uint64_t digest_ = state_digest(MarketState{});
  uint64_t bad_replies_ = 0;
  uint64_t snapshot_failures_ = 0;
  uint64_t unwanted_snapshots_ = 0;
};

// Rewrites each record's CRC32C to match its bytes, as far as the records' sizes allow, so that
// mutations reach the FlatBuffers verifier and the arbiter. `batch` must be writable.
inline void fix_batch_crcs(uint8_t* batch, size_t size) {
  if (size < kBatchHeaderSize) return;
  uint32_t count = 0;
  std::memcpy(&count, batch + 16, 4);
  size_t offset = kBatchHeaderSize;
  for (uint32_t i = 0; i < count && size - offset >= kRecordHeaderSize; ++i) {
    uint32_t len = 0;
    std::memcpy(&len, batch + offset, 4);
    const size_t padded = (static_cast<size_t>(len) + 7) & ~size_t{7};
    if (size - offset - kRecordHeaderSize < padded) return;
    const uint32_t crc = crc32c(batch + offset + kRecordHeaderSize, len);
    std::memcpy(batch + offset + 4, &crc, 4);
    offset += kRecordHeaderSize + padded;
  }
}

// Reads a fuzz input as a sequence of fields.
class InputReader {
 public:
  explicit InputReader(std::span<const uint8_t> data) : data_(data) {}
  bool done() const { return at_ >= data_.size(); }
  uint8_t u8() { return done() ? 0 : data_[at_++]; }
  uint16_t u16() {
    const uint16_t lo = u8();
    return static_cast<uint16_t>(lo | (u8() << 8));
  }
  // Up to n bytes (fewer at the end of the input).
  std::span<const uint8_t> bytes(size_t n) {
    n = std::min(n, data_.size() - std::min(at_, data_.size()));
    const auto out = data_.subspan(at_, n);
    at_ += n;
    return out;
  }
  // Up to the next '\n' (consumed, not returned), or the rest.
  std::string_view line() {
    const auto rest = bytes(data_.size());
    const auto* begin = reinterpret_cast<const char*>(rest.data());
    std::string_view text(begin, rest.size());
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return text;
    at_ -= rest.size() - nl - 1;
    return text.substr(0, nl);
  }

 private:
  std::span<const uint8_t> data_;
  size_t at_ = 0;
};

}  // namespace oddsbus::fuzzing
