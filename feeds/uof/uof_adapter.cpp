#include "feeds/uof/uof_adapter.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstring>
#include <optional>
#include <pugixml.hpp>
#include <tuple>

namespace oddsbus::feeds::uof {
namespace {

// pugixml options: elements and attributes only (no comments, PIs, DOCTYPE nodes, no EOL or
// whitespace normalisation, which our fields never need), but entities are still decoded.
constexpr unsigned kParseOptions = pugi::parse_minimal | pugi::parse_escapes;

std::unexpected<Rejection> reject(RejectReason reason, std::string detail) {
  return std::unexpected(Rejection{reason, std::move(detail)});
}

std::string_view text_of(const pugi::xml_attribute& attribute) { return attribute.value(); }

AttributeText attribute_text(const pugi::xml_attribute& attribute) {
  if (!attribute) return std::nullopt;
  return text_of(attribute);
}

template <typename Int>
std::optional<Int> integer_of(std::string_view text) {
  Int value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

// UOF market status (DESIGN section 10): 1 active, -1 suspended, 0 deactivated, -2 handed over,
// -3 settled, -4 cancelled.
std::optional<fb::MarketStatus> market_status_of(std::string_view text) {
  const auto value = integer_of<int>(text);
  if (!value) return std::nullopt;
  switch (*value) {
    case 1:
      return fb::MarketStatus::Open;
    case -1:
    case 0:
    case -2:
      return fb::MarketStatus::Suspended;
    case -3:
      return fb::MarketStatus::Settled;
    case -4:
      return fb::MarketStatus::Closed;
    default:
      return std::nullopt;
  }
}

// A <market>'s attributes, read in one pass: a real feed sends dozens of markets per message and
// most of them are unmapped, so this and the lookup are the adapter's own hot path.
struct MarketAttributes {
  pugi::xml_attribute id, specifiers, status;
};

MarketAttributes market_attributes(const pugi::xml_node& market) {
  MarketAttributes found;
  for (pugi::xml_attribute a = market.first_attribute(); a; a = a.next_attribute()) {
    const char* name = a.name();
    if (name[0] == 'i') {
      if (std::strcmp(name, "id") == 0) found.id = a;
    } else if (name[0] == 's') {
      if (std::strcmp(name, "specifiers") == 0) {
        found.specifiers = a;
      } else if (std::strcmp(name, "status") == 0) {
        found.status = a;
      }
    }
  }
  return found;
}

// An <outcome>'s attributes, read in one pass (odds_change: id, odds, active; bet_settlement:
// id, result).
struct OutcomeAttributes {
  pugi::xml_attribute id, odds, active, result;
};

OutcomeAttributes outcome_attributes(const pugi::xml_node& outcome) {
  OutcomeAttributes found;
  for (pugi::xml_attribute a = outcome.first_attribute(); a; a = a.next_attribute()) {
    const char* name = a.name();
    switch (name[0]) {
      case 'i':
        if (std::strcmp(name, "id") == 0) found.id = a;
        break;
      case 'o':
        if (std::strcmp(name, "odds") == 0) found.odds = a;
        break;
      case 'a':
        if (std::strcmp(name, "active") == 0) found.active = a;
        break;
      case 'r':
        if (std::strcmp(name, "result") == 0) found.result = a;
        break;
      default:
        break;
    }
    if (found.id && ((found.odds && found.active) || found.result)) break;
  }
  return found;
}

// Up to 8 bytes of text as one integer (0 when longer or empty): odds texts are short.
uint64_t packed_text(std::string_view text) {
  if (text.empty() || text.size() > sizeof(uint64_t)) return 0;
  uint64_t packed = 0;
  std::memcpy(&packed, text.data(), text.size());
  return packed;
}

// "sr:match:12345/18?total=2.5", the way UOF writes a market reference.
void append_market_ref(std::string& to, std::string_view event_id, std::string_view market,
                       std::string_view specifiers) {
  to.append(event_id).append("/").append(market);
  if (!specifiers.empty()) to.append("?").append(specifiers);
}

}  // namespace

UofAdapter::UofAdapter(const Mapping& mapping, std::string feed_name)
    : mapping_(mapping),
      feed_name_(std::move(feed_name)),
      document_(std::make_unique<pugi::xml_document>()) {
  size_t price_count = 0;
  for (const MarketMapping& market : mapping_.markets()) {
    for (const ProviderMarketMapping& provider : market.providers) {
      // Without an event a market is unreachable by the uof-xml lookup (event, id, specifiers).
      if (provider.feed != feed_name_ || provider.event.empty()) continue;
      MarketSlot slot;
      slot.provider = &provider;
      slot.market_id = provider.market;
      slot.specifiers = provider.specifiers;
      slot.market = market.id;
      slot.event = market.event;
      // One remembered price per canonical selection, whichever provider outcomes map to it.
      std::vector<uint64_t> selections;
      for (const auto& [provider_id, canonical] : provider.selections) {
        selections.push_back(canonical);
      }
      std::sort(selections.begin(), selections.end());
      selections.erase(std::unique(selections.begin(), selections.end()), selections.end());
      const auto first_price = static_cast<uint32_t>(price_count);
      price_count += selections.size();
      slot.outcome_first = static_cast<uint32_t>(outcomes_.size());
      for (const auto& [provider_id, canonical] : provider.selections) {
        const auto at = std::lower_bound(selections.begin(), selections.end(), canonical);
        outcomes_.push_back(
            {provider_id, canonical, first_price + static_cast<uint32_t>(at - selections.begin())});
      }
      std::sort(
          outcomes_.begin() + slot.outcome_first, outcomes_.end(),
          [](const OutcomeSlot& a, const OutcomeSlot& b) { return a.provider_id < b.provider_id; });
      slot.outcome_count = static_cast<uint32_t>(outcomes_.size()) - slot.outcome_first;
      slots_by_event_[provider.event].push_back(static_cast<uint32_t>(slots_.size()));
      slots_.push_back(slot);
    }
  }
  for (auto& [event_id, slots] : slots_by_event_) {
    std::stable_sort(slots.begin(), slots.end(), [&](uint32_t a, uint32_t b) {
      return std::tie(slots_[a].market_id, slots_[a].specifiers) <
             std::tie(slots_[b].market_id, slots_[b].specifiers);
    });
  }
  prices_.assign(price_count, kNoPrice);
  price_texts_.assign(price_count, 0);
  undo_.reserve(64);
  scratch_.reserve(128);
}

UofAdapter::~UofAdapter() = default;

std::expected<void, Rejection> UofAdapter::parse(std::string_view message,
                                                 std::vector<Event>& out) {
  const size_t out_start = out.size();
  const AdapterCounters counters_before = counters_;
  const UofCounters uof_counters_before = uof_counters_;
  const size_t unknown_ids_before = unknown_ids_.size();
  undo_.clear();

  Result result;
  if (use_scanner_ && scan_odds_change(message, view_)) {
    ++uof_counters_.scanned;
    result = read_timestamp(view_.timestamp);
    if (result) result = apply_odds_change(view_, out);
  } else {
    result = dispatch(message, out);
  }
  if (!result) {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) *it->where = it->old;
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(out_start), out.end());
    counters_ = counters_before;
    uof_counters_ = uof_counters_before;
    unknown_ids_.erase(unknown_ids_.begin() + static_cast<std::ptrdiff_t>(unknown_ids_before),
                       unknown_ids_.end());
    ++counters_.rejected;
    return result;
  }
  ++counters_.messages;
  counters_.events += out.size() - out_start;
  return {};
}

