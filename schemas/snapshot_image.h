// State images (DESIGN section 4): a MarketState at a seq, encoded as SnapshotChunk FlatBuffers
// (schemas/snapshot.fbs) for the recovery service's `snapshot` reply, and decoded back by edges.
// Decoding a node's encoding gives a state with the same digest and the same state JSON.
//
// Thread safety: free functions on values.
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <vector>

#include "schemas/market_state.h"

namespace oddsbus {

struct SnapshotImage {
  uint32_t channel = 0;
  uint32_t epoch = 0;
  uint64_t epoch_start = 1;  // seq of the epoch's first frame
  uint64_t seq = 0;          // the state reflects every frame up to and including seq
  MarketState state;
};

// Encodes `state` (which reflects frames up to state.seq()) into chunks of at most
// markets_per_chunk markets each (at least one chunk, even for an empty state).
std::vector<std::vector<uint8_t>> encode_snapshot(const MarketState& state, uint32_t channel,
                                                  uint32_t epoch, uint64_t epoch_start,
                                                  size_t markets_per_chunk = 1024);

// Verifies (FlatBuffers verifier) and decodes every chunk of one snapshot, in order. Fails with
// a one-line reason on a corrupt chunk, a missing or repeated chunk, or chunks of different
// snapshots.
std::expected<SnapshotImage, std::string> decode_snapshot(
    std::span<const std::span<const uint8_t>> chunks);

}  // namespace oddsbus
