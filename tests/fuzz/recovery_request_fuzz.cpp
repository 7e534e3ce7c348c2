// Fuzz target: recovery protocol requests as the recovery service parses and answers them
// (schemas/recovery_protocol.h parse_request, engine/recovery_service.h handle). A service holding
// a small history (an epoch change, batches in its ring and older ones in its journal, capped
// replies, few parking places, a tight rate limit) is sent the input's requests from a few
// requesters. Every answer is checked against the protocol:
//  - a request parse_request refuses gets `error bad-request` (counted) or `busy`, never data;
//  - every header parses (parse_reply_header); a range reply's batches verify, continue one
//    another, start at or below FROM and end exactly at SERVED_TO <= min(TO, LAST_SEQ); a snapshot
//    reply passes decode_checked_snapshot; status states the service's position;
//  - no request changes the service's state (last seq, visible seq, state digest), and parked
//    requests stay within their bound;
//  - afterwards a requester that was quiet is served at once (one requester's hostile requests do
//    not stall the others), and format_request round-trips every request parse_request accepts.
// Input: requests separated by '\n'; a request's first byte picks its requester (3 of them) and
// the rest is the request text. Time moves 1 ms per request.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/recovery_service.h"
#include "schemas/recovery_protocol.h"
#include "schemas/snapshot_image.h"
#include "schemas/state_digest.h"
#include "tests/fuzz/edge_core.h"
#include "tests/fuzz/fuzz_history.h"
#include "tests/fuzz/memory_batch_log.h"

using namespace oddsbus;
using oddsbus::fuzzing::FuzzHistory;

