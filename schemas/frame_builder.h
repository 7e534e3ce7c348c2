// Builds frames (schemas/frame.fbs) into one reused FlatBufferBuilder. Each call returns the
// finished frame's bytes, valid until the next call on the same builder.
//
// Not thread-safe: one per sequencer. Allocation-free once the builder has grown to the largest
// frame it builds.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "flatbuffers/flatbuffers.h"
#include "schemas/frame_generated.h"
#include "schemas/odds.h"
#include "schemas/settlement_factor.h"

namespace oddsbus {

// A desk request's marks on its frames (frame.fbs DeskOrigin and DeskOverride). The views must
// stay valid until the frame is built.
struct FrameDeskMark {
  // All empty: the frame carries no DeskOrigin (an expiry's frames: no desk asked for them).
  std::string_view identity;
  std::string_view client;
  std::string_view request_id;
  std::string_view request;
  fb::OverrideChange change = fb::OverrideChange::None;  // None: no DeskOverride
  uint64_t expires_ns = 0;                               // Take: wall clock ns; 0 until released
};

struct FrameHeader {
  uint64_t seq = 0;
  uint32_t epoch = 0;
  uint32_t channel = 0;
  uint32_t publisher = 0;
  uint64_t sequenced_ns = 0;
  uint64_t source_ns = 0;
  uint64_t market_seq = 0;
  const FrameDeskMark* desk = nullptr;  // null: a feed's frame, without desk fields
};

class FrameBuilder {
 public:
  FrameBuilder() : fbb_(1024) {}

  // `selections`: a range, ascending by id, of objects with `.id` (u64) and `.name` (string-like).
  template <typename SelectionRange>
  std::span<const uint8_t> market_definition(const FrameHeader& h, uint64_t market, uint64_t event,
                                             std::string_view name, fb::MarketStatus status,
                                             const SelectionRange& selections);
  std::span<const uint8_t> price(const FrameHeader& h, uint64_t market, uint64_t selection,
                                 const Odds& odds, std::string_view original,
                                 std::string_view source);
  std::span<const uint8_t> status(const FrameHeader& h, uint64_t market, fb::MarketStatus status,
                                  fb::StatusReason reason);
  std::span<const uint8_t> event_suspension(const FrameHeader& h, uint64_t event,
                                            fb::StatusReason reason);
  // Factors (ascending by selection) and voided are written only when given, so a plain
  // settlement is byte for byte what it was before they existed.
  std::span<const uint8_t> settlement(const FrameHeader& h, uint64_t market,
                                      std::span<const uint64_t> winners,
                                      std::span<const SettlementFactor> factors = {},
                                      bool voided = false);
  std::span<const uint8_t> settlement_rollback(const FrameHeader& h, uint64_t market);
  // A heartbeat carries h.seq, the publisher's last seq, as both frame seq and last_seq, and the
  // seq at which the publisher's current epoch began; `relayed` when the publisher is a secondary
  // republishing its primary's history (it does not sequence).
  std::span<const uint8_t> heartbeat(const FrameHeader& h, uint64_t epoch_start = 1,
                                     bool relayed = false);
  std::span<const uint8_t> epoch_change(const FrameHeader& h, uint32_t previous_epoch,
                                        uint64_t previous_start = 0);
  std::span<const uint8_t> market_eviction(const FrameHeader& h, uint64_t market);

 private:
  std::span<const uint8_t> finish(const FrameHeader& h, fb::Payload type,
                                  flatbuffers::Offset<void> payload);

  flatbuffers::FlatBufferBuilder fbb_;
  std::vector<flatbuffers::Offset<fb::SelectionDefinition>> selection_offsets_;
};

template <typename SelectionRange>
std::span<const uint8_t> FrameBuilder::market_definition(const FrameHeader& h, uint64_t market,
                                                         uint64_t event, std::string_view name,
                                                         fb::MarketStatus status,
                                                         const SelectionRange& selections) {
  fbb_.Clear();
  selection_offsets_.clear();
  for (const auto& s : selections) {
    const std::string_view selection_name(s.name);
    auto name_offset = fbb_.CreateString(selection_name.data(), selection_name.size());
    selection_offsets_.push_back(fb::CreateSelectionDefinition(fbb_, s.id, name_offset));
  }
  auto selections_offset = fbb_.CreateVector(selection_offsets_);
  auto name_offset = fbb_.CreateString(name.data(), name.size());
  auto payload =
      fb::CreateMarketDefinition(fbb_, market, event, name_offset, status, selections_offset);
  return finish(h, fb::Payload::MarketDefinition, payload.Union());
}

}  // namespace oddsbus
