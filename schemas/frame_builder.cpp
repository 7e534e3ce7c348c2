#include "schemas/frame_builder.h"

namespace oddsbus {

std::span<const uint8_t> FrameBuilder::finish(const FrameHeader& h, fb::Payload type,
                                              flatbuffers::Offset<void> payload) {
  flatbuffers::Offset<fb::DeskOrigin> origin;
  flatbuffers::Offset<fb::DeskOverride> override_mark;
  if (h.desk != nullptr) {
    const FrameDeskMark& d = *h.desk;
    if (!d.identity.empty() || !d.client.empty() || !d.request_id.empty()) {
      const auto text = [&](std::string_view v) { return fbb_.CreateString(v.data(), v.size()); };
      const auto identity = text(d.identity);
      const auto client = text(d.client);
      const auto request_id = text(d.request_id);
      const auto request = text(d.request);
      origin = fb::CreateDeskOrigin(fbb_, identity, client, request_id, request);
    }
    if (d.change != fb::OverrideChange::None) {
      override_mark = fb::CreateDeskOverride(fbb_, d.change, d.expires_ns);
    }
  }
  // Feed frames (no desk mark) stay byte for byte what they were before the desk fields existed.
  auto frame = fb::CreateFrame(fbb_, h.seq, h.epoch, h.channel, h.publisher, h.sequenced_ns,
                               h.source_ns, h.market_seq, type, payload, origin, override_mark);
  fb::FinishFrameBuffer(fbb_, frame);
  return {fbb_.GetBufferPointer(), fbb_.GetSize()};
}

std::span<const uint8_t> FrameBuilder::price(const FrameHeader& h, uint64_t market,
                                             uint64_t selection, const Odds& odds,
                                             std::string_view original, std::string_view source) {
  fbb_.Clear();
  auto original_offset = fbb_.CreateString(original.data(), original.size());
  auto price = fb::CreateSelectionPrice(fbb_, selection, odds.price_e4, odds.format, odds.numerator,
                                        odds.denominator, original_offset);
  auto prices = fbb_.CreateVector(&price, 1);
  auto source_offset = fbb_.CreateString(source.data(), source.size());
  auto payload = fb::CreatePriceUpdate(fbb_, market, prices, source_offset);
  return finish(h, fb::Payload::PriceUpdate, payload.Union());
}

std::span<const uint8_t> FrameBuilder::status(const FrameHeader& h, uint64_t market,
                                              fb::MarketStatus status, fb::StatusReason reason) {
  fbb_.Clear();
  auto payload = fb::CreateMarketStatusUpdate(fbb_, market, status, reason);
  return finish(h, fb::Payload::MarketStatusUpdate, payload.Union());
}

std::span<const uint8_t> FrameBuilder::event_suspension(const FrameHeader& h, uint64_t event,
                                                        fb::StatusReason reason) {
  fbb_.Clear();
  auto payload = fb::CreateEventSuspension(fbb_, event, reason);
  return finish(h, fb::Payload::EventSuspension, payload.Union());
}

std::span<const uint8_t> FrameBuilder::settlement(const FrameHeader& h, uint64_t market,
                                                  std::span<const uint64_t> winners,
                                                  std::span<const SettlementFactor> factors,
                                                  bool voided) {
  fbb_.Clear();
  auto winners_offset = fbb_.CreateVector(winners.data(), winners.size());
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::SettlementFactor>>>
      factors_offset;
  if (!factors.empty()) {
    std::vector<flatbuffers::Offset<fb::SettlementFactor>> offsets;
    offsets.reserve(factors.size());
    for (const SettlementFactor& f : factors) {
      offsets.push_back(
          fb::CreateSettlementFactor(fbb_, f.selection, f.void_factor_e4, f.dead_heat_factor_e4));
    }
    factors_offset = fbb_.CreateVector(offsets);
  }
  auto payload = fb::CreateSettlement(fbb_, market, winners_offset, factors_offset, voided);
  return finish(h, fb::Payload::Settlement, payload.Union());
}

std::span<const uint8_t> FrameBuilder::settlement_rollback(const FrameHeader& h, uint64_t market) {
  fbb_.Clear();
  auto payload = fb::CreateSettlementRollback(fbb_, market);
  return finish(h, fb::Payload::SettlementRollback, payload.Union());
}

std::span<const uint8_t> FrameBuilder::heartbeat(const FrameHeader& h, uint64_t epoch_start,
                                                 bool relayed) {
  fbb_.Clear();
  auto payload = fb::CreateHeartbeat(fbb_, h.seq, epoch_start, relayed);
  return finish(h, fb::Payload::Heartbeat, payload.Union());
}

std::span<const uint8_t> FrameBuilder::epoch_change(const FrameHeader& h, uint32_t previous_epoch,
                                                    uint64_t previous_start) {
  fbb_.Clear();
  auto payload = fb::CreateEpochChange(fbb_, previous_epoch, h.epoch, previous_start);
  return finish(h, fb::Payload::EpochChange, payload.Union());
}

std::span<const uint8_t> FrameBuilder::market_eviction(const FrameHeader& h, uint64_t market) {
  fbb_.Clear();
  auto payload = fb::CreateMarketEviction(fbb_, market);
  return finish(h, fb::Payload::MarketEviction, payload.Union());
}

}  // namespace oddsbus
