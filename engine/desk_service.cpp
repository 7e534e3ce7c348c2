#include "engine/desk_service.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <zmq_addon.hpp>

#include "engine/desk_ledger.h"
#include "schemas/odds.h"

namespace oddsbus::engine {

namespace {

constexpr uint64_t kNoLimit = UINT64_MAX;  // SyncGate::kNoLimit: nothing can be held

feeds::Event event_for(const desk::Request& r, uint64_t token, std::string_view key,
                       std::string canonical) {
  feeds::Event e;
  e.request_token = token;
  auto origin = std::make_shared<feeds::DeskRequestOrigin>();
  origin->identity = key.empty() ? r.client : std::string(key);
  origin->authenticated = !key.empty();
  origin->client = r.client;
  origin->request_id = r.id;
  origin->request = std::move(canonical);
  origin->command = static_cast<uint8_t>(r.command);
  e.desk = std::move(origin);
  e.market = r.market;
  e.source = "desk";
  e.source_ns = wall_clock_ns();
  e.override_for_ns = r.override_for_ms * 1'000'000;
  switch (r.command) {
    case desk::Command::kSetPrice:
      e.type = feeds::EventType::kPrice;
      e.selection = r.selection;
      e.odds_text = r.odds;
      break;
    case desk::Command::kSuspend:
    case desk::Command::kReopen:
      e.type = feeds::EventType::kStatus;
      e.status = r.command == desk::Command::kSuspend ? fb::MarketStatus::Suspended
                                                      : fb::MarketStatus::Open;
      e.reason = fb::StatusReason::Trader;
      break;
    case desk::Command::kSettle:
      e.type = feeds::EventType::kSettle;
      e.winners = r.winners;
      std::sort(e.winners.begin(), e.winners.end());
      e.winners.erase(std::unique(e.winners.begin(), e.winners.end()), e.winners.end());
      break;
    case desk::Command::kRelease:
      e.type = feeds::EventType::kHeartbeat;
      e.desk_release = true;
      break;
    case desk::Command::kSuspendEvent:
      // A heartbeat to a sequencer without the desk hook; the agent suspends the event.
      e.type = feeds::EventType::kHeartbeat;
      e.event = r.event;
      e.status = fb::MarketStatus::Suspended;
      e.reason = fb::StatusReason::Trader;
      break;
    case desk::Command::kHeld:
      break;  // answered by the service, never sequenced
  }
  return e;
}

}  // namespace

DeskService::DeskService(zmq::context_t& context, const DeskServiceConfig& config,
                         IngestQueues& queues)
    : config_(config),
      queues_(queues),
      socket_(context, zmq::socket_type::router),
      acks_(config.max_in_flight + 64) {
  curve::secure_server(socket_, config_.curve);
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind(config_.url);
  endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
}

void DeskService::set_primary() { primary_.store(true, std::memory_order_release); }

void DeskService::set_not_primary(std::string primary_desk_url) {
  {
    std::lock_guard lock(primary_url_mutex_);
    primary_url_ = std::move(primary_desk_url);
  }
  primary_.store(false, std::memory_order_release);
}

std::string DeskService::primary_url() const {
  std::lock_guard lock(primary_url_mutex_);
  return primary_url_.empty() ? std::string("unknown") : primary_url_;
}

std::expected<void, std::string> DeskService::run(const std::atomic<bool>& stop) {
  try {
    std::vector<zmq::message_t> parts;
    while (!stop.load(std::memory_order_acquire)) {
      zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, acks_.fd(), ZMQ_POLLIN, 0}};
      // Acks waiting for the secondary are released by a seq nobody signals: look often.
      zmq::poll(items, 2, std::chrono::milliseconds(held_acks_.empty() ? config_.poll_ms : 1));
      if ((items[1].revents & ZMQ_POLLIN) != 0) {
        acks_.drain([this](const DeskAck& ack) { on_ack(ack); });
      }
      release_acks();
      // A bounded number of requests per round, so acks are never starved by a flood.
      for (int i = 0; i < 64; ++i) {
        parts.clear();
        if (!zmq::recv_multipart(socket_, std::back_inserter(parts), zmq::recv_flags::dontwait)) {
          break;
        }
        on_request(parts, stop);
      }
    }
  } catch (const zmq::error_t& e) {
    if (e.num() == ETERM) return {};
    return std::unexpected(std::string("desk service ") + endpoint_ + ": " + e.what());
  }
  return {};
}

