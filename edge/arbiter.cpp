#include "edge/arbiter.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace oddsbus::edge {

namespace {

constexpr size_t kOutputBlockWords = size_t{1} << 15;  // 256 KiB per block of delivered frames

const fb::EpochChange* epoch_change_of(const fb::Frame& frame) {
  return frame.payload_type() == fb::Payload::EpochChange ? frame.payload_as_EpochChange()
                                                          : nullptr;
}

using NoticeKind = ArbiterNotice::Kind;

}  // namespace

std::string_view mode_name(ArbiterMode mode) {
  switch (mode) {
    case ArbiterMode::kAwaitingSnapshot:
      return "awaiting-snapshot";
    case ArbiterMode::kLive:
      return "live";
    case ArbiterMode::kProbing:
      return "probing";
    case ArbiterMode::kResyncing:
      return "resyncing";
  }
  return "unknown";
}

Arbiter::Arbiter(const ArbiterConfig& config)
    : config_(config),
      // A secondary with an empty journal starts at the beginning of epoch 1; an edge starts from
      // a snapshot.
      mode_(config.mode == ResyncMode::kTruncate ? ArbiterMode::kLive
                                                 : ArbiterMode::kAwaitingSnapshot),
      buffer_(config.reorder_max_frames, config.reorder_max_bytes),
      requests_(config.recovery_services, config.request_timeout_ns) {
  if (config_.max_range == 0) config_.max_range = 1;
  if (config_.mode == ResyncMode::kTruncate) position_at(0, 1, 1, nullptr);
}

void Arbiter::reset(uint64_t last_seq, uint32_t epoch, uint64_t epoch_start,
                    std::span<const EpochLink> ancestors) {
  buffer_.clear();
  epochs_.clear();
  requests_.reset();
  gap_ = false;
  position_at(last_seq, epoch, epoch_start, nullptr);
  const size_t keep = std::min(ancestors.size(), kMaxAncestors);
  ancestors_.assign(ancestors.end() - static_cast<std::ptrdiff_t>(keep), ancestors.end());
}

// ---- mode -----------------------------------------------------------------------------------

void Arbiter::transition(ArbiterMode to, ArbiterOutput* out) {
  if (mode_ == to) return;
  ArbiterNotice notice{.kind = NoticeKind::kModeChange};
  notice.from_mode = mode_;
  notice.to_mode = to;
  mode_ = to;
  notify(notice, out);
}

void Arbiter::notify(const ArbiterNotice& notice, ArbiterOutput* out) {
  (out != nullptr ? out->notices : pending_notices_).push_back(notice);
}

StreamPosition Arbiter::position() const {
  return StreamPosition{positioned(), last_seq_, epoch_, epoch_start_, ancestors_};
}

void Arbiter::position_at(uint64_t last_seq, uint32_t epoch, uint64_t epoch_start,
                          ArbiterOutput* out, bool continues) {
  transition(ArbiterMode::kLive, out);
  if (continues) {
    // The delivered history moves on to a later epoch: ours becomes its ancestor.
    if (ancestors_.size() == kMaxAncestors) ancestors_.erase(ancestors_.begin());
    ancestors_.push_back({epoch_, epoch_start_});
  } else {
    ancestors_.clear();  // a snapshot, a reset or a probe's point: its past is unknown here
  }
  last_seq_ = last_seq;
  epoch_ = epoch;
  epoch_start_ = epoch_start;
  accept_at_ = 0;
  epochs_.forget_through(epoch_);
  epochs_.note_position(epoch_, last_seq_);
}

// ---- calls ----------------------------------------------------------------------------------

void Arbiter::begin_call(ArbiterOutput& out) {
  if (out.frames.empty()) {
    output_block_ = 0;
    output_used_ = 0;
  }
  call_start_seq_ = last_seq_;
  call_start_fenced_ = counters_.fenced;
  call_start_overflow_ = counters_.overflow_drops;
  if (!pending_notices_.empty()) {
    out.notices.insert(out.notices.end(), pending_notices_.begin(), pending_notices_.end());
    pending_notices_.clear();
  }
}

