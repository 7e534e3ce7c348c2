// Fuzz target: recovery protocol replies as the edge parses them (schemas/recovery_protocol.h
// parse_reply_header, then the Arbiter's on_reply through the edge's subscriber path,
// tests/fuzz/edge_core.h). The edge holds frames 1..4 of a small history, has seen frame 9 (a gap)
// and has asked service 0 for the range 5..8 when the input's replies arrive.
// Checks: a header that parses formats back to a header that parses to the same fields; a reply
// that does not parse changes nothing; what the edge delivers continues its state in order (the
// path's own checks), and a reply that delivers frames delivers only frames the service's batches
// held.
// Input: replies, each: u8 (bit 0: from service 1; bit 7: rewrite the batches' CRC32Cs), the
// header text up to '\n', u8 parts, each u16 size + bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tests/fuzz/edge_core.h"
#include "tests/fuzz/fuzz_history.h"

using namespace oddsbus;

namespace {

void check_round_trip(std::string_view text) {
  const auto header = recovery::parse_reply_header(text);
  if (!header) return;
  const std::string formatted = recovery::format_reply_header(*header);
  const auto again = recovery::parse_reply_header(formatted);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->kind == header->kind && again->node == header->node &&
             again->epoch == header->epoch && again->epoch_start == header->epoch_start &&
             again->last_seq == header->last_seq && again->primary == header->primary &&
             again->from == header->from && again->served_to == header->served_to &&
             again->oldest == header->oldest && again->seq == header->seq &&
             again->digest == header->digest && again->chunks == header->chunks &&
             again->retry_ms == header->retry_ms);
  if (header->kind == recovery::ReplyKind::kError && !header->reason.empty()) {
    FUZZ_CHECK(again->reason == header->reason);
  }
}

struct Fixture {
  fuzzing::FuzzHistory history;
  Fixture() {
    history.define(1).price(1, 1, "2.50").define(2).price(2, 2, "5/2");
    history.suspend(1).price(2, 1, "1.5").change_epoch().price(1, 2, "3.0").price(2, 2, "evens");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;
  static const Fixture fixture;
  fuzzing::EdgeCore edge;
  uint64_t now_ns = 1'000'000'000;
  edge.start_empty(now_ns);
  edge.batch(0, fixture.history.batch(1, 4), now_ns);
  edge.batch(0, fixture.history.batch(9, 9), now_ns);
  now_ns += 30'000'000;
  edge.tick(now_ns);  // the gap 5..8 waited gap_timeout: asks service 0
  FUZZ_CHECK(edge.arbiter().last_seq() == 4);
  FUZZ_CHECK(edge.last_output().actions.size() == 1);

  fuzzing::InputReader in({data, size});
  for (size_t n = 0; !in.done() && n < 64; ++n) {
    const uint8_t flags = in.u8();
    const std::string_view header = in.line();
    check_round_trip(header);
    const size_t parts = in.u8() % 8;
    std::vector<std::vector<uint64_t>> copies;
    std::vector<std::span<const uint8_t>> spans;
    for (size_t i = 0; i < parts && !in.done(); ++i) {
      const auto bytes = in.bytes(in.u16());
      copies.emplace_back((bytes.size() + 7) / 8 + 1);
      std::memcpy(copies.back().data(), bytes.data(), bytes.size());
      auto* writable = reinterpret_cast<uint8_t*>(copies.back().data());
      if ((flags & 0x80) != 0) fuzzing::fix_batch_crcs(writable, bytes.size());
      spans.emplace_back(writable, bytes.size());
    }
    now_ns += 1'000'000;
    const fuzzing::EdgeStep step = edge.reply(flags & 1, header, spans, now_ns);
    if (step.delivered != 0) FUZZ_CHECK(!spans.empty());  // frames come only from its batches
    edge.tick(now_ns);
  }
  return 0;
}
