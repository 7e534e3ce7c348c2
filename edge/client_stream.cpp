#include "edge/client_stream.h"

#include <algorithm>
#include <utility>

#include "edge/client_tokens.h"

namespace oddsbus::edge {

namespace {

void merge_sorted(std::vector<uint64_t>& into, const std::vector<uint64_t>& more) {
  std::vector<uint64_t> merged;
  merged.reserve(into.size() + more.size());
  std::set_union(into.begin(), into.end(), more.begin(), more.end(), std::back_inserter(merged));
  into = std::move(merged);
}

void remove_sorted(std::vector<uint64_t>& from, const std::vector<uint64_t>& gone) {
  std::vector<uint64_t> kept;
  std::set_difference(from.begin(), from.end(), gone.begin(), gone.end(), std::back_inserter(kept));
  from = std::move(kept);
}

bool contains(const std::vector<uint64_t>& sorted, uint64_t id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

}  // namespace

std::shared_ptr<const ImageParts> ImageCache::find(const std::string& key) const {
  for (const Entry& entry : entries_) {
    if (entry.key == key) {
      ++hits_;
      return entry.parts;
    }
  }
  return nullptr;
}

void ImageCache::put(std::string key, std::shared_ptr<const ImageParts> parts) {
  if (entries_.size() < kEntries) {
    entries_.push_back(Entry{std::move(key), std::move(parts)});
    return;
  }
  entries_[next_] = Entry{std::move(key), std::move(parts)};
  next_ = (next_ + 1) % kEntries;
}

ClientStream::ClientStream(const ClientStreamConfig& config, StreamTotals& totals, uint64_t now_ns)
    : config_(config),
      totals_(totals),
      last_queued_ns_(now_ns),
      last_tick_ns_(now_ns),
      message_tokens_(config.message_burst),
      message_refill_ns_(now_ns) {}

bool ClientStream::flooding(uint64_t now_ns) {
  if (now_ns > message_refill_ns_) {
    message_tokens_ = std::min(config_.message_burst,
                               message_tokens_ + static_cast<double>(now_ns - message_refill_ns_) /
                                                     1e9 * config_.max_messages_per_second);
    message_refill_ns_ = now_ns;
  }
  if (message_tokens_ < 1.0) return true;
  message_tokens_ -= 1.0;
  return false;
}

bool ClientStream::permitted(uint64_t market) const {
  return rights_ == nullptr || rights_->allows(market);
}

bool ClientStream::within_rights(ClientRequest& request, const StreamContext& ctx) {
  if (rights_ == nullptr || rights_->all) return true;
  std::vector<uint64_t> refused;
  std::erase_if(request.markets, [&](uint64_t id) {
    if (rights_->allows(id)) return false;
    refused.push_back(id);
    return true;
  });
  if (refused.empty() && !request.all) return true;
  ++totals_.forbidden_subscribes;
  std::string error = "not permitted by your token: ";
  if (request.all) error += "\"all\" (subscribed to the markets it grants instead)";
  for (size_t i = 0; i < refused.size() && i < 20; ++i) {
    error +=
        (i == 0 ? (request.all ? "; markets " : "markets ") : ", ") + std::to_string(refused[i]);
  }
  if (refused.size() > 20) error += " and " + std::to_string(refused.size() - 20) + " more";
  std::string text;
  append_error_message(text, error);
  queue_control(std::move(text), ctx);
  return request.all || !request.markets.empty() || !request.events.empty();
}

void ClientStream::on_text(std::string_view text, ClientRequestParser& parser,
                           const StreamContext& ctx) {
  if (verdict_) return;
  if (flooding(ctx.now_ns)) {
    ++totals_.floods;
    verdict_ = CloseVerdict{
        1008, "flood: more than " +
                  std::to_string(static_cast<uint64_t>(config_.max_messages_per_second)) +
                  " messages a second"};
    return;
  }
  auto request = parser.parse(text);
  if (!request) {
    refuse(request.error(), ctx);
    return;
  }
  switch (request->op) {
    case ClientRequest::Op::kPing: {
      std::string pong;
      append_pong_message(pong, consistent_seq(ctx));
      queue_control(std::move(pong), ctx);
      break;
    }
    case ClientRequest::Op::kSubscribe:
      if (within_rights(*request, ctx) && !verdict_) subscribe(*request, ctx);
      break;
    case ClientRequest::Op::kUnsubscribe:
      unsubscribe(*request, ctx);
      break;
  }
}

void ClientStream::subscribe(const ClientRequest& request, const StreamContext& ctx) {
  const bool was_subscribed = subscribed_;
  bool adds = false;  // the request widens a subscription the client already holds
  if (request.all) {
    adds = !all_;
    all_ = true;
    markets_.clear();
    events_.clear();
  } else if (!all_) {
    // Ids named again count once: the limit is on what the client is subscribed to.
    std::vector<uint64_t> markets = markets_;
    std::vector<uint64_t> events = events_;
    merge_sorted(markets, request.markets);
    merge_sorted(events, request.events);
    if (markets.size() + events.size() > config_.max_subscribed_ids) {
      refuse("subscription would name more than " + std::to_string(config_.max_subscribed_ids) +
                 " markets and events",
             ctx);
      return;
    }
    adds = markets.size() > markets_.size() || events.size() > events_.size();
    markets_ = std::move(markets);
    events_ = std::move(events);
  }
  subscribed_ = true;
  note_subscription(StreamAuditNote::Kind::kSubscribe, request, ctx);
  if (!ctx.cache.positioned()) {
    // Sent by on_resync once the edge has a state; meanwhile the client knows it is not current.
    image_wanted_ = request.resume_from ? "resume-unavailable" : "subscribe";
    std::string text;
    append_stale_message(text, true);
    queue_control(std::move(text), ctx);
    return;
  }
  // A resume is honoured only when the client's (seq, epoch) lies in this edge's history and
  // window, and when it adds no market the client does not hold yet (those need an image).
  if (request.resume_from && request.resume_epoch && !(was_subscribed && adds) &&
      ctx.cache.can_resume(*request.resume_from, *request.resume_epoch)) {
    ++totals_.resumes;
    drop_pending_deltas_and_images();
    // First, and at the client's own position: true whenever it is read. (A later seq could be
    // read before the deltas it stands for, which may yet be conflated, and a client that lost
    // its connection in between would resume past changes it never saw.)
    std::string text;
    append_resumed_message(text, *request.resume_from, *request.resume_epoch, ctx.fresh.stale);
    queue_control(std::move(text), ctx);
    if (config_.audit && !queue_.empty()) {
      queue_.back().resumed_seq = *request.resume_from;
      queue_.back().epoch = *request.resume_epoch;
    }
    for (auto it = ctx.cache.changes_after(*request.resume_from); it != ctx.cache.changes_end();
         ++it) {
      offer_delta(*it, ctx);
    }
    return;
  }
  if (request.resume_from) ++totals_.resume_misses;
  if (++requested_images_ > config_.max_unread_images) {
    close("not reading: " + std::to_string(requested_images_) + " images asked for and none read");
    return;
  }
  queue_image(request.resume_from && !(was_subscribed && adds) ? "resume-unavailable" : "subscribe",
              ctx);
}

void ClientStream::unsubscribe(const ClientRequest& request, const StreamContext& ctx) {
  if (!request.all && all_) {
    // "all" names no ids to take out: say so rather than ignore the request.
    refuse("unsubscribe: subscribed to \"all\"; unsubscribe \"all\", then subscribe to ids", ctx);
    return;
  }
  if (request.all) {
    all_ = false;
    markets_.clear();
    events_.clear();
  } else {
    remove_sorted(markets_, request.markets);
    remove_sorted(events_, request.events);
  }
  subscribed_ = all_ || !markets_.empty() || !events_.empty();
  if (!subscribed_) image_wanted_.reset();
  note_subscription(StreamAuditNote::Kind::kUnsubscribe, request, ctx);
  // A pending conflated delta names the markets it no longer follows only as removed: the
  // client may hold an old copy that still places one in an event it follows.
}

bool ClientStream::wants(const MarketRecord& market) const {
  return permitted(market.id) &&
         (all_ || contains(markets_, market.id) || contains(events_, market.event));
}

ClientStream::Match ClientStream::match(const MarketChange& market) const {
  if (!permitted(market.market)) return Match::kNone;
  if (all_ || contains(markets_, market.market) || contains(events_, market.event)) {
    return Match::kIn;
  }
  if (market.moved_from && contains(events_, *market.moved_from)) return Match::kLeft;
  return Match::kNone;
}

void ClientStream::on_change(const std::shared_ptr<const FrameChange>& change,
                             const StreamContext& ctx) {
  if (verdict_ || !subscribed_ || image_wanted_) return;
  offer_delta(change, ctx);
}

void ClientStream::offer_delta(const std::shared_ptr<const FrameChange>& change,
                               const StreamContext& ctx) {
  // The common case, every market (a client of "all", a single-market frame it wants), shares
  // the delta rendered once for everybody: no allocation per client.
  size_t in = 0;
  size_t left = 0;
  for (const MarketChange& market : change->markets) {
    const Match m = match(market);
    in += m == Match::kIn ? 1 : 0;
    left += m == Match::kLeft ? 1 : 0;
  }
  if (in + left == 0) return;
  if (conflating_) {
    for (const MarketChange& market : change->markets) {
      if (match(market) != Match::kNone) dirty_.insert(market.market);
    }
    return;
  }
  std::shared_ptr<const std::string> text = change->all_delta;
  if (in != change->markets.size()) {
    std::vector<std::string> removed;
    removed.reserve(left);
    std::vector<const std::string*> entries;
    for (const MarketChange& market : change->markets) {
      const Match m = match(market);
      if (m == Match::kIn) entries.push_back(&market.json);
      if (m == Match::kLeft) {
        append_removed_entry(removed.emplace_back(), market.market);
        entries.push_back(&removed.back());
      }
    }
    auto filtered = std::make_shared<std::string>();
    append_delta_message(*filtered, change->seq, change->epoch, false, entries);
    text = std::move(filtered);
  }
  if (behind(text->size(), ctx.now_ns)) {
    start_conflating(change.get(), ctx);
    return;
  }
  Queued queued{std::move(text), Kind::kDelta, change, change->seq};
  queued.epoch = change->epoch;
  enqueue(std::move(queued), ctx.now_ns);
}

bool ClientStream::behind(size_t next_bytes, uint64_t now_ns) const {
  const size_t first_waiting = in_flight_ ? 1 : 0;
  if (queue_.size() <= first_waiting) return false;  // nothing waits: the client keeps up
  return queued_bytes_ + next_bytes > config_.max_queue_bytes ||
         now_ns - queue_[first_waiting].queued_ns > config_.max_queue_delay_ns;
}

void ClientStream::start_conflating(const FrameChange* change, const StreamContext& ctx) {
  conflating_ = true;
  ++totals_.conflations;
  uint64_t dropped = 0;
  auto first_waiting = queue_.begin() + (in_flight_ ? 1 : 0);
  for (auto it = first_waiting; it != queue_.end();) {
    if (it->kind != Kind::kDelta) {
      ++it;
      continue;
    }
    ++dropped;
    for (const MarketChange& market : it->change->markets) {
      if (match(market) != Match::kNone) dirty_.insert(market.market);
    }
    queued_bytes_ -= it->text->size();
    it = queue_.erase(it);
  }
  if (change != nullptr) {
    for (const MarketChange& market : change->markets) {
      if (match(market) != Match::kNone) dirty_.insert(market.market);
    }
  }
  // What the client will hold once the messages kept are written; later seqs wait for the flush.
  conflation_base_seq_ = written_seq_;
  for (const Queued& queued : queue_)
    conflation_base_seq_ = std::max(conflation_base_seq_, queued.seq);
  if (config_.audit) {
    StreamAuditNote& note = notes_.emplace_back();
    note.kind = StreamAuditNote::Kind::kConflating;
    note.wall_ns = ctx.fresh.now_ns;
    note.held_seq = conflation_base_seq_;
    note.dropped = dropped;
    note.subscription = subscription_;
  }
}

uint64_t ClientStream::consistent_seq(const StreamContext& ctx) const {
  return conflating_ ? conflation_base_seq_ : ctx.cache.seq();
}

void ClientStream::flush_conflated(const StreamContext& ctx) {
  if (!conflating_ || !queue_.empty()) return;
  conflating_ = false;
  std::shared_ptr<const std::vector<uint64_t>> audited;
  if (config_.audit)
    audited = std::make_shared<std::vector<uint64_t>>(dirty_.begin(), dirty_.end());
  std::vector<std::string> rendered;
  rendered.reserve(dirty_.size());
  for (const uint64_t id : dirty_) {
    const MarketRecord* market = ctx.cache.state().find(id);
    if (market != nullptr && wants(*market)) {
      append_served_market(rendered.emplace_back(), *market, ctx.fresh);
    } else {
      append_removed_entry(rendered.emplace_back(), id);  // it moved out of the client's view
    }
  }
  dirty_.clear();
  if (rendered.empty()) return;
  std::vector<const std::string*> entries;
  entries.reserve(rendered.size());
  for (const std::string& entry : rendered) entries.push_back(&entry);
  auto text = std::make_shared<std::string>();
  append_delta_message(*text, ctx.cache.seq(), ctx.cache.epoch(), true, entries);
  ++totals_.conflated_deltas;
  // It stands for every change up to the current seq, so a later conflation keeps it.
  Queued queued{std::move(text), Kind::kConflatedDelta, nullptr, ctx.cache.seq()};
  queued.epoch = ctx.cache.epoch();
  queued.held_seq = conflation_base_seq_;
  queued.conflated_markets = std::move(audited);
  enqueue(std::move(queued), ctx.now_ns);
}

void ClientStream::queue_image(std::string_view reason, const StreamContext& ctx) {
  drop_pending_deltas_and_images();
  std::string key;
  std::shared_ptr<const ImageParts> parts;
  if (ctx.images != nullptr) {
    key = std::to_string(ctx.cache.generation()) + ":" + std::to_string(ctx.cache.seq()) + ":" +
          (ctx.fresh.stale ? "s" : "f") + ":" + std::to_string(ctx.fresh.now_ns / 1'000'000'000) +
          ":" + std::string(reason) + ":" + (all_ ? "all" : "");
    // Clients with other rights see other markets: rights live as long as the edge, so their
    // address names them.
    if (rights_ != nullptr) key += "r" + std::to_string(reinterpret_cast<uintptr_t>(rights_));
    for (const uint64_t id : markets_) key += "m" + std::to_string(id);
    for (const uint64_t id : events_) key += "e" + std::to_string(id);
    parts = ctx.images->find(key);
  }
  if (!parts) {
    std::vector<const MarketRecord*> markets;
    for (const auto& [id, market] : ctx.cache.state().markets()) {
      if (wants(market)) markets.push_back(&market);
    }
    auto rendered = std::make_shared<ImageParts>();
    for (std::string& text : image_messages(ctx.cache.seq(), ctx.cache.epoch(), reason, markets,
                                            ctx.fresh, config_.max_image_part_bytes)) {
      rendered->push_back(std::make_shared<const std::string>(std::move(text)));
    }
    parts = std::move(rendered);
    if (ctx.images != nullptr) ctx.images->put(std::move(key), parts);
  }
  // The parts go out back to back: nothing is queued between them (replies queued meanwhile go
  // after them; a new image or a resume drops the parts not yet written, and the client discards
  // an image whose parts stop short).
  for (size_t i = 0; i < parts->size(); ++i) {
    Queued queued{(*parts)[i], Kind::kImage, nullptr, ctx.cache.seq()};
    queued.image_end = i + 1 == parts->size();
    queued.epoch = ctx.cache.epoch();
    if (config_.audit && queued.image_end) queued.reason = reason;
    enqueue(std::move(queued), ctx.now_ns);
  }
}

void ClientStream::drop_pending_deltas_and_images() {
  conflating_ = false;
  dirty_.clear();
  auto first_waiting = queue_.begin() + (in_flight_ ? 1 : 0);
  for (auto it = first_waiting; it != queue_.end();) {
    if (it->kind != Kind::kControl) {
      queued_bytes_ -= it->text->size();
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
}

void ClientStream::on_resync(const StreamContext& ctx) {
  if (verdict_ || !subscribed_) return;
  std::string reason = image_wanted_.value_or("resync");
  image_wanted_.reset();
  queue_image(reason, ctx);
}

void ClientStream::on_stale(bool stale, const StreamContext& ctx) {
  if (verdict_) return;
  std::string text;
  append_stale_message(text, stale);
  queue_control(std::move(text), ctx);
}

void ClientStream::on_tick(const StreamContext& ctx) {
  if (verdict_) return;
  if (ctx.now_ns - last_tick_ns_ > config_.pause_threshold_ns) {
    // The edge itself did not run (stopped, swapped out): the client is not to blame for it.
    // A write that started after the last tick was not waiting for all of the gap: never move
    // its start past now (now - start would wrap and read as a stall).
    write_started_ns_ = std::min(ctx.now_ns, write_started_ns_ + (ctx.now_ns - last_tick_ns_));
  }
  last_tick_ns_ = ctx.now_ns;
  if (in_flight_ && ctx.now_ns - write_started_ns_ > config_.write_stall_timeout_ns) {
    close("too slow: a write did not complete in " +
          std::to_string(config_.write_stall_timeout_ns / 1'000'000) + " ms");
    return;
  }
  const bool delta_waiting =
      std::any_of(queue_.begin() + (in_flight_ ? 1 : 0), queue_.end(),
                  [](const Queued& queued) { return queued.kind == Kind::kDelta; });
  if (!conflating_ && delta_waiting && behind(0, ctx.now_ns)) start_conflating(nullptr, ctx);
  flush_conflated(ctx);
  if (queue_.empty() && !conflating_ &&
      ctx.now_ns - last_queued_ns_ >= config_.heartbeat_interval_ns) {
    std::string text;
    append_heartbeat_message(text, ctx.cache.seq(), ctx.cache.epoch());
    ++totals_.heartbeats_sent;
    enqueue(Queued{std::make_shared<const std::string>(std::move(text)), Kind::kControl, nullptr},
            ctx.now_ns);
  }
}

std::shared_ptr<const std::string> ClientStream::start_write(uint64_t now_ns) {
  if (in_flight_ || queue_.empty() || verdict_) return nullptr;
  in_flight_ = true;
  write_started_ns_ = now_ns;
  return queue_.front().text;
}

void ClientStream::on_written(const StreamContext& ctx) {
  if (!in_flight_) return;
  in_flight_ = false;
  const Queued& done = queue_.front();
  ++totals_.messages_sent;
  totals_.bytes_sent += done.text->size();
  if (done.kind == Kind::kDelta || done.kind == Kind::kConflatedDelta) ++totals_.deltas_sent;
  if (done.kind == Kind::kImage) {
    if (done.image_end) ++totals_.images_sent;
    requested_images_ = 0;
  }
  if (done.seq != 0 && done.image_end) written_seq_ = done.seq;
  if (config_.audit) note_written(done, ctx);
  queued_bytes_ -= done.text->size();
  if (done.kind == Kind::kControl) control_bytes_ -= done.text->size();
  queue_.pop_front();
  flush_conflated(ctx);
}

void ClientStream::queue_control(std::string text, const StreamContext& ctx) {
  enqueue(Queued{std::make_shared<const std::string>(std::move(text)), Kind::kControl, nullptr},
          ctx.now_ns);
  // Only replies count: an image or deltas queued ahead of them say nothing about a flood.
  if (control_bytes_ > 2 * config_.max_queue_bytes) {
    close("not reading: more than " + std::to_string(2 * config_.max_queue_bytes) +
          " bytes of replies queued");
  }
}

void ClientStream::enqueue(Queued queued, uint64_t now_ns) {
  queued.queued_ns = now_ns;
  queued.subscription = subscription_;
  queued_bytes_ += queued.text->size();
  if (queued.kind == Kind::kControl) control_bytes_ += queued.text->size();
  queue_.push_back(std::move(queued));
  last_queued_ns_ = now_ns;
}

void ClientStream::refuse(std::string_view error, const StreamContext& ctx) {
  ++totals_.bad_requests;
  std::string text;
  append_error_message(text, error);
  queue_control(std::move(text), ctx);
}

void ClientStream::close(std::string reason) {
  if (verdict_) return;
  ++totals_.slow_drops;
  verdict_ = CloseVerdict{1008, std::move(reason)};
}

void ClientStream::note_subscription(StreamAuditNote::Kind kind, const ClientRequest& request,
                                     const StreamContext& ctx) {
  ++subscription_;
  if (!config_.audit) return;
  StreamAuditNote& note = notes_.emplace_back();
  note.kind = kind;
  note.wall_ns = ctx.fresh.now_ns;
  note.subscription = subscription_;
  note.all = all_;
  note.markets = markets_;
  note.events = events_;
  if (kind == StreamAuditNote::Kind::kSubscribe && request.resume_from) {
    note.resume = true;
    note.resume_from = *request.resume_from;
    note.resume_epoch = request.resume_epoch.value_or(0);
  }
}

void ClientStream::note_written(const Queued& done, const StreamContext& ctx) {
  StreamAuditNote note;
  switch (done.kind) {
    case Kind::kImage:
      if (!done.image_end) return;
      note.kind = StreamAuditNote::Kind::kImage;
      note.reason = done.reason;
      break;
    case Kind::kDelta:
      note.kind = StreamAuditNote::Kind::kDelta;
      break;
    case Kind::kConflatedDelta:
      note.kind = StreamAuditNote::Kind::kConflatedDelta;
      note.held_seq = done.held_seq;
      if (done.conflated_markets) note.markets = *done.conflated_markets;
      break;
    case Kind::kControl:
      if (!done.resumed_seq) return;
      note.kind = StreamAuditNote::Kind::kResumed;
      break;
  }
  note.wall_ns = ctx.fresh.now_ns;
  note.seq = done.resumed_seq.value_or(done.seq);
  note.epoch = done.epoch;
  note.subscription = done.subscription;
  notes_.push_back(std::move(note));
}

}  // namespace oddsbus::edge
