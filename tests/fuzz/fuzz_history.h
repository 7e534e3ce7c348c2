// Test support: a small channel history as a publisher sequences it (markets defined, priced,
// suspended, an epoch change), cut into batches, for the fuzz targets that need a service or an
// edge with something in it, and for the security suite's attacks on them.
// Not thread-safe; header-only (tests only).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "schemas/batch.h"
#include "schemas/frame_builder.h"
#include "schemas/odds.h"

namespace oddsbus::fuzzing {

class FuzzHistory {
 public:
  explicit FuzzHistory(uint32_t channel = 7) : channel_(channel) {}

  uint64_t last_seq() const { return frames_.size(); }
  uint32_t epoch() const { return epoch_; }
  uint32_t channel() const { return channel_; }

  FuzzHistory& define(uint64_t market) {
    struct Selection {
      uint64_t id;
      std::string name;
    };
    const std::vector<Selection> two = {{1, "Home"}, {2, "Away"}};
    keep(builder_.market_definition(next(), market, 500 + market, "Match", fb::MarketStatus::Open,
                                    two));
    return *this;
  }
  FuzzHistory& price(uint64_t market, uint64_t selection, std::string_view odds) {
    keep(builder_.price(next(), market, selection, parse_odds(odds).value(), odds, "fuzz"));
    return *this;
  }
  FuzzHistory& suspend(uint64_t market) {
    keep(builder_.status(next(), market, fb::MarketStatus::Suspended, fb::StatusReason::Trader));
    return *this;
  }
  FuzzHistory& change_epoch() {
    const uint32_t previous = epoch_++;
    epoch_start_ = last_seq() + 1;
    keep(builder_.epoch_change(next(), previous));
    return *this;
  }
  uint64_t epoch_start() const { return epoch_start_; }

  // A frame as its own bytes (aligned copy).
  std::span<const uint8_t> frame_bytes(uint64_t seq) const {
    const Frame& f = frames_[seq - 1];
    return {reinterpret_cast<const uint8_t*>(f.words.data()), f.size};
  }
  const fb::Frame& frame(uint64_t seq) const {
    return *fb::GetFrame(frames_[seq - 1].words.data());
  }

  // The batch of frames from..to, as published.
  std::vector<uint8_t> batch(uint64_t from, uint64_t to) const {
    BatchWriter writer(4096);
    writer.begin(channel_, from);
    for (uint64_t s = from; s <= to; ++s) writer.add(frame_bytes(s));
    return {writer.bytes().begin(), writer.bytes().end()};
  }
  // A heartbeat batch saying the publisher holds up to last_seq (in the current epoch).
  std::vector<uint8_t> heartbeat(uint64_t last_seq) const {
    FrameHeader h = header(last_seq);
    BatchWriter writer(4096);
    writer.begin(channel_, last_seq, kBatchHeartbeat);
    FrameBuilder builder;
    writer.add(builder.heartbeat(h, epoch_start_));
    return {writer.bytes().begin(), writer.bytes().end()};
  }
  // A frame nobody sequenced: a price at `seq` in `epoch`, with a valid CRC.
  std::vector<uint8_t> forged_price(uint64_t seq, uint32_t epoch, uint64_t market,
                                    std::string_view odds) const {
    FrameHeader h = header(seq);
    h.epoch = epoch;
    FrameBuilder builder;
    BatchWriter writer(4096);
    writer.begin(channel_, seq);
    writer.add(builder.price(h, market, 1, parse_odds(odds).value(), odds, "forged"));
    return {writer.bytes().begin(), writer.bytes().end()};
  }

 private:
  struct Frame {
    std::vector<uint64_t> words;
    size_t size = 0;
  };
  FrameHeader header(uint64_t seq) const {
    FrameHeader h;
    h.seq = seq;
    h.epoch = epoch_;
    h.channel = channel_;
    h.publisher = 1;
    h.sequenced_ns = 1'700'000'000'000'000'000 + seq;
    h.source_ns = h.sequenced_ns;
    h.market_seq = seq;
    return h;
  }
  FrameHeader next() const { return header(last_seq() + 1); }
  void keep(std::span<const uint8_t> bytes) {
    Frame f;
    f.words.resize((bytes.size() + 7) / 8);
    std::memcpy(f.words.data(), bytes.data(), bytes.size());
    f.size = bytes.size();
    frames_.push_back(std::move(f));
  }

  uint32_t channel_;
  uint32_t epoch_ = 1;
  uint64_t epoch_start_ = 1;
  FrameBuilder builder_;
  std::vector<Frame> frames_;
};

}  // namespace oddsbus::fuzzing
