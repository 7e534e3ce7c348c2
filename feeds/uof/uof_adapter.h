// uof-xml: Sportradar Unified Odds Feed messages as an Adapter (DESIGN sections 3 and 10).
//
// One XML document per message. Every message carries `product` and `timestamp` (ms since the
// Unix epoch; events get source_ns = timestamp * 1e6, or 0 when it is absent). What each message
// becomes (the rules and their sources are cited where uof_adapter.cpp applies them):
//   odds_change      per mapped <market>: skipped when older (timestamp) than what that market
//                    already has from the same product (uof_counters().out_of_order); skipped when
//                    handed over (-2) and another product already sent odds for it
//                    (handovers_ignored). Otherwise a kStatus (reason Provider) when its status
//                    differs from the one this adapter last emitted for it, then a kPrice per
//                    mapped outcome whose price_e4 differs from the last emitted. Status first,
//                    always: a suspend is never preceded by prices, and an open may be followed by
//                    its new prices in the same message (they are consecutive frames). Market
//                    status 1 open, -1/0/-2 suspended, -3 settled, -4 closed; no status attribute
//                    means active (1). An outcome with active="0", without odds, or with odds the
//                    contract rejects (counted in bad_odds) has its price withdrawn: a kPrice with
//                    price_e4 0 and no odds text, unless it has none already (withdrawn).
//   bet_stop         a kStatus suspended (Provider) for every mapped market of the event that is
//                    not settled or closed, in a named group (`groups`; market_groups.h) and not
//                    newer from that product, in (provider market id, specifiers) order, every
//                    time (state-setting).
//   bet_settlement   per mapped market: kSettle with the mapped outcomes whose result="1",
//                    ascending, their void_factor/dead_heat_factor (units of 1e-4), and voided
//                    when every mapped outcome listed has void_factor 1. Any certainty settles.
//   rollback_bet_settlement  kSettlementRollback per mapped market listed.
//   bet_cancel / rollback_bet_cancel  no events (uof_counters().cancels): they say which bets to
//                    refund, never a market's status. Their markets are still looked up (counted).
//   alive            Per product: subscribed="0" takes the product down. When every product the
//                    feed heard from is down: kSourceStatus source_up=false (and what was emitted
//                    is forgotten); otherwise a kStatus suspended (FeedStale) for each market the
//                    product last set, forgotten likewise. A kHeartbeat whenever the source is up.
//   snapshot_complete  brings a down product back: kSourceStatus source_up=true if the source was
//                    down, then the status its recovery's odds_change set for each of its markets
//                    (held suspended while it recovered). subscribed="1" alone does not.
//   fixture_change   understood, no events (uof_counters()).
// Rejected (nothing appended, no state or counter changed except counters().rejected): not
// well-formed XML (kMalformedXml), an unknown root element (kUnknownMessage), a missing required
// attribute such as event_id or a market or outcome id (kMissingField), a non-numeric timestamp,
// product or subscribed (kBadFieldType), a market status outside the documented values
// (kBadStatus).
//
// Invariants: memory is bounded by the mapping. Only markets this feed maps have a slot (their
// last emitted status and, per mapped selection, the last emitted price_e4), all created at
// construction; the mapping must outlive the adapter. Markets are matched on the exact
// (event_id, market id) text and the specifiers as a set of key=value pairs (normalise_specifiers,
// both the mapping's and the message's), through the adapter's own index (one event look-up per
// message, no key string per market); should two canonical markets claim the same provider
// market, the first in the mapping file gets its events. Per market it also keeps, per product,
// the newest timestamp seen (64 products; 63 and above share one).
//
// Two paths, one reading: <odds_change>, nearly every message of a live feed, is read by a byte
// scanner (odds_change_scanner.h) when it is sure of the document, and by pugixml otherwise, as
// every other message is. Both fill the same OddsChangeView and apply it with the same code, so
// they produce the same events and rejections (tests/feeds/uof compares them message by message).
//
// Thread safety: none; one adapter per provider line, used by that line's thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "feeds/adapter.h"
#include "feeds/uof/odds_change_scanner.h"

// pugixml stays a private dependency of oddsbus_feeds: this header only names its types.
namespace pugi {
class xml_attribute;
class xml_document;
class xml_node;
}  // namespace pugi