UofAdapter::Result UofAdapter::dispatch(std::string_view message, std::vector<Event>& out) {
  // pugixml parses in place (it writes terminators and decoded entities into the buffer), and the
  // message is const: one copy into a buffer that keeps its capacity.
  buffer_.assign(message);
  const pugi::xml_parse_result parsed = document_->load_buffer_inplace(
      buffer_.data(), buffer_.size(), kParseOptions, pugi::encoding_utf8);
  if (!parsed) {
    return reject(RejectReason::kMalformedXml, std::string(parsed.description()) + " at offset " +
                                                   std::to_string(parsed.offset));
  }
  const pugi::xml_node root = document_->document_element();
  if (root.next_sibling()) {
    return reject(RejectReason::kMalformedXml, "more than one root element");
  }

  if (Result read = read_timestamp(attribute_text(root.attribute("timestamp"))); !read) {
    return read;
  }

  const std::string_view name = root.name();
  if (name == "odds_change") return on_odds_change(root, out);
  if (name == "bet_stop") return on_bet_stop(root, out);
  if (name == "bet_settlement") return on_bet_settlement(root, out);
  if (name == "rollback_bet_settlement") {
    return on_market_list(root, EventType::kSettlementRollback, fb::MarketStatus::Suspended, out);
  }
  if (name == "bet_cancel") {
    return on_market_list(root, EventType::kStatus, fb::MarketStatus::Closed, out);
  }
  if (name == "rollback_bet_cancel") {
    return on_market_list(root, EventType::kStatus, fb::MarketStatus::Suspended, out);
  }
  if (name == "alive") return on_alive(root, out);
  if (name == "snapshot_complete") {
    ++uof_counters_.snapshot_complete;
    return {};
  }
  if (name == "fixture_change") {
    ++uof_counters_.fixture_change;
    return {};
  }
  return reject(RejectReason::kUnknownMessage, "<" + std::string(name) + ">");
}

