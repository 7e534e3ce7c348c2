#include "feeds/uof/uof_adapter.h"

#include "feeds/uof/market_groups.h"

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

// A UOF factor ("0.5", "1", "0.3333333") in units of 1e-4, rounded to nearest (ties up), or
// nothing when it is not a decimal number in [0, 1].
std::optional<uint32_t> factor_e4_of(std::string_view text) {
  const size_t point = text.find('.');
  const std::string_view whole = text.substr(0, point);
  const std::string_view fraction =
      point == std::string_view::npos ? std::string_view{} : text.substr(point + 1);
  if (whole.empty() || (point != std::string_view::npos && fraction.empty())) return std::nullopt;
  const auto units = integer_of<uint32_t>(whole);
  if (!units || *units > 1) return std::nullopt;
  uint64_t e4 = uint64_t{*units} * 10000;
  uint64_t scale = 1000;
  for (size_t i = 0; i < fraction.size(); ++i) {
    const char c = fraction[i];
    if (c < '0' || c > '9') return std::nullopt;
    if (i < 4) {
      e4 += static_cast<uint64_t>(c - '0') * scale;
      scale /= 10;
    } else if (i == 4 && c >= '5') {
      ++e4;
    }
  }
  if (e4 > 10000) return std::nullopt;
  return static_cast<uint32_t>(e4);
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
  pugi::xml_attribute id, odds, active, result, void_factor, dead_heat_factor;
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
      case 'v':
        if (std::strcmp(name, "void_factor") == 0) found.void_factor = a;
        break;
      case 'd':
        if (std::strcmp(name, "dead_heat_factor") == 0) found.dead_heat_factor = a;
        break;
      default:
        break;
    }
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

void normalise_specifiers(std::string_view specifiers, std::string& out) {
  // UOF writes specifiers as key=value pairs joined by '|' ("Unified Odds Feed: specifiers",
  // docs.sportradar.com/uof/data-and-features/markets-and-outcomes); the SDKs read them into a
  // key -> value dictionary (UnifiedOddsSdkNetCore FeedMarket.SpecifierString "parsed
  // specifiers"), so their order carries no meaning. At most a handful of pairs: a small sort.
  std::string_view pairs[16];
  size_t count = 0;
  while (!specifiers.empty()) {
    const size_t bar = specifiers.find('|');
    const std::string_view pair = specifiers.substr(0, bar);
    if (count == std::size(pairs)) {  // more than any market has: keep the rest as written
      pairs[count - 1] = std::string_view(
          pairs[count - 1].data(), specifiers.data() + specifiers.size() - pairs[count - 1].data());
      break;
    }
    pairs[count++] = pair;
    if (bar == std::string_view::npos) break;
    specifiers.remove_prefix(bar + 1);
  }
  std::sort(pairs, pairs + count);
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) out.push_back('|');
    out.append(pairs[i]);
  }
}

