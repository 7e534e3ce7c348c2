// Fuzz target: the oddsjson line parser (feeds/oddsjson/parser.h), one line per input. The parser
// is kept across inputs, as a connection keeps it, so its buffer reuse is exercised too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "feeds/oddsjson/parser.h"
#include "schemas/odds.h"
#include "tests/fuzz/fuzz_check.h"

using namespace oddsbus;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static feeds::oddsjson::Parser parser;
  static feeds::Event event;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  if (!parser.parse(line, event)) return 0;
  switch (event.type) {
    case feeds::EventType::kPrice:
      FUZZ_CHECK(event.odds.price_e4 > kMinPriceE4Exclusive);
      FUZZ_CHECK(event.odds.price_e4 <= kMaxPriceE4);
      FUZZ_CHECK(parse_odds(event.odds_text).has_value());
      break;
    case feeds::EventType::kMarket:
      for (size_t i = 1; i < event.selections.size(); ++i) {
        FUZZ_CHECK(event.selections[i - 1].id < event.selections[i].id);
      }
      break;
    case feeds::EventType::kSettle:
      for (size_t i = 1; i < event.winners.size(); ++i) {
        FUZZ_CHECK(event.winners[i - 1] < event.winners[i]);
      }
      break;
    default:
      break;
  }
  FUZZ_CHECK(event.source.empty());
  return 0;
}
