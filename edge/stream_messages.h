// The JSON the edge serves (DESIGN section 10): markets with their freshness, state documents for
// /v1/markets and /v1/snapshot, and the server messages of the WebSocket stream other than
// deltas (edge/frame_change.h renders those). Every function appends to `out`.
//
// Extensions to the contract, all additive: each served market also carries "age_ms" (since its
// last update, by the sequencer's clock) and "stale" (the edge has lost every publisher); state
// documents carry "stale" and "epoch"; images carry "epoch", "stale" and "reason" ("subscribe",
// "resume-unavailable" when resume_from could not be honoured, "resync" after the edge reloaded
// its state from a snapshot); heartbeats carry "epoch"; an honoured resume is acknowledged with
// {"type": "resumed", "seq": N, "epoch": E, "stale": B}. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/market_state.h"

namespace oddsbus::edge {

// What the served JSON needs besides the state: staleness and the wall clock for ages.
struct Freshness {
  bool stale = false;
  uint64_t now_ns = 0;  // wall clock, ns since the Unix epoch
};

void append_served_market(std::string& out, const MarketRecord& market, const Freshness& fresh);

struct MarketRights;  // edge/client_tokens.h

// {"seq": N, "epoch": E, "stale": B, "markets": [...]}: every market, or only `only` when given;
// with `rights`, only the markets they grant.
void append_markets_document(std::string& out, const MarketState& state, uint32_t epoch,
                             const Freshness& fresh, const uint64_t* only = nullptr,
                             const MarketRights* rights = nullptr);

// {"channel": C, "epoch": E, "seq": N, "digest": "<16 hex>", "stale": B, "markets": [...]}; with
// `rights`, only the markets they grant, and the digest is of those markets alone.
void append_snapshot_document(std::string& out, const MarketState& state, uint32_t channel,
                              uint32_t epoch, const Freshness& fresh,
                              const MarketRights* rights = nullptr);

// {"type": "image", "seq": N, "epoch": E, "stale": B, "reason": R, "markets": [...]} over
// `markets`.
void append_image_message(std::string& out, uint64_t seq, uint32_t epoch, std::string_view reason,
                          const std::vector<const MarketRecord*>& markets, const Freshness& fresh);

// The image of `markets` as messages of about `max_part_bytes` at most: one message exactly as
// append_image_message when it fits (or max_part_bytes is 0); otherwise k > 1 messages
// {"type": "image", "seq": N, "epoch": E, "stale": B, "reason": R, "part": i, "parts": k,
// "markets": [...]}, i = 1..k, whose markets together are the image (a market is never split: a
// part holds at least one, so a single market larger than the bound makes a larger part).
std::vector<std::string> image_messages(uint64_t seq, uint32_t epoch, std::string_view reason,
                                        const std::vector<const MarketRecord*>& markets,
                                        const Freshness& fresh, size_t max_part_bytes);

void append_heartbeat_message(std::string& out, uint64_t seq, uint32_t epoch);
void append_resumed_message(std::string& out, uint64_t seq, uint32_t epoch, bool stale);
void append_pong_message(std::string& out, uint64_t seq);
void append_stale_message(std::string& out, bool stale);
void append_error_message(std::string& out, std::string_view error);

}  // namespace oddsbus::edge
