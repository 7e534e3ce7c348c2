// Fuzz support shared by the adapter targets: splits an input into messages the way a connection
// does (LineSplitter: LF or CRLF), runs them through one fresh adapter in order (so ladders and
// last-emitted state build up across messages), and checks the Adapter contract
// (feeds/adapter.h) on every message:
//  - a rejection appends nothing; a message either produces events or is rejected;
//  - every event carries the feed name as its source and canonical ids the mapping has for
//    that feed;
//  - prices are valid exact odds; settlements list distinct, ascending, mapped winners;
//  - the unknown-id sample stays bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "feeds/adapter.h"
#include "feeds/line_splitter.h"
#include "feeds/mapping.h"
#include "schemas/odds.h"
#include "tests/fuzz/fuzz_check.h"

namespace oddsbus::fuzz {

inline const feeds::Mapping& mapping_from(std::string_view toml) {
  static const feeds::Mapping mapping = [&] {
    auto parsed = feeds::Mapping::parse(toml, "fuzz mapping");
    if (!parsed) {
      std::fprintf(stderr, "fuzz mapping: %s\n", parsed.error().c_str());
      std::abort();
    }
    return std::move(*parsed);
  }();
  return mapping;
}

inline bool mapped_selection(const feeds::MarketMapping& market, uint64_t selection) {
  for (const auto& s : market.selections) {
    if (s.id == selection) return true;
  }
  return false;
}

inline void check_event(const feeds::Event& event, const feeds::Mapping& mapping,
                        std::string_view feed) {
  FUZZ_CHECK(event.source == feed);
  switch (event.type) {
    case feeds::EventType::kHeartbeat:
    case feeds::EventType::kSourceStatus:
      return;
    default:
      break;
  }
  const feeds::MarketMapping* market = mapping.market(event.market);
  FUZZ_CHECK(market != nullptr);
  bool mapped_for_feed = false;
  for (const auto& provider : market->providers) mapped_for_feed |= provider.feed == feed;
  FUZZ_CHECK(mapped_for_feed);
  switch (event.type) {
    case feeds::EventType::kPrice:
      FUZZ_CHECK(mapped_selection(*market, event.selection));
      // price_e4 0 with no odds text withdraws a price (the state's "no price"); any other price
      // is valid odds.
      if (event.odds.price_e4 != 0 || !event.odds_text.empty()) {
        FUZZ_CHECK(event.odds.price_e4 > kMinPriceE4Exclusive);
        FUZZ_CHECK(event.odds.price_e4 <= kMaxPriceE4);
      }
      break;
    case feeds::EventType::kSettle:
      for (size_t i = 0; i < event.winners.size(); ++i) {
        FUZZ_CHECK(mapped_selection(*market, event.winners[i]));
        if (i > 0) FUZZ_CHECK(event.winners[i - 1] < event.winners[i]);
      }
      break;
    case feeds::EventType::kStatus:
      FUZZ_CHECK(event.status <= fb::MarketStatus::MAX);
      break;
    default:
      break;
  }
}

inline void run_adapter(std::string_view format, std::string_view feed,
                        const feeds::Mapping& mapping, const uint8_t* data, size_t size) {
  auto adapter = feeds::make_adapter(format, std::string(feed), &mapping);
  FUZZ_CHECK(adapter.has_value());
  feeds::LineSplitter splitter(1 << 16);
  std::vector<feeds::Event> out;
  auto on_message = [&](std::string_view message, bool too_long) {
    if (too_long) return;
    const size_t before = out.size();
    if (auto parsed = (*adapter)->parse(message, out); !parsed) {
      FUZZ_CHECK(out.size() == before);
      return;
    }
    for (size_t i = before; i < out.size(); ++i) check_event(out[i], mapping, feed);
    if (out.size() > 4096) out.clear();
  };
  splitter.feed(std::string_view(reinterpret_cast<const char*>(data), size), on_message);
  splitter.feed("\n", on_message);
  FUZZ_CHECK((*adapter)->unknown_ids().size() <= feeds::Adapter::kUnknownIdSamples);
  const auto& counters = (*adapter)->counters();
  FUZZ_CHECK(counters.heartbeats <= counters.messages);
}

}  // namespace oddsbus::fuzz
