#include "feeds/betfair/stream_adapter.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "schemas/odds.h"

namespace oddsbus::feeds::betfair {

StreamAdapter::StreamAdapter(const Mapping& mapping, std::string feed_name)
    : mapping_(mapping), feed_name_(std::move(feed_name)) {}

StreamAdapter::~StreamAdapter() = default;

std::expected<void, Rejection> StreamAdapter::parse(std::string_view message,
                                                    std::vector<Event>& out) {
  while (!message.empty() && (message.back() == '\r' || message.back() == '\n')) {
    message.remove_suffix(1);
  }
  if (auto parsed = parser_.parse(message, message_); !parsed) {
    ++counters_.rejected;
    return parsed;
  }
  const size_t before = out.size();
  apply(out);
  // Betfair sends a HEARTBEAT only after heartbeatMs with nothing else to send (ct and
  // heartbeatMs, MarketChangeMessage in ESASwaggerSchema.json), and most changes move no price
  // oddsbus shows: every message is a sign of life, so one that said nothing else says so.
  if (out.size() == before) emit(out, EventType::kHeartbeat, 0);
  ++counters_.messages;
  counters_.events += out.size() - before;
  return {};
}

Event& StreamAdapter::emit(std::vector<Event>& out, EventType type, uint64_t market) const {
  Event& event = out.emplace_back();
  event.type = type;
  event.market = market;
  event.source = feed_name_;
  event.source_ns = source_ns_;
  return event;
}

void StreamAdapter::apply(std::vector<Event>& out) {
  const StreamMessage& message = message_;
  source_ns_ = message.has_pt ? message.pt_ms * 1'000'000 : 0;
  switch (message.op) {
    case Op::kConnection:
      full_image_ = false;  // a new connection: an image in progress will not be finished
      return;
    case Op::kStatus:
      if (!message.failure) return;
      ++stream_counters_.status_failures;
      if (message.connection_closed) emit(out, EventType::kSourceStatus, 0).source_up = false;
      return;
    case Op::kMarketChange:
      break;
  }
  if (!message.clk.empty()) clk_.assign(message.clk);
  if (!message.initial_clk.empty()) initial_clk_.assign(message.initial_clk);
  // `status`: "set to null if the exchange stream data is up to date and 503 if the downstream
  // services are experiencing latencies" (MarketChangeMessage.status, ESASwaggerSchema.json), on
  // every message "in addition to the heartbeat mechanism which only gives an indication that the
  // service is up" (Betfair Developer Program, Exchange Stream API release, 20th July 2017). Not
  // all changes will be reflected: the source is unhealthy from the first such message until one
  // arrives without it, and says so once each way.
  const bool latent = message.has_status && message.status != 200;
  if (latent) ++stream_counters_.stale_notices;
  if (latent != latent_) {
    latent_ = latent;
    emit(out, EventType::kSourceStatus, 0).source_up = !latent;
  }
  if (message.heartbeat) {
    ++counters_.heartbeats;
    emit(out, EventType::kHeartbeat, 0);
  }
  // A SUB_IMAGE, first or mid-stream, "contains the current state of all markets matching the
  // existing subscription and should replace any existing values in any local cache" (Betfair
  // Developer Program, "Exchange Stream API release 19th Nov 2019: SUB_IMAGE change"); it may be
  // segmented (segmentType SEG_START ... SEG_END). A market it does not list has left the
  // subscription: nothing more will be said about it, so it is suspended.
  if (message.sub_image && message.segment_start) {
    full_image_ = true;
    for (auto& [id, market] : markets_) market.in_image = false;
  }
  for (const MarketChange& change : message.markets) apply_market_change(change, out);
  if (full_image_ && message.sub_image && message.segment_end) {
    full_image_ = false;
    for (auto& [id, market] : markets_) {
      if (!market.in_image) suspend_absent(market, out);
    }
  }
}

void StreamAdapter::suspend_absent(MarketState& market, std::vector<Event>& out) {
  if (market.settled || (market.has_status && market.status != fb::MarketStatus::Open)) return;
  market.has_status = true;
  market.status = fb::MarketStatus::Suspended;
  ++stream_counters_.absent_from_image;
  Event& event = emit(out, EventType::kStatus, market.mapping->canonical_market);
  event.status = fb::MarketStatus::Suspended;
  event.reason = fb::StatusReason::Provider;
}

void StreamAdapter::apply_market_change(const MarketChange& change, std::vector<Event>& out) {
  MarketState* market = find_market(change.id);
  if (market == nullptr) {
    ++counters_.unknown_markets;
    note_unknown("market " + std::string(change.id));
    return;
  }
  market->in_image = true;
  const uint64_t canonical_market = market->mapping->canonical_market;
  if (change.image) {
    ++stream_counters_.images;
    for (RunnerState& runner : market->runners) {
      runner.ladder.clear();
      runner.touched = true;
    }
  }
  if (change.has_definition) {
    apply_definition(change, *market, out);
    apply_runner_definitions(change, *market);
  }

  for (uint32_t i = change.runner_changes_begin; i < change.runner_changes_end; ++i) {
    const RunnerChange& rc = message_.runner_changes[i];
    RunnerState* runner = find_runner(*market, rc.id, rc.id_text, rc.hc);
    if (runner == nullptr) continue;
    for (uint32_t k = rc.atb_begin; k < rc.atb_end; ++k) {
      const AtbDelta& delta = message_.atb[k];
      if (!runner->ladder.apply_atb(delta.price, delta.remove)) ++stream_counters_.ladder_overflows;
    }
    for (uint32_t k = rc.batb_begin; k < rc.batb_end; ++k) {
      const BatbDelta& delta = message_.batb[k];
      if (!runner->ladder.apply_batb(delta.level, delta.price, delta.remove)) {
        ++stream_counters_.ladder_overflows;
      }
    }
    if (rc.has_ltp) runner->ladder.set_ltp(rc.ltp);
    runner->touched = true;
  }

  for (RunnerState& runner : market->runners) {
    if (!runner.touched) continue;
    runner.touched = false;
    const Price* best = runner.removed ? nullptr : runner.ladder.best();
    const uint32_t derived = best == nullptr ? 0 : best->price_e4;
    if (derived == runner.derived_e4) continue;
    runner.derived_e4 = derived;
    Event& event = emit(out, EventType::kPrice, canonical_market);
    event.selection = runner.canonical_id;
    if (best == nullptr) continue;  // its price is withdrawn: price_e4 0, no text
    const auto odds = parse_decimal_odds(best->view());
    assert(odds.has_value());  // checked when the message was parsed
    event.odds = *odds;
    event.odds_text.assign(best->view());
  }

  if (change.has_definition) settle(change, *market, out);
}

void StreamAdapter::apply_definition(const MarketChange& change, MarketState& market,
                                     std::vector<Event>& out) {
  fb::MarketStatus status = fb::MarketStatus::Open;
  switch (change.status) {
    case DefinitionStatus::kOpen:
      status = fb::MarketStatus::Open;
      break;
    case DefinitionStatus::kSuspended:
      status = fb::MarketStatus::Suspended;
      break;
    case DefinitionStatus::kClosed:
      status = fb::MarketStatus::Closed;
      break;
    case DefinitionStatus::kNone:
    case DefinitionStatus::kOther:
      return;
  }
  if (market.has_status && market.status == status) return;
  market.has_status = true;
  market.status = status;
  Event& event = emit(out, EventType::kStatus, market.mapping->canonical_market);
  event.status = status;
  event.reason = fb::StatusReason::Provider;
}

// A runner marked REMOVED (or REMOVED_VACANT) in the market definition is a non-runner: its
// price is withdrawn, whatever its ladder still holds, until a definition says otherwise
// (RunnerDefinition.status, ESASwaggerSchema.json). A removed runner the mapping does not name is
// of no interest, and one never priced needs no withdrawal: neither is looked up or counted.
void StreamAdapter::apply_runner_definitions(const MarketChange& change, MarketState& market) {
  for (uint32_t i = change.definition_runners_begin; i < change.definition_runners_end; ++i) {
    const DefinitionRunner& definition = message_.definition_runners[i];
    RunnerState* runner = find_known_runner(market, definition.id, definition.hc);
    if (runner == nullptr || runner->removed == definition.removed) continue;
    runner->removed = definition.removed;
    runner->touched = true;
  }
}

void StreamAdapter::settle(const MarketChange& change, MarketState& market,
                           std::vector<Event>& out) {
  if (change.status != DefinitionStatus::kClosed || market.settled) return;
  std::vector<uint64_t> winners;
  bool unmapped_winner = false;
  for (uint32_t i = change.definition_runners_begin; i < change.definition_runners_end; ++i) {
    const DefinitionRunner& runner = message_.definition_runners[i];
    if (!runner.winner) continue;
    const RunnerState* state = find_runner(market, runner.id, runner.id_text, runner.hc);
    if (state == nullptr) {
      unmapped_winner = true;
      continue;
    }
    winners.push_back(state->canonical_id);
  }
  // Settling without a winner we cannot name would settle it as a loser: never guess.
  if (winners.empty() || unmapped_winner) return;
  std::sort(winners.begin(), winners.end());
  winners.erase(std::unique(winners.begin(), winners.end()), winners.end());
  market.settled = true;
  emit(out, EventType::kSettle, market.mapping->canonical_market).winners = std::move(winners);
}

StreamAdapter::MarketState* StreamAdapter::find_market(std::string_view provider_market) {
  if (auto it = markets_.find(provider_market); it != markets_.end()) return &it->second;
  const ProviderMarketMapping* mapping = mapping_.find(feed_name_, provider_market);
  if (mapping == nullptr) return nullptr;
  MarketState& market = markets_[std::string(provider_market)];
  market.mapping = mapping;
  return &market;
}

StreamAdapter::RunnerState* StreamAdapter::find_known_runner(MarketState& market,
                                                             uint64_t provider_id,
                                                             std::string_view hc) {
  // Checked by the parser; short enough for the small-string buffer, so this does not allocate.
  const std::string handicap = hc.empty() ? std::string("0") : *canonical_handicap(hc);
  for (RunnerState& runner : market.runners) {
    if (runner.provider_id == provider_id && runner.handicap == handicap) return &runner;
  }
  return nullptr;
}

StreamAdapter::RunnerState* StreamAdapter::find_runner(MarketState& market, uint64_t provider_id,
                                                       std::string_view id_text,
                                                       std::string_view hc) {
  if (RunnerState* known = find_known_runner(market, provider_id, hc)) return known;
  const std::string handicap = hc.empty() ? std::string("0") : *canonical_handicap(hc);
  std::string key = runner_key(id_text, handicap);
  const uint64_t canonical = market.mapping->selection(key);
  if (canonical == 0) {
    ++counters_.unknown_selections;
    note_unknown("runner " + key);
    return nullptr;
  }
  RunnerState& runner = market.runners.emplace_back();
  runner.provider_id = provider_id;
  runner.handicap = handicap;
  runner.canonical_id = canonical;
  return &runner;
}

}  // namespace oddsbus::feeds::betfair
