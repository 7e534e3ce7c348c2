// Fuzz target: the client WebSocket messages (edge/client_request.h, DESIGN section 10) as the
// edge reads them: each to ClientRequestParser, then to a ClientStream (edge/client_stream.h)
// serving a MarketCache that holds a few markets and moves on between messages. Checks:
//  - an accepted request is well-formed: sorted ids within max_ids, resume_epoch only with
//    resume_from, resume_from only on subscribe, and subscribe/unsubscribe name something;
//  - a refused message is answered with exactly one error message, counted, and changes nothing
//    the client was subscribed to; a ping gets exactly one pong;
//  - every message the client is sent is a JSON object with a type, and delta seqs only rise
//    (until an image replaces the client's state);
//  - a client that reads everything is never closed.
// Input: messages separated by '\n'.
#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edge/client_request.h"
#include "edge/client_stream.h"
#include "edge/market_cache.h"
#include "tests/fuzz/edge_core.h"
#include "tests/fuzz/fuzz_history.h"

using namespace oddsbus;

namespace {

constexpr size_t kMaxIds = 16;

struct Fixture {
  fuzzing::FuzzHistory history;
  Fixture() {
    history.define(1).define(2).define(3).price(1, 1, "2.5").price(2, 2, "5/2").suspend(3);
    for (int i = 0; i < 20; ++i) history.price(1 + i % 3, 1 + i % 2, i % 2 == 0 ? "1.5" : "4/1");
  }
};

void check_request(const edge::ClientRequest& r) {
  FUZZ_CHECK(std::is_sorted(r.markets.begin(), r.markets.end()));
  FUZZ_CHECK(std::is_sorted(r.events.begin(), r.events.end()));
  FUZZ_CHECK(r.markets.size() + r.events.size() <= kMaxIds);
  if (r.resume_epoch) FUZZ_CHECK(r.resume_from.has_value());
  if (r.resume_from) FUZZ_CHECK(r.op == edge::ClientRequest::Op::kSubscribe);
  if (r.op != edge::ClientRequest::Op::kPing) {
    FUZZ_CHECK(r.all || !r.markets.empty() || !r.events.empty());
  }
}

struct Sent {
  size_t errors = 0;
  size_t pongs = 0;
  size_t images = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 16)) return 0;
  static const Fixture fixture;
  static simdjson::dom::parser json;
  edge::MarketCache cache(edge::MarketCacheConfig{8, size_t{1} << 16});
  SnapshotImage empty;
  empty.channel = fixture.history.channel();
  empty.epoch = 1;
  cache.install(std::move(empty));
  uint64_t applied = 0;
  const auto apply_next = [&] {
    if (applied < fixture.history.last_seq()) return cache.apply(fixture.history.frame(++applied));
    return std::shared_ptr<const edge::FrameChange>();
  };
  for (int i = 0; i < 8; ++i) apply_next();

  edge::ClientStreamConfig config;
  config.max_subscribed_ids = kMaxIds;
  config.max_image_part_bytes = 256;  // images in parts
  edge::StreamTotals totals;
  uint64_t now_ns = 1'000'000'000;
  edge::ClientStream stream(config, totals, now_ns);
  edge::ClientRequestParser parser(kMaxIds);
  edge::ClientRequestParser check_parser(kMaxIds);
  uint64_t last_delta_seq = 0;

  const auto drain = [&](const edge::StreamContext& ctx) {
    Sent sent;
    for (;;) {
      std::shared_ptr<const std::string> message = stream.start_write(ctx.now_ns);
      if (!message) break;
      simdjson::dom::element root;
      FUZZ_CHECK(json.parse(*message).get(root) == simdjson::SUCCESS);
      std::string_view type;
      FUZZ_CHECK(root["type"].get(type) == simdjson::SUCCESS);
      if (type == "error") ++sent.errors;
      if (type == "pong") ++sent.pongs;
      if (type == "image") {
        ++sent.images;
        last_delta_seq = 0;
      }
      if (type == "resumed") last_delta_seq = 0;
      if (type == "delta") {
        uint64_t seq = 0;
        FUZZ_CHECK(root["seq"].get(seq) == simdjson::SUCCESS);
        FUZZ_CHECK(seq > last_delta_seq);
        last_delta_seq = seq;
      }
      stream.on_written(ctx);
    }
    return sent;
  };

  fuzzing::InputReader in({data, size});
  for (size_t n = 0; !in.done() && n < 256; ++n) {
    const std::string_view text = in.line();
    now_ns += 1'000'000;
    const edge::StreamContext ctx{cache, edge::Freshness{}, now_ns, nullptr};
    const auto request = check_parser.parse(text);
    if (request) check_request(*request);
    const bool subscribed = stream.subscribed();
    const uint64_t bad = totals.bad_requests;
    stream.on_text(text, parser, ctx);
    const Sent sent = drain(ctx);
    if (!request) {
      FUZZ_CHECK(totals.bad_requests == bad + 1);
      FUZZ_CHECK(sent.errors == 1 && sent.pongs == 0 && sent.images == 0);
      FUZZ_CHECK(stream.subscribed() == subscribed);
    } else {
      if (request->op == edge::ClientRequest::Op::kPing) FUZZ_CHECK(sent.pongs == 1);
      // A well-formed request can still be refused by the stream (past max_subscribed_ids for
      // this client, ids while on "all"): then as above, one counted error and no change.
      FUZZ_CHECK(totals.bad_requests <= bad + 1);
      if (totals.bad_requests == bad + 1) {
        FUZZ_CHECK(request->op != edge::ClientRequest::Op::kPing);
        FUZZ_CHECK(sent.errors == 1 && sent.images == 0 && stream.subscribed() == subscribed);
      } else {
        FUZZ_CHECK(sent.errors == 0);
      }
    }
    FUZZ_CHECK(!stream.close_verdict().has_value());
    // The edge moves on: a frame, handed to the client.
    if (auto change = apply_next()) {
      const edge::StreamContext after{cache, edge::Freshness{}, now_ns, nullptr};
      stream.on_change(change, after);
      drain(after);
    }
  }
  return 0;
}
