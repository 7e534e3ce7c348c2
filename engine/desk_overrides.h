// Desk overrides (DESIGN section 4, "Desk API"): which markets a trading desk holds, and what their
// feeds would have said meanwhile.
//
// A desk set-price, suspend or reopen brings its market under desk control. While the desk holds a
// market, feed price and status events for it (after source selection) are held back rather than
// sequenced, and remembered as the feed's view of the market: the market as it was when the desk
// took it, updated by every held event. A release, or the expiry of the override, hands the market
// back: it emits the events that restore the feed's view (each price that differs from the
// market's current one, and always the feed's status: the release frame), and control ends.
// A settlement (from the desk or a feed) ends control without events: the market is finished.
// Feed market definitions, settlements and rollbacks are never held.
//
// Release ordering: when the feed's status is open, prices come first and the status last, so the
// market never shows open with desk prices after the desk let go; otherwise the status comes first.
// A selection the feed never priced keeps the desk's price until the feed prices it (no frame can
// remove a price).
//
// Sans-I/O: `now_ns` is the only clock, a monotonic one (a wall-clock step must not expire an
// override); no threads, sockets or files. Not thread-safe: owned by the sequencer thread.
// Bounded: at most max_markets markets are held (take() refuses beyond that), each with at most
// its selections' prices.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/desk_ledger.h"
#include "feeds/event.h"
#include "schemas/market_state.h"

namespace oddsbus::engine {

struct DeskOverridesConfig {
  size_t max_markets = 4096;
};

struct DeskOverrideCounters {
  uint64_t taken = 0;          // markets brought under desk control
  uint64_t released = 0;       // handed back by a desk release
  uint64_t expired = 0;        // handed back because the override expired
  uint64_t settled = 0;        // control ended by a settlement
  uint64_t held_prices = 0;    // feed price events held back
  uint64_t held_statuses = 0;  // feed status events held back
  uint64_t refused = 0;        // take() refused: max_markets already held
};

class DeskOverrides {
 public:
  explicit DeskOverrides(const DeskOverridesConfig& config = {});

  bool holds(uint64_t market) const { return held_.contains(market); }
  size_t size() const { return held_.size(); }

  // Brings `current` (the market as sequenced now, which is how its feeds left it) under desk
  // control, with `feed_source` (the market's active source, "" when unknown) as the provenance of
  // its current prices. For a market already held, only its expiry changes. override_for_ns 0
  // means until released. Returns false, changing nothing, when max_markets are held already.
  bool take(const MarketRecord& current, std::string_view feed_source, uint64_t now_ns,
            uint64_t override_for_ns);

  // Restart and takeover (issue 15): holds `held.market` again as the journal says (its feed view
  // as it was when the desk took it, with `feed_source` as its prices' provenance), expiring at
  // monotonic `expires_ns` (0: until released). Bounded by max_markets like take(); false beyond.
  bool adopt(const HeldOverride& held, std::string_view feed_source, uint64_t expires_ns);
  // Forgets every held market (before adopting the journal's).
  void clear();

  // A feed event after source selection: true when it must not be sequenced (a price or status
  // for a held market); it then updates that market's feed view.
  bool hold(const feeds::Event& event);

  // Hands `market` back to its feeds: appends the events that restore the feed's view (compared
  // with `current`, the market as sequenced now; null when it is gone) and ends control. Returns
  // false, appending nothing, when the market is not held.
  bool release(uint64_t market, const MarketRecord* current, std::vector<feeds::Event>& out);

  // Ends control of `market` without events (a settlement, or a desk request that was rejected).
  void forget(uint64_t market);
  // As forget(), counted as a settlement.
  void on_settled(uint64_t market);

  // Releases every market whose override expired by `now_ns`, in market order; `state` gives their
  // current records. Returns how many it released.
  size_t on_tick(uint64_t now_ns, const MarketState& state, std::vector<feeds::Event>& out);

  // The earliest expiry of any held market, ns; 0 when none expires.
  uint64_t next_expiry_ns() const { return next_expiry_ns_; }

  const DeskOverrideCounters& counters() const { return counters_; }

 private:
  struct FeedPrice {
    Odds odds;
    std::string text;
    std::string source;
    uint64_t source_ns = 0;
  };
  // What the feeds say about a held market.
  struct FeedView {
    fb::MarketStatus status = fb::MarketStatus::Open;
    fb::StatusReason reason = fb::StatusReason::None;
    std::map<uint64_t, FeedPrice> prices;  // by selection
    uint64_t expires_ns = 0;               // 0: until released
  };

  void restore(std::map<uint64_t, FeedView>::iterator it, const MarketRecord* current,
               std::vector<feeds::Event>& out);
  void recompute_next_expiry();

  DeskOverridesConfig config_;
  std::map<uint64_t, FeedView> held_;  // by market; ordered, so expiries release in market order
  uint64_t next_expiry_ns_ = 0;
  DeskOverrideCounters counters_;
  std::vector<uint64_t> expired_;  // scratch for on_tick
};

}  // namespace oddsbus::engine
