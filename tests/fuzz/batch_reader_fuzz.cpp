// Fuzz target: the frame batch reader (schemas/batch.h), the check every frame passes wherever it
// arrives (ZeroMQ, LMDB, recovery replies), and what is done with the frames it accepts: folding
// them into MarketState, digesting it, and printing frames and state as JSON.
//
// Each input is read twice: as given (8-byte aligned), and as a copy at an odd address (the
// reader's scratch-copy path) whose records' CRC32C fields have been recomputed, so that mutations
// get past the CRC to the FlatBuffers verifier, the seq checks and the fold.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "schemas/batch.h"
#include "schemas/crc32c.h"
#include "schemas/frame_json.h"
#include "schemas/market_state.h"
#include "schemas/state_digest.h"
#include "schemas/state_json.h"
#include "tests/fuzz/fuzz_check.h"

using namespace oddsbus;

namespace {

// A frame whose union type names a payload that is absent passes the FlatBuffers verifier (an
// absent table is valid), and the reader accepts it; frame_json and MarketState::apply then
// dereference the null payload (crashers/batch_reader/). Checked here so the failure names the
// cause; set ODDSBUS_FUZZ_SKIP_MISSING_PAYLOAD=1 to skip such frames and fuzz past it until the
// reader rejects them.
bool skip_missing_payload() {
  static const bool skip = std::getenv("ODDSBUS_FUZZ_SKIP_MISSING_PAYLOAD") != nullptr;
  return skip;
}

// Rewrites each record's CRC to match its bytes, walking records as far as their sizes allow.
void fix_crcs(uint8_t* batch, size_t size) {
  if (size < kBatchHeaderSize) return;
  uint32_t count = 0;
  std::memcpy(&count, batch + 16, 4);
  size_t offset = kBatchHeaderSize;
  for (uint32_t i = 0; i < count && size - offset >= kRecordHeaderSize; ++i) {
    uint32_t len = 0;
    std::memcpy(&len, batch + offset, 4);
    const size_t padded = (static_cast<size_t>(len) + 7) & ~size_t{7};
    if (size - offset - kRecordHeaderSize < padded) return;
    const uint32_t crc = crc32c(batch + offset + kRecordHeaderSize, len);
    std::memcpy(batch + offset + 4, &crc, 4);
    offset += kRecordHeaderSize + padded;
  }
}

void read_batch(BatchReader& reader, std::span<const uint8_t> bytes) {
  const auto opened = reader.open(bytes);
  const auto frames = reader.frames();
  if (opened) {
    FUZZ_CHECK(frames.size() == reader.header().count);
  } else {
    // The frames before the first bad one are returned, so the fault names the next seq.
    FUZZ_CHECK(opened.error().seq - reader.header().first_seq == frames.size());
  }
  MarketState state;
  std::string json;
  for (size_t i = 0; i < frames.size(); ++i) {
    const fb::Frame& frame = *frames[i];
    FUZZ_CHECK(frame.seq() == reader.header().first_seq + i);
    FUZZ_CHECK(reader.frame_bytes(i).size() <= kMaxFrameSize);
    if (frame.payload_type() != fb::Payload::NONE && frame.payload() == nullptr) {
      if (skip_missing_payload()) continue;
      FUZZ_CHECK(!"BatchReader accepted a frame whose payload is missing");
    }
    append_frame_json(json, frame);
    state.apply(frame);
  }
  (void)state_digest(state);
  append_state_json(json, state);
  append_state_table(json, state);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > (4u << 20)) return 0;  // nothing to read; or far beyond a real batch
  static BatchReader reader;
  std::vector<uint64_t> aligned((size + 7) / 8 + 1);
  std::memcpy(aligned.data(), data, size);
  read_batch(reader, {reinterpret_cast<const uint8_t*>(aligned.data()), size});

  std::vector<uint8_t> odd(size + 1);
  std::memcpy(odd.data() + 1, data, size);
  fix_crcs(odd.data() + 1, size);
  read_batch(reader, {odd.data() + 1, size});
  return 0;
}
