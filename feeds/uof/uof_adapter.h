// uof-xml: Sportradar Unified Odds Feed messages as an Adapter (DESIGN sections 3 and 10).
//
// One XML document per message. Every message carries `product` and `timestamp` (ms since the
// Unix epoch; events get source_ns = timestamp * 1e6, or 0 when it is absent). What each message
// becomes:
//   odds_change      per mapped <market>: a kStatus (reason Provider) when its status differs from
//                    the one this adapter last emitted for it, then a kPrice per mapped outcome
//                    whose price_e4 differs from the last emitted. Status first, always: a suspend
//                    is never preceded by prices, and an open may be followed by its new prices in
//                    the same message (they are consecutive frames). Market status 1 open, -1/0/-2
//                    suspended, -3 settled, -4 closed; no status attribute means active (1). An
//                    outcome with active="0" or without odds emits nothing; bad odds text skips
//                    that outcome (uof_counters().bad_odds) and the rest of the message applies.
//   bet_stop         a kStatus suspended (Provider) for every mapped market of the event (in
//                    provider market id, specifiers order), every time (state-setting), whatever
//                    `groups` or `market_status` say: we do not know market groups.
//   bet_settlement   per mapped market: kSettle with the mapped outcomes whose result="1",
//                    ascending. Any certainty settles; void factors are not modelled.
//   rollback_bet_settlement  kSettlementRollback per mapped market listed.
//   bet_cancel / rollback_bet_cancel  kStatus closed / suspended (Provider) per mapped market.
//                    Settlement (settled), its rollback (suspended) and these set the status the
//                    next odds_change is compared with, as bet_stop does.
//   alive            subscribed="1": kHeartbeat; subscribed="0": kSourceStatus source_up=false.
//                    Tracked per product: the source is up when no product says it is
//                    unsubscribed; the alive that brings it back emits kSourceStatus source_up=true
//                    then kHeartbeat. Both transitions forget what was last emitted, so the
//                    recovery's odds re-emit every price and status.
//   snapshot_complete, fixture_change  understood, no events (uof_counters()).
// Rejected (nothing appended, no state or counter changed except counters().rejected): not
// well-formed XML (kMalformedXml), an unknown root element (kUnknownMessage), a missing required
// attribute such as event_id or a market or outcome id (kMissingField), a non-numeric timestamp,
// product or subscribed (kBadFieldType), a market status outside the documented values
// (kBadStatus).
//
// Invariants: memory is bounded by the mapping. Only markets this feed maps have a slot (their
// last emitted status and, per mapped selection, the last emitted price_e4), all created at
// construction; the mapping must outlive the adapter. Markets are matched on the exact
// (event_id, market id, specifiers) text, as Mapping::find does, through the adapter's own index
// (one event look-up per message, no key string per market); should two canonical markets claim
// the same provider market, the first in the mapping file gets its events.
//
// Two paths, one reading: <odds_change>, nearly every message of a live feed, is read by a byte
// scanner (odds_change_scanner.h) when it is sure of the document, and by pugixml otherwise, as
// every other message is. Both fill the same OddsChangeView and apply it with the same code, so
// they produce the same events and rejections (tests/feeds/uof compares them message by message).
//
// Thread safety: none; one adapter per provider line, used by that line's thread.
#pragma once

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
};

class UofAdapter final : public Adapter {
 public:
  UofAdapter(const Mapping& mapping, std::string feed_name);
  ~UofAdapter() override;
  std::expected<void, Rejection> parse(std::string_view message, std::vector<Event>& out) override;

  const UofCounters& uof_counters() const { return uof_counters_; }
  // Whether every product this feed has heard from is subscribed (alive subscribed="1").
  bool source_up() const { return down_products_ == 0; }
  // On by default. Off reads every message with pugixml: the reference the scanner is tested
  // against, and the slow path's cost in benchmarks.
  void use_scanner(bool on) { use_scanner_ = on; }

 private:
  static constexpr uint64_t kNoStatus = 0xff;  // nothing emitted yet
  static constexpr uint64_t kNoPrice = 0;      // nothing emitted yet (valid prices are > 10000)

  // One mapped market of this feed. Its provider outcomes are outcomes_[outcome_first,
  // outcome_first + outcome_count), ascending by provider outcome id.
  struct MarketSlot {
    const ProviderMarketMapping* provider = nullptr;
    std::string_view market_id;   // the provider's, pointing into the mapping
    std::string_view specifiers;  // likewise
    uint64_t market = 0;
    uint64_t event = 0;
    uint64_t status = kNoStatus;  // the fb::MarketStatus last emitted
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
  std::expected<std::string_view, Rejection> event_id_of(const pugi::xml_node& root);
  Result on_odds_change(const pugi::xml_node& root, std::vector<Event>& out);
  // The one interpretation of an <odds_change>, whichever path read it.
  Result apply_odds_change(const OddsChangeView& view, std::vector<Event>& out);
  Result on_bet_stop(const pugi::xml_node& root, std::vector<Event>& out);
  Result on_bet_settlement(const pugi::xml_node& root, std::vector<Event>& out);
  Result on_market_list(const pugi::xml_node& root, EventType type, fb::MarketStatus status,
                        std::vector<Event>& out);
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
  void emit_status(std::vector<Event>& out, MarketSlot& slot, fb::MarketStatus status);
  void forget_emitted();

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
  uint64_t down_products_ = 0;  // bit p: product p said subscribed="0" (p >= 63 shares bit 63)

  // Per message, reused.
  std::unique_ptr<pugi::xml_document> document_;  // one, reused for every message
  std::string buffer_;                            // the message copied for pugixml's in-place parse
  std::vector<Undo> undo_;
  std::string scratch_;  // an unknown id being described
  OddsChangeView view_;  // the <odds_change> being applied
  bool use_scanner_ = true;
  uint64_t source_ns_ = 0;
};

}  // namespace oddsbus::feeds::uof
