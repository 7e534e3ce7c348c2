#include "engine/desk_ledger.h"

#include "engine/byte_record.h"
#include "engine/frame_market.h"

namespace oddsbus::engine {

namespace {

std::string str(const flatbuffers::String* s) { return s != nullptr ? s->str() : std::string(); }

// The market a single-market frame names (engine/frame_market.h); 0 for none.
uint64_t market_named(const fb::Frame& frame) { return market_of(frame).value_or(0); }

}  // namespace

std::string DeskLedger::key(std::string_view identity, std::string_view client,
                            std::string_view request_id) {
  std::string k;
  k.reserve(identity.size() + client.size() + request_id.size() + 2);
  k.append(identity).append(1, '\n').append(client).append(1, '\n').append(request_id);
  return k;
}

const HeldOverride* DeskLedger::find_held(uint64_t market) const {
  auto it = held_.find(market);
  return it != held_.end() ? &it->second : nullptr;
}

const DeskRequestRecord* DeskLedger::find_request(std::string_view key) const {
  auto it = requests_.find(std::string(key));
  return it != requests_.end() ? &it->second : nullptr;
}

void DeskLedger::apply(const fb::Frame& frame, const MarketState& before) {
  const fb::DeskOrigin* origin = frame.desk();
  const fb::DeskOverride* mark = frame.desk_override();
  const fb::Payload type = frame.payload_type();
  if (origin == nullptr && mark == nullptr) {
    // A feed's settlement ends control too (it is always marked; this keeps an unmarked one from
    // leaving a finished market held).
    // An eviction (issue 15) removes a finished market from every view, a held one included.
    if ((type == fb::Payload::Settlement || type == fb::Payload::MarketEviction) &&
        !held_.empty()) {
      end(market_named(frame));
    }
    return;
  }
  if (mark != nullptr) {
    switch (mark->change()) {
      case fb::OverrideChange::Take:
        if (type == fb::Payload::EventSuspension) {
          const uint64_t event = frame.payload_as_EventSuspension()->event();
          for (const auto& [market, record] : before.markets()) {
            if (record.event != event || record.status == fb::MarketStatus::Settled) continue;
            take(market, frame, origin, mark->expires_ns(), before);
          }
        } else if (const uint64_t market = market_named(frame); market != 0) {
          take(market, frame, origin, mark->expires_ns(), before);
        }
        break;
      case fb::OverrideChange::Release:
      case fb::OverrideChange::Expire:
      case fb::OverrideChange::SettlementEnd:
        end(market_named(frame));
        break;
      case fb::OverrideChange::None:
        break;
    }
  }
  if (type == fb::Payload::Settlement) end(market_named(frame));
  if (origin != nullptr) {
    remember(key(origin->identity() ? origin->identity()->string_view() : std::string_view(),
                 origin->client() ? origin->client()->string_view() : std::string_view(),
                 origin->request_id() ? origin->request_id()->string_view() : std::string_view()),
             DeskRequestRecord{str(origin->request()), frame.seq(), frame.epoch()});
  }
}

void DeskLedger::take(uint64_t market, const fb::Frame& frame, const fb::DeskOrigin* origin,
                      uint64_t expires_ns, const MarketState& before) {
  auto [it, inserted] = held_.try_emplace(market);
  HeldOverride& held = it->second;
  if (inserted) {
    held.market = market;
    held.since_ns = frame.sequenced_ns();
    if (const MarketRecord* record = before.find(market)) {
      held.feed_status = record->status;
      held.feed_reason = record->reason;
      for (const SelectionState& s : record->selections) {
        if (s.price_e4 != 0) held.feed_prices.push_back(HeldPrice{s.id, s.price_e4, s.odds});
      }
    }
  }
  if (origin != nullptr) {
    held.identity = str(origin->identity());
    held.client = str(origin->client());
    held.request_id = str(origin->request_id());
  }
  held.take_seq = frame.seq();
  held.expires_ns = expires_ns;
  ++version_;
}

void DeskLedger::end(uint64_t market) {
  if (held_.erase(market) != 0) ++version_;
}

void DeskLedger::remember(std::string k, DeskRequestRecord record) {
  auto [it, inserted] = requests_.try_emplace(k);
  it->second = std::move(record);  // a later frame of the same request (a release) wins
  if (!inserted) return;
  order_.push_back(std::move(k));
  while (requests_.size() > kRememberedRequests) {
    requests_.erase(order_.front());
    order_.pop_front();
  }
}

void DeskLedger::clear() {
  held_.clear();
  requests_.clear();
  order_.clear();
  ++version_;
}

// Layout: u32 held count, then per held market (ascending): u64 market, u64 take_seq, u64
// since_ns, u64 expires_ns, u8 feed_status, u8 feed_reason, text identity, text client, text
// request_id, u32 price count, per price: u64 selection, u32 price_e4, text odds; then u32
// request count, per request (oldest first): text key, text request, u64 seq, u32 epoch. A text
// is u32 size then its bytes.
void DeskLedger::encode(std::vector<uint8_t>& out) const {
  put_value(out, static_cast<uint32_t>(held_.size()));
  for (const auto& [market, h] : held_) {
    put_value(out, market);
    put_value(out, h.take_seq);
    put_value(out, h.since_ns);
    put_value(out, h.expires_ns);
    put_value(out, static_cast<uint8_t>(h.feed_status));
    put_value(out, static_cast<uint8_t>(h.feed_reason));
    put_text(out, h.identity);
    put_text(out, h.client);
    put_text(out, h.request_id);
    put_value(out, static_cast<uint32_t>(h.feed_prices.size()));
    for (const HeldPrice& p : h.feed_prices) {
      put_value(out, p.selection);
      put_value(out, p.price_e4);
      put_text(out, p.odds);
    }
  }
  put_value(out, static_cast<uint32_t>(order_.size()));
  for (const std::string& k : order_) {
    const DeskRequestRecord& r = requests_.at(k);
    put_text(out, k);
    put_text(out, r.request);
    put_value(out, r.seq);
    put_value(out, r.epoch);
  }
}

std::expected<DeskLedger, std::string> DeskLedger::decode(std::span<const uint8_t> bytes) {
  ByteReader in(bytes);
  DeskLedger ledger;
  const auto truncated = [] { return std::unexpected(std::string("desk ledger is truncated")); };
  uint32_t held = 0;
  if (!in.get(held)) return truncated();
  for (uint32_t i = 0; i < held; ++i) {
    HeldOverride h;
    uint8_t status = 0;
    uint8_t reason = 0;
    uint32_t prices = 0;
    if (!in.get(h.market) || !in.get(h.take_seq) || !in.get(h.since_ns) || !in.get(h.expires_ns) ||
        !in.get(status) || !in.get(reason) || !in.text(h.identity) || !in.text(h.client) ||
        !in.text(h.request_id) || !in.get(prices)) {
      return truncated();
    }
    if (status > static_cast<uint8_t>(fb::MarketStatus::MAX) ||
        reason > static_cast<uint8_t>(fb::StatusReason::MAX)) {
      return std::unexpected("desk ledger holds an unknown status or reason for market " +
                             std::to_string(h.market));
    }
    h.feed_status = static_cast<fb::MarketStatus>(status);
    h.feed_reason = static_cast<fb::StatusReason>(reason);
    for (uint32_t j = 0; j < prices; ++j) {
      HeldPrice p;
      if (!in.get(p.selection) || !in.get(p.price_e4) || !in.text(p.odds)) return truncated();
      h.feed_prices.push_back(std::move(p));
    }
    const uint64_t market = h.market;
    if (!ledger.held_.emplace(market, std::move(h)).second) {
      return std::unexpected("desk ledger holds market " + std::to_string(market) + " twice");
    }
  }
  uint32_t requests = 0;
  if (!in.get(requests)) return truncated();
  for (uint32_t i = 0; i < requests; ++i) {
    std::string k;
    DeskRequestRecord r;
    if (!in.text(k) || !in.text(r.request) || !in.get(r.seq) || !in.get(r.epoch)) {
      return truncated();
    }
    ledger.remember(std::move(k), std::move(r));
  }
  if (!in.empty()) return std::unexpected(std::string("desk ledger has bytes after its end"));
  return ledger;
}

bool DeskLedger::operator==(const DeskLedger& other) const {
  std::vector<uint8_t> a;
  std::vector<uint8_t> b;
  encode(a);
  other.encode(b);
  return a == b;
}

}  // namespace oddsbus::engine
