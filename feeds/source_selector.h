// Source selection per market (DESIGN section 3): each mapped market has an ordered list of
// sources; the active source is the highest-priority healthy one that has data for the market.
// A market the mapping does not list (an oddsjson feed with canonical ids) has one source: the
// feed that speaks of it (the last one, should several). A source is healthy while it is connected
// and was heard from (data or heartbeat) within stale_after.
//
// What it does with events: an event from the market's active source passes through to be
// sequenced; an event from any other source only updates that source's view of the market (kept
// so it can take over at once with its current prices). When the active source goes unhealthy the
// next healthy one takes over and whatever of its view differs from what was published is
// emitted; when none is healthy the market is suspended with reason feed-stale; when a source
// recovers, its fresh prices and status are emitted. A higher-priority source that recovers takes
// the market back. Every switch therefore shows as frames in the journal. An event emitted from a
// source's view says what the source said: odds and their text, reason, settlement factors and
// voided, source_ns. A view keeps no price sent while it has the market settled (the sequencer
// rejects those), and a settlement emitted from a view comes after the view's prices.
//
// A source that reports itself down (kSourceStatus, source_up false) forgets its view of every
// market whose selection depends on its health (issue 17 item 12: "a source's prices from before
// an outage are not republished as fresh"): prices and status go, so it has no data for them and
// cannot be their active source until it sends fresh data (its recovery). A market no other
// healthy source has data for stays suspended feed-stale until then, through reconcile() too.
// Kept: an unmapped market's definition (structure, not a price) and a settled or closed status
// (a result does not go stale). Fresh prices without a status after an outage mean open, mapped or
// not.
//
// Cross-feed check: a non-active healthy source whose price for a selection differs from the
// active one by more than tolerance_bps for longer than disagree_after is reported (a notice and a
// counter) and, if suspend_on_disagreement, the market is suspended until they agree again.
//
// Markets the mapping does not list pass through unchanged (definitions too) while their source
// is healthy, and are tracked all the same: the selector keeps the feed's view of every market it
// hears of, so a takeover reconciles them like mapped ones (DESIGN section 4, "Takeover": "every
// market its feeds speak of, mapped or not"). Their feed-stale suspension is opt-in
// (stale_unmapped): without it an unmapped market is never suspended for its feed's silence, which
// keeps a node's journal equal to `odds-engine ingest` of the same input. With one source there is
// no cross-feed check for them.
//
// Sans-I/O: time comes in as `now_ns`, a monotonic clock (durations only); no clock, threads or
// sockets. Not thread-safe: owned by the sequencer thread. Memory is bounded by mapping markets x
// their sources x selections, plus at most max_unmapped_markets unmapped markets (one view and
// their definition each); markets beyond that pass through untracked (counted).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "feeds/event.h"
#include "feeds/mapping.h"
#include "schemas/market_state.h"

namespace oddsbus::feeds {

struct SourceSelectorConfig {
  uint64_t stale_after_ns = 3'000'000'000;
  uint32_t tolerance_bps = 1000;  // 10%: |other - active| / active
  uint64_t disagree_after_ns = 5'000'000'000;
  bool suspend_on_disagreement = false;
  // Also suspend (feed-stale) a market the mapping does not list when its feed goes unhealthy,
  // and reopen it with the feed's fresh state when the feed is heard again.
  bool stale_unmapped = false;
  size_t max_unmapped_markets = 1 << 20;
};

struct SelectorCounters {
  uint64_t passed = 0;               // events from active sources passed on
  uint64_t shadowed = 0;             // events from non-active sources kept as views only
  uint64_t switches = 0;             // active source changed to another source
  uint64_t stale_suspensions = 0;    // markets suspended feed-stale
  uint64_t reopens = 0;              // markets reopened after feed-stale
  uint64_t disagreements = 0;        // cross-feed disagreements reported
  uint64_t ignored_definitions = 0;  // kMarket events for mapped markets (the mapping defines them)
  uint64_t untracked = 0;            // events of unmapped markets beyond max_unmapped_markets
  uint64_t reconciled_markets = 0;   // markets a reconcile() emitted events for
};

// Something an operator should see in the log; drained by the caller.
struct SelectorNotice {
  enum class Kind : uint8_t { kSwitched, kSuspendedStale, kReopened, kDisagreement, kAgreed };
  Kind kind;
  uint64_t market = 0;
  uint64_t selection = 0;
  std::string source;  // the new active source, or the disagreeing one
  std::string detail;
};

class SourceSelector {
 public:
  SourceSelector(const Mapping& mapping, const SourceSelectorConfig& config);

