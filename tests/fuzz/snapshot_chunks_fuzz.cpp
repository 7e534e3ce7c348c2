// Fuzz target: snapshot chunks as the edge receives them. An edge waiting for its first snapshot
// asks a recovery service for one (edge/recovery_requests.h routes the request); the input is the
// reply: a header line and the SnapshotChunk parts (schemas/snapshot_image.h). It goes through the
// edge's subscriber path (tests/fuzz/edge_core.h): decode_checked_snapshot, then the install or the
// refusal, which must change nothing and move the request on to the next service.
//
// Checks beyond that path's own: decode_snapshot accepts whatever decode_checked_snapshot accepts;
// an accepted image re-encodes (encode_snapshot) to chunks that decode to the same digest, state
// seq and epoch; and the edge then takes frames after the image's seq (a follow-up batch).
//
// Input: a flags byte, then the header text up to '\n', then u8 parts, each u16 size + bytes, then
// optionally a batch (u16 size + bytes) offered on a line after the reply. Flags:
//   bit 0: rewrite each chunk's CRC32C to match its bytes (when the chunk verifies)
//   bit 1: rewrite the header's SEQ, EPOCH, DIGEST and CHUNKS to what the chunks decode to
//   bit 2: reply as service 1 (not the one asked)
// Bits 0 and 1 let mutations reach the decoder and the install, past the checks a forger fails.
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "schemas/append_printf.h"
#include "schemas/snapshot_generated.h"
#include "tests/fuzz/edge_core.h"

using namespace oddsbus;
using oddsbus::fuzzing::EdgeCore;
using oddsbus::fuzzing::InputReader;

namespace {

// Sets a verified chunk's crc field (snapshot.fbs) to the CRC32C of its bytes with the field
// holding the placeholder, as encode_snapshot writes it.
void fix_chunk_crc(std::vector<uint8_t>& chunk) {
  flatbuffers::Verifier verifier(chunk.data(), chunk.size());
  if (!fb::VerifySnapshotChunkBuffer(verifier)) return;
  const fb::SnapshotChunk* root = fb::GetSnapshotChunk(chunk.data());
  const uint8_t* field =
      reinterpret_cast<const flatbuffers::Table*>(root)->GetAddressOf(fb::SnapshotChunk::VT_CRC);
  if (field == nullptr) return;
  const size_t offset = static_cast<size_t>(field - chunk.data());
  flatbuffers::WriteScalar<uint32_t>(chunk.data() + offset, 0xFFFFFFFFu);
  const uint32_t crc = crc32c(chunk.data(), chunk.size());
  flatbuffers::WriteScalar<uint32_t>(chunk.data() + offset, crc);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;
  InputReader in({data, size});
  const uint8_t flags = in.u8();
  std::string header(in.line());
  const size_t count = in.u8() % 16;
  // Chunk copies with their own 8-byte aligned storage (FlatBuffers reads scalars in place).
  std::vector<std::vector<uint8_t>> chunks;
  for (size_t i = 0; i < count && !in.done(); ++i) {
    const auto bytes = in.bytes(in.u16());
    chunks.emplace_back(bytes.begin(), bytes.end());
    if ((flags & 1) != 0) fix_chunk_crc(chunks.back());
  }
  std::vector<std::span<const uint8_t>> parts(chunks.begin(), chunks.end());

  if (auto image = decode_snapshot(parts)) {
    FUZZ_CHECK(image->state.seq() == image->seq);
    if ((flags & 2) != 0) {
      header.clear();
      append_printf(header, "snapshot %" PRIu64 " %u %016" PRIx64 " %zu", image->seq, image->epoch,
                    state_digest(image->state), chunks.size());
    }
    // Round trip: encoding the decoded state and decoding it again gives the same image.
    const auto encoded =
        encode_snapshot(image->state, image->channel, image->epoch, image->epoch_start, 2);
    std::vector<std::span<const uint8_t>> again(encoded.begin(), encoded.end());
    auto decoded = decode_snapshot(again);
    FUZZ_CHECK(decoded.has_value());
    FUZZ_CHECK(decoded->seq == image->seq && decoded->epoch == image->epoch);
    FUZZ_CHECK(decoded->epoch_start == image->epoch_start);
    FUZZ_CHECK(state_digest(decoded->state) == state_digest(image->state));
  }

  EdgeCore edge;
  uint64_t now_ns = 1'000'000'000;
  edge.tick(now_ns);  // asks service 0 for the first snapshot
  FUZZ_CHECK(edge.arbiter().counters().snapshots == 1);
  const size_t service = (flags & 4) != 0 ? 1 : 0;
  now_ns += 1'000'000;
  const auto checked = recovery::parse_reply_header(header);
  const fuzzing::EdgeStep step = edge.reply(service, header, parts, now_ns);
  if (step.installed) {
    // Only what decode_checked_snapshot accepts is installed, and only at the reply's position.
    FUZZ_CHECK(checked && checked->kind == recovery::ReplyKind::kSnapshot);
    FUZZ_CHECK(edge.cache().seq() == checked->seq && edge.cache().epoch() == checked->epoch);
    FUZZ_CHECK(state_digest(edge.cache().state()) == checked->digest);
    FUZZ_CHECK(edge.arbiter().positioned() && edge.arbiter().last_seq() == checked->seq);
  } else {
    FUZZ_CHECK(!edge.cache().positioned() && !edge.arbiter().positioned());
    if (checked && checked->kind == recovery::ReplyKind::kSnapshot) {
      FUZZ_CHECK(edge.snapshot_failures() == 1);
      // Refused by the service asked: the edge asks the next one, at once, on its next tick.
      edge.tick(now_ns + 1'000'000);
      FUZZ_CHECK(edge.arbiter().counters().snapshots == (service == 0 ? 2u : 1u));
    }
  }
  if (!in.done()) {
    const auto bytes = in.bytes(in.u16());
    std::vector<uint64_t> words((bytes.size() + 7) / 8 + 1);
    std::memcpy(words.data(), bytes.data(), bytes.size());
    edge.batch(0, {reinterpret_cast<const uint8_t*>(words.data()), bytes.size()},
               now_ns + 2'000'000);
  }
  return 0;
}