void Arbiter::end_call(uint64_t now_ns, ArbiterOutput& out) {
  drain(now_ns, out);
  update_gap(now_ns);
  if (ask_now_ && gap_) gap_since_ns_ = now_ns - std::min(now_ns, config_.gap_timeout_ns);
  ask_now_ = false;
  service_recovery(now_ns, out);
  if (counters_.fenced > call_start_fenced_) {
    ArbiterNotice notice{.kind = NoticeKind::kFenced};
    notice.count = counters_.fenced - call_start_fenced_;
    notify(notice, &out);
  }
  if (counters_.overflow_drops > call_start_overflow_) {
    ArbiterNotice notice{.kind = NoticeKind::kOverflow};
    notice.count = counters_.overflow_drops - call_start_overflow_;
    notify(notice, &out);
  }
}

void Arbiter::on_batch(size_t line, std::span<const uint8_t> bytes, uint64_t now_ns,
                       ArbiterOutput& out) {
  begin_call(out);
  if (auto opened = reader_.open(bytes); !opened) {
    ++counters_.corrupt_batches;
    ArbiterNotice notice{.kind = NoticeKind::kCorruptBatch};
    notice.source = line;
    notice.seq = opened.error().seq;
    notice.error = opened.error().error;
    notify(notice, &out);
    end_call(now_ns, out);
    return;
  }
  if (line >= last_heard_ns_.size()) last_heard_ns_.resize(line + 1, 0);
  last_heard_ns_[line] = now_ns;
  if (reader_.heartbeat()) {
    const auto frames = reader_.frames();
    if (frames.size() == 1 && frames[0]->payload_type() == fb::Payload::Heartbeat) {
      highest_epoch_seen_ = std::max(highest_epoch_seen_, frames[0]->epoch());
      on_heartbeat(*frames[0], now_ns, out);
    } else {
      ++counters_.corrupt_batches;
    }
  } else {
    const auto frames = reader_.frames();
    for (size_t i = 0; i < frames.size(); ++i) {
      highest_epoch_seen_ = std::max(highest_epoch_seen_, frames[i]->epoch());
      offer(*frames[i], reader_.frame_bytes(i), now_ns, out);
    }
  }
  end_call(now_ns, out);
}

void Arbiter::on_heartbeat(const fb::Frame& frame, uint64_t now_ns, ArbiterOutput& out) {
  ++counters_.heartbeats;
  const fb::Heartbeat* heartbeat = frame.payload_as_Heartbeat();
  const uint32_t epoch = frame.epoch();
  if (heartbeat->epoch_start() != 0) learn_epoch(epoch, heartbeat->epoch_start(), 0, 0);
  epochs_.note_newest(epoch, heartbeat->last_seq());
  if (epoch >= epochs_.newest_epoch()) last_live_ns_ = now_ns;
  if (!heartbeat->relayed() && epoch >= epochs_.newest_epoch()) {
    last_sequencer_ns_ = now_ns;
    sequencer_epoch_ = epoch;
    sequencer_last_seq_ = heartbeat->last_seq();
  }
  check_divergence(now_ns, out);
}

void Arbiter::on_reply(size_t service, const recovery::ReplyHeader& header,
                       std::span<const std::span<const uint8_t>> batches, uint64_t now_ns,
                       ArbiterOutput& out) {
  using recovery::ReplyKind;
  begin_call(out);
  switch (header.kind) {
    case ReplyKind::kRange:
      on_range(service, header, batches, now_ns, out);
      break;
    case ReplyKind::kGone: {
      if (!requests_.awaits_range(service, header.from)) {
        ++counters_.stale_replies;
        break;
      }
      requests_.settle();
      ++counters_.gone_replies;
      ArbiterNotice notice{.kind = NoticeKind::kRangeGone};
      notice.source = service;
      notice.seq = header.from;
      notice.to = header.oldest;
      notify(notice, &out);
      if (config_.mode == ResyncMode::kSnapshot) {
        want_snapshot(out);
      } else {
        out.actions.push_back({ArbiterAction::Kind::kRangeGone, service, header.from, 0});
        transition(ArbiterMode::kLive, &out);
        requests_.move_on(service, now_ns + config_.request_timeout_ns);
      }
      break;
    }
    case ReplyKind::kBusy:
      if (!requests_.awaits(service)) {
        ++counters_.stale_replies;
        break;
      }
      requests_.settle();
      ++counters_.busy_replies;
      requests_.retry_at(service, now_ns + uint64_t{header.retry_ms} * 1'000'000);
      break;
    case ReplyKind::kError: {
      if (!requests_.awaits(service)) {
        ++counters_.stale_replies;
        break;
      }
      requests_.settle();
      ++counters_.error_replies;
      ArbiterNotice notice{.kind = NoticeKind::kServiceError};
      notice.source = service;
      notify(notice, &out);
      requests_.move_on(service, now_ns + config_.gap_timeout_ns);
      break;
    }
    case ReplyKind::kSnapshot:
    case ReplyKind::kStatus:
      ++counters_.unexpected_replies;
      break;
  }
  end_call(now_ns, out);
}