  // Appends a kMarket event per mapped market (name, event, selections from the mapping, status
  // suspended until a source is heard: a market never opens on no data).
  void definitions(std::vector<Event>& out) const;

  // Feeds one event from a source; appends the events to sequence to `out`.
  void on_event(const Event& event, uint64_t now_ns, std::vector<Event>& out);

  // Time passed: re-evaluates health, switches and suspends; appends events to `out`.
  void on_tick(uint64_t now_ns, std::vector<Event>& out);

  // Takeover (DESIGN section 4): a node that ran its feeds without sequencing becomes primary.
  // Treats `published` (the journal's state: definition, status, reason and price_e4 per selection
  // of each market) as what was published, then re-evaluates every market it tracks, mapped or
  // not: the events appended to `out` publish exactly where the feeds' current view differs from
  // the journal (the best healthy source's prices and status; feed-stale suspension where no source
  // is healthy). An unmapped market the journal lacks, or whose name or selections the feed has
  // since redefined, is (re)defined first. Settled or closed markets in the journal are left as
  // they are.
  struct PublishedMarket {
    fb::MarketStatus status = fb::MarketStatus::Open;
    fb::StatusReason reason = fb::StatusReason::None;
    std::vector<std::pair<uint64_t, uint32_t>> prices;  // (selection, price_e4), price_e4 > 0
    uint64_t event = 0;
    std::string name;
    std::vector<SelectionDefinition> selections;  // ascending by id
  };
  void reconcile(const std::map<uint64_t, PublishedMarket>& published, uint64_t now_ns,
                 std::vector<Event>& out);
  // The same against a journal's folded state (what a node's sequencer holds at takeover).
  // With stale_unmapped, journal markets the selector does not track are adopted first (below).
  void reconcile(const MarketState& journal, uint64_t now_ns, std::vector<Event>& out);

  // Start-up as primary (DESIGN section 4): with stale_unmapped, every journal market that the
  // mapping does not list and that no feed has spoken of since this selector was made is tracked,
  // its feed unknown until one speaks of it, and an open or suspended one is suspended feed-stale
  // at once: the node has no fresh word on it, and without this a feed silent since before the
  // node started would leave it open forever (tests/sim/KNOWN_FINDINGS.md F2). The first feed to
  // speak of it becomes its source, and its fresh data reopens it as a source's recovery does.
  // Settled and closed markets are left as they are. Without stale_unmapped it does nothing.
  void adopt_journal_markets(const MarketState& journal, uint64_t now_ns, std::vector<Event>& out);

  // Bounded live state (issue 15): the sequencer evicted `market`. An unmapped market is no
  // longer tracked, so its room under max_unmapped_markets is free again; a market the mapping
  // lists is kept (false): the mapping bounds those, and the sequencer does not evict them.
  bool forget_market(uint64_t market);
  // Whether the mapping lists `market` (such markets are never evicted: a restart would define
  // them again from the mapping).
  bool mapped(uint64_t market) const;

  // The market's active source ("" when none, or when the selector does not track the market).
  std::string_view active_source(uint64_t market) const;
  bool healthy(std::string_view source, uint64_t now_ns) const;

  const SelectorCounters& counters() const { return counters_; }
  std::vector<SelectorNotice>& notices() { return notices_; }
  // How many markets `source` is the active source of (for metrics).
  uint64_t active_markets(std::string_view source) const;

