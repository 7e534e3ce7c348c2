// One Betfair runner's available-to-back prices, kept from the stream's deltas, and the price
// oddsbus derives from them (DESIGN section 10): `batb` level 0 when present, else the highest
// `atb` price, else the last traded price (`ltp`), else none.
//
// Prices are kept exactly as the stream sent them: price_e4 (parsed from the JSON number's text,
// never through a binary float) orders and compares them, and the text is kept for odds_text.
// Sizes are not kept: a delta with size 0 removes its price or level, any other size sets it.
//
// Invariants: `atb` holds distinct prices in descending order, `batb` distinct levels in
// ascending order, each at most kMaxLevels entries; a delta that would grow a full ladder is
// ignored and reported to the caller (Betfair's price ladder has 350 ticks, so a full ladder means
// the stream is not what we think it is).
//
// Thread safety: none; owned by the adapter that owns the market.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace oddsbus::feeds::betfair {

// A decimal price as received: its exact price_e4 and the JSON number's text ("2.48").
struct Price {
  // "10000" is the longest whole part valid odds have, and parse_decimal_odds takes at most 18
  // decimal places.
  static constexpr size_t kMaxText = 26;

  uint32_t price_e4 = 0;  // 0: no price
  uint8_t length = 0;
  std::array<char, kMaxText> text{};

  // `text` must be at most kMaxText characters.
  static Price of(uint32_t price_e4, std::string_view text);
  std::string_view view() const { return {text.data(), length}; }
};

class RunnerLadder {
 public:
  static constexpr size_t kMaxLevels = 400;

  // Applies one `atb` delta [price, size]: `remove` (size 0) drops the price. Returns false when
  // the delta was ignored because the ladder already holds kMaxLevels prices.
  bool apply_atb(const Price& price, bool remove);
  // Applies one `batb` delta [level, price, size]. Returns false when ignored: `level` is not
  // below kMaxLevels.
  bool apply_batb(uint32_t level, const Price& price, bool remove);
  void set_ltp(const Price& price) { ltp_ = price; }
  // Forgets everything (an image replaces the runner).
  void clear();

  // The derived price, or null when the runner has none. Valid until the next change.
  const Price* best() const;

  size_t atb_levels() const { return atb_.size(); }
  size_t batb_levels() const { return batb_.size(); }

 private:
  struct Level {
    uint32_t level;
    Price price;
  };

  std::vector<Price> atb_;   // descending price_e4
  std::vector<Level> batb_;  // ascending level
  Price ltp_;
};

}  // namespace oddsbus::feeds::betfair