UofAdapter::Result UofAdapter::read_timestamp(const AttributeText& timestamp) {
  source_ns_ = 0;
  if (!timestamp) return {};
  const auto ms = integer_of<uint64_t>(*timestamp);
  if (!ms || *ms > UINT64_MAX / 1'000'000) {
    return reject(RejectReason::kBadFieldType, "timestamp \"" + std::string(*timestamp) + "\"");
  }
  source_ns_ = *ms * 1'000'000;
  return {};
}

std::expected<std::string_view, Rejection> UofAdapter::event_id_of(const pugi::xml_node& root) {
  const pugi::xml_attribute event_id = root.attribute("event_id");
  if (!event_id) {
    return reject(RejectReason::kMissingField, "event_id on <" + std::string(root.name()) + ">");
  }
  return text_of(event_id);
}

UofAdapter::Result UofAdapter::on_odds_change(const pugi::xml_node& root, std::vector<Event>& out) {
  view_.clear();
  view_.event_id = attribute_text(root.attribute("event_id"));
  for (const pugi::xml_node market : root.child("odds").children("market")) {
    const MarketAttributes attributes = market_attributes(market);
    OddsChangeView::Market& viewed = view_.markets.emplace_back();
    viewed.id = attribute_text(attributes.id);
    viewed.specifiers = attribute_text(attributes.specifiers);
    viewed.status = attribute_text(attributes.status);
    viewed.outcome_first = static_cast<uint32_t>(view_.outcomes.size());
    for (const pugi::xml_node outcome : market.children("outcome")) {
      const OutcomeAttributes read = outcome_attributes(outcome);
      OddsChangeView::Outcome& viewed_outcome = view_.outcomes.emplace_back();
      viewed_outcome.id = attribute_text(read.id);
      viewed_outcome.odds = attribute_text(read.odds);
      viewed_outcome.active = attribute_text(read.active);
      ++viewed.outcome_count;
    }
  }
  return apply_odds_change(view_, out);
}

UofAdapter::Result UofAdapter::apply_odds_change(const OddsChangeView& view,
                                                 std::vector<Event>& out) {
  if (!view.event_id) return reject(RejectReason::kMissingField, "event_id on <odds_change>");
  const std::string_view event_id = *view.event_id;
  const std::vector<uint32_t>* event_slots = slots_of_event(event_id);
  for (const OddsChangeView::Market& market : view.markets) {
    const auto found = slot_of(event_slots, market.id, market.specifiers, event_id);
    if (!found) return std::unexpected(found.error());
    MarketSlot* slot = *found;
    if (slot == nullptr) continue;

    auto status = fb::MarketStatus::Open;  // UOF leaves status out for an active market
    if (market.status) {
      const auto parsed = market_status_of(*market.status);
      if (!parsed) {
        return reject(RejectReason::kBadStatus,
                      "market status \"" + std::string(*market.status) + "\"");
      }
      status = *parsed;
    }
    if (slot->status != static_cast<uint64_t>(status)) emit_status(out, *slot, status);

    const auto outcomes_begin = view.outcomes.begin() + market.outcome_first;
    for (auto outcome = outcomes_begin; outcome != outcomes_begin + market.outcome_count;
         ++outcome) {
      const auto mapped = outcome_of(*slot, outcome->id, event_id);
      if (!mapped) return std::unexpected(mapped.error());
      if (*mapped == nullptr || !outcome->odds) continue;
      if (outcome->active && *outcome->active == "0") continue;
      const std::string_view odds_text = *outcome->odds;
      const uint32_t memory = (*mapped)->price;
      const uint64_t text_key = packed_text(odds_text);
      if (text_key != 0 && price_texts_[memory] == text_key) continue;
      const auto odds = parse_decimal_odds(odds_text);
      if (!odds) {
        ++uof_counters_.bad_odds;
        continue;
      }
      set(price_texts_[memory], text_key);
      if (prices_[memory] == odds->price_e4) continue;
      set(prices_[memory], odds->price_e4);
      Event& event = emit_market(out, EventType::kPrice, *slot);
      event.selection = (*mapped)->selection;
      event.odds = *odds;
      event.odds_text = odds_text;
    }
  }
  return {};
}

