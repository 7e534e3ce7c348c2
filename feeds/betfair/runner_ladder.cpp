#include "feeds/betfair/runner_ladder.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace oddsbus::feeds::betfair {

Price Price::of(uint32_t price_e4, std::string_view text) {
  assert(text.size() <= kMaxText);
  Price price;
  price.price_e4 = price_e4;
  price.length = static_cast<uint8_t>(text.size());
  std::memcpy(price.text.data(), text.data(), text.size());
  return price;
}

bool RunnerLadder::apply_atb(const Price& price, bool remove) {
  const auto at = std::lower_bound(
      atb_.begin(), atb_.end(), price.price_e4,
      [](const Price& held, uint32_t price_e4) { return held.price_e4 > price_e4; });
  const bool held = at != atb_.end() && at->price_e4 == price.price_e4;
  if (remove) {
    if (held) atb_.erase(at);
    return true;
  }
  if (held) {
    *at = price;  // same price_e4; the newest text wins
    return true;
  }
  if (atb_.size() >= kMaxLevels) return false;
  atb_.insert(at, price);
  return true;
}

bool RunnerLadder::apply_batb(uint32_t level, const Price& price, bool remove) {
  if (level >= kMaxLevels) return false;
  const auto at =
      std::lower_bound(batb_.begin(), batb_.end(), level,
                       [](const Level& held, uint32_t wanted) { return held.level < wanted; });
  const bool held = at != batb_.end() && at->level == level;
  if (remove) {
    if (held) batb_.erase(at);
  } else if (held) {
    at->price = price;
  } else {
    batb_.insert(at, Level{level, price});
  }
  return true;
}

void RunnerLadder::clear() {
  atb_.clear();
  batb_.clear();
  ltp_ = Price{};
}

const Price* RunnerLadder::best() const {
  if (!batb_.empty() && batb_.front().level == 0) return &batb_.front().price;
  if (!atb_.empty()) return &atb_.front();
  if (ltp_.price_e4 != 0) return &ltp_;
  return nullptr;
}

}  // namespace oddsbus::feeds::betfair
