// The live odds page the edge serves at `GET /`: one self-contained HTML document (inline CSS and
// plain JavaScript, no external resources) that subscribes to `/v1/stream` on the same host
// (DESIGN section 10), folds the image and deltas into a table of markets and selections, flashes
// changed prices, shows the connection state, the last seq and a stale banner, and reconnects with
// backoff, resuming from the last seq it saw.
//
// Stable hooks that tests and operators rely on (kept in step with the page's state):
//   <div id="status" data-seq="N" data-stale="true|false" data-connected="true|false">
//   <tr data-market="ID" data-selection="ID" data-status="open|suspended|closed|settled"
//       data-price-e4="N">           one per selection
//   <div id="stale-banner">          hidden unless the edge reports itself stale
#pragma once

#include <string_view>

namespace oddsbus::edge {

// The page, as a view of static storage: valid for the life of the program.
std::string_view live_page_html();

}  // namespace oddsbus::edge
