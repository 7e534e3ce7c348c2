#include "engine/recovery_service.h"

#include <algorithm>
#include <cassert>
#include <cinttypes>
#include <cstring>
#include <optional>

#include "schemas/append_printf.h"
#include "schemas/snapshot_image.h"
#include "schemas/state_digest.h"

namespace oddsbus::engine {

namespace {

void bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// The seq range of a stored batch, read from its header alone (it was verified when committed).
struct BatchRange {
  uint64_t first = 0;
  uint64_t last = 0;
};

std::optional<BatchRange> batch_range(std::span<const uint8_t> bytes) {
  BatchHeader header;
  if (bytes.size() < sizeof header) return std::nullopt;
  std::memcpy(&header, bytes.data(), sizeof header);
  if (header.magic != kBatchMagic || header.count == 0) return std::nullopt;
  return BatchRange{header.first_seq, header.first_seq + header.count - 1};
}

constexpr uint32_t kParkFullRetryMs = 10;

LongPollsConfig polls_config(const RecoveryServiceConfig& config) {
  LongPollsConfig polls;
  polls.max_parked = config.max_parked;
  polls.max_wait_ms = config.max_wait_ms;
  return polls;
}

RequesterLimiterConfig limiter_config(const RecoveryServiceConfig& config) {
  RequesterLimiterConfig limiter;
  limiter.requests_per_s = config.requests_per_s;
  limiter.request_burst = config.request_burst;
  limiter.frames_per_s = config.frames_per_s;
  limiter.frame_burst = config.frame_burst;
  limiter.max_requesters = config.max_requesters;
  return limiter;
}

}  // namespace

void RecoveryReply::clear() {
  header_.clear();
  parts_.clear();
  owned_.clear();
}

void RecoveryReply::add_copy(std::span<const uint8_t> bytes) {
  // Moving the outer vector keeps each inner buffer where it is, so earlier views stay valid.
  owned_.emplace_back(bytes.begin(), bytes.end());
  parts_.emplace_back(owned_.back());
}

void RecoveryOutbox::clear() {
  for (size_t i = 0; i < used_; ++i) items_[i].reply.clear();
  used_ = 0;
}

RecoveryReply& RecoveryOutbox::add(std::string_view identity) {
  if (used_ == items_.size()) items_.emplace_back();
  Item& item = items_[used_++];
  item.identity.assign(identity);
  item.reply.clear();
  return item.reply;
}

RecoveryService::RecoveryService(const RecoveryServiceConfig& config, BatchLog* log)
    : config_(config),
      log_(log),
      ring_(std::max<size_t>(config.ring_slots, 1), config.ring_bytes),
      polls_(polls_config(config)),
      limiter_(limiter_config(config)) {
  config_.max_frames = std::max<uint64_t>(config_.max_frames, 1);
}

void RecoveryService::Head::note(const fb::Frame& frame) {
  if (const fb::EpochChange* change = frame.payload_as_EpochChange()) {
    epoch = change->epoch();
    epoch_start = frame.seq();
  } else if (frame.epoch() > epoch) {
    epoch = frame.epoch();
    epoch_start = frame.seq();
  }
  last_seq = frame.seq();
}

std::expected<void, std::string> RecoveryService::on_committed(std::span<const uint8_t> batch,
                                                               RecoveryOutbox& out) {
  if (auto opened = reader_.open(batch); !opened) {
    return std::unexpected(std::string("recovery: committed batch is damaged (") +
                           std::string(to_string(opened.error().error)) + " at seq " +
                           std::to_string(opened.error().seq) + ")");
  }
  const BatchHeader& header = reader_.header();
  if (reader_.heartbeat() || header.first_seq != committed_.last_seq + 1 ||
      header.channel != config_.channel) {
    std::string message;
    append_printf(message,
                  "recovery: committed batch of channel %u at seq %" PRIu64
                  " does not continue channel %u at seq %" PRIu64 "%s",
                  header.channel, header.first_seq, config_.channel, committed_.last_seq + 1,
                  reader_.heartbeat() ? " (a heartbeat)" : "");
    return std::unexpected(message);
  }
  const bool visible_at_once =
      visible_.last_seq == committed_.last_seq && header.first_seq + header.count - 1 <= limit_;
  for (const fb::Frame* frame : reader_.frames()) {
    committed_.note(*frame);
    if (visible_at_once) {
      visible_.note(*frame);
      state_.apply(*frame);
    }
  }
  ring_.store(header.first_seq, committed_.last_seq, batch);
  bump(counters_.committed_batches);
  bump(counters_.committed_frames, header.count);
  if (!visible_at_once) apply_visible();
  answer_parked(out);
  return {};
}

void RecoveryService::set_visible_limit(uint64_t limit, RecoveryOutbox& out) {
  limit_ = limit;
  if (visible_.last_seq >= std::min(limit_, committed_.last_seq)) return;
  apply_visible();
  answer_parked(out);
}

void RecoveryService::apply_visible() {
  if (auto applied = apply_through(std::min(limit_, committed_.last_seq)); !applied) {
    // Tried again at the next commit or limit; meanwhile the requesters see less.
    bump(counters_.internal_errors);
  }
}

std::expected<void, std::string> RecoveryService::apply_through(uint64_t target) {
  while (visible_.last_seq < target) {
    const uint64_t next = visible_.last_seq + 1;
    std::span<const uint8_t> batch = ring_.find(next);
    if (batch.empty()) {
      // Held back longer than the ring remembers: read it from the journal.
      apply_copy_.clear();
      if (log_ != nullptr) {
        auto scanned = log_->scan(next, [&](uint64_t, std::span<const uint8_t> record) {
          const std::optional<BatchRange> range = batch_range(record);
          if (range && range->first <= next && next <= range->last) {
            apply_copy_.assign(record.begin(), record.end());
          }
          return false;
        });
        if (!scanned) return std::unexpected("recovery: " + scanned.error());
      }
      if (apply_copy_.empty()) {
        return std::unexpected("recovery: cannot read committed seq " + std::to_string(next) +
                               " to make it visible");
      }
      batch = apply_copy_;
    }
    if (auto opened = apply_reader_.open(batch); !opened) {
      return std::unexpected("recovery: a committed batch no longer reads at seq " +
                             std::to_string(opened.error().seq));
    }
    for (const fb::Frame* frame : apply_reader_.frames()) {
      if (frame->seq() < next) continue;
      if (frame->seq() > target) break;
      visible_.note(*frame);
      state_.apply(*frame);
    }
  }
  return {};
}

void RecoveryService::answer_parked(RecoveryOutbox& out) {
  const size_t answered = polls_.answer_servable(
      committed_.last_seq, visible_.last_seq, [&](const LongPolls::Parked& parked) {
        limiter_.charge(parked.identity, serve_range(parked.request, out.add(parked.identity)));
      });
  bump(counters_.parked_answered, answered);
}

void RecoveryService::handle(std::string_view identity, std::string_view text, uint64_t now_ns,
                             RecoveryReply& reply) {
  reply.clear();
  auto request = recovery::parse_request(text);
  if (request && request->kind == recovery::RequestKind::kAck) {
    if (!polls_.on_ack(request->from, committed_.last_seq, now_ns)) {
      bump(counters_.acks_beyond_last);
    }
    bump(counters_.acks);
    return;
  }
  if (!admit(identity, now_ns, reply)) return;
  if (!request) {
    bump(counters_.bad_requests);
    write_error("bad-request", request.error(), reply);
    return;
  }
  switch (request->kind) {
    case recovery::RequestKind::kStatus:
      bump(counters_.status_requests);
      serve_status(reply);
      return;
    case recovery::RequestKind::kSnapshot:
      bump(counters_.snapshot_requests);
      limiter_.charge(identity, serve_snapshot(reply));
      return;
    case recovery::RequestKind::kRange:
      bump(counters_.range_requests);
      if (request->replica) bump(counters_.replica_ranges);
      if (request->from <= head_for(*request).last_seq) {
        limiter_.charge(identity, serve_range(*request, reply));
      } else if (request->wait_ms == 0) {
        write_range_header(request->from, 0, head_for(*request), reply);
      } else if (polls_.park(identity, *request, now_ns) == LongPolls::ParkResult::kFull) {
        write_busy(kParkFullRetryMs, reply);
      } else {
        bump(counters_.parked);
      }
      return;
    case recovery::RequestKind::kAck:
      return;  // answered above
  }
}

void RecoveryService::refuse(std::string_view identity, std::string_view detail, uint64_t now_ns,
                             RecoveryReply& reply) {
  reply.clear();
  if (!admit(identity, now_ns, reply)) return;
  bump(counters_.bad_requests);
  write_error("bad-request", detail, reply);
}

void RecoveryService::reset() {
  ring_ = FrameRing(std::max<size_t>(config_.ring_slots, 1), config_.ring_bytes);
  state_.clear();
  committed_ = Head{};
  visible_ = Head{};
  snapshot_chunks_.clear();
  snapshot_seq_ = UINT64_MAX;
  bump(counters_.resets);
}

void RecoveryService::start_at(MarketState state, uint64_t epoch_start) {
  assert(committed_.last_seq == 0);
  committed_ = Head{state.seq(), state.epoch(), epoch_start};
  visible_ = committed_;
  state_ = std::move(state);
}

void RecoveryService::on_tick(uint64_t now_ns, RecoveryOutbox& out) {
  const size_t expired = polls_.expire(now_ns, [&](const LongPolls::Parked& parked) {
    write_range_header(parked.request.from, 0, head_for(parked.request), out.add(parked.identity));
  });
  bump(counters_.parked_expired, expired);
}

bool RecoveryService::admit(std::string_view identity, uint64_t now_ns, RecoveryReply& reply) {
  const Admission admission = limiter_.admit(identity, now_ns);
  counters_.requesters_evicted.store(limiter_.counters().evicted, std::memory_order_relaxed);
  if (admission.admitted) return true;
  write_busy(admission.retry_ms, reply);
  return false;
}

void RecoveryService::write_busy(uint32_t retry_ms, RecoveryReply& reply) {
  recovery::ReplyHeader busy;
  busy.kind = recovery::ReplyKind::kBusy;
  busy.retry_ms = retry_ms;
  reply.header_ = recovery::format_reply_header(busy);
  bump(counters_.busy);
}

void RecoveryService::serve_status(RecoveryReply& reply) const {
  recovery::ReplyHeader status;
  status.kind = recovery::ReplyKind::kStatus;
  status.node = config_.node;
  status.epoch = visible_.epoch;
  status.epoch_start = visible_.epoch_start;
  status.last_seq = visible_.last_seq;
  status.primary = primary_;
  reply.header_ = recovery::format_reply_header(status);
}

void RecoveryService::write_range_header(uint64_t from, uint64_t served_to, const Head& head,
                                         RecoveryReply& reply) const {
  recovery::ReplyHeader range;
  range.kind = recovery::ReplyKind::kRange;
  range.from = from;
  range.served_to = served_to;
  range.last_seq = head.last_seq;
  range.epoch = head.epoch;
  range.epoch_start = head.epoch_start;
  reply.header_ = recovery::format_reply_header(range);
}

void RecoveryService::write_error(std::string_view reason, std::string_view detail,
                                  RecoveryReply& reply) {
  recovery::ReplyHeader error;
  error.kind = recovery::ReplyKind::kError;
  error.reason = std::string(reason);
  error.detail = std::string(detail);
  reply.header_ = recovery::format_reply_header(error);
  reply.parts_.clear();
  reply.owned_.clear();
}

uint64_t RecoveryService::serve_range(const recovery::Request& request, RecoveryReply& reply) {
  const Head& head = head_for(request);
  const uint64_t to = std::min(request.to, head.last_seq);
  uint64_t cur = request.from;
  uint64_t frames = 0;
  uint64_t bytes = 0;
  bool capped = false;
  bool at_limit = false;  // the next batch reaches past what this requester may see
  // Whether one more batch covering cur..last, `size` bytes, fits in this reply.
  const auto fits = [&](uint64_t last, size_t size) {
    if (reply.parts_.empty()) return true;  // at least one batch, or nothing would progress
    return frames + (last - cur + 1) <= config_.max_frames && bytes + size <= config_.max_bytes;
  };
  const auto take = [&](uint64_t last, size_t size) {
    frames += last - cur + 1;
    bytes += size;
    cur = last + 1;
  };

  while (cur <= to && !capped && !at_limit) {
    if (std::span<const uint8_t> batch = ring_.find(cur); !batch.empty()) {
      const std::optional<BatchRange> range = batch_range(batch);
      assert(range);  // verified when committed
      if (range->last > head.last_seq) {
        at_limit = true;
        break;
      }
      if (!fits(range->last, batch.size())) {
        capped = true;
        break;
      }
      reply.add_view(batch);
      take(range->last, batch.size());
      continue;
    }
    // Older than the ring: read the journal until the ring holds cur again.
    const uint64_t oldest_held = ring_.oldest_seq();
    uint64_t gone_oldest = 0;
    bool damaged = false;
    const uint64_t before = cur;
    auto visit = [&](uint64_t, std::span<const uint8_t> record) {
      const std::optional<BatchRange> range = batch_range(record);
      if (!range) {
        damaged = true;
        return false;
      }
      if (range->last < cur) return true;
      if (range->first > cur) {
        gone_oldest = range->first;
        return false;
      }
      if (range->last > head.last_seq) {
        at_limit = true;
        return false;
      }
      if (!fits(range->last, record.size())) {
        capped = true;
        return false;
      }
      reply.add_copy(record);
      bump(counters_.batches_from_journal);
      take(range->last, record.size());
      return cur <= to && (oldest_held == 0 || cur < oldest_held);
    };
    std::expected<void, std::string> scanned;
    if (log_ != nullptr) {
      scanned = log_->scan(cur, visit);
    }
    if (log_ == nullptr || (gone_oldest != 0 && reply.parts_.empty())) {
      const uint64_t oldest = log_ != nullptr    ? gone_oldest
                              : oldest_held != 0 ? oldest_held
                                                 : committed_.last_seq + 1;
      recovery::ReplyHeader gone;
      gone.kind = recovery::ReplyKind::kGone;
      gone.from = request.from;
      gone.oldest = oldest;
      reply.header_ = recovery::format_reply_header(gone);
      bump(counters_.gone);
      return 0;
    }
    if (!scanned || damaged || (cur == before && !capped && !at_limit)) {
      if (!reply.parts_.empty()) break;  // serve what was read; the client asks again
      bump(counters_.internal_errors);
      write_error("internal",
                  !scanned  ? scanned.error()
                  : damaged ? "journal record is not a batch"
                            : "journal does not hold seq " + std::to_string(cur),
                  reply);
      return 0;
    }
    if (gone_oldest != 0) break;  // a hole after what was served: stop there
  }

  const uint64_t served_to = cur > request.from ? cur - 1 : 0;
  if (capped) bump(counters_.ranges_capped);
  bump(counters_.frames_served, frames);
  bump(counters_.batches_served, reply.parts_.size());
  bump(counters_.bytes_served, bytes);
  write_range_header(request.from, served_to, head, reply);
  return frames;
}

uint64_t RecoveryService::serve_snapshot(RecoveryReply& reply) {
  if (snapshot_seq_ != state_.seq() || snapshot_epoch_ != visible_.epoch) {
    snapshot_chunks_ = encode_snapshot(state_, config_.channel, visible_.epoch,
                                       visible_.epoch_start, config_.snapshot_markets_per_chunk);
    snapshot_digest_ = state_digest(state_);
    snapshot_seq_ = state_.seq();
    snapshot_epoch_ = visible_.epoch;
    bump(counters_.snapshots_encoded);
  }
  recovery::ReplyHeader header;
  header.kind = recovery::ReplyKind::kSnapshot;
  header.seq = snapshot_seq_;
  header.epoch = snapshot_epoch_;
  header.digest = snapshot_digest_;
  header.chunks = static_cast<uint32_t>(snapshot_chunks_.size());
  reply.header_ = recovery::format_reply_header(header);
  for (const auto& chunk : snapshot_chunks_) reply.add_view(chunk);
  return std::max<uint64_t>(1, state_.markets().size());
}

}  // namespace oddsbus::engine