namespace {

struct Fixture {
  FuzzHistory history;
  fuzzing::MemoryBatchLog log;
  engine::RecoveryServiceConfig config;
  std::vector<std::vector<uint8_t>> batches;
  Fixture() {
    history.define(1).price(1, 1, "2.50").define(2).price(2, 2, "5/2").suspend(1);  // 1-5
    history.change_epoch().price(2, 1, "-110").price(1, 2, "3.0").define(3);        // 6-9
    history.price(3, 1, "1.5").price(3, 2, "evens").suspend(3);                     // 10-12
    for (uint64_t from = 1; from <= history.last_seq(); from += 3) {
      batches.push_back(history.batch(from, std::min(from + 2, history.last_seq())));
    }
    log.batches = batches;
    config.channel = history.channel();
    config.ring_slots = 2;  // the older batches come from the journal
    config.max_frames = 4;  // capped replies
    config.max_parked = 3;
    config.max_wait_ms = 50;
    config.requests_per_s = 100;
    config.request_burst = 20;
    config.max_requesters = 2;  // the table evicts
    config.snapshot_markets_per_chunk = 1;
  }
};

// Checks one reply; returns its header (kError with reason "" when it is empty).
recovery::ReplyHeader check_reply(const engine::RecoveryReply& reply,
                                  const engine::RecoveryService& service,
                                  const std::expected<recovery::Request, std::string>& request) {
  auto header = recovery::parse_reply_header(reply.header());
  FUZZ_CHECK(header.has_value());
  switch (header->kind) {
    case recovery::ReplyKind::kRange: {
      FUZZ_CHECK(request && request->kind == recovery::RequestKind::kRange);
      FUZZ_CHECK(header->from == request->from);
      FUZZ_CHECK(header->last_seq <= service.last_seq());
      if (header->served_to == 0) {
        FUZZ_CHECK(reply.parts().empty());
        break;
      }
      FUZZ_CHECK(header->served_to >= header->from && header->served_to <= request->to);
      FUZZ_CHECK(header->served_to <= header->last_seq);
      FUZZ_CHECK(!reply.parts().empty());
      BatchReader reader;
      uint64_t next = 0;
      for (size_t i = 0; i < reply.parts().size(); ++i) {
        FUZZ_CHECK(reader.open(reply.parts()[i]).has_value() && !reader.heartbeat());
        const BatchHeader& h = reader.header();
        if (i == 0) FUZZ_CHECK(h.first_seq <= header->from);
        if (i > 0) FUZZ_CHECK(h.first_seq == next);
        next = h.first_seq + h.count;
      }
      FUZZ_CHECK(next - 1 == header->served_to);
      break;
    }
    case recovery::ReplyKind::kGone:
      FUZZ_CHECK(request && request->kind == recovery::RequestKind::kRange);
      FUZZ_CHECK(header->from == request->from && reply.parts().empty());
      break;
    case recovery::ReplyKind::kSnapshot: {
      FUZZ_CHECK(request && request->kind == recovery::RequestKind::kSnapshot);
      auto image = decode_checked_snapshot(reply.parts(), header->seq, header->epoch,
                                           header->digest, header->chunks);
      FUZZ_CHECK(image.has_value());
      FUZZ_CHECK(image->seq == service.visible_seq());
      break;
    }
    case recovery::ReplyKind::kStatus:
      FUZZ_CHECK(request && request->kind == recovery::RequestKind::kStatus);
      FUZZ_CHECK(header->last_seq == service.visible_seq());
      FUZZ_CHECK(header->epoch == service.visible_epoch());
      break;
    case recovery::ReplyKind::kBusy:
      FUZZ_CHECK(header->retry_ms > 0 && reply.parts().empty());
      break;
    case recovery::ReplyKind::kError:
      FUZZ_CHECK(!request);
      FUZZ_CHECK(header->reason == "bad-request" && reply.parts().empty());
      break;
  }
  return *header;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 16)) return 0;
  static const Fixture fixture;
  fuzzing::MemoryBatchLog log = fixture.log;
  engine::RecoveryService service(fixture.config, &log);
  engine::RecoveryOutbox outbox;
  for (const auto& batch : fixture.batches) FUZZ_CHECK(service.on_committed(batch, outbox));
  const uint64_t last = service.last_seq();
  const uint64_t digest = state_digest(service.state());

  fuzzing::InputReader in({data, size});
  engine::RecoveryReply reply;
  uint64_t now_ns = 1'000'000'000;
  const std::string identities[] = {"edge-a", "edge-b", "hostile"};
  for (size_t n = 0; !in.done() && n < 512; ++n) {
    const std::string_view line = in.line();
    if (line.empty()) continue;
    const std::string& identity = identities[static_cast<uint8_t>(line[0]) % 3];
    const std::string_view text = line.substr(1);
    now_ns += 1'000'000;
    const auto request = recovery::parse_request(text);
    if (request) {
      // What the parser accepts, the formatter writes back to the same request.
      const auto again = recovery::parse_request(recovery::format_request(*request));
      FUZZ_CHECK(again && again->kind == request->kind && again->from == request->from &&
                 again->to == request->to && again->wait_ms == request->wait_ms &&
                 again->replica == request->replica);
      if (request->kind == recovery::RequestKind::kRange) {
        FUZZ_CHECK(request->from >= 1 && request->from <= request->to);
      }
    }
    const uint64_t bad_before = service.counters().bad_requests.load();
    const size_t parked_before = service.parked();
    service.handle(identity, text, now_ns, reply);
    if (reply.empty()) {
      // Only an ack (never answered) or a parked long poll goes unanswered here.
      FUZZ_CHECK(request && (request->kind == recovery::RequestKind::kAck ||
                             service.parked() == parked_before + 1));
    } else {
      const recovery::ReplyHeader header = check_reply(reply, service, request);
      if (!request) {
        FUZZ_CHECK(header.kind == recovery::ReplyKind::kError ||
                   header.kind == recovery::ReplyKind::kBusy);
        if (header.kind == recovery::ReplyKind::kError) {
          FUZZ_CHECK(service.counters().bad_requests.load() == bad_before + 1);
        }
      }
    }
    FUZZ_CHECK(service.parked() <= fixture.config.max_parked);
    outbox.clear();
    service.on_tick(now_ns, outbox);
    for (size_t i = 0; i < outbox.size(); ++i) {
      const auto header = recovery::parse_reply_header(outbox.reply(i).header());
      FUZZ_CHECK(header && header->kind == recovery::ReplyKind::kRange);
    }
    // Requests read; they never write.
    FUZZ_CHECK(service.last_seq() == last && service.visible_seq() == last);
  }
  FUZZ_CHECK(state_digest(service.state()) == digest);

  // A requester that kept quiet is served at once, whatever the others sent.
  now_ns += 1'000'000;
  service.handle("quiet", "range 1 12", now_ns, reply);
  const auto range = recovery::parse_request("range 1 12");
  const recovery::ReplyHeader served = check_reply(reply, service, range);
  FUZZ_CHECK(served.kind == recovery::ReplyKind::kRange && served.served_to >= 1);
  service.handle("quiet", "snapshot", now_ns, reply);
  FUZZ_CHECK(check_reply(reply, service, recovery::parse_request("snapshot")).kind ==
             recovery::ReplyKind::kSnapshot);
  return 0;
}
