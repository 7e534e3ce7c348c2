// A normalised event: what an adapter makes of one provider message, before sequencing.
// Events carry canonical ids and exact odds; the sequencer validates them against market state and
// turns each accepted one into a frame.
//
// Plain value type. Price events (the hot ones) fit their strings in the small-string buffer, so
// moving them through the ingest queue does not allocate.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "schemas/frame_generated.h"
#include "schemas/odds.h"
#include "schemas/settlement_factor.h"

namespace oddsbus::feeds {

enum class EventType : uint8_t {
  kMarket,              // define or redefine a market: market, event, name, status, selections
  kPrice,               // a selection's new price: market, selection, odds, odds_text
  kStatus,              // a market's new status: market, status, reason
  kSettle,              // settle a market: market, winners
  kHeartbeat,           // the source is alive; changes no state
  kSettlementRollback,  // undo a settlement: market (returns to suspended)
  kSourceStatus,        // the source's health changed: source_up (connection or provider says so)
};

using oddsbus::SettlementFactor;

struct SelectionDefinition {
  uint64_t id = 0;
  std::string name;
};

// Who sent a desk request and what it asked (engine/desk_service.h): journaled as the provenance of
// its frames (frame.fbs DeskOrigin). Immutable once made; shared by the desk and sequencer threads.
struct DeskRequestOrigin {
  std::string identity;        // the CURVE public key (Z85) of an authenticated desk, else `client`
  bool authenticated = false;  // identity is the key the desk link authenticated
  std::string client;          // the request's CLIENT word
  std::string request_id;      // its ID
  std::string request;         // the request as engine/desk_protocol.h writes it
  uint8_t command = 0;         // desk::Command
};

struct Event {
  EventType type = EventType::kHeartbeat;
  uint64_t market = 0;
  uint64_t event = 0;
  uint64_t selection = 0;
  // kPrice: odds.price_e4 0 with an empty odds_text withdraws the selection's price (it has none,
  // as in the state's price_e4 0): a removed runner, or one whose last price left.
  Odds odds;
  std::string odds_text;  // the odds exactly as received
  fb::MarketStatus status = fb::MarketStatus::Open;
  fb::StatusReason reason = fb::StatusReason::None;
  std::string name;
  std::vector<SelectionDefinition> selections;
  std::vector<uint64_t> winners;
  // kSettle: per-selection factors (ascending by selection, only selections with one), and
  // whether the whole market is void (every stake refunded: shown as voided, not as a market
  // settled with no winner).
  std::vector<SettlementFactor> factors;
  bool voided = false;
  // Provenance, all optional.
  std::string provider;
  uint64_t pseq = 0;  // provider's own sequence number; meaningful only when has_pseq
  bool has_pseq = false;
  uint64_t source_ns = 0;  // provider timestamp, ns since the Unix epoch; 0 when unknown
  std::string source;      // the feed name the event arrived on ("" for files)
  bool source_up = true;   // kSourceStatus: whether the source is now healthy
  // Trading desk requests (engine/desk_service.h). Feeds leave these at their defaults.
  uint64_t request_token = 0;    // non-zero on a desk request: the sequencer acks it by this token
  uint64_t override_for_ns = 0;  // how long the desk's override of the market lasts (0: until
                                 // released)
  bool desk_release = false;     // a desk release of `market` (type is kHeartbeat, so a sequencer
                                 // without the desk hook treats it as a no-op)
  std::shared_ptr<const DeskRequestOrigin> desk;  // set on every desk request
};

}  // namespace oddsbus::feeds