void Arbiter::on_range(size_t service, const recovery::ReplyHeader& header,
                       std::span<const std::span<const uint8_t>> batches, uint64_t now_ns,
                       ArbiterOutput& out) {
  const bool matches = requests_.awaits_range(service, header.from);
  const bool probing = matches && requests_.outstanding().kind == RecoveryRequestKind::kProbe &&
                       mode_ == ArbiterMode::kProbing;
  const uint64_t requested_to = requests_.outstanding().to;
  if (matches) {
    requests_.settle();
  } else {
    ++counters_.stale_replies;
  }
  if (header.epoch != 0 && header.epoch_start != 0) {
    learn_epoch(header.epoch, header.epoch_start, 0, 0);
  }
  if (header.epoch != 0) epochs_.note_newest(header.epoch, header.last_seq);
  check_divergence(now_ns, out);
  // A probe looks for the first frame of a higher epoch at or below last_seq: the point where
  // this subscriber's history and the service's part.
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
      highest_epoch_seen_ = std::max(highest_epoch_seen_, frame.epoch());
      if (probing && mode_ == ArbiterMode::kProbing && parted_at == 0 &&
          frame.seq() >= probe_from_ && frame.seq() <= probe_last && frame.epoch() > epoch_) {
        parted_at = frame.seq();
        if (parted_at > epoch_start_) {
          ArbiterNotice notice{.kind = NoticeKind::kProbeFound};
          notice.seq = parted_at;
          notify(notice, &out);
          transition(ArbiterMode::kLive, &out);
          accept_at_ = parted_at;
          truncate(parted_at, out);  // then this frame starts the new history
        }
      }
      offer(frame, reader_.frame_bytes(i), now_ns, out);
    }
  }
  if (probing && mode_ == ArbiterMode::kProbing) {
    if (parted_at != 0 || header.served_to == 0 || header.served_to >= probe_last) {
      transition(ArbiterMode::kLive, &out);
      ++counters_.unresolved_probes;
      requests_.hold_until(now_ns + config_.request_timeout_ns);
      ArbiterNotice notice{.kind = NoticeKind::kProbeUnresolved};
      notice.source = service;
      notice.seq = header.from;
      notice.to = probe_last;
      notify(notice, &out);
    } else {
      probe_from_ = header.served_to + 1;
    }
  } else if (matches) {
    if (header.served_to >= header.from) {
      requests_.hold_until(now_ns);
      // A capped reply: ask for the rest at once rather than after gap_timeout.
      ask_now_ = header.served_to < requested_to;
    } else {
      requests_.hold_until(now_ns + config_.gap_timeout_ns);  // nothing there yet
    }
  }
}

void Arbiter::on_snapshot_loaded(uint64_t seq, uint32_t epoch, uint64_t epoch_start,
                                 uint64_t now_ns, ArbiterOutput& out) {
  begin_call(out);
  requests_.cancel(RecoveryRequestKind::kSnapshot);
  ArbiterNotice notice{.kind = NoticeKind::kSnapshotLoaded};
  notice.seq = seq;
  notice.to = epoch_start;
  notice.new_epoch = epoch;
  notify(notice, &out);
  position_at(seq, epoch, epoch_start, &out);
  requests_.hold_until(now_ns);
  gap_ = false;
  check_divergence(now_ns, out);
  end_call(now_ns, out);
}

