// The subscriber core, first cut: takes published batches from one line, checks each whole
// (CRC32C, FlatBuffers verifier, seq continuity inside the batch), and folds the frames that come
// next in seq order into a MarketState, counting duplicates, gaps and corrupt batches.
// Arbitration between several lines and gap recovery grow on this (DESIGN section 5).
//
// Sans-I/O: fed bytes, performs no I/O. Not thread-safe: owned by one subscriber thread.
#pragma once

#include <cstdint>
#include <span>

#include "schemas/batch.h"
#include "schemas/market_state.h"

namespace oddsbus::edge {

struct FrameStreamCounters {
  uint64_t frames_applied = 0;
  uint64_t duplicates = 0;       // frames at or below the last applied seq
  uint64_t gaps = 0;             // times a frame arrived past the next expected seq
  uint64_t frames_missed = 0;    // seqs skipped over by those gaps
  uint64_t corrupt_batches = 0;  // batches that failed a check; none of their frames applied
  uint64_t heartbeats = 0;
};

class FrameStream {
 public:
  FrameStream() = default;

  // Reads one published batch. Returns false if it was corrupt (counted, ignored).
  bool on_batch(std::span<const uint8_t> bytes);

  uint64_t last_seq() const { return last_seq_; }
  // The highest seq any publisher said it has (from frames and heartbeats).
  uint64_t newest_seq() const { return newest_seq_; }
  const MarketState& state() const { return state_; }
  const FrameStreamCounters& counters() const { return counters_; }

 private:
  BatchReader reader_;
  MarketState state_;
  uint64_t last_seq_ = 0;
  uint64_t newest_seq_ = 0;
  FrameStreamCounters counters_;
};

}  // namespace oddsbus::edge