 private:
  struct PriceView {
    uint32_t price_e4 = 0;
    Odds odds;
    std::string text;
    uint64_t source_ns = 0;
  };
  // What one source (or the published stream) says about one market.
  struct MarketView {
    bool has_data = false;
    bool defined = false;  // unmapped markets: a definition was heard (the fields below)
    uint64_t event = 0;
    std::string name;
    std::vector<SelectionDefinition> selections;  // ascending by id
    bool has_status = false;
    fb::MarketStatus status = fb::MarketStatus::Open;
    fb::StatusReason reason = fb::StatusReason::None;
    uint64_t status_ns = 0;                // the source_ns of the event that set the status
    std::map<uint64_t, PriceView> prices;  // by selection
    // Settled: the settlement as the source sent it, so that a republished one is the same.
    std::vector<uint64_t> winners;
    std::vector<SettlementFactor> factors;
    bool voided = false;
    // The source reported an outage since it last told this market's status: what it said before
    // is forgotten (forget()), and its fresh data, when it comes, means open unless it says more.
    bool outage = false;
  };
  struct SourceHealth {
    bool connected = true;  // until the source says otherwise
    uint64_t last_heard_ns = 0;
    bool heard = false;
  };
  struct Disagreement {
    uint64_t since_ns = 0;
    bool reported = false;
  };
  struct MarketSelection {
    uint64_t id = 0;
    bool mapped = false;
    std::vector<std::string> sources;  // priority order; an unmapped market's one feed
    std::vector<MarketView> views;     // one per source, in priority order
    MarketView published;              // what has been passed on for sequencing
    int active = -1;                   // index into views / mapping->sources; -1: none
    bool stale_suspended = false;
    bool disagreement_suspended = false;
    std::map<std::pair<uint64_t, int>, Disagreement> disagreements;  // (selection, source)
  };

  static void record(MarketView& view, const Event& event);
  // Every change of a market's active source goes through here: it keeps active_by_source_.
  void set_active(MarketSelection& m, int source);
  void forget(const std::string& source);
  bool source_ok(const MarketSelection& m, size_t source, uint64_t now_ns) const;
  MarketSelection* track(const Event& event);
  // Tracks a journal market nobody spoke of (adopt_journal_markets); nullptr when it is tracked
  // already, finished, or beyond max_unmapped_markets.
  MarketSelection* adopt(uint64_t market, const MarketRecord& record);
  void reconcile_market(MarketSelection& m, const PublishedMarket* journal, uint64_t now_ns,
                        std::vector<Event>& out);
  static PublishedMarket published_market(const MarketRecord& record);
  void adopt_status(MarketSelection& m) const;
  void define(MarketSelection& m, const PublishedMarket* journal, std::vector<Event>& out);
  void on_unmapped(const Event& event, uint64_t now_ns, std::vector<Event>& out);
  void publish(MarketSelection& m, const Event& event, std::vector<Event>& out);
  void activate(MarketSelection& m, int source, uint64_t now_ns, std::vector<Event>& out);
  void suspend_stale(MarketSelection& m, std::vector<Event>& out);
  int best_source(const MarketSelection& m, uint64_t now_ns) const;
  void reevaluate(MarketSelection& m, uint64_t now_ns, std::vector<Event>& out);
  void check_agreement(MarketSelection& m, uint64_t now_ns, std::vector<Event>& out);
  Event status_event(const MarketSelection& m, fb::MarketStatus status,
                     fb::StatusReason reason) const;
  static bool finished(const MarketView& v) {
    return v.has_status &&
           (v.status == fb::MarketStatus::Settled || v.status == fb::MarketStatus::Closed);
  }

  const Mapping& mapping_;
  SourceSelectorConfig config_;
  std::map<uint64_t, MarketSelection> markets_;  // ordered: ticks emit in market order
  size_t unmapped_ = 0;                          // unmapped markets tracked in markets_
  std::unordered_map<std::string, SourceHealth> health_;
  // Invariant: per source name, the markets_ entries whose active source it is.
  std::unordered_map<std::string, uint64_t> active_by_source_;
  SelectorCounters counters_;
  std::vector<SelectorNotice> notices_;
};

}  // namespace oddsbus::feeds
