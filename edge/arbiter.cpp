#include "edge/arbiter.h"

#include <algorithm>
#include <cassert>
#include <cinttypes>
#include <cstring>

namespace oddsbus::edge {

namespace {

constexpr size_t kOutputBlockWords = size_t{1} << 15;  // 256 KiB per block of delivered frames
constexpr size_t kMaxSpare = 4096;                     // released frame storage kept for reuse
constexpr size_t kMaxEpochsAhead = 64;                 // epochs heard of ahead of their frames

const fb::EpochChange* epoch_change_of(const fb::Frame& frame) {
  return frame.payload_type() == fb::Payload::EpochChange ? frame.payload_as_EpochChange()
                                                          : nullptr;
}

}  // namespace

Arbiter::Arbiter(const ArbiterConfig& config) : config_(config) {
  if (config_.max_range == 0) config_.max_range = 1;
  // A secondary with an empty journal starts at the beginning of epoch 1; an edge starts from a
  // snapshot.
  if (config_.mode == ResyncMode::kTruncate) position(0, 1, 1);
}

void Arbiter::reset(uint64_t last_seq, uint32_t epoch, uint64_t epoch_start) {
  for (auto it = buffer_.begin(); it != buffer_.end();) recycle(it++);
  epochs_.clear();
  request_ = Request{};
  next_request_ns_ = 0;
  gap_ = false;
  newest_seq_ = 0;
  newest_epoch_ = 0;
  position(last_seq, epoch, epoch_start);
}

void Arbiter::position(uint64_t last_seq, uint32_t epoch, uint64_t epoch_start) {
  positioned_ = true;
  last_seq_ = last_seq;
  epoch_ = epoch;
  epoch_start_ = epoch_start;
  probe_ = false;
  accept_at_ = 0;
  std::erase_if(epochs_, [&](const auto& e) { return e.first <= epoch_; });
  if (newest_epoch_ < epoch_ || (newest_epoch_ == epoch_ && newest_seq_ < last_seq_)) {
    newest_epoch_ = epoch_;
    newest_seq_ = last_seq_;
  }
}

// ---- calls ----------------------------------------------------------------------------------

void Arbiter::begin_call(const ArbiterOutput& out) {
  if (out.frames.empty()) {
    output_block_ = 0;
    output_used_ = 0;
  }
  call_start_seq_ = last_seq_;
}

void Arbiter::end_call(uint64_t now_ns, ArbiterOutput& out) {
  drain(now_ns, out);
  update_gap(now_ns);
  if (ask_now_ && gap_) gap_since_ns_ = now_ns - std::min(now_ns, config_.gap_timeout_ns);
  ask_now_ = false;
  service_recovery(now_ns, out);
}

void Arbiter::on_batch(size_t line, std::span<const uint8_t> bytes, uint64_t now_ns,
                       ArbiterOutput& out) {
  begin_call(out);
  if (auto opened = reader_.open(bytes); !opened) {
    ++counters_.corrupt_batches;
    if (corrupt_log_.allow(now_ns)) {
      log(LogLevel::kWarn,
          "arbiter: line %zu sent a corrupt batch (%.*s at seq %" PRIu64 "), ignored; %" PRIu64
          " more since the last line",
          line, static_cast<int>(to_string(opened.error().error).size()),
          to_string(opened.error().error).data(), opened.error().seq, corrupt_log_.suppressed());
    }
    end_call(now_ns, out);
    return;
  }
  if (line >= last_heard_ns_.size()) last_heard_ns_.resize(line + 1, 0);
  last_heard_ns_[line] = now_ns;
  if (reader_.heartbeat()) {
    const auto frames = reader_.frames();
    if (frames.size() == 1 && frames[0]->payload_type() == fb::Payload::Heartbeat) {
      on_heartbeat(line, *frames[0], now_ns, out);
    } else {
      ++counters_.corrupt_batches;
    }
  } else {
    const auto frames = reader_.frames();
    for (size_t i = 0; i < frames.size(); ++i)
      offer(*frames[i], reader_.frame_bytes(i), now_ns, out);
  }
  end_call(now_ns, out);
}

void Arbiter::on_heartbeat(size_t, const fb::Frame& frame, uint64_t now_ns, ArbiterOutput& out) {
  ++counters_.heartbeats;
  const fb::Heartbeat* heartbeat = frame.payload_as_Heartbeat();
  const uint32_t epoch = frame.epoch();
  if (heartbeat->epoch_start() != 0) learn_epoch(epoch, heartbeat->epoch_start(), 0);
  note_newest(epoch, heartbeat->last_seq());
  if (epoch >= newest_epoch_) last_live_ns_ = now_ns;
  check_divergence(now_ns, out);
}

void Arbiter::on_reply(size_t service, const recovery::ReplyHeader& header,
                       std::span<const std::span<const uint8_t>> batches, uint64_t now_ns,
                       ArbiterOutput& out) {
  using recovery::ReplyKind;
  begin_call(out);
  const bool answers = request_.active && request_.service == service;
  switch (header.kind) {
    case ReplyKind::kRange: {
      const bool matches =
          answers && request_.kind != RequestKind::kSnapshot && header.from == request_.from;
      const bool probing = matches && request_.kind == RequestKind::kProbe && probe_;
      const uint64_t requested_to = request_.to;
      if (matches) {
        request_.active = false;
      } else {
        ++counters_.stale_replies;
      }
      if (header.epoch != 0 && header.epoch_start != 0) {
        learn_epoch(header.epoch, header.epoch_start, 0);
      }
      if (header.epoch != 0) note_newest(header.epoch, header.last_seq);
      check_divergence(now_ns, out);
      // A probe looks for the first frame of a higher epoch at or below last_seq: the point
      // where this subscriber's history and the service's part.
      uint64_t parted_at = 0;
      const uint64_t probe_last = last_seq_;
      for (const auto batch : batches) {
        if (auto opened = reader_.open(batch); !opened || reader_.heartbeat()) {
          ++counters_.corrupt_batches;
          continue;
        }
        const auto frames = reader_.frames();
        for (size_t i = 0; i < frames.size(); ++i) {
          const fb::Frame& frame = *frames[i];
          if (probing && probe_ && parted_at == 0 && frame.seq() >= probe_from_ &&
              frame.seq() <= probe_last && frame.epoch() > epoch_) {
            parted_at = frame.seq();
            if (parted_at > epoch_start_) {
              log(LogLevel::kWarn, "arbiter: probe found the divergence at seq %" PRIu64,
                  parted_at);
              probe_ = false;
              accept_at_ = parted_at;
              truncate(parted_at, out);  // then this frame starts the new history
            }
          }
          offer(frame, reader_.frame_bytes(i), now_ns, out);
        }
      }
      if (probing && probe_) {
        if (parted_at != 0 || header.served_to == 0 || header.served_to >= probe_last) {
          probe_ = false;
          ++counters_.unresolved_probes;
          next_request_ns_ = now_ns + config_.request_timeout_ns;
          log(LogLevel::kWarn,
              "arbiter: service %zu showed no divergence point between %" PRIu64 " and %" PRIu64,
              service, header.from, probe_last);
        } else {
          probe_from_ = header.served_to + 1;
        }
      } else if (matches) {
        if (header.served_to >= header.from) {
          next_request_ns_ = now_ns;
          // A capped reply: ask for the rest at once rather than after gap_timeout.
          ask_now_ = header.served_to < requested_to;
        } else {
          next_request_ns_ = now_ns + config_.gap_timeout_ns;  // nothing there yet
        }
      }
      break;
    }
    case ReplyKind::kGone: {
      if (!(answers && request_.kind != RequestKind::kSnapshot && header.from == request_.from)) {
        ++counters_.stale_replies;
        break;
      }
      request_.active = false;
      ++counters_.gone_replies;
      if (config_.mode == ResyncMode::kSnapshot) {
        log(LogLevel::kWarn,
            "arbiter: service %zu no longer holds seq %" PRIu64 " (oldest %" PRIu64
            "), taking a snapshot",
            service, header.from, header.oldest);
        want_snapshot();
      } else {
        log(LogLevel::kError,
            "arbiter: service %zu no longer holds seq %" PRIu64 " (oldest %" PRIu64
            "); asking the next service",
            service, header.from, header.oldest);
        out.actions.push_back({ArbiterAction::Kind::kRangeGone, service, header.from, 0});
        probe_ = false;
        service_ = next_service(service);
        next_request_ns_ = now_ns + config_.request_timeout_ns;
      }
      break;
    }
    case ReplyKind::kBusy:
      if (!answers) {
        ++counters_.stale_replies;
        break;
      }
      request_.active = false;
      ++counters_.busy_replies;
      service_ = service;
      next_request_ns_ = now_ns + uint64_t{header.retry_ms} * 1'000'000;
      break;
    case ReplyKind::kError:
      if (!answers) {
        ++counters_.stale_replies;
        break;
      }
      request_.active = false;
      ++counters_.error_replies;
      log(LogLevel::kWarn, "arbiter: service %zu answered error %s %s", service,
          header.reason.c_str(), header.detail.c_str());
      service_ = next_service(service);
      next_request_ns_ = now_ns + config_.gap_timeout_ns;
      break;
    case ReplyKind::kSnapshot:
    case ReplyKind::kStatus:
      ++counters_.unexpected_replies;
      break;
  }
  end_call(now_ns, out);
}

void Arbiter::on_snapshot_loaded(uint64_t seq, uint32_t epoch, uint64_t epoch_start,
                                 uint64_t now_ns, ArbiterOutput& out) {
  begin_call(out);
  if (request_.active && request_.kind == RequestKind::kSnapshot) request_.active = false;
  log(LogLevel::kInfo,
      "arbiter: snapshot loaded at seq %" PRIu64 " epoch %u (epoch start %" PRIu64 ")", seq, epoch,
      epoch_start);
  position(seq, epoch, epoch_start);
  next_request_ns_ = now_ns;
  gap_ = false;
  check_divergence(now_ns, out);
  end_call(now_ns, out);
}

void Arbiter::on_snapshot_failed(size_t service, uint64_t now_ns, ArbiterOutput& out) {
  begin_call(out);
  ++counters_.snapshot_failures;
  if (request_.active && request_.kind == RequestKind::kSnapshot && request_.service == service) {
    request_.active = false;
    service_ = next_service(service);
    next_request_ns_ = now_ns;
  }
  end_call(now_ns, out);
}

void Arbiter::on_tick(uint64_t now_ns, ArbiterOutput& out) {
  begin_call(out);
  end_call(now_ns, out);
}

// ---- frames ---------------------------------------------------------------------------------

void Arbiter::offer(const fb::Frame& frame, std::span<const uint8_t> bytes, uint64_t now_ns,
                    ArbiterOutput& out) {
  const uint64_t seq = frame.seq();
  const uint32_t epoch = frame.epoch();
  if (const fb::EpochChange* change = epoch_change_of(frame)) {
    learn_epoch(change->epoch(), seq, change->previous_epoch());
    check_divergence(now_ns, out);
  }
  if (!positioned_) {
    note_newest(epoch, seq);
    if (epoch >= newest_epoch_) last_live_ns_ = now_ns;
    store(frame, bytes);
    return;
  }
  if (epoch < min_epoch_at(seq)) {
    ++counters_.fenced;
    return;
  }
  if (seq <= last_seq_ && epoch > epoch_ && !probe_) {
    // A higher epoch's frame where this subscriber delivered one of its own: its history lost.
    diverged(now_ns, out);
    if (!positioned_) {
      note_newest(epoch, seq);
      store(frame, bytes);
      return;
    }
  }
  if (seq <= last_seq_) {
    ++counters_.duplicates;
    return;
  }
  note_newest(epoch, seq);
  if (epoch >= newest_epoch_) last_live_ns_ = now_ns;
  if (seq == last_seq_ + 1 && !probe_) {
    switch (judge_head(frame)) {
      case Verdict::kDeliver:
        deliver(frame, bytes, out);
        return;
      case Verdict::kFence:
        ++counters_.fenced;
        return;
      case Verdict::kDiverged:
        diverged(now_ns, out);
        break;
    }
  }
  store(frame, bytes);
}

Arbiter::Verdict Arbiter::judge_head(const fb::Frame& frame) {
  const uint64_t seq = frame.seq();
  const uint32_t epoch = frame.epoch();
  if (epoch < min_epoch_at(seq)) return Verdict::kFence;
  if (accept_at_ == seq && epoch >= epoch_) {
    // The first frame of the history a probe found: whatever epoch it is in.
    accept_at_ = 0;
    if (epoch > epoch_) {
      const auto known = epochs_.find(epoch);
      const uint64_t start =
          epoch_change_of(frame) || known == epochs_.end() ? seq : known->second.start;
      ++counters_.epoch_changes;
      position(last_seq_, epoch, start);
    }
    return Verdict::kDeliver;
  }
  if (epoch == epoch_) return Verdict::kDeliver;
  if (epoch < epoch_) return Verdict::kFence;
  const fb::EpochChange* change = epoch_change_of(frame);
  if (change != nullptr && change->previous_epoch() == epoch_ && change->epoch() == epoch) {
    ++counters_.epoch_changes;
    log(LogLevel::kInfo, "arbiter: epoch %u -> %u at seq %" PRIu64, epoch_, epoch, seq);
    position(last_seq_, epoch, seq);
    return Verdict::kDeliver;
  }
  // A higher epoch that began at or before last_seq (or after an epoch this subscriber never
  // saw): the frames delivered since it began lost.
  return Verdict::kDiverged;
}

void Arbiter::deliver(const fb::Frame& frame, std::span<const uint8_t> bytes, ArbiterOutput& out) {
  assert(frame.seq() == last_seq_ + 1);
  const std::span<uint8_t> copy = output_bytes(bytes.size());
  std::memcpy(copy.data(), bytes.data(), bytes.size());
  out.frames.push_back(fb::GetFrame(copy.data()));
  out.bytes.emplace_back(copy.data(), copy.size());
  last_seq_ = frame.seq();
  ++counters_.delivered;
}

void Arbiter::drain(uint64_t now_ns, ArbiterOutput& out) {
  while (positioned_ && !probe_ && !buffer_.empty()) {
    const auto it = buffer_.begin();
    const uint64_t seq = it->first;
    if (seq <= last_seq_) {
      ++counters_.duplicates;
      recycle(it);
      continue;
    }
    if (seq != last_seq_ + 1) break;
    const fb::Frame& frame = it->second.frame();
    switch (judge_head(frame)) {
      case Verdict::kDeliver:
        deliver(frame, {reinterpret_cast<const uint8_t*>(it->second.words.data()), it->second.size},
                out);
        ++counters_.reordered;
        recycle(it);
        break;
      case Verdict::kFence:
        ++counters_.fenced;
        recycle(it);
        break;
      case Verdict::kDiverged: {
        const uint64_t before = last_seq_;
        diverged(now_ns, out);
        // Nothing changed (no exact point yet): stop rather than judge the same frame again.
        if (positioned_ && !probe_ && last_seq_ == before) return;
        break;
      }
    }
  }
}

void Arbiter::store(const fb::Frame& frame, std::span<const uint8_t> bytes) {
  const uint64_t seq = frame.seq();
  if (auto it = buffer_.find(seq); it != buffer_.end()) {
    if (frame.epoch() <= it->second.frame().epoch()) {
      ++counters_.duplicates;
      return;
    }
    recycle(it);  // a higher epoch's frame replaces a copy from a history that lost
  }
  const auto full = [&] {
    return buffer_.size() >= config_.reorder_max_frames ||
           buffer_bytes_ + bytes.size() > config_.reorder_max_bytes;
  };
  // Past the bound the newest frames go; the range recovery fetches them later.
  while (full() && !buffer_.empty() && std::prev(buffer_.end())->first > seq) {
    recycle(std::prev(buffer_.end()));
    ++counters_.overflow_drops;
  }
  if (full()) {
    ++counters_.overflow_drops;
    return;
  }
  Buffered entry;
  if (!spare_.empty()) {
    entry.words = std::move(spare_.back());
    spare_.pop_back();
  }
  entry.words.resize((bytes.size() + 7) / 8);
  std::memcpy(entry.words.data(), bytes.data(), bytes.size());
  entry.size = static_cast<uint32_t>(bytes.size());
  buffer_bytes_ += bytes.size();
  buffer_.emplace(seq, std::move(entry));
}

void Arbiter::recycle(std::map<uint64_t, Buffered>::iterator it) {
  buffer_bytes_ -= it->second.size;
  if (spare_.size() < kMaxSpare) spare_.push_back(std::move(it->second.words));
  buffer_.erase(it);
}

std::span<uint8_t> Arbiter::output_bytes(size_t size) {
  const size_t words = (size + 7) / 8;
  for (;;) {
    if (output_block_ == output_blocks_.size()) {
      output_blocks_.emplace_back(std::max(kOutputBlockWords, words));
      output_used_ = 0;
    }
    std::vector<uint64_t>& block = output_blocks_[output_block_];
    if (block.size() - output_used_ >= words) {
      uint8_t* at = reinterpret_cast<uint8_t*>(block.data() + output_used_);
      output_used_ += words;
      return {at, size};
    }
    ++output_block_;
    output_used_ = 0;
  }
}

// ---- epochs and divergence ------------------------------------------------------------------

void Arbiter::learn_epoch(uint32_t epoch, uint64_t start, uint32_t previous) {
  if (positioned_ && epoch <= epoch_) return;
  EpochInfo& info = epochs_[epoch];
  if (info.start == 0 || previous != 0) info.start = start;
  if (previous != 0) info.previous = previous;
  while (epochs_.size() > kMaxEpochsAhead) epochs_.erase(std::prev(epochs_.end()));
}

void Arbiter::note_newest(uint32_t epoch, uint64_t seq) {
  if (epoch > newest_epoch_) {
    newest_epoch_ = epoch;
    newest_seq_ = seq;
  } else if (epoch == newest_epoch_) {
    newest_seq_ = std::max(newest_seq_, seq);
  }
}

uint32_t Arbiter::min_epoch_at(uint64_t seq) const {
  uint32_t epoch = positioned_ && seq >= epoch_start_ ? epoch_ : 0;
  for (const auto& [e, info] : epochs_) {
    if (info.start <= seq) epoch = std::max(epoch, e);
  }
  return epoch;
}

void Arbiter::check_divergence(uint64_t now_ns, ArbiterOutput& out) {
  if (!positioned_) return;
  const auto next = epochs_.upper_bound(epoch_);
  if (next != epochs_.end() && next->second.start <= last_seq_) diverged(now_ns, out);
}

void Arbiter::diverged(uint64_t now_ns, ArbiterOutput& out) {
  if (!positioned_) return;
  if (!probe_) ++counters_.divergences;
  if (config_.mode == ResyncMode::kSnapshot) {
    log(LogLevel::kWarn,
        "arbiter: frames up to seq %" PRIu64
        " of epoch %u lost to a higher epoch; taking a "
        "snapshot",
        last_seq_, epoch_);
    want_snapshot();
    return;
  }
  // Exact only for the epoch right after ours, or one whose EpochChange says it followed ours.
  const auto next = epochs_.upper_bound(epoch_);
  if (next != epochs_.end() && (next->first == epoch_ + 1 || next->second.previous == epoch_) &&
      next->second.start > epoch_start_ && next->second.start <= last_seq_) {
    probe_ = false;
    truncate(next->second.start, out);
    return;
  }
  if (probe_) return;
  log(LogLevel::kWarn,
      "arbiter: frames of epoch %u up to seq %" PRIu64
      " lost to a higher epoch; probing for "
      "where",
      epoch_, last_seq_);
  probe_ = true;
  probe_from_ = epoch_start_ + 1;
  if (request_.active && request_.kind == RequestKind::kRange) request_.active = false;
  next_request_ns_ = now_ns;
}

void Arbiter::truncate(uint64_t from, ArbiterOutput& out) {
  assert(from <= last_seq_);
  log(LogLevel::kWarn,
      "arbiter: frames %" PRIu64 "..%" PRIu64 " of epoch %u lost to a higher epoch; truncating",
      from, last_seq_, epoch_);
  // Frames of this call at or past `from` never reached the owner: take them back.
  while (!out.frames.empty() && out.frames.back()->seq() >= from) {
    out.frames.pop_back();
    out.bytes.pop_back();
  }
  out.actions.push_back({ArbiterAction::Kind::kDiverged, 0, from, 0});
  last_seq_ = from - 1;
  call_start_seq_ = std::min(call_start_seq_, last_seq_);
}

void Arbiter::want_snapshot() {
  positioned_ = false;
  probe_ = false;
  accept_at_ = 0;
  gap_ = false;
  if (request_.active && request_.kind != RequestKind::kSnapshot) request_.active = false;
  next_request_ns_ = 0;
}

// ---- recovery requests ----------------------------------------------------------------------

void Arbiter::update_gap(uint64_t now_ns) {
  if (!positioned_ || probe_ || newest_seq_ <= last_seq_) {
    gap_ = false;
    return;
  }
  if (!gap_) {
    gap_ = true;
    gap_since_ns_ = now_ns;
    ++counters_.gaps;
  } else if (last_seq_ > call_start_seq_) {
    gap_since_ns_ = now_ns;  // the lines are still filling it: give them gap_timeout again
  }
}

uint64_t Arbiter::gap_end() const {
  const uint64_t from = last_seq_ + 1;
  uint64_t to = newest_seq_;
  if (const auto it = buffer_.upper_bound(from); it != buffer_.end()) to = it->first - 1;
  to = std::max(to, from);
  return std::min(to, from + config_.max_range - 1);
}

void Arbiter::service_recovery(uint64_t now_ns, ArbiterOutput& out) {
  const size_t services = config_.recovery_services;
  if (services == 0) return;
  if (request_.active) {
    if (now_ns - request_.sent_ns < config_.request_timeout_ns) return;
    ++counters_.request_timeouts;
    log(LogLevel::kWarn, "arbiter: service %zu did not answer within %" PRIu64 " ms; trying %zu",
        request_.service, config_.request_timeout_ns / 1'000'000, next_service(request_.service));
    request_.active = false;
    service_ = next_service(request_.service);
    next_request_ns_ = now_ns;
  }
  if (now_ns < next_request_ns_) return;
  if (!positioned_) {
    if (config_.mode == ResyncMode::kSnapshot) send(RequestKind::kSnapshot, 0, 0, now_ns, out);
    return;
  }
  if (probe_) {
    if (probe_from_ > last_seq_) {
      probe_ = false;
      ++counters_.unresolved_probes;
      return;
    }
    send(RequestKind::kProbe, probe_from_, std::min(last_seq_, probe_from_ + config_.max_range - 1),
         now_ns, out);
    return;
  }
  if (gap_ && now_ns - gap_since_ns_ >= config_.gap_timeout_ns) {
    send(RequestKind::kRange, last_seq_ + 1, gap_end(), now_ns, out);
  }
}

void Arbiter::send(RequestKind kind, uint64_t from, uint64_t to, uint64_t now_ns,
                   ArbiterOutput& out) {
  request_ = Request{true, kind, service_, from, to, now_ns};
  if (kind == RequestKind::kSnapshot) {
    ++counters_.snapshots;
    out.actions.push_back({ArbiterAction::Kind::kRequestSnapshot, service_, 0, 0});
    return;
  }
  ++counters_.range_requests;
  if (kind == RequestKind::kProbe) ++counters_.probes;
  out.actions.push_back({ArbiterAction::Kind::kRequestRange, service_, from, to});
}

size_t Arbiter::next_service(size_t service) const {
  return config_.recovery_services == 0 ? 0 : (service + 1) % config_.recovery_services;
}

// ---- accessors ------------------------------------------------------------------------------

uint64_t Arbiter::last_seq() const { return last_seq_; }
uint32_t Arbiter::epoch() const { return epoch_; }
uint64_t Arbiter::epoch_start() const { return epoch_start_; }
uint64_t Arbiter::newest_seq() const { return newest_seq_; }
bool Arbiter::positioned() const { return positioned_; }
uint64_t Arbiter::last_heard_ns(size_t line) const {
  return line < last_heard_ns_.size() ? last_heard_ns_[line] : 0;
}
uint64_t Arbiter::last_live_ns() const { return last_live_ns_; }
uint64_t Arbiter::gap_open_since_ns() const { return gap_ ? gap_since_ns_ : 0; }
const ArbiterCounters& Arbiter::counters() const { return counters_; }

}  // namespace oddsbus::edge