UofAdapter::Result UofAdapter::on_bet_stop(const pugi::xml_node& root, std::vector<Event>& out) {
  const auto event_id = event_id_of(root);
  if (!event_id) return std::unexpected(event_id.error());
  // `groups` names market groups we cannot resolve without Sportradar's market descriptions:
  // stopping every mapped market of the event is the safe reading.
  if (const std::vector<uint32_t>* event_slots = slots_of_event(*event_id)) {
    for (const uint32_t slot : *event_slots) {
      emit_status(out, slots_[slot], fb::MarketStatus::Suspended);
    }
  }
  return {};
}

UofAdapter::Result UofAdapter::on_bet_settlement(const pugi::xml_node& root,
                                                 std::vector<Event>& out) {
  const auto event_id = event_id_of(root);
  if (!event_id) return std::unexpected(event_id.error());
  const std::vector<uint32_t>* event_slots = slots_of_event(*event_id);
  for (const pugi::xml_node market : root.child("outcomes").children("market")) {
    const MarketAttributes attributes = market_attributes(market);
    const auto found = slot_of(event_slots, attribute_text(attributes.id),
                               attribute_text(attributes.specifiers), *event_id);
    if (!found) return std::unexpected(found.error());
    MarketSlot* slot = *found;
    if (slot == nullptr) continue;
    std::vector<uint64_t> winners;
    for (const pugi::xml_node outcome : market.children("outcome")) {
      const OutcomeAttributes attributes = outcome_attributes(outcome);
      const auto mapped = outcome_of(*slot, attribute_text(attributes.id), *event_id);
      if (!mapped) return std::unexpected(mapped.error());
      if (!attributes.result) {
        return reject(RejectReason::kMissingField,
                      "result on outcome " + std::string(text_of(attributes.id)));
      }
      if (*mapped != nullptr && text_of(attributes.result) == "1") {
        winners.push_back((*mapped)->selection);
      }
    }
    std::sort(winners.begin(), winners.end());
    winners.erase(std::unique(winners.begin(), winners.end()), winners.end());
    set(slot->status, static_cast<uint64_t>(fb::MarketStatus::Settled));
    Event& event = emit_market(out, EventType::kSettle, *slot);
    event.winners = std::move(winners);
  }
  return {};
}

UofAdapter::Result UofAdapter::on_market_list(const pugi::xml_node& root, EventType type,
                                              fb::MarketStatus status, std::vector<Event>& out) {
  const auto event_id = event_id_of(root);
  if (!event_id) return std::unexpected(event_id.error());
  const std::vector<uint32_t>* event_slots = slots_of_event(*event_id);
  for (const pugi::xml_node market : root.children("market")) {
    const MarketAttributes attributes = market_attributes(market);
    const auto found = slot_of(event_slots, attribute_text(attributes.id),
                               attribute_text(attributes.specifiers), *event_id);
    if (!found) return std::unexpected(found.error());
    MarketSlot* slot = *found;
    if (slot == nullptr) continue;
    if (type == EventType::kStatus) {
      emit_status(out, *slot, status);
    } else {
      set(slot->status, static_cast<uint64_t>(status));
      emit_market(out, type, *slot);
    }
  }
  return {};
}

UofAdapter::Result UofAdapter::on_alive(const pugi::xml_node& root, std::vector<Event>& out) {
  uint64_t product = 0;
  if (const pugi::xml_attribute text = root.attribute("product")) {
    const auto parsed = integer_of<uint64_t>(text_of(text));
    if (!parsed) {
      return reject(RejectReason::kBadFieldType, "product \"" + std::string(text_of(text)) + "\"");
    }
    product = std::min<uint64_t>(*parsed, 63);
  }
  bool subscribed = true;
  if (const pugi::xml_attribute text = root.attribute("subscribed")) {
    const std::string_view value = text_of(text);
    if (value != "0" && value != "1") {
      return reject(RejectReason::kBadFieldType, "subscribed \"" + std::string(value) + "\"");
    }
    subscribed = value == "1";
  }
  // Nothing below can fail, so the state changes need no undo.
  ++counters_.heartbeats;
  const bool was_up = source_up();
  const uint64_t bit = uint64_t{1} << product;
  down_products_ = subscribed ? (down_products_ & ~bit) : (down_products_ | bit);
  const bool up = source_up();
  if (was_up != up) {
    forget_emitted();
    emit(out, EventType::kSourceStatus).source_up = up;
    if (!up) ++uof_counters_.source_down;
  }
  if (up) emit(out, EventType::kHeartbeat);
  return {};
}