namespace oddsbus::feeds::uof {

// What this format counts beyond AdapterCounters.
struct UofCounters {
  uint64_t bad_odds = 0;           // outcomes skipped because their odds text did not parse
  uint64_t snapshot_complete = 0;  // recovery answers completed
  uint64_t fixture_change = 0;     // fixture changes (no events: fixtures are not modelled)
  uint64_t source_down = 0;        // transitions of the source to down (alive subscribed="0")
  uint64_t scanned = 0;            // messages read by the byte scanner (the rest: pugixml)
  uint64_t cancels = 0;            // bet_cancel and rollback_bet_cancel (no events: refunds only)
  uint64_t out_of_order = 0;       // markets skipped: older than what they have from that product
  uint64_t handovers_ignored = 0;  // handed over (-2) markets another product already prices
  uint64_t withdrawn = 0;          // prices withdrawn (inactive, unpriced or unreadable outcome)
  uint64_t product_down = 0;       // products that went down (alive subscribed="0")
  uint64_t product_recovered = 0;  // products back up (snapshot_complete after going down)
};

class UofAdapter final : public Adapter {
 public:
  UofAdapter(const Mapping& mapping, std::string feed_name);
  ~UofAdapter() override;
  std::expected<void, Rejection> parse(std::string_view message, std::vector<Event>& out) override;

  const UofCounters& uof_counters() const { return uof_counters_; }
  // Whether the source as a whole is up: some product it has heard from is up, or it has heard
  // from none. A product is down from its alive subscribed="0" until its recovery completes.
  bool source_up() const {
    return known_products_ == 0 || (known_products_ & ~down_products_) != 0;
  }
  // Whether `product` is up (never heard of counts as up).
  bool product_up(uint64_t product) const { return (down_products_ & bit_of(product)) == 0; }
  // On by default. Off reads every message with pugixml: the reference the scanner is tested
  // against, and the slow path's cost in benchmarks.
  void use_scanner(bool on) { use_scanner_ = on; }

 private:
  static constexpr uint64_t kNoStatus = 0xff;  // nothing emitted yet
  static constexpr uint64_t kNoPrice = 0;      // withdrawn or never priced (the state's 0)
  // Whatever the engine holds is unknown (at start, and after the source was down): the next
  // price or withdrawal is emitted whatever it is.
  static constexpr uint64_t kUnknownPrice = UINT64_MAX;
  static constexpr uint64_t kProducts = 64;  // products 0..62 own a bit; 63 and above share 63
  static constexpr uint64_t kNoProduct = kProducts;
  static uint64_t bit_of(uint64_t product) {
    return uint64_t{1} << std::min<uint64_t>(product, 63);
  }

  // One mapped market of this feed. Its provider outcomes are outcomes_[outcome_first,
  // outcome_first + outcome_count), ascending by provider outcome id.
  struct MarketSlot {
    const ProviderMarketMapping* provider = nullptr;
    std::string_view market_id;   // the provider's, pointing into the mapping
    std::string_view specifiers;  // likewise
    uint64_t market = 0;
    uint64_t event = 0;
    uint64_t status = kNoStatus;  // the fb::MarketStatus last emitted
    // The status the provider last set, which differs from `status` only while the product that
    // set it recovers (held suspended until its snapshot_complete).
    uint64_t wanted = kNoStatus;
    uint64_t products = 0;         // bit p: product p sent odds_change for it (not handed over)
    uint64_t feeder = kNoProduct;  // the product whose odds_change last set it
    uint32_t outcome_first = 0;
    uint32_t outcome_count = 0;
  };
  // A mapped provider outcome: its canonical selection and where that selection's last emitted
  // price_e4 is kept (prices_, one per canonical selection of the market).
  struct OutcomeSlot {
    std::string_view provider_id;  // pointing into the mapping
    uint64_t selection = 0;
    uint32_t price = 0;  // index into prices_ and price_texts_
  };
  // A remembered value as it was before this message changed it; replayed backwards on reject.
  struct Undo {
    uint64_t* where;
    uint64_t old;
  };

  using Result = std::expected<void, Rejection>;

  // Parses and applies one message; parse() undoes what it did when it fails.
  Result dispatch(std::string_view message, std::vector<Event>& out);
  // Sets source_ns_ from the root's timestamp attribute (0 when absent).
  Result read_timestamp(const AttributeText& timestamp);
  // Sets product_ from the root's product attribute (kNoProduct when absent).
  Result read_product(const AttributeText& product);
  // Whether a message of product_ at source_ns_ is not older than what `slot` has from that
  // product; when so, remembers its timestamp. Counts the ones that are (out_of_order).
  bool in_order(const MarketSlot& slot);
  std::expected<std::string_view, Rejection> event_id_of(const pugi::xml_node& root);
  Result on_odds_change(const pugi::xml_node& root, std::vector<Event>& out);
  // The one interpretation of an <odds_change>, whichever path read it.
  Result apply_odds_change(const OddsChangeView& view, std::vector<Event>& out);
  Result on_bet_stop(const pugi::xml_node& root, std::vector<Event>& out);
  Result on_bet_settlement(const pugi::xml_node& root, std::vector<Event>& out);
  Result on_market_list(const pugi::xml_node& root, EventType type, std::vector<Event>& out);
  Result on_cancel(const pugi::xml_node& root);
  // Calls visit(market node, its mapped slot or null) for each <market> child of `markets` of
  // event `event_id`, stopping at the first rejection (an unknown market is counted, not one).
  template <typename Visit>
  Result for_each_market_slot(const pugi::xml_node& markets, std::string_view event_id,
                              Visit&& visit);
  Result on_snapshot_complete(std::vector<Event>& out);
  Result on_alive(const pugi::xml_node& root, std::vector<Event>& out);

