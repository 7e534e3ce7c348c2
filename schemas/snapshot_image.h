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

// Verifies (FlatBuffers verifier, then the chunk's CRC32C when it has one) and decodes every
// chunk of one snapshot, in order. Fails with a one-line reason on a corrupt chunk, a missing or
// repeated chunk, or chunks of different snapshots. A chunk of an older writer, without a CRC, is
// accepted on the verifier alone (decode_checked_snapshot() still checks the image's digest).
std::expected<SnapshotImage, std::string> decode_snapshot(
    std::span<const std::span<const uint8_t>> chunks);

// Why a snapshot reply was refused: each is counted apart by the clients.
enum class SnapshotRefusal : uint8_t {
  kMalformed,       // a chunk fails the verifier, or chunks are missing, repeated or mixed
  kBadCrc,          // a chunk's CRC32C does not match its bytes
  kHeaderMismatch,  // the image's seq or epoch, or the chunk count, is not what the reply says
  kDigestMismatch,  // the image's digest (DESIGN section 7) is not the reply's DIGEST
};

struct SnapshotRejection {
  SnapshotRefusal reason = SnapshotRefusal::kMalformed;
  std::string detail;  // one line, for the log
};

// What a client must do before installing a `snapshot` reply (schemas/recovery_protocol.h):
// decode_snapshot(), then check the image against the header's SEQ, EPOCH, CHUNKS and DIGEST.
// Anything refused must not be installed (ask again).
std::expected<SnapshotImage, SnapshotRejection> decode_checked_snapshot(
    std::span<const std::span<const uint8_t>> chunks, uint64_t seq, uint32_t epoch, uint64_t digest,
    uint32_t chunk_count);

}  // namespace oddsbus