const std::vector<uint32_t>* UofAdapter::slots_of_event(std::string_view event_id) const {
  const auto it = slots_by_event_.find(event_id);
  return it == slots_by_event_.end() ? nullptr : &it->second;
}

std::expected<UofAdapter::MarketSlot*, Rejection> UofAdapter::slot_of(
    const std::vector<uint32_t>* event_slots, const AttributeText& id_attribute,
    const AttributeText& specifiers_attribute, std::string_view event_id) {
  if (!id_attribute) return reject(RejectReason::kMissingField, "market id");
  const std::string_view id = *id_attribute;
  const std::string_view specifiers = specifiers_attribute.value_or(std::string_view{});
  // The same exact (event, market id, specifiers) match as Mapping::find, but the event is looked
  // up once per message and its few mapped markets searched without building a key string.
  if (event_slots != nullptr) {
    const auto it =
        std::lower_bound(event_slots->begin(), event_slots->end(), std::tie(id, specifiers),
                         [&](uint32_t slot, const auto& key) {
                           return std::tie(slots_[slot].market_id, slots_[slot].specifiers) < key;
                         });
    if (it != event_slots->end() && slots_[*it].market_id == id &&
        slots_[*it].specifiers == specifiers) {
      return &slots_[*it];
    }
  }
  ++counters_.unknown_markets;
  if (unknown_ids_.size() < kUnknownIdSamples) {
    scratch_.assign("market ");
    append_market_ref(scratch_, event_id, id, specifiers);
    note_unknown_scratch();
  }
  return nullptr;
}

std::expected<const UofAdapter::OutcomeSlot*, Rejection> UofAdapter::outcome_of(
    const MarketSlot& slot, const AttributeText& id_attribute, std::string_view event_id) {
  if (!id_attribute) return reject(RejectReason::kMissingField, "outcome id");
  const std::string_view id = *id_attribute;
  const auto begin = outcomes_.begin() + slot.outcome_first;
  const auto end = begin + slot.outcome_count;
  const auto it = std::lower_bound(begin, end, id, [](const OutcomeSlot& o, std::string_view key) {
    return o.provider_id < key;
  });
  if (it != end && it->provider_id == id) return &*it;
  ++counters_.unknown_selections;
  if (unknown_ids_.size() < kUnknownIdSamples) {
    scratch_.assign("outcome ").append(id).append(" of market ");
    append_market_ref(scratch_, event_id, slot.market_id, slot.specifiers);
    note_unknown_scratch();
  }
  return nullptr;
}

void UofAdapter::note_unknown_scratch() {
  // Unmapped markets are the common case in a real feed (it sends every market of the event):
  // only allocate for an id that will actually be kept.
  for (const std::string& known : unknown_ids_) {
    if (known == scratch_) return;
  }
  note_unknown(scratch_);
}

void UofAdapter::set(uint64_t& where, uint64_t value) {
  if (where == value) return;
  undo_.push_back({&where, where});
  where = value;
}

Event& UofAdapter::emit(std::vector<Event>& out, EventType type) {
  Event& event = out.emplace_back();
  event.type = type;
  event.source = feed_name_;
  event.source_ns = source_ns_;
  return event;
}

Event& UofAdapter::emit_market(std::vector<Event>& out, EventType type, const MarketSlot& slot) {
  Event& event = emit(out, type);
  event.market = slot.market;
  event.event = slot.event;
  return event;
}

void UofAdapter::emit_status(std::vector<Event>& out, MarketSlot& slot, fb::MarketStatus status) {
  set(slot.status, static_cast<uint64_t>(status));
  Event& event = emit_market(out, EventType::kStatus, slot);
  event.status = status;
  event.reason = fb::StatusReason::Provider;
}

void UofAdapter::forget_emitted() {
  for (MarketSlot& slot : slots_) slot.status = kNoStatus;
  std::fill(prices_.begin(), prices_.end(), kNoPrice);
  std::fill(price_texts_.begin(), price_texts_.end(), 0);
}

}  // namespace oddsbus::feeds::uof
