#include "engine/desk_overrides.h"

#include <algorithm>

namespace oddsbus::engine {

namespace {

// The odds a sequenced selection carries, read back from its text; a text that does not parse
// (no feed sends one: the sequencer only takes parsed odds) keeps the price as plain decimal.
Odds odds_of(uint32_t price_e4, const std::string& text) {
  if (auto parsed = parse_odds(text); parsed && parsed->price_e4 == price_e4) return *parsed;
  Odds odds;
  odds.price_e4 = price_e4;
  odds.format = fb::OddsFormat::Decimal;
  odds.numerator = price_e4;
  odds.denominator = 10000;
  return odds;
}

Odds odds_of(const SelectionState& selection) {
  return odds_of(selection.price_e4, selection.odds);
}

}  // namespace

DeskOverrides::DeskOverrides(const DeskOverridesConfig& config) : config_(config) {}

bool DeskOverrides::take(const MarketRecord& current, std::string_view feed_source, uint64_t now_ns,
                         uint64_t override_for_ns) {
  auto it = held_.find(current.id);
  if (it == held_.end()) {
    if (held_.size() >= config_.max_markets) {
      ++counters_.refused;
      return false;
    }
    FeedView view;
    view.status = current.status;
    view.reason = current.reason;
    for (const SelectionState& s : current.selections) {
      if (s.price_e4 == 0) continue;
      view.prices[s.id] = FeedPrice{odds_of(s), s.odds, std::string(feed_source), 0};
    }
    it = held_.emplace(current.id, std::move(view)).first;
    ++counters_.taken;
  }
  it->second.expires_ns = override_for_ns == 0 ? 0 : now_ns + override_for_ns;
  recompute_next_expiry();
  return true;
}

bool DeskOverrides::adopt(const HeldOverride& held, std::string_view feed_source,
                          uint64_t expires_ns) {
  if (!held_.contains(held.market) && held_.size() >= config_.max_markets) {
    ++counters_.refused;
    return false;
  }
  FeedView view;
  view.status = held.feed_status;
  view.reason = held.feed_reason;
  for (const HeldPrice& p : held.feed_prices) {
    view.prices[p.selection] =
        FeedPrice{odds_of(p.price_e4, p.odds), p.odds, std::string(feed_source), 0};
  }
  view.expires_ns = expires_ns;
  held_[held.market] = std::move(view);
  recompute_next_expiry();
  return true;
}

void DeskOverrides::clear() {
  held_.clear();
  next_expiry_ns_ = 0;
}

bool DeskOverrides::hold(const feeds::Event& event) {
  if (event.type != feeds::EventType::kPrice && event.type != feeds::EventType::kStatus) {
    return false;
  }
  auto it = held_.find(event.market);
  if (it == held_.end()) return false;
  FeedView& view = it->second;
  if (event.type == feeds::EventType::kPrice) {
    FeedPrice& price = view.prices[event.selection];
    price.odds = event.odds;
    price.text = event.odds_text;
    price.source = event.source.empty() ? event.provider : event.source;
    price.source_ns = event.source_ns;
    ++counters_.held_prices;
  } else {
    view.status = event.status;
    view.reason = event.reason;
    ++counters_.held_statuses;
  }
  return true;
}

bool DeskOverrides::release(uint64_t market, const MarketRecord* current,
                            std::vector<feeds::Event>& out) {
  auto it = held_.find(market);
  if (it == held_.end()) return false;
  restore(it, current, out);
  ++counters_.released;
  return true;
}

void DeskOverrides::restore(std::map<uint64_t, FeedView>::iterator it, const MarketRecord* current,
                            std::vector<feeds::Event>& out) {
  const uint64_t market = it->first;
  const FeedView& view = it->second;

  feeds::Event status;
  status.type = feeds::EventType::kStatus;
  status.market = market;
  status.status = view.status;
  status.reason = view.reason;
  const bool status_last = view.status == fb::MarketStatus::Open;
  if (!status_last) out.push_back(status);
  for (const auto& [selection, price] : view.prices) {
    if (view.status == fb::MarketStatus::Settled) break;  // a settled market takes no prices
    if (current != nullptr) {
      const SelectionState* now = current->find_selection(selection);
      if (now == nullptr) continue;  // the market was redefined without it
      if (now->price_e4 == price.odds.price_e4 && now->odds == price.text) continue;
    }
    feeds::Event e;
    e.type = feeds::EventType::kPrice;
    e.market = market;
    e.selection = selection;
    e.odds = price.odds;
    e.odds_text = price.text;
    e.source = price.source;
    e.source_ns = price.source_ns;
    out.push_back(std::move(e));
  }
  if (status_last) out.push_back(status);

  held_.erase(it);
  recompute_next_expiry();
}

void DeskOverrides::forget(uint64_t market) {
  if (held_.erase(market) != 0) recompute_next_expiry();
}

void DeskOverrides::on_settled(uint64_t market) {
  if (held_.erase(market) == 0) return;
  ++counters_.settled;
  recompute_next_expiry();
}

size_t DeskOverrides::on_tick(uint64_t now_ns, const MarketState& state,
                              std::vector<feeds::Event>& out) {
  if (next_expiry_ns_ == 0 || now_ns < next_expiry_ns_) return 0;
  expired_.clear();
  for (const auto& [market, view] : held_) {
    if (view.expires_ns != 0 && view.expires_ns <= now_ns) expired_.push_back(market);
  }
  for (const uint64_t market : expired_) {
    restore(held_.find(market), state.find(market), out);
    ++counters_.expired;
  }
  return expired_.size();
}

void DeskOverrides::recompute_next_expiry() {
  next_expiry_ns_ = 0;
  for (const auto& [market, view] : held_) {
    if (view.expires_ns == 0) continue;
    next_expiry_ns_ =
        next_expiry_ns_ == 0 ? view.expires_ns : std::min(next_expiry_ns_, view.expires_ns);
  }
}

}  // namespace oddsbus::engine