UofAdapter::UofAdapter(const Mapping& mapping, std::string feed_name)
    : mapping_(mapping),
      feed_name_(std::move(feed_name)),
      document_(std::make_unique<pugi::xml_document>()) {
  size_t price_count = 0;
  size_t slot_count = 0;
  for (const MarketMapping& market : mapping_.markets()) {
    for (const ProviderMarketMapping& provider : market.providers) {
      if (provider.feed == feed_name_ && !provider.event.empty()) ++slot_count;
    }
  }
  specifier_texts_.reserve(slot_count);  // never grows past this: slots point into it
  for (const MarketMapping& market : mapping_.markets()) {
    for (const ProviderMarketMapping& provider : market.providers) {
      // Without an event a market is unreachable by the uof-xml lookup (event, id, specifiers).
      if (provider.feed != feed_name_ || provider.event.empty()) continue;
      MarketSlot slot;
      slot.provider = &provider;
      slot.market_id = provider.market;
      normalise_specifiers(provider.specifiers, specifier_texts_.emplace_back());
      slot.specifiers = specifier_texts_.back();
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
  prices_.assign(price_count, kUnknownPrice);
  stamps_.assign(slots_.size() * kProducts, 0);
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
    if (result) result = read_product(view_.product);
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
  if (Result read = read_product(attribute_text(root.attribute("product"))); !read) return read;

  const std::string_view name = root.name();
  if (name == "odds_change") return on_odds_change(root, out);
  if (name == "bet_stop") return on_bet_stop(root, out);
  if (name == "bet_settlement") return on_bet_settlement(root, out);
  if (name == "rollback_bet_settlement") {
    return on_market_list(root, EventType::kSettlementRollback, out);
  }
  if (name == "bet_cancel" || name == "rollback_bet_cancel") return on_cancel(root);
  if (name == "alive") return on_alive(root, out);
  if (name == "snapshot_complete") return on_snapshot_complete(out);
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

UofAdapter::Result UofAdapter::read_product(const AttributeText& product) {
  product_ = kNoProduct;
  if (!product) return {};
  const auto parsed = integer_of<uint64_t>(*product);
  if (!parsed)
    return reject(RejectReason::kBadFieldType, "product \"" + std::string(*product) + "\"");
  product_ = std::min<uint64_t>(*parsed, kProducts - 1);
  return {};
}

bool UofAdapter::in_order(const MarketSlot& slot) {
  // Messages of one product arrive in order but products are independent, and a recovery
  // replays a product's state: a message older than what a market already has from its product
  // would show an older price as current ("Unified Odds Feed: message timestamps", every
  // message's `timestamp` is its generation time at Sportradar, ms). Equal is not older.
  if (product_ == kNoProduct || source_ns_ == 0) return true;
  const auto index = static_cast<size_t>(&slot - slots_.data()) * kProducts + product_;
  if (source_ns_ < stamps_[index]) {
    ++uof_counters_.out_of_order;
    return false;
  }
  set(stamps_[index], source_ns_);
  return true;
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
  view_.product = attribute_text(root.attribute("product"));
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
    bool handed_over = false;
    if (market.status) {
      const auto parsed = market_status_of(*market.status);
      if (!parsed) {
        return reject(RejectReason::kBadStatus,
                      "market status \"" + std::string(*market.status) + "\"");
      }
      status = *parsed;
      handed_over = *market.status == "-2";
    }
    if (!in_order(*slot)) continue;
    const uint64_t product_bit = product_ == kNoProduct ? 0 : bit_of(product_);
    if (handed_over) {
      // "HandedOver = -2: the market was handed over from one odds producer to another. If the
      // odds for this market were already received from another producer this update should be
      // ignored, otherwise associated market should be suspended until such odds are received."
      // (UnifiedOddsSdkNetCore, Entities.Enums.MarketStatus; UOF docs "Market status").
      if ((slot->products & ~product_bit) != 0) {
        ++uof_counters_.handovers_ignored;
        continue;
      }
    } else {
      set(slot->products, slot->products | product_bit);
    }
    if (product_ != kNoProduct) set(slot->feeder, product_);
    want_status(out, *slot, status);

    const auto outcomes_begin = view.outcomes.begin() + market.outcome_first;
    for (auto outcome = outcomes_begin; outcome != outcomes_begin + market.outcome_count;
         ++outcome) {
      const auto mapped = outcome_of(*slot, outcome->id, event_id);
      if (!mapped) return std::unexpected(mapped.error());
      if (*mapped == nullptr) continue;
      // An outcome that is inactive (active="0": "the outcome should not be offered"), has no
      // odds, or odds we cannot take has no price to show: its old one is withdrawn, never left
      // up (UOF docs "odds_change": outcome attributes `odds` and `active`).
      if (!outcome->odds || (outcome->active && *outcome->active == "0")) {
        withdraw(out, *slot, **mapped);
        continue;
      }
      const std::string_view odds_text = *outcome->odds;
      const uint32_t memory = (*mapped)->price;
      const uint64_t text_key = packed_text(odds_text);
      if (text_key != 0 && price_texts_[memory] == text_key) continue;
      const auto odds = parse_decimal_odds(odds_text);
      if (!odds) {
        ++uof_counters_.bad_odds;
        withdraw(out, *slot, **mapped);
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
  // "Only active markets should be set to suspended, and not markets that are already
  // deactivated, settled or canceled", and `groups` names the market groups to stop ("all" for
  // every market) (docs.sportradar.com/uof/data-and-features/messages/event/bet-stop). A market's
  // groups come from Sportradar's market descriptions (uof_market_groups.h); a market whose
  // groups are unknown is stopped, the safe reading.
  const std::string_view groups = text_of(root.attribute("groups"));
  if (const std::vector<uint32_t>* event_slots = slots_of_event(*event_id)) {
    for (const uint32_t index : *event_slots) {
      MarketSlot& slot = slots_[index];
      if (!in_groups(slot.market_id, groups)) continue;
      const uint64_t wanted = slot.wanted == kNoStatus ? slot.status : slot.wanted;
      if (wanted == static_cast<uint64_t>(fb::MarketStatus::Settled) ||
          wanted == static_cast<uint64_t>(fb::MarketStatus::Closed)) {
        continue;
      }
      if (!in_order(slot)) continue;
      set(slot.wanted, static_cast<uint64_t>(fb::MarketStatus::Suspended));
      emit_status(out, slot, fb::MarketStatus::Suspended);
    }
  }
  return {};
}

template <typename Visit>
UofAdapter::Result UofAdapter::for_each_market_slot(const pugi::xml_node& markets,
                                                    std::string_view event_id, Visit&& visit) {
  const std::vector<uint32_t>* event_slots = slots_of_event(event_id);
  for (const pugi::xml_node market : markets.children("market")) {
    const MarketAttributes attributes = market_attributes(market);
    const auto found = slot_of(event_slots, attribute_text(attributes.id),
                               attribute_text(attributes.specifiers), event_id);
    if (!found) return std::unexpected(found.error());
    if (auto visited = visit(market, *found); !visited) return visited;
  }
  return {};
}

UofAdapter::Result UofAdapter::on_bet_settlement(const pugi::xml_node& root,
                                                 std::vector<Event>& out) {
  const auto event_id = event_id_of(root);
  if (!event_id) return std::unexpected(event_id.error());
  return for_each_market_slot(
      root.child("outcomes"), *event_id,
      [&](const pugi::xml_node& market, MarketSlot* slot) -> Result {
        if (slot == nullptr) return {};
        std::vector<uint64_t> winners;
        std::vector<SettlementFactor> factors;
        // Every mapped outcome listed refunds the whole stake: the market is void, not a market
        // settled with no winner.
        bool all_void = false;
        bool any_mapped = false;
        for (const pugi::xml_node outcome : market.children("outcome")) {
          const OutcomeAttributes attributes = outcome_attributes(outcome);
          const auto mapped = outcome_of(*slot, attribute_text(attributes.id), *event_id);
          if (!mapped) return std::unexpected(mapped.error());
          if (!attributes.result) {
            return reject(RejectReason::kMissingField,
                          "result on outcome " + std::string(text_of(attributes.id)));
          }
          // void_factor: "the percentage of the stake that should be voided (returned to the
          // punter)", 0.5 or 1; dead_heat_factor: the share a shared place pays
          // (UnifiedOddsSdkNetCore IOutcomeSettlement; UOF docs "bet_settlement").
          SettlementFactor factor;
          for (const auto& [attribute, into] :
               {std::pair{attributes.void_factor, &factor.void_factor_e4},
                std::pair{attributes.dead_heat_factor, &factor.dead_heat_factor_e4}}) {
            if (!attribute) continue;
            const auto e4 = factor_e4_of(text_of(attribute));
            if (!e4) {
              return reject(
                  RejectReason::kBadFieldType,
                  std::string(attribute.name()) + " \"" + std::string(text_of(attribute)) + "\"");
            }
            *into = *e4;
          }
          if (*mapped == nullptr) continue;
          all_void = (any_mapped ? all_void : true) && factor.void_factor_e4 == 10000;
          any_mapped = true;
          if (text_of(attributes.result) == "1") winners.push_back((*mapped)->selection);
          if (factor.void_factor_e4 != 0 || factor.dead_heat_factor_e4 != 0) {
            factor.selection = (*mapped)->selection;
            factors.push_back(factor);
          }
        }
        std::sort(winners.begin(), winners.end());
        winners.erase(std::unique(winners.begin(), winners.end()), winners.end());
        std::sort(factors.begin(), factors.end(),
                  [](const SettlementFactor& a, const SettlementFactor& b) {
                    return a.selection < b.selection;
                  });
        factors.erase(std::unique(factors.begin(), factors.end(),
                                  [](const SettlementFactor& a, const SettlementFactor& b) {
                                    return a.selection == b.selection;
                                  }),
                      factors.end());
        set(slot->status, static_cast<uint64_t>(fb::MarketStatus::Settled));
        set(slot->wanted, static_cast<uint64_t>(fb::MarketStatus::Settled));
        Event& event = emit_market(out, EventType::kSettle, *slot);
        event.winners = std::move(winners);
        event.factors = std::move(factors);
        event.voided = all_void;
        return {};
      });
}

UofAdapter::Result UofAdapter::on_market_list(const pugi::xml_node& root, EventType type,
                                              std::vector<Event>& out) {
  const auto event_id = event_id_of(root);
  if (!event_id) return std::unexpected(event_id.error());
  return for_each_market_slot(root, *event_id, [&](const pugi::xml_node&, MarketSlot* slot) {
    if (slot == nullptr) return Result{};
    set(slot->status, static_cast<uint64_t>(fb::MarketStatus::Suspended));
    set(slot->wanted, static_cast<uint64_t>(fb::MarketStatus::Suspended));
    emit_market(out, type, *slot);
    return Result{};
  });
}

UofAdapter::Result UofAdapter::on_cancel(const pugi::xml_node& root) {
  // A bet_cancel says which bets to refund (all on the market, or those placed between
  // start_time and end_time); a market's status is set by odds_change alone, and its rollback
  // likewise changes none ("BetCancel: all bets on the particular market (line) ... should be
  // cancelled and refunded in full", UnifiedOddsSdkJava oddsentities.BetCancel; UOF docs
  // "bet_cancel"). Refunds are not modelled: the markets are checked, nothing is emitted.
  const auto event_id = event_id_of(root);
  if (!event_id) return std::unexpected(event_id.error());
  auto checked = for_each_market_slot(root, *event_id,
                                      [](const pugi::xml_node&, MarketSlot*) { return Result{}; });
  if (checked) ++uof_counters_.cancels;
  return checked;
}

UofAdapter::Result UofAdapter::on_snapshot_complete(std::vector<Event>& out) {
  // A product that went down is up again only when the recovery it asked for is complete
  // (docs.sportradar.com/uof "Recovery": snapshot_complete ends a recovery request; the SDKs
  // mark a producer up on it, UnifiedOddsSdkJava SnapshotCompleted(producerId, recoveryId)).
  // Nothing below can fail, so the state changes need no undo.
  ++uof_counters_.snapshot_complete;
  if (product_ == kNoProduct || product_up(product_)) return {};
  const bool was_up = source_up();
  down_products_ &= ~bit_of(product_);
  ++uof_counters_.product_recovered;
  if (!was_up && source_up()) emit(out, EventType::kSourceStatus).source_up = true;
  // Its markets get the status the recovery left them in, held suspended until now.
  for (MarketSlot& slot : slots_) {
    if (slot.feeder != product_ || slot.wanted == kNoStatus || slot.wanted == slot.status) continue;
    emit_status(out, slot, static_cast<fb::MarketStatus>(slot.wanted));
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
  // Producers are decoupled: each has its own alive, goes down and recovers on its own, and one
  // being down says nothing of the others (docs.sportradar.com/uof "Producers" and "Recovery").
  // A product goes down on subscribed="0" and comes back only with its recovery's
  // snapshot_complete; the source as a whole is down when every product it heard from is.
  const uint64_t bit = bit_of(product);
  known_products_ |= bit;
  if (!subscribed && (down_products_ & bit) == 0) {
    const bool was_up = source_up();
    down_products_ |= bit;
    ++uof_counters_.product_down;
    if (was_up && !source_up()) {
      forget_emitted();
      emit(out, EventType::kSourceStatus).source_up = false;
      ++uof_counters_.source_down;
    } else if (source_up()) {
      // The others stay up: only the markets this product priced are suspended, and what was
      // emitted for them is forgotten so its recovery re-emits every price.
      for (MarketSlot& slot : slots_) {
        if (slot.feeder != product) continue;
        forget_emitted(slot);
        emit_status(out, slot, fb::MarketStatus::Suspended, fb::StatusReason::FeedStale);
      }
    }
  }
  if (source_up()) emit(out, EventType::kHeartbeat);
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
    if (const int64_t found = find_slot(*event_slots, id, specifiers); found >= 0) {
      return &slots_[static_cast<size_t>(found)];
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

int64_t UofAdapter::find_slot(const std::vector<uint32_t>& event_slots, std::string_view id,
                              std::string_view specifiers) {
  const auto exact = [&](std::string_view wanted) -> int64_t {
    const auto it =
        std::lower_bound(event_slots.begin(), event_slots.end(), std::tie(id, wanted),
                         [&](uint32_t slot, const auto& key) {
                           return std::tie(slots_[slot].market_id, slots_[slot].specifiers) < key;
                         });
    if (it != event_slots.end() && slots_[*it].market_id == id &&
        slots_[*it].specifiers == wanted) {
      return *it;
    }
    return -1;
  };
  // Slots hold normalised specifiers; a feed that writes them in that order (or has one pair)
  // matches at once, and only another order pays for normalising.
  if (const int64_t found = exact(specifiers); found >= 0) return found;
  if (specifiers.find('|') == std::string_view::npos) return -1;
  specifiers_scratch_.clear();
  normalise_specifiers(specifiers, specifiers_scratch_);
  if (specifiers_scratch_ == specifiers) return -1;
  return exact(specifiers_scratch_);
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

void UofAdapter::emit_status(std::vector<Event>& out, MarketSlot& slot, fb::MarketStatus status,
                             fb::StatusReason reason) {
  set(slot.status, static_cast<uint64_t>(status));
  Event& event = emit_market(out, EventType::kStatus, slot);
  event.status = status;
  event.reason = reason;
}

void UofAdapter::want_status(std::vector<Event>& out, MarketSlot& slot, fb::MarketStatus status) {
  set(slot.wanted, static_cast<uint64_t>(status));
  // A recovering product's markets open only when its recovery completes (on_snapshot_complete).
  if (status == fb::MarketStatus::Open && product_ != kNoProduct && !product_up(product_)) {
    status = fb::MarketStatus::Suspended;
  }
  if (slot.status != static_cast<uint64_t>(status)) emit_status(out, slot, status);
}

void UofAdapter::withdraw(std::vector<Event>& out, const MarketSlot& slot,
                          const OutcomeSlot& outcome) {
  set(price_texts_[outcome.price], 0);
  if (prices_[outcome.price] == kNoPrice) return;
  set(prices_[outcome.price], kNoPrice);
  ++uof_counters_.withdrawn;
  // price_e4 0 with no odds text is "no price" in market state (schemas/market_state.h) and in
  // the state JSON (DESIGN section 10: "a selection without a price yet has price_e4 0").
  Event& event = emit_market(out, EventType::kPrice, slot);
  event.selection = outcome.selection;
}

void UofAdapter::forget_emitted() {
  for (MarketSlot& slot : slots_) forget_emitted(slot);
}

void UofAdapter::forget_emitted(MarketSlot& slot) {
  // Not undone: only alive, which cannot fail after it, forgets.
  slot.status = kNoStatus;
  slot.wanted = kNoStatus;  // only what the recovery says counts now
  for (uint32_t i = slot.outcome_first; i < slot.outcome_first + slot.outcome_count; ++i) {
    prices_[outcomes_[i].price] = kUnknownPrice;
    price_texts_[outcomes_[i].price] = 0;
  }
}

}  // namespace oddsbus::feeds::uof