void Arbiter::on_snapshot_failed(size_t service, uint64_t now_ns, ArbiterOutput& out) {
  begin_call(out);
  ++counters_.snapshot_failures;
  if (requests_.awaits(service) && requests_.outstanding().kind == RecoveryRequestKind::kSnapshot) {
    requests_.settle();
    requests_.move_on(service, now_ns);
  }
  end_call(now_ns, out);
}

bool Arbiter::snapshot_superseded(uint64_t seq, uint32_t epoch, uint64_t epoch_start) const {
  return epochs_.history_lost(StreamPosition{true, seq, epoch, epoch_start, {}});
}

void Arbiter::on_snapshot_superseded(size_t service, uint64_t now_ns, ArbiterOutput& out) {
  begin_call(out);
  ++counters_.superseded_snapshots;
  if (requests_.awaits(service) && requests_.outstanding().kind == RecoveryRequestKind::kSnapshot) {
    requests_.settle();
    requests_.move_on(service, now_ns + config_.gap_timeout_ns);
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
    learn_epoch(change->epoch(), seq, change->previous_epoch(), change->previous_start());
    check_divergence(now_ns, out);
  }
  if (!positioned()) {
    epochs_.note_newest(epoch, seq);
    if (epoch >= epochs_.newest_epoch()) last_live_ns_ = last_sequencer_ns_ = now_ns;
    store(frame, bytes);
    return;
  }
  if (epoch < epochs_.min_epoch_at(seq, position())) {
    ++counters_.fenced;
    return;
  }
  if (seq <= last_seq_ && epoch > epoch_ && mode_ != ArbiterMode::kProbing) {
    // A higher epoch's frame where this subscriber delivered one of its own: its history lost.
    diverged(now_ns, out);
    if (!positioned()) {
      epochs_.note_newest(epoch, seq);
      store(frame, bytes);
      return;
    }
  }
  if (seq <= last_seq_) {
    ++counters_.duplicates;
    return;
  }
  epochs_.note_newest(epoch, seq);
  if (epoch >= epochs_.newest_epoch()) last_live_ns_ = last_sequencer_ns_ = now_ns;
  if (seq == last_seq_ + 1 && mode_ != ArbiterMode::kProbing) {
    switch (judge_head(frame, out)) {
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
  } else if (config_.planted_skip_reorder && mode_ == ArbiterMode::kLive && epoch == epoch_) {
    deliver(frame, bytes, out);  // the planted bug: jumps the gap
    return;
  }
  store(frame, bytes);
}

Arbiter::Verdict Arbiter::judge_head(const fb::Frame& frame, ArbiterOutput& out) {
  const uint64_t seq = frame.seq();
  const uint32_t epoch = frame.epoch();
  if (epoch < epochs_.min_epoch_at(seq, position())) return Verdict::kFence;
  if (accept_at_ == seq && epoch >= epoch_) {
    // The first frame of the history a probe found: whatever epoch it is in.
    accept_at_ = 0;
    if (epoch > epoch_) {
      const uint64_t known = epochs_.start_of(epoch);
      const fb::EpochChange* change = epoch_change_of(frame);
      const uint64_t start = change != nullptr || known == 0 ? seq : known;
      const bool continues = change != nullptr && change->previous_epoch() == epoch_;
      ++counters_.epoch_changes;
      ArbiterNotice notice{.kind = NoticeKind::kEpochChange};
      notice.seq = seq;
      notice.epoch = epoch_;
      notice.new_epoch = epoch;
      notify(notice, &out);
      position_at(last_seq_, epoch, start, &out, continues);
    }
    return Verdict::kDeliver;
  }
  if (epoch == epoch_) return Verdict::kDeliver;
  if (epoch < epoch_) return Verdict::kFence;
  const fb::EpochChange* change = epoch_change_of(frame);
  if (change != nullptr && change->previous_epoch() == epoch_ && change->epoch() == epoch &&
      (change->previous_start() == 0 || change->previous_start() == epoch_start_)) {
    ++counters_.epoch_changes;
    ArbiterNotice notice{.kind = NoticeKind::kEpochChange};
    notice.seq = seq;
    notice.epoch = epoch_;
    notice.new_epoch = epoch;
    notify(notice, &out);
    position_at(last_seq_, epoch, seq, &out, /*continues=*/true);
    return Verdict::kDeliver;
  }
  // A higher epoch that began at or before last_seq (or after an epoch this subscriber never
  // saw): the frames delivered since it began lost.
  return Verdict::kDiverged;
}

void Arbiter::deliver(const fb::Frame& frame, std::span<const uint8_t> bytes, ArbiterOutput& out) {
  assert(frame.seq() == last_seq_ + 1 || config_.planted_skip_reorder);
  const std::span<uint8_t> copy = output_bytes(bytes.size());
  std::memcpy(copy.data(), bytes.data(), bytes.size());
  out.frames.push_back(fb::GetFrame(copy.data()));
  out.bytes.emplace_back(copy.data(), copy.size());
  last_seq_ = frame.seq();
  ++counters_.delivered;
}

void Arbiter::drain(uint64_t now_ns, ArbiterOutput& out) {
  while (mode_ == ArbiterMode::kLive && !buffer_.empty()) {
    const uint64_t seq = buffer_.first_seq();
    if (seq <= last_seq_) {
      ++counters_.duplicates;
      buffer_.pop_first();
      continue;
    }
    if (seq != last_seq_ + 1) break;
    const fb::Frame& frame = buffer_.first_frame();
    switch (judge_head(frame, out)) {
      case Verdict::kDeliver:
        deliver(frame, buffer_.first_bytes(), out);
        ++counters_.reordered;
        buffer_.pop_first();
        break;
      case Verdict::kFence:
        ++counters_.fenced;
        buffer_.pop_first();
        break;
      case Verdict::kDiverged: {
        const uint64_t before = last_seq_;
        diverged(now_ns, out);
        // Nothing changed (no exact point yet): stop rather than judge the same frame again.
        if (mode_ == ArbiterMode::kLive && last_seq_ == before) return;
        break;
      }
    }
  }
}

void Arbiter::store(const fb::Frame& frame, std::span<const uint8_t> bytes) {
  const ReorderBuffer::StoreResult result = buffer_.store(frame, bytes);
  if (result.duplicate) ++counters_.duplicates;
  counters_.overflow_drops += result.dropped;
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

void Arbiter::learn_epoch(uint32_t epoch, uint64_t start, uint32_t previous,
                          uint64_t previous_start) {
  epochs_.learn(epoch, start, previous, position(), previous_start);
  // The epoch it continued began at previous_start: news when that epoch is not ours either.
  if (previous != 0 && previous_start != 0) epochs_.learn(previous, previous_start, 0, position());
}

void Arbiter::check_divergence(uint64_t now_ns, ArbiterOutput& out) {
  if (epochs_.history_lost(position())) diverged(now_ns, out);
}

void Arbiter::diverged(uint64_t now_ns, ArbiterOutput& out) {
  if (!positioned()) return;
  if (mode_ != ArbiterMode::kProbing) ++counters_.divergences;
  ArbiterNotice lost{.kind = NoticeKind::kDivergence};
  lost.seq = last_seq_;
  lost.epoch = epoch_;
  if (config_.mode == ResyncMode::kSnapshot) {
    notify(lost, &out);
    want_snapshot(out);
    return;
  }
  if (const uint64_t at = epochs_.divergence_at(position()); at != 0) {
    transition(ArbiterMode::kLive, &out);
    truncate(at, out);
    return;
  }
  if (mode_ == ArbiterMode::kProbing) return;
  notify(lost, &out);
  transition(ArbiterMode::kProbing, &out);
  probe_from_ = epoch_start_ + 1;
  requests_.cancel(RecoveryRequestKind::kRange);
  requests_.hold_until(now_ns);
}

void Arbiter::truncate(uint64_t from, ArbiterOutput& out) {
  assert(from <= last_seq_);
  ArbiterNotice notice{.kind = NoticeKind::kTruncated};
  notice.seq = from;
  notice.to = last_seq_;
  notice.epoch = epoch_;
  notify(notice, &out);
  // Frames of this call at or past `from` never reached the owner: take them back.
  while (!out.frames.empty() && out.frames.back()->seq() >= from) {
    out.frames.pop_back();
    out.bytes.pop_back();
  }
  out.actions.push_back({ArbiterAction::Kind::kDiverged, 0, from, 0});
  last_seq_ = from - 1;
  // Our epoch's own EpochChange went too: the position returns to the epoch it continued.
  while (from <= epoch_start_ && !ancestors_.empty()) {
    epoch_ = ancestors_.back().epoch;
    epoch_start_ = ancestors_.back().start;
    ancestors_.pop_back();
  }
  call_start_seq_ = std::min(call_start_seq_, last_seq_);
}

void Arbiter::want_snapshot(ArbiterOutput& out) {
  if (positioned()) transition(ArbiterMode::kResyncing, &out);
  accept_at_ = 0;
  gap_ = false;
  requests_.cancel(RecoveryRequestKind::kRange);
  requests_.cancel(RecoveryRequestKind::kProbe);
  requests_.hold_until(0);
}

// ---- recovery requests ----------------------------------------------------------------------

void Arbiter::update_gap(uint64_t now_ns) {
  if (mode_ != ArbiterMode::kLive || epochs_.newest_seq() <= last_seq_) {
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
  uint64_t to = epochs_.newest_seq();
  if (const uint64_t next = buffer_.next_after(from); next != 0) to = next - 1;
  to = std::max(to, from);
  return std::min(to, from + config_.max_range - 1);
}

void Arbiter::service_recovery(uint64_t now_ns, ArbiterOutput& out) {
  if (requests_.services() == 0) return;
  if (requests_.outstanding().active) {
    const size_t service = requests_.outstanding().service;
    if (!requests_.expire(now_ns)) return;
    ++counters_.request_timeouts;
    ArbiterNotice notice{.kind = NoticeKind::kRequestTimeout};
    notice.source = service;
    notify(notice, &out);
  }
  if (!requests_.ready(now_ns)) return;
  if (!positioned()) {
    if (config_.mode == ResyncMode::kSnapshot) {
      send(RecoveryRequestKind::kSnapshot, 0, 0, now_ns, out);
    }
    return;
  }
  if (mode_ == ArbiterMode::kProbing) {
    if (probe_from_ > last_seq_) {
      transition(ArbiterMode::kLive, &out);
      ++counters_.unresolved_probes;
      return;
    }
    send(RecoveryRequestKind::kProbe, probe_from_,
         std::min(last_seq_, probe_from_ + config_.max_range - 1), now_ns, out);
    return;
  }
  if (gap_ && now_ns - gap_since_ns_ >= config_.gap_timeout_ns) {
    send(RecoveryRequestKind::kRange, last_seq_ + 1, gap_end(), now_ns, out);
  }
}

void Arbiter::send(RecoveryRequestKind kind, uint64_t from, uint64_t to, uint64_t now_ns,
                   ArbiterOutput& out) {
  const RecoveryRequest& request = requests_.send(kind, from, to, now_ns);
  if (kind == RecoveryRequestKind::kSnapshot) {
    ++counters_.snapshots;
    out.actions.push_back({ArbiterAction::Kind::kRequestSnapshot, request.service, 0, 0});
    return;
  }
  ++counters_.range_requests;
  if (kind == RecoveryRequestKind::kProbe) ++counters_.probes;
  out.actions.push_back({ArbiterAction::Kind::kRequestRange, request.service, from, to});
}

// ---- accessors ------------------------------------------------------------------------------

uint64_t Arbiter::last_seq() const { return last_seq_; }
uint32_t Arbiter::epoch() const { return epoch_; }
uint64_t Arbiter::epoch_start() const { return epoch_start_; }
uint64_t Arbiter::newest_seq() const { return epochs_.newest_seq(); }
bool Arbiter::positioned() const {
  return mode_ == ArbiterMode::kLive || mode_ == ArbiterMode::kProbing;
}
uint64_t Arbiter::last_heard_ns(size_t line) const {
  return line < last_heard_ns_.size() ? last_heard_ns_[line] : 0;
}
uint64_t Arbiter::last_live_ns() const { return last_live_ns_; }
uint64_t Arbiter::gap_open_since_ns() const { return gap_ ? gap_since_ns_ : 0; }
const ArbiterCounters& Arbiter::counters() const { return counters_; }

}  // namespace oddsbus::edge
