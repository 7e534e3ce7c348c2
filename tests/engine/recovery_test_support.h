// Test helpers for the recovery suites: a channel that builds consecutive batches of frames (and
// keeps the state they define), and readers of range replies.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "schemas/batch.h"
#include "schemas/frame_builder.h"
#include "schemas/market_state.h"
#include "schemas/odds.h"

namespace oddsbus::engine::testing_support {

// Builds batches of channel 0 the way a sequencer would: seq gap-free from 1, market 1 defined
// by the first batch, then prices.
class BatchScript {
 public:
  // One batch: a definition of market 1 (three selections) when none was made yet, then `prices`
  // price frames.
  std::vector<uint8_t> prices(size_t prices) {
    writer_.begin(0, seq_ + 1);
    if (seq_ == 0) {
      struct Selection {
        uint64_t id;
        std::string name;
      };
      const std::vector<Selection> selections = {{1, "Home"}, {2, "Draw"}, {3, "Away"}};
      add(builder_.market_definition(next(), 1, 100, "Match Odds", fb::MarketStatus::Open,
                                     selections));
    }
    for (size_t i = 0; i < prices; ++i) {
      const std::string text = std::to_string(2 + (seq_ % 40)) + ".5";
      add(builder_.price(next(), 1, 1 + seq_ % 3, parse_odds(text).value(), text, "test"));
    }
    return {writer_.bytes().begin(), writer_.bytes().end()};
  }

  // One batch of one EpochChange frame raising the epoch to `epoch`.
  std::vector<uint8_t> epoch_change(uint32_t epoch) {
    writer_.begin(0, seq_ + 1);
    const uint32_t previous = epoch_;
    epoch_ = epoch;
    add(builder_.epoch_change(next(), previous));
    return {writer_.bytes().begin(), writer_.bytes().end()};
  }

  uint64_t seq() const { return seq_; }
  const MarketState& state() const { return state_; }

 private:
  FrameHeader next() {
    FrameHeader h;
    h.seq = ++seq_;
    h.epoch = epoch_;
    h.publisher = 1;
    h.sequenced_ns = 1'000'000'000ull * seq_;
    return h;
  }
  void add(std::span<const uint8_t> frame) {
    writer_.add(frame);
    aligned_.assign((frame.size() + 7) / 8, 0);
    std::memcpy(aligned_.data(), frame.data(), frame.size());
    state_.apply(*fb::GetFrame(aligned_.data()));
  }

  FrameBuilder builder_;
  BatchWriter writer_{1 << 16};
  MarketState state_;
  std::vector<uint64_t> aligned_;
  uint64_t seq_ = 0;
  uint32_t epoch_ = 1;
};

// The seqs of every frame in a range reply's batch parts, in order, or a failure when a part is
// not a sound batch.
inline std::vector<uint64_t> seqs_in(std::span<const std::span<const uint8_t>> parts) {
  std::vector<uint64_t> seqs;
  BatchReader reader;
  for (std::span<const uint8_t> part : parts) {
    auto opened = reader.open(part);
    EXPECT_TRUE(opened) << "a reply part is not a sound batch";
    if (!opened) return {};
    for (const fb::Frame* frame : reader.frames()) seqs.push_back(frame->seq());
  }
  return seqs;
}

// first, first + 1, ..., last.
inline std::vector<uint64_t> iota_seqs(uint64_t first, uint64_t last) {
  std::vector<uint64_t> seqs;
  for (uint64_t s = first; s <= last; ++s) seqs.push_back(s);
  return seqs;
}

}  // namespace oddsbus::engine::testing_support
