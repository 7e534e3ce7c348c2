// Test helper: builds frames one after another (seq 1, 2, ...) and applies them to a MarketState,
// the way a sequencer's frames would arrive. Keeps a copy of every frame so tests can re-apply one.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "schemas/frame_builder.h"
#include "schemas/market_state.h"
#include "schemas/odds.h"

namespace oddsbus::testing_support {

struct Selection {
  uint64_t id;
  std::string name;
};

class FrameScript {
 public:
  explicit FrameScript(MarketState& state) : state_(state) {}

  const fb::Frame& define(uint64_t market, uint64_t event, std::string_view name,
                          const std::vector<Selection>& selections,
                          fb::MarketStatus status = fb::MarketStatus::Open) {
    return keep(builder_.market_definition(next(), market, event, name, status, selections));
  }
  const fb::Frame& price(uint64_t market, uint64_t selection, std::string_view odds_text) {
    const auto odds = parse_odds(odds_text);
    return keep(builder_.price(next(), market, selection, odds.value(), odds_text, "test"));
  }
  const fb::Frame& status(uint64_t market, fb::MarketStatus status,
                          fb::StatusReason reason = fb::StatusReason::Trader) {
    return keep(builder_.status(next(), market, status, reason));
  }
  const fb::Frame& suspend_event(uint64_t event,
                                 fb::StatusReason reason = fb::StatusReason::Provider) {
    return keep(builder_.event_suspension(next(), event, reason));
  }
  const fb::Frame& settle(uint64_t market, std::vector<uint64_t> winners,
                          std::vector<SettlementFactor> factors = {}, bool voided = false) {
    return keep(builder_.settlement(next(), market, winners, factors, voided));
  }
  const fb::Frame& rollback(uint64_t market) {
    return keep(builder_.settlement_rollback(next(), market));
  }
  // A heartbeat carrying the current last seq; it does not advance seq.
  const fb::Frame& heartbeat() {
    FrameHeader h = next();
    h.seq = seq_;
    return keep(builder_.heartbeat(h), false);
  }

  // The frame built as the i-th call (0-based), for re-applying it.
  const fb::Frame& frame(size_t i) const { return *fb::GetFrame(frames_[i].data()); }
  uint64_t seq() const { return seq_; }
  void set_epoch(uint32_t epoch) { epoch_ = epoch; }

 private:
  FrameHeader next() const {
    FrameHeader h;
    h.seq = seq_ + 1;
    h.epoch = epoch_;
    h.channel = 0;
    h.publisher = 1;
    h.sequenced_ns = 1'000'000'000ull * (seq_ + 1);
    return h;
  }
  const fb::Frame& keep(std::span<const uint8_t> bytes, bool sequenced = true) {
    // u64 storage keeps the copy aligned for FlatBuffers.
    std::vector<uint64_t> copy((bytes.size() + 7) / 8);
    std::memcpy(copy.data(), bytes.data(), bytes.size());
    frames_.push_back(std::move(copy));
    if (sequenced) ++seq_;
    const fb::Frame& frame = *fb::GetFrame(frames_.back().data());
    state_.apply(frame);
    return frame;
  }

  MarketState& state_;
  FrameBuilder builder_;
  std::vector<std::vector<uint64_t>> frames_;
  uint64_t seq_ = 0;
  uint32_t epoch_ = 1;
};

}  // namespace oddsbus::testing_support
