// Batches: the unit of publishing (one ZeroMQ message) and journaling (one LMDB record). A batch
// holds one or more consecutive frames of one channel (DESIGN section 2).
//
// Layout, little-endian, every frame 8-byte aligned within the batch:
//   header, 24 bytes: u32 magic "OBB1" | u32 channel | u64 first_seq | u32 count | u32 flags
//   count records:    u32 size | u32 crc32c of the frame bytes | frame bytes | zero pad to 8
// Frame i of the batch has seq first_seq + i. flags bit 0 (kBatchHeartbeat) marks an unsequenced
// heartbeat batch: one Heartbeat frame whose seq is the publisher's last seq.
//
// The magic and channel lead the header, so a ZeroMQ subscriber can filter channels by prefix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <expected>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "schemas/frame_generated.h"

namespace oddsbus {

inline constexpr uint32_t kBatchMagic = 0x3142424F;  // "OBB1" read as little-endian u32
inline constexpr size_t kBatchHeaderSize = 24;
inline constexpr size_t kRecordHeaderSize = 8;
inline constexpr uint32_t kBatchHeartbeat = 1;
inline constexpr uint32_t kMaxFrameSize = 1 << 20;

struct BatchHeader {
  uint32_t magic = kBatchMagic;
  uint32_t channel = 0;
  uint64_t first_seq = 0;
  uint32_t count = 0;
  uint32_t flags = 0;
};
static_assert(sizeof(BatchHeader) == kBatchHeaderSize);

// Builds one batch in a buffer it reuses: begin(), add() per frame, then bytes().
// Not thread-safe. Allocation-free once the buffer has grown to the largest batch.
class BatchWriter {
 public:
  explicit BatchWriter(size_t reserve_bytes = 1 << 20);

  void begin(uint32_t channel, uint64_t first_seq, uint32_t flags = 0);
  // Appends one frame's bytes (a finished FlatBuffers Frame) with its CRC32C.
  void add(std::span<const uint8_t> frame);
  uint32_t count() const { return header().count; }
  uint64_t first_seq() const { return header().first_seq; }
  size_t size() const { return size_; }
  bool empty() const { return header().count == 0; }
  std::span<const uint8_t> bytes() const { return {data(), size_}; }

 private:
  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(buffer_.data()); }
  uint8_t* data() { return reinterpret_cast<uint8_t*>(buffer_.data()); }
  BatchHeader header() const {
    BatchHeader h;
    std::memcpy(&h, data(), sizeof h);
    return h;
  }
  void grow(size_t bytes);

  std::vector<uint64_t> buffer_;  // u64 storage keeps frames 8-byte aligned
  size_t size_ = 0;
};

enum class BatchError : uint8_t {
  kTruncated,    // shorter than its header or records say
  kBadMagic,     // not a batch
  kBadCrc,       // a frame's bytes do not match its CRC32C
  kBadFrame,     // a frame fails the FlatBuffers verifier
  kSeqMismatch,  // a frame's seq is not first_seq + index, or channel differs from the header
  kEmpty,        // count is 0
};

std::string_view to_string(BatchError error);

struct BatchFault {
  BatchError error;
  uint64_t seq;  // the seq of the first frame that could not be read (first_seq + index)
};

// Reads a batch in place after checking all of it: header, each record's bounds, CRC32C, the
// FlatBuffers verifier, and seq continuity. Frames are returned as table pointers into the bytes.
// When `bytes` is not 8-byte aligned (LMDB values and ZeroMQ messages need not be), they are first
// copied into this reader's own aligned scratch buffer.
// Not thread-safe; views are valid until the next open() or until `bytes` goes away.
class BatchReader {
 public:
  BatchReader() = default;

  // Checks the whole batch. On success, frames() holds `count` frames in seq order; on failure it
  // holds the frames before the first bad one, each fully checked.
  std::expected<void, BatchFault> open(std::span<const uint8_t> bytes);

  const BatchHeader& header() const { return header_; }
  bool heartbeat() const { return (header_.flags & kBatchHeartbeat) != 0; }
  std::span<const fb::Frame* const> frames() const { return frames_; }
  // The raw bytes of frame i (without its record header), e.g. to re-batch it unchanged.
  std::span<const uint8_t> frame_bytes(size_t i) const { return frame_bytes_[i]; }

 private:
  BatchHeader header_;
  std::vector<uint64_t> scratch_;
  std::vector<const fb::Frame*> frames_;
  std::vector<std::span<const uint8_t>> frame_bytes_;
};

}  // namespace oddsbus
