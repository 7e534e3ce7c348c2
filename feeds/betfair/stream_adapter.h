// betfair-stream: the Betfair Exchange Stream API as an Adapter (DESIGN sections 3 and 10).
//
// One message per call, without its line ending (a trailing CR is tolerated). Every accepted
// message appends at least one event: one that says nothing else appends a kHeartbeat, since any
// message is a sign of life (Betfair sends HEARTBEATs only when it has nothing else to send).
// `op` connection and status are understood; a status FAILURE that closes the connection becomes a
// kSourceStatus event with source_up = false. `op` mcm carries market changes:
//  - `status` 503 (the stream's data may be late: not all changes will be reflected) ->
//    kSourceStatus source_up = false, first of the message's events; the first mcm without it
//    after that -> kSourceStatus source_up = true. Once each way.
//  - ct HEARTBEAT -> one kHeartbeat event; `clk` / `initialClk` are kept for resuming.
//  - per market change (`mc`), for markets the mapping knows under this feed's name:
//    `img: true` first forgets every ladder of the market; a marketDefinition status OPEN /
//    SUSPENDED / CLOSED -> a kStatus event (reason provider) when it differs from the last status
//    emitted for the market; the definition's runners marked REMOVED / REMOVED_VACANT lose their
//    price; then the runner changes (`rc`) are applied as ladder deltas and every runner whose
//    derived price (RunnerLadder::best; none for a removed runner) changed gets one kPrice event:
//    the new price, or price_e4 0 with empty text when it has none left (withdrawn: an image that
//    no longer lists it, a removal, its last price leaving). A CLOSED definition naming WINNER
//    runners -> one kSettle event with their canonical ids, sorted, once per market.
//  - ct SUB_IMAGE (possibly segmented, SEG_START .. SEG_END) is the state of every subscribed
//    market: an open market it does not list -> kStatus suspended (reason provider).
//  - every event carries source = the feed name and source_ns = pt * 1e6 (0 without `pt`).
// A runner is a selection id at a handicap (`hc`, absent = 0): Asian handicap markets carry one id
// at several handicaps, each its own ladder, mapped by runner_key ("47972@-1.5", feeds/mapping.h).
// Unmapped markets and runners are skipped and counted (AdapterCounters). A message is parsed
// whole into a scratch StreamMessage before anything is applied, so a rejected message appends no
// event and changes no state.
//
// Bounds: market state exists only for mapped markets and mapped runners; each runner's ladders
// are capped (RunnerLadder::kMaxLevels), deltas beyond the cap are counted in ladder_overflows.
// Thread safety: none; one adapter per provider, used by that provider's thread. The mapping must
// outlive the adapter.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "feeds/adapter.h"
#include "feeds/betfair/runner_ladder.h"
#include "feeds/betfair/stream_message.h"

namespace oddsbus::feeds::betfair {

// What the stream said beyond the events, for /metrics.
struct StreamCounters {
  uint64_t status_failures = 0;    // op status with statusCode FAILURE
  uint64_t stale_notices = 0;      // mcm with a `status` other than 200 (503: data may be stale)
  uint64_t images = 0;             // market changes with img: true (for mapped markets)
  uint64_t ladder_overflows = 0;   // ladder deltas ignored because the ladder was full
  uint64_t absent_from_image = 0;  // markets suspended because a SUB_IMAGE left them out
};

class StreamAdapter final : public Adapter {
 public:
  StreamAdapter(const Mapping& mapping, std::string feed_name);
  ~StreamAdapter() override;
  std::expected<void, Rejection> parse(std::string_view message, std::vector<Event>& out) override;

  // The latest `clk` and `initialClk` the stream sent (empty until it sent one): what a
  // resubscription passes to continue without a new image. Valid until the next parse().
  std::string_view clk() const { return clk_; }
  std::string_view initial_clk() const { return initial_clk_; }
  const StreamCounters& stream_counters() const { return stream_counters_; }

 private:
  struct RunnerState {
    uint64_t provider_id = 0;
    std::string handicap;  // canonical_handicap; "0" for none
    uint64_t canonical_id = 0;
    RunnerLadder ladder;
    uint32_t derived_e4 = 0;  // the derived price after the last market change; 0: none
    bool removed = false;     // the definition says REMOVED: no price whatever the ladder holds
    bool touched = false;     // changed by the market change being applied
  };

  struct MarketState {
    const ProviderMarketMapping* mapping = nullptr;
    std::vector<RunnerState> runners;  // mapped runners, in the order the stream first named them
    bool has_status = false;
    fb::MarketStatus status = fb::MarketStatus::Open;  // the last status emitted
    bool settled = false;                              // a kSettle was emitted
    bool in_image = false;  // listed by the full image (SUB_IMAGE) being received
  };

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };

  void apply(std::vector<Event>& out);
  void apply_market_change(const MarketChange& change, std::vector<Event>& out);
  void apply_definition(const MarketChange& change, MarketState& market, std::vector<Event>& out);
  void apply_runner_definitions(const MarketChange& change, MarketState& market);
  void settle(const MarketChange& change, MarketState& market, std::vector<Event>& out);
  void suspend_absent(MarketState& market, std::vector<Event>& out);
  MarketState* find_market(std::string_view provider_market);
  // The runner (id, hc), or null (counted and noted as unknown) when the mapping does not name it.
  RunnerState* find_known_runner(MarketState& market, uint64_t provider_id, std::string_view hc);
  RunnerState* find_runner(MarketState& market, uint64_t provider_id, std::string_view id_text,
                           std::string_view hc);
  Event& emit(std::vector<Event>& out, EventType type, uint64_t market) const;

  const Mapping& mapping_;
  std::string feed_name_;
  StreamParser parser_;
  StreamMessage message_;   // scratch, reused for every message
  uint64_t source_ns_ = 0;  // of the message being applied
  std::string clk_;
  std::string initial_clk_;
  bool full_image_ = false;  // a SUB_IMAGE has started (SEG_START) and not yet ended
  bool latent_ = false;      // the last mcm had status 503: its data may be stale
  std::unordered_map<std::string, MarketState, StringHash, std::equal_to<>> markets_;
  StreamCounters stream_counters_;
};

}  // namespace oddsbus::feeds::betfair