void DeskService::send(const Envelope& to, const std::string& reply) {
  bool ok = true;
  for (const std::string& part : to) {
    ok = ok && socket_.send(zmq::buffer(part), zmq::send_flags::sndmore | zmq::send_flags::dontwait)
                   .has_value();
  }
  ok = ok && socket_.send(zmq::buffer(reply), zmq::send_flags::dontwait).has_value();
  if (!ok) counters_.send_failures.fetch_add(1, std::memory_order_relaxed);
}

void DeskService::reject(const Envelope& to, std::string_view id, desk::RejectReason reason,
                         std::string detail) {
  counters_.rejected[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  if (reject_log_.allow(wall_clock_ns())) {
    log(LogLevel::kWarn, "desk: rejected request %.*s: %s %s (%" PRIu64 " more suppressed)",
        static_cast<int>(id.size()), id.data(), desk::to_string(reason).data(), detail.c_str(),
        reject_log_.suppressed());
  }
  desk::Reply reply;
  reply.id = std::string(id);
  reply.reason = reason;
  reply.detail = std::move(detail);
  send(to, desk::format_reply(reply));
}

void DeskService::on_request(std::vector<zmq::message_t>& parts, const std::atomic<bool>& stop) {
  counters_.requests.fetch_add(1, std::memory_order_relaxed);
  if (parts.size() < 2) return;  // a ROUTER always prepends the identity; nothing to answer
  Envelope envelope;
  for (size_t i = 0; i + 1 < parts.size(); ++i) envelope.push_back(parts[i].to_string());
  const std::string_view text = parts.back().to_string_view();

  auto parsed = desk::parse_request(text);
  if (!parsed) {
    reject(envelope, desk::request_id_of(text), desk::RejectReason::kBadRequest, parsed.error());
    return;
  }
  const desk::Request& request = *parsed;
  // The link's authenticated identity (ZMQ_USER_ID metadata, set by the ZAP handler of a CURVE
  // link: zmq_msg_gets(3), "User-Id"); absent on a link without authentication.
  const char* user_id = zmq_msg_gets(parts.back().handle(), "User-Id");
  const std::string_view authenticated = user_id != nullptr ? user_id : "";
  std::string key = DeskLedger::key(authenticated.empty() ? request.client : authenticated,
                                    request.client, request.id);
  std::string canonical = desk::format_request(request);

  if (request.command == desk::Command::kHeld) {
    if (config_.rights != nullptr) {
      if (auto refused = config_.rights->refuse(authenticated, request, 0)) {
        reject(envelope, request.id, desk::RejectReason::kForbidden, *refused);
        return;
      }
    }
    if (!primary()) {
      reject(envelope, request.id, desk::RejectReason::kNotPrimary, primary_url());
      return;
    }
    desk::Reply reply;
    reply.ok = true;
    reply.held_list = true;
    reply.id = request.id;
    reply.held = held_board_.get();
    send(envelope, desk::format_reply(reply));
    return;
  }

  if (auto it = entries_.find(key); it != entries_.end()) {
    Entry& entry = it->second;
    if (entry.request != canonical) {
      reject(envelope, request.id, desk::RejectReason::kBadRequest,
             "request id " + request.id + " of client " + request.client +
                 " was already used for a different request");
      return;
    }
    counters_.retries.fetch_add(1, std::memory_order_relaxed);
    if (entry.reply.empty()) {
      entry.waiting.push_back(std::move(envelope));
    } else {
      send(envelope, entry.reply);
    }
    return;
  }

  if (!primary()) {
    reject(envelope, request.id, desk::RejectReason::kNotPrimary, primary_url());
    return;
  }
  feeds::Event event = event_for(request, next_token_, authenticated, canonical);
  if (request.command == desk::Command::kSetPrice) {
    auto odds = parse_odds(request.odds);
    if (!odds) {
      reject(envelope, request.id, desk::RejectReason::kBadOdds,
             "'" + request.odds + "': " + std::string(to_string(odds.error())));
      return;
    }
    event.odds = *odds;
  }
  if (in_flight_ >= config_.max_in_flight) {
    reject(envelope, request.id, desk::RejectReason::kBusy,
           std::to_string(in_flight_) + " requests in flight");
    return;
  }
  if (queues_.push(config_.producer, event, stop) != PushResult::kPushed) {
    reject(envelope, request.id, desk::RejectReason::kInternal, "node stopping");
    return;
  }
  tokens_.emplace(next_token_++, key);
  ++in_flight_;
  Entry entry;
  entry.request = std::move(canonical);
  entry.waiting.push_back(std::move(envelope));
  remember(std::move(key), std::move(entry));
}

void DeskService::remember(std::string key, Entry entry) {
  order_.push_back(key);
  entries_.emplace(std::move(key), std::move(entry));
  // Forget the oldest answered requests; waiting ones go to the back (there are at most
  // max_in_flight of them, so this ends).
  for (size_t turns = order_.size(); entries_.size() > config_.remembered && turns > 0; --turns) {
    std::string oldest = std::move(order_.front());
    order_.pop_front();
    auto it = entries_.find(oldest);
    if (it != entries_.end() && it->second.reply.empty()) {
      order_.push_back(std::move(oldest));
      continue;
    }
    entries_.erase(oldest);
  }
}

void DeskService::on_ack(const DeskAck& ack) {
  if (ack.ok && config_.visible_seq != nullptr) {
    if (ack.seq > config_.visible_seq->load(std::memory_order_acquire)) {
      counters_.acks_held.fetch_add(1, std::memory_order_relaxed);
    }
    held_acks_.push_back(ack);
    release_acks();
    return;
  }
  answer(ack);
}

void DeskService::release_acks() {
  if (held_acks_.empty()) return;
  // The seq first, then the role: a seq raised by replication (after primacy was lost) is then
  // seen together with primary() false.
  const uint64_t visible = config_.visible_seq->load(std::memory_order_acquire);
  const bool primary_now = primary();
  while (!held_acks_.empty()) {
    DeskAck ack = held_acks_.front();
    if (primary_now && ack.seq > visible) return;
    held_acks_.pop_front();
    if (!primary_now && (visible == kNoLimit || ack.seq > visible)) {
      // Not acknowledged while this node was primary: the new primary may not hold it.
      ack.ok = false;
      ack.reason = desk::RejectReason::kUnconfirmed;
    }
    answer(ack);
  }
}

void DeskService::answer(const DeskAck& ack) {
  auto token = tokens_.find(ack.token);
  if (token == tokens_.end()) return;  // not ours (cannot happen: tokens are only ever ours)
  const std::string key = std::move(token->second);
  tokens_.erase(token);
  --in_flight_;
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& entry = it->second;
  desk::Reply reply;
  reply.id = key.substr(key.rfind('\n') + 1);
  reply.ok = ack.ok;
  reply.seq = ack.seq;
  reply.epoch = ack.epoch;
  reply.reason = ack.reason;
  reply.detail = ack.detail;
  if (ack.ok) {
    counters_.applied.fetch_add(1, std::memory_order_relaxed);
    if (apply_log_.allow(wall_clock_ns())) {
      log(LogLevel::kInfo, "desk: %s -> seq %" PRIu64 " epoch %u (%" PRIu64 " more not logged)",
          entry.request.c_str(), ack.seq, ack.epoch, apply_log_.suppressed());
    }
  } else {
    counters_.rejected[static_cast<size_t>(ack.reason)].fetch_add(1, std::memory_order_relaxed);
    if (reject_log_.allow(wall_clock_ns())) {
      log(LogLevel::kWarn, "desk: %s rejected: %s (%" PRIu64 " more suppressed)",
          entry.request.c_str(), desk::to_string(ack.reason).data(), reject_log_.suppressed());
    }
  }
  entry.reply = desk::format_reply(reply);
  for (const Envelope& to : entry.waiting) send(to, entry.reply);
  entry.waiting.clear();
  entry.waiting.shrink_to_fit();
}

}  // namespace oddsbus::engine