  // The slots of a provider event's mapped markets, or null when this feed maps none.
  const std::vector<uint32_t>* slots_of_event(std::string_view event_id) const;
  // The slot of a <market> of `event_id`, or null (counted, noted) when this feed does not map it.
  // Rejects a market without an id.
  std::expected<MarketSlot*, Rejection> slot_of(const std::vector<uint32_t>* event_slots,
                                                const AttributeText& id,
                                                const AttributeText& specifiers,
                                                std::string_view event_id);
  // The mapped outcome of `slot` an <outcome> id names, or null (counted, noted) when unmapped.
  // Rejects an outcome without an id.
  std::expected<const OutcomeSlot*, Rejection> outcome_of(const MarketSlot& slot,
                                                          const AttributeText& id,
                                                          std::string_view event_id);
  void note_unknown_scratch();
  void set(uint64_t& where, uint64_t value);
  Event& emit(std::vector<Event>& out, EventType type);
  Event& emit_market(std::vector<Event>& out, EventType type, const MarketSlot& slot);
  void emit_status(std::vector<Event>& out, MarketSlot& slot, fb::MarketStatus status,
                   fb::StatusReason reason = fb::StatusReason::Provider);
  // Sets what the provider wants for `slot` and emits it, held suspended while product_ recovers.
  void want_status(std::vector<Event>& out, MarketSlot& slot, fb::MarketStatus status);
  // Withdraws the price of `outcome` (a kPrice with price_e4 0 and no odds text) unless it has
  // none already.
  void withdraw(std::vector<Event>& out, const MarketSlot& slot, const OutcomeSlot& outcome);
  void forget_emitted();
  void forget_emitted(MarketSlot& slot);
  // The provider market `id`/`specifiers` names, looked up exactly, then by specifiers as a set.
  int64_t find_slot(const std::vector<uint32_t>& event_slots, std::string_view id,
                    std::string_view specifiers);

  const Mapping& mapping_;
  std::string feed_name_;
  UofCounters uof_counters_;

  std::vector<MarketSlot> slots_;  // never resized after construction: Undo points into it
  struct KeyHash : std::hash<std::string_view> {
    using is_transparent = void;
  };
  // Provider event id -> its slots, ascending by (market id, specifiers).
  std::unordered_map<std::string, std::vector<uint32_t>, KeyHash, std::equal_to<>> slots_by_event_;
  std::vector<OutcomeSlot> outcomes_;
  // Per canonical selection of each slot; never resized after construction (Undo points in).
  std::vector<uint64_t> prices_;  // the price_e4 last emitted
  // An odds text (up to 8 bytes, packed; 0 for none) known to parse to prices_[i]: UOF repeats
  // every outcome of a market that changed, and an unchanged text needs no parsing.
  std::vector<uint64_t> price_texts_;
  // Per slot, kProducts timestamps (ms): the newest message each product sent for the market.
  std::vector<uint64_t> stamps_;
  // Specifiers as the adapter indexes them (normalise_specifiers); slots point into it.
  std::vector<std::string> specifier_texts_;
  uint64_t known_products_ = 0;  // bit p: product p sent an alive (p >= 63 shares bit 63)
  uint64_t down_products_ = 0;   // bit p: product p is down (subscribed="0", not yet recovered)

  // Per message, reused.
  std::unique_ptr<pugi::xml_document> document_;  // one, reused for every message
  std::string buffer_;                            // the message copied for pugixml's in-place parse
  std::vector<Undo> undo_;
  std::string scratch_;             // an unknown id being described
  std::string specifiers_scratch_;  // incoming specifiers, normalised for a second look-up
  OddsChangeView view_;             // the <odds_change> being applied
  bool use_scanner_ = true;
  uint64_t source_ns_ = 0;
  uint64_t product_ = kNoProduct;  // the message's product
};

// Specifiers as a set of key=value pairs: the pairs of `specifiers` ('|'-separated) sorted, so
// "hcp=0:1|total=2.5" and "total=2.5|hcp=0:1" read the same. Appends to `out`.
void normalise_specifiers(std::string_view specifiers, std::string& out);

}  // namespace oddsbus::feeds::uof
