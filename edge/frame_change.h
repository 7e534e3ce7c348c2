// What one sequenced frame changed, as the WebSocket stream tells clients (DESIGN section 10,
// "delta"): one entry per market the frame touched, each a ready JSON object, plus the whole delta
// message for a client subscribed to every market, rendered once and shared by all such clients.
//
// Entries: a market definition gives the full market (as in the state JSON, with market_seq: a
// client replaces the market with it); a price update gives market_seq, status and the selections
// it priced; a status change, suspension, settlement or rollback gives market_seq and status with
// an empty selection list. Values are read from the state after the frame was applied; a full
// market carries "age_ms" and "stale" as an image's markets do, as of when it was applied. A
// definition that moved a market to another event also names the event it left (moved_from), so
// clients of that event alone are sent {"market": ID, "removed": true} instead. An eviction
// (issue 15: a finished market leaves the live state) gives {"market": ID, "removed": true} to
// every client that followed the market; the caller names the event it belonged to in
// `moved_from`, read before the frame was applied.
//
// Immutable once built; shared (std::shared_ptr<const FrameChange>) between the retained window
// and client queues, so it is safe to read from the thread that owns them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edge/stream_messages.h"
#include "schemas/market_state.h"

namespace oddsbus::edge {

struct MarketChange {
  uint64_t market = 0;
  uint64_t event = 0;
  std::optional<uint64_t> moved_from;  // the event it belonged to before this frame
  std::string json;                    // the delta entry for this market
};

struct FrameChange {
  uint64_t seq = 0;
  uint32_t epoch = 0;
  std::vector<MarketChange> markets;  // in the order the frame touched them
  // {"type": "delta", "seq": N, "epoch": E, "markets": [every entry], "conflated": false}
  std::shared_ptr<const std::string> all_delta;

  size_t bytes() const;
};

// What `frame` (already applied to `state`) changed; nullptr when it touched no market (an epoch
// change, or a reference to a market the state does not hold). `moved_from`: the event a market
// definition moved its market from.
std::shared_ptr<const FrameChange> describe_change(const fb::Frame& frame, const MarketState& state,
                                                   std::optional<uint64_t> moved_from = {},
                                                   const Freshness& fresh = {});

// Appends a delta message over `entries` (JSON objects, comma-joined).
void append_delta_message(std::string& out, uint64_t seq, uint32_t epoch, bool conflated,
                          const std::vector<const std::string*>& entries);

// {"market": ID, "removed": true}: the market left the client's view.
void append_removed_entry(std::string& out, uint64_t market);

}  // namespace oddsbus::edge
