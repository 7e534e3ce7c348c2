// Fuzz target: frame batches as the edge receives them. A script of events (a batch on a publisher
// line, a range or other reply from a recovery service, time passing) is played through the edge's
// subscriber path (tests/fuzz/edge_core.h: the Arbiter, its reorder buffer and recovery requests,
// and the MarketCache the delivered frames are folded into), which checks after every event that
// delivered frames continue the cache in seq order without an epoch going back, that the cache is
// where the arbiter is, that counters only rise, and that a refused batch or reply changes nothing.
//
// Input: a flags byte (bit 0: start positioned at seq 0 of epoch 1, as after an empty snapshot;
// otherwise the edge waits for a snapshot), then records, each an op byte:
//   op & 3 == 0  batch:  u8 line, u16 size, bytes
//   op & 3 == 1  reply:  u8 service, header text up to '\n', u8 parts, each u16 size + bytes
//   op & 3 == 2  tick:   u16 milliseconds
//   op & 3 == 3  replay: u8 which (send again an earlier batch of this input, or an earlier one
//                        with the first frame's epoch raised by (op >> 2) & 7)
// op & 0x80: rewrite the CRC32Cs of this record's batches first, so mutations get past them.
// Every event also moves the clock on by 1 ms.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/fuzz/edge_core.h"

using namespace oddsbus;
using oddsbus::fuzzing::EdgeCore;
using oddsbus::fuzzing::InputReader;

namespace {

// A writable, 8-byte aligned copy of `bytes` (so the arbiter reads in place, as from ZeroMQ's
// aligned buffers; BatchReader copies unaligned input itself).
std::vector<uint64_t> aligned_copy(std::span<const uint8_t> bytes, bool fix) {
  std::vector<uint64_t> words((bytes.size() + 7) / 8 + 1);
  std::memcpy(words.data(), bytes.data(), bytes.size());
  if (fix) fuzzing::fix_batch_crcs(reinterpret_cast<uint8_t*>(words.data()), bytes.size());
  return words;
}

std::span<const uint8_t> view(const std::vector<uint64_t>& words, size_t size) {
  return {reinterpret_cast<const uint8_t*>(words.data()), size};
}

// Raises the epoch of the first frame of a batch by `by` (when the frame has an epoch field that
// the verifier placed: a best-effort forgery with a valid CRC).
void raise_epoch(std::vector<uint64_t>& words, size_t size, uint32_t by) {
  auto* bytes = reinterpret_cast<uint8_t*>(words.data());
  if (size < kBatchHeaderSize + kRecordHeaderSize) return;
  uint32_t len = 0;
  std::memcpy(&len, bytes + kBatchHeaderSize, 4);
  uint8_t* frame = bytes + kBatchHeaderSize + kRecordHeaderSize;
  if (len > size - kBatchHeaderSize - kRecordHeaderSize) return;
  flatbuffers::Verifier verifier(frame, len);
  if (!fb::VerifyFrameBuffer(verifier)) return;
  const fb::Frame* f = fb::GetFrame(frame);
  // No mutable API is generated: write the field where the table says it is (absent: default 0).
  auto* at = const_cast<uint8_t*>(
      reinterpret_cast<const flatbuffers::Table*>(f)->GetAddressOf(fb::Frame::VT_EPOCH));
  if (at == nullptr) return;
  flatbuffers::WriteScalar<uint32_t>(at, f->epoch() + by);
  fuzzing::fix_batch_crcs(bytes, size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;
  InputReader in({data, size});
  EdgeCore edge;
  uint64_t now_ns = 1'000'000'000;
  if ((in.u8() & 1) != 0) edge.start_empty(now_ns);
  struct Sent {
    std::vector<uint64_t> words;
    size_t size;
  };
  std::vector<Sent> sent;
  for (size_t events = 0; !in.done() && events < 256; ++events) {
    now_ns += 1'000'000;
    const uint8_t op = in.u8();
    const bool fix = (op & 0x80) != 0;
    switch (op & 3) {
      case 0: {
        const size_t line = in.u8() % 3;
        const auto bytes = in.bytes(in.u16());
        Sent s{aligned_copy(bytes, fix), bytes.size()};
        edge.batch(line, view(s.words, s.size), now_ns);
        if (sent.size() < 16) sent.push_back(std::move(s));
        break;
      }
      case 1: {
        const size_t service = in.u8() % 2;
        const std::string_view header = in.line();
        const size_t parts = in.u8() % 8;
        std::vector<Sent> copies;
        for (size_t i = 0; i < parts && !in.done(); ++i) {
          const auto bytes = in.bytes(in.u16());
          copies.push_back({aligned_copy(bytes, fix), bytes.size()});
        }
        std::vector<std::span<const uint8_t>> spans;
        for (const Sent& c : copies) spans.push_back(view(c.words, c.size));
        edge.reply(service, header, spans, now_ns);
        break;
      }
      case 2:
        now_ns += uint64_t{in.u16()} * 1'000'000;
        edge.tick(now_ns);
        break;
      case 3: {
        if (sent.empty()) break;
        Sent again = sent[in.u8() % sent.size()];
        const uint32_t by = (op >> 2) & 7;
        if (by != 0) raise_epoch(again.words, again.size, by);
        edge.batch(in.u8() % 3, view(again.words, again.size), now_ns);
        break;
      }
    }
  }
  return 0;
}
