#include "feeds/source_selector.h"

#include <algorithm>

namespace oddsbus::feeds {

SourceSelector::SourceSelector(const Mapping& mapping, const SourceSelectorConfig& config)
    : mapping_(mapping), config_(config) {
  for (const MarketMapping& market : mapping_.markets()) {
    MarketSelection& m = markets_[market.id];
    m.id = market.id;
    m.mapped = true;
    m.sources = market.sources;
    m.views.resize(market.sources.size());
    // Defined suspended: a market never opens before a source has been heard.
    m.published.has_status = true;
    m.published.status = fb::MarketStatus::Suspended;
    m.published.reason = fb::StatusReason::FeedStale;
    m.stale_suspended = true;
  }
}

void SourceSelector::definitions(std::vector<Event>& out) const {
  for (const MarketMapping& market : mapping_.markets()) {
    Event e;
    e.type = EventType::kMarket;
    e.market = market.id;
    e.event = market.event;
    e.name = market.name;
    e.status = fb::MarketStatus::Suspended;
    e.reason = fb::StatusReason::FeedStale;
    for (const SelectionMapping& s : market.selections) e.selections.push_back({s.id, s.name});
    out.push_back(std::move(e));
  }
}

bool SourceSelector::healthy(std::string_view source, uint64_t now_ns) const {
  auto it = health_.find(std::string(source));
  if (it == health_.end()) return false;
  const SourceHealth& h = it->second;
  return h.connected && h.heard && now_ns - h.last_heard_ns <= config_.stale_after_ns;
}

std::string_view SourceSelector::active_source(uint64_t market) const {
  auto it = markets_.find(market);
  if (it == markets_.end() || it->second.active < 0) return {};
  return it->second.sources[static_cast<size_t>(it->second.active)];
}

bool SourceSelector::source_ok(const MarketSelection& m, size_t source, uint64_t now_ns) const {
  if (!m.mapped && !config_.stale_unmapped) return true;  // its feed's silence suspends nothing
  return healthy(m.sources[source], now_ns);
}

SourceSelector::MarketSelection* SourceSelector::track(const Event& event) {
  auto it = markets_.find(event.market);
  if (it != markets_.end()) {
    MarketSelection& m = it->second;
    if (!m.mapped && m.sources[0] != event.source) m.sources[0] = event.source;  // speaks now
    return &m;
  }
  if (unmapped_ >= config_.max_unmapped_markets) {
    ++counters_.untracked;
    return nullptr;
  }
  ++unmapped_;
  MarketSelection& m = markets_[event.market];
  m.id = event.market;
  m.sources = {event.source};
  m.views.resize(1);
  set_active(m, 0);  // passes through from its first event, as an unselected market always did
  return &m;
}

bool SourceSelector::mapped(uint64_t market) const {
  const auto it = markets_.find(market);
  return it != markets_.end() && it->second.mapped;
}

bool SourceSelector::forget_market(uint64_t market) {
  const auto it = markets_.find(market);
  if (it == markets_.end()) return true;
  if (it->second.mapped) return false;
  set_active(it->second, -1);
  --unmapped_;
  markets_.erase(it);
  return true;
}

void SourceSelector::set_active(MarketSelection& m, int source) {
  if (m.active >= 0) --active_by_source_[m.sources[static_cast<size_t>(m.active)]];
  if (source >= 0) ++active_by_source_[m.sources[static_cast<size_t>(source)]];
  m.active = source;
}

uint64_t SourceSelector::active_markets(std::string_view source) const {
  const auto it = active_by_source_.find(std::string(source));
  return it == active_by_source_.end() ? 0 : it->second;
}

void SourceSelector::record(MarketView& view, const Event& event) {
  // The sequencer takes no price for a settled market (nor does `odds-engine ingest`): a view
  // that kept one would publish a price the stream never gave the market.
  if (event.type == EventType::kPrice && view.has_status &&
      view.status == fb::MarketStatus::Settled) {
    return;
  }
  view.has_data = true;
  switch (event.type) {
    case EventType::kMarket: {
      // As MarketState applies a definition: name and selection list replaced, prices of the
      // selections that remain kept, the status set (its reason cleared).
      view.defined = true;
      view.event = event.event;
      view.name = event.name;
      view.selections = event.selections;
      std::sort(
          view.selections.begin(), view.selections.end(),
          [](const SelectionDefinition& a, const SelectionDefinition& b) { return a.id < b.id; });
      std::erase_if(view.prices, [&](const auto& price) {
        return std::none_of(view.selections.begin(), view.selections.end(),
                            [&](const SelectionDefinition& s) { return s.id == price.first; });
      });
      view.has_status = true;
      view.status = event.status;
      view.reason = fb::StatusReason::None;
      view.status_ns = event.source_ns;
      if (view.status != fb::MarketStatus::Settled) {
        view.winners.clear();
        view.factors.clear();
        view.voided = false;
      }
      break;
    }
    case EventType::kPrice: {
      PriceView& p = view.prices[event.selection];
      p.price_e4 = event.odds.price_e4;
      p.odds = event.odds;
      p.text = event.odds_text;
      p.source_ns = event.source_ns;
      break;
    }
    case EventType::kStatus:
      view.has_status = true;
      view.status = event.status;
      view.reason = event.reason;
      view.status_ns = event.source_ns;
      break;
    case EventType::kSettle:
      view.has_status = true;
      view.status = fb::MarketStatus::Settled;
      view.reason = fb::StatusReason::Settlement;
      view.status_ns = event.source_ns;
      view.winners = event.winners;
      view.factors = event.factors;
      view.voided = event.voided;
      break;
    case EventType::kSettlementRollback:
      view.has_status = true;
      view.status = fb::MarketStatus::Suspended;
      view.reason = fb::StatusReason::Settlement;
      view.status_ns = event.source_ns;
      view.winners.clear();
      view.factors.clear();
      view.voided = false;
      break;
    case EventType::kHeartbeat:
    case EventType::kSourceStatus:
      break;
  }
}

void SourceSelector::forget(const std::string& source) {
  for (auto& [id, m] : markets_) {
    if (!m.mapped && !config_.stale_unmapped) continue;  // its feed's health selects nothing
    for (size_t i = 0; i < m.sources.size(); ++i) {
      MarketView& view = m.views[i];
      if (m.sources[i] != source || !view.has_data || finished(view)) continue;
      view.has_data = false;  // an unmapped market's definition stays, but is not fresh data
      view.prices.clear();
      view.has_status = false;
      view.status = fb::MarketStatus::Open;
      view.reason = fb::StatusReason::None;
      view.status_ns = 0;
      view.winners.clear();
      view.factors.clear();
      view.voided = false;
      view.outage = true;
    }
  }
}

void SourceSelector::adopt_status(MarketSelection& m) const {
  // An unmapped market whose feed was not heard to define it or set its status (a node that
  // started after it did) is, as far as the feed is known to say, as it was published.
  MarketView& view = m.views[0];
  const bool stale = m.published.status == fb::MarketStatus::Suspended &&
                     m.published.reason == fb::StatusReason::FeedStale;
  if (m.mapped || view.has_status || view.outage || !m.published.has_status || stale) return;
  view.has_status = true;
  view.status = m.published.status;
  view.reason = m.published.reason;
}

void SourceSelector::define(MarketSelection& m, const PublishedMarket* journal,
                            std::vector<Event>& out) {
  const MarketView& view = m.views[0];
  if (m.mapped || !view.defined || finished(m.published)) return;
  if (journal != nullptr && journal->event == view.event && journal->name == view.name &&
      journal->selections.size() == view.selections.size() &&
      std::equal(view.selections.begin(), view.selections.end(), journal->selections.begin(),
                 [](const SelectionDefinition& a, const SelectionDefinition& b) {
                   return a.id == b.id && a.name == b.name;
                 })) {
    return;
  }
  Event e;
  e.type = EventType::kMarket;
  e.market = m.id;
  e.event = view.event;
  e.name = view.name;
  e.selections = view.selections;
  e.source = m.sources[0];
  if (journal != nullptr) {
    e.status = m.published.status;  // the definition changes what it defines, and no more
  } else {
    // A market the journal never had: defined as the feed has it now. A settlement cannot be a
    // definition's status: it is defined suspended and settled by the re-evaluation after.
    e.status = view.status == fb::MarketStatus::Settled ? fb::MarketStatus::Suspended : view.status;
  }
  publish(m, e, out);
}

void SourceSelector::publish(MarketSelection& m, const Event& event, std::vector<Event>& out) {
  record(m.published, event);
  out.push_back(event);
  ++counters_.passed;
}

Event SourceSelector::status_event(const MarketSelection& m, fb::MarketStatus status,
                                   fb::StatusReason reason) const {
  Event e;
  e.type = EventType::kStatus;
  e.market = m.id;
  e.status = status;
  e.reason = reason;
  return e;
}

void SourceSelector::activate(MarketSelection& m, int source, uint64_t now_ns,
                              std::vector<Event>& out) {
  (void)now_ns;
  const bool reopening = m.active < 0;
  set_active(m, source);
  const MarketView& view = m.views[static_cast<size_t>(source)];
  const std::string& name = m.sources[static_cast<size_t>(source)];
  // A mapped source with data but no status of its own means open; an unmapped market whose
  // status the feed never told keeps the one published.
  const bool status_known = view.has_status || m.mapped || view.outage;
  const fb::MarketStatus target = view.has_status ? view.status
                                  : status_known  ? fb::MarketStatus::Open
                                                  : m.published.status;
  const fb::StatusReason target_reason = view.has_status ? view.reason
                                         : status_known  ? fb::StatusReason::Provider
                                                         : m.published.reason;
  const bool status_differs = m.published.status != target || m.published.reason != target_reason;

  auto emit_status = [&] {
    if (!status_differs) return;
    if (target == fb::MarketStatus::Settled) {
      Event e;
      e.type = EventType::kSettle;
      e.market = m.id;
      e.winners = view.winners;
      e.factors = view.factors;
      e.voided = view.voided;
      e.source_ns = view.status_ns;
      e.source = name;
      publish(m, e, out);
    } else {
      Event e = status_event(m, target, target_reason);
      if (view.has_status) e.source_ns = view.status_ns;
      e.source = name;
      publish(m, e, out);
    }
  };
  // A market that stays or goes suspended (or closed) is suspended before its prices change; one
  // that opens gets its fresh prices first, so it never shows an old price as open; one that
  // settles gets the prices it had before its settlement first, as the sequencer takes no price
  // for a settled market.
  const bool prices_first = target == fb::MarketStatus::Open || target == fb::MarketStatus::Settled;
  if (!prices_first) emit_status();
  for (const auto& [selection, price] : view.prices) {
    auto published = m.published.prices.find(selection);
    if (published != m.published.prices.end() && published->second.price_e4 == price.price_e4) {
      continue;
    }
    Event e;
    e.type = EventType::kPrice;
    e.market = m.id;
    e.selection = selection;
    e.odds = price.odds;
    e.odds_text = price.text;
    e.source_ns = price.source_ns;
    e.source = name;
    publish(m, e, out);
  }
  if (prices_first) emit_status();

  if (reopening && m.stale_suspended) {
    ++counters_.reopens;
    notices_.push_back({SelectorNotice::Kind::kReopened, m.id, 0, name, ""});
  } else {
    ++counters_.switches;
    notices_.push_back({SelectorNotice::Kind::kSwitched, m.id, 0, name, ""});
  }
  m.stale_suspended = false;
}

void SourceSelector::suspend_stale(MarketSelection& m, std::vector<Event>& out) {
  set_active(m, -1);
  if (m.stale_suspended) return;
  adopt_status(m);  // so that it reopens as it was
  m.stale_suspended = true;
  ++counters_.stale_suspensions;
  notices_.push_back({SelectorNotice::Kind::kSuspendedStale, m.id, 0, "", ""});
  if (m.published.status == fb::MarketStatus::Suspended &&
      m.published.reason == fb::StatusReason::FeedStale) {
    return;
  }
  publish(m, status_event(m, fb::MarketStatus::Suspended, fb::StatusReason::FeedStale), out);
}

int SourceSelector::best_source(const MarketSelection& m, uint64_t now_ns) const {
  for (size_t i = 0; i < m.views.size(); ++i) {
    if (m.views[i].has_data && source_ok(m, i, now_ns)) return static_cast<int>(i);
  }
  return -1;
}

void SourceSelector::reevaluate(MarketSelection& m, uint64_t now_ns, std::vector<Event>& out) {
  if (finished(m.published)) return;  // a settled or closed market stays as it is
  const int best = best_source(m, now_ns);
  if (best == m.active && !(best < 0 && !m.stale_suspended)) return;
  if (best < 0) {
    suspend_stale(m, out);
  } else {
    activate(m, best, now_ns, out);
  }
}

void SourceSelector::check_agreement(MarketSelection& m, uint64_t now_ns, std::vector<Event>& out) {
  if (m.active < 0) return;
  const MarketView& active = m.views[static_cast<size_t>(m.active)];
  bool any_reported = false;
  for (int i = 0; i < static_cast<int>(m.views.size()); ++i) {
    if (i == m.active) continue;
    const bool other_healthy = healthy(m.sources[static_cast<size_t>(i)], now_ns);
    for (const auto& [selection, price] : active.prices) {
      const auto key = std::make_pair(selection, i);
      const auto& other_prices = m.views[static_cast<size_t>(i)].prices;
      auto other = other_prices.find(selection);
      bool disagree = false;
      // A withdrawn price (0) on either side is no price to compare: that source stopped
      // pricing the selection, it did not disagree about its price.
      if (other_healthy && other != other_prices.end() && price.price_e4 > 0 &&
          other->second.price_e4 > 0) {
        const uint64_t a = price.price_e4;
        const uint64_t b = other->second.price_e4;
        const uint64_t diff = a > b ? a - b : b - a;
        disagree = diff * 10000 > uint64_t{config_.tolerance_bps} * a;
      }
      auto it = m.disagreements.find(key);
      if (!disagree) {
        if (it != m.disagreements.end()) {
          if (it->second.reported) {
            notices_.push_back({SelectorNotice::Kind::kAgreed, m.id, selection,
                                m.sources[static_cast<size_t>(i)], ""});
          }
          m.disagreements.erase(it);
        }
        continue;
      }
      if (it == m.disagreements.end())
        it = m.disagreements.emplace(key, Disagreement{now_ns}).first;
      if (!it->second.reported && now_ns - it->second.since_ns >= config_.disagree_after_ns) {
        it->second.reported = true;
        ++counters_.disagreements;
        notices_.push_back({SelectorNotice::Kind::kDisagreement, m.id, selection,
                            m.sources[static_cast<size_t>(i)],
                            "price_e4 " + std::to_string(other->second.price_e4) + " vs active " +
                                std::to_string(price.price_e4)});
      }
      any_reported = any_reported || it->second.reported;
    }
  }
  if (!config_.suspend_on_disagreement) return;
  if (any_reported && !m.disagreement_suspended && m.published.status == fb::MarketStatus::Open) {
    m.disagreement_suspended = true;
    publish(m, status_event(m, fb::MarketStatus::Suspended, fb::StatusReason::Provider), out);
  } else if (!any_reported && m.disagreement_suspended) {
    m.disagreement_suspended = false;
    const fb::MarketStatus status = active.has_status ? active.status : fb::MarketStatus::Open;
    if (status != m.published.status) {
      Event e = status_event(m, status, fb::StatusReason::Provider);
      e.source = m.sources[static_cast<size_t>(m.active)];
      publish(m, e, out);
    }
  }
}

void SourceSelector::on_event(const Event& event, uint64_t now_ns, std::vector<Event>& out) {
  const bool was_healthy = healthy(event.source, now_ns);
  SourceHealth& h = health_[event.source];
  h.heard = true;
  h.last_heard_ns = now_ns;
  if (event.type == EventType::kSourceStatus) h.connected = event.source_up;
  const bool health_changed = was_healthy != healthy(event.source, now_ns);

  if (event.type == EventType::kSourceStatus && !event.source_up) {
    forget(event.source);
    on_tick(now_ns, out);  // also where it was unhealthy already but still active
    return;
  }
  if (event.type == EventType::kHeartbeat || event.type == EventType::kSourceStatus) {
    if (health_changed) on_tick(now_ns, out);
    return;
  }
  auto it = markets_.find(event.market);
  if (it == markets_.end() || !it->second.mapped) {
    on_unmapped(event, now_ns, out);
    if (health_changed) on_tick(now_ns, out);
    return;
  }
  MarketSelection& m = it->second;
  if (event.type == EventType::kMarket) {
    ++counters_.ignored_definitions;
    return;
  }
  const auto& sources = m.sources;
  const auto pos = std::find(sources.begin(), sources.end(), event.source);
  if (pos == sources.end()) {
    ++counters_.shadowed;  // a source the mapping does not list for this market
    return;
  }
  const int index = static_cast<int>(pos - sources.begin());
  record(m.views[static_cast<size_t>(index)], event);
  const bool holds_open = m.disagreement_suspended && event.type == EventType::kStatus &&
                          event.status == fb::MarketStatus::Open;
  if (index == m.active && !holds_open) {
    publish(m, event, out);
  } else if (index != m.active) {
    if (m.active < 0 || index < m.active) reevaluate(m, now_ns, out);
    if (index != m.active) ++counters_.shadowed;  // it did not take the market over
  }
  if (health_changed) on_tick(now_ns, out);
  check_agreement(m, now_ns, out);
}

void SourceSelector::on_unmapped(const Event& event, uint64_t now_ns, std::vector<Event>& out) {
  MarketSelection* m = track(event);
  if (m == nullptr) {
    out.push_back(event);
    ++counters_.passed;
    return;
  }
  record(m->views[0], event);
  if (m->active == 0) {
    publish(*m, event, out);
    return;
  }
  // Suspended feed-stale, and its feed is heard again. A definition is published as it came, but
  // keeps the market suspended: the re-evaluation below reopens it after its fresh prices.
  if (event.type == EventType::kMarket) {
    Event definition = event;
    if (!finished(m->views[0])) definition.status = fb::MarketStatus::Suspended;
    publish(*m, definition, out);
  }
  reevaluate(*m, now_ns, out);
}

void SourceSelector::reconcile(const std::map<uint64_t, PublishedMarket>& published,
                               uint64_t now_ns, std::vector<Event>& out) {
  for (auto& [id, m] : markets_) {
    auto it = published.find(id);
    reconcile_market(m, it == published.end() ? nullptr : &it->second, now_ns, out);
  }
}

void SourceSelector::reconcile_market(MarketSelection& m, const PublishedMarket* journal,
                                      uint64_t now_ns, std::vector<Event>& out) {
  // A mapped market the journal does not define, or an unmapped one whose definition was not
  // heard, cannot be reconciled.
  if (journal == nullptr && (m.mapped || !m.views[0].defined)) return;
  const size_t before = out.size();
  MarketView view;
  if (journal != nullptr) {
    view.has_data = true;
    view.has_status = true;
    view.status = journal->status;
    view.reason = journal->reason;
    for (const auto& [selection, price_e4] : journal->prices) {
      view.prices[selection].price_e4 = price_e4;
    }
  }
  m.published = std::move(view);
  set_active(m, -1);
  m.disagreement_suspended = false;
  adopt_status(m);
  define(m, journal, out);
  m.stale_suspended = m.published.status == fb::MarketStatus::Suspended &&
                      m.published.reason == fb::StatusReason::FeedStale;
  reevaluate(m, now_ns, out);
  if (out.size() != before) ++counters_.reconciled_markets;
}

SourceSelector::PublishedMarket SourceSelector::published_market(const MarketRecord& record) {
  PublishedMarket p;
  p.status = record.status;
  p.reason = record.reason;
  p.event = record.event;
  p.name = record.name;
  for (const SelectionState& s : record.selections) {
    if (s.price_e4 > 0) p.prices.emplace_back(s.id, s.price_e4);
    p.selections.push_back({s.id, s.name});
  }
  return p;
}

void SourceSelector::reconcile(const MarketState& journal, uint64_t now_ns,
                               std::vector<Event>& out) {
  if (config_.stale_unmapped) {
    for (const auto& [id, record] : journal.markets()) (void)adopt(id, record);
  }
  std::map<uint64_t, PublishedMarket> published;
  for (const auto& [id, record] : journal.markets()) published[id] = published_market(record);
  reconcile(published, now_ns, out);
}

SourceSelector::MarketSelection* SourceSelector::adopt(uint64_t market,
                                                       const MarketRecord& record) {
  if (markets_.contains(market) || record.status == fb::MarketStatus::Settled ||
      record.status == fb::MarketStatus::Closed) {
    return nullptr;
  }
  if (unmapped_ >= config_.max_unmapped_markets) {
    ++counters_.untracked;
    return nullptr;
  }
  ++unmapped_;
  MarketSelection& m = markets_[market];
  m.id = market;
  m.sources = {""};  // unknown until a feed speaks of it (track())
  m.views.resize(1);
  m.active = -1;
  // Held feed-stale: its feed's outage began before this node started, and fresh data from it
  // means open, as after any outage (forget()).
  m.views[0].outage =
      record.status == fb::MarketStatus::Suspended && record.reason == fb::StatusReason::FeedStale;
  return &m;
}

void SourceSelector::adopt_journal_markets(const MarketState& journal, uint64_t now_ns,
                                           std::vector<Event>& out) {
  if (!config_.stale_unmapped) return;
  for (const auto& [id, record] : journal.markets()) {
    MarketSelection* m = adopt(id, record);
    if (m == nullptr) continue;
    const PublishedMarket published = published_market(record);
    reconcile_market(*m, &published, now_ns, out);
  }
}

void SourceSelector::on_tick(uint64_t now_ns, std::vector<Event>& out) {
  for (auto& [id, m] : markets_) {
    if (!m.mapped && !config_.stale_unmapped) continue;  // nothing to re-evaluate
    reevaluate(m, now_ns, out);
    check_agreement(m, now_ns, out);
  }
}

}  // namespace oddsbus::feeds
