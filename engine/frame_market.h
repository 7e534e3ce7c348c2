// Which market a frame names, for the replay queries that follow one market (events --market,
// history, export --market). Pure; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>

#include "schemas/frame_generated.h"

namespace oddsbus::engine {

// The market a single-market frame names; nullopt for event-wide suspensions, epoch changes and
// heartbeats (an event suspension touches every market of its event: see MarketRecord::event).
inline std::optional<uint64_t> market_of(const fb::Frame& frame) {
  switch (frame.payload_type()) {
    case fb::Payload::MarketDefinition:
      return frame.payload_as_MarketDefinition()->market();
    case fb::Payload::PriceUpdate:
      return frame.payload_as_PriceUpdate()->market();
    case fb::Payload::MarketStatusUpdate:
      return frame.payload_as_MarketStatusUpdate()->market();
    case fb::Payload::Settlement:
      return frame.payload_as_Settlement()->market();
    case fb::Payload::SettlementRollback:
      return frame.payload_as_SettlementRollback()->market();
    case fb::Payload::MarketEviction:
      return frame.payload_as_MarketEviction()->market();
    default:
      return std::nullopt;
  }
}

}  // namespace oddsbus::engine
