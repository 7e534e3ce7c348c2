// A normalised event (feeds/event.h) as one JSON object, for `odds-feed normalize` and debugging.
//
// Keys, in this order, each only where it applies (DESIGN section 10, `odds-feed normalize`):
//   "type"       "market", "price", "status", "settle", "settlement_rollback", "heartbeat",
//                "source_status"
//   "market"     always (0 for heartbeat and source_status, which name no market)
//   market:      "event", "name", "status", "selections": [{"id", "name"}]
//   price:       "selection", "price_e4", "odds" (the odds text as received)
//   status:      "status", "reason" (when not none)
//   settle:      "winners": [ids]
//   source_status: "up": true|false
//   provenance:  "provider", "pseq", "source", "source_ns", each only when set.
// Appends to `out` without a trailing newline. Pure; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "feeds/event.h"

namespace oddsbus::feed_tool {

// "market", "price", ... as listed above.
std::string_view to_string(feeds::EventType type);

void append_event_json(std::string& out, const feeds::Event& event);

}  // namespace oddsbus::feed_tool
