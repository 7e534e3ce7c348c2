// Fuzz target: the desk protocol (engine/desk_protocol.h) as the desk service reads it: one
// request part to parse_request, its id to request_id_of, and the reply the service would send.
// Checks the protocol's promises, not only that nothing crashes:
//  - an accepted request is within the limits (kMaxRequestBytes, CLIENT and ID 1..64 printable
//    characters, ODDS at most kMaxOddsBytes, at most kMaxWinners winners, for=MS > 0 only where
//    allowed), and format_request writes it back to text that parses to the same request;
//  - request_id_of names the accepted request's ID;
//  - the reply (an ack for an accepted request, a reject naming the ID otherwise) is one line of
//    printable text that parse_reply reads back to the same reply.
// Input: the request text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/desk_protocol.h"
#include "tests/fuzz/fuzz_check.h"

using namespace oddsbus;

namespace {

bool printable(std::string_view text) {
  for (const char c : text) {
    if (c < ' ' || c > '~') return false;
  }
  return true;
}

void check_reply_round_trip(const desk::Reply& reply) {
  const std::string text = desk::format_reply(reply);
  FUZZ_CHECK(printable(text));
  const auto again = desk::parse_reply(text);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->ok == reply.ok && again->id == reply.id);
  if (reply.ok) {
    FUZZ_CHECK(again->seq == reply.seq && again->epoch == reply.epoch);
  } else {
    FUZZ_CHECK(again->reason == reply.reason);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto request = desk::parse_request(text);
  const std::string_view id = desk::request_id_of(text);
  FUZZ_CHECK(!id.empty() && id.size() <= desk::kMaxTokenBytes && printable(id));
  desk::Reply reply;
  if (!request) {
    // The rejection names what it could read of the request, and says why in one line.
    reply.ok = false;
    reply.id = std::string(id);
    reply.reason = desk::RejectReason::kBadRequest;
    reply.detail = request.error();
    check_reply_round_trip(reply);
    return 0;
  }
  const desk::Request& r = *request;
  FUZZ_CHECK(text.size() <= desk::kMaxRequestBytes);
  FUZZ_CHECK(!r.client.empty() && r.client.size() <= desk::kMaxTokenBytes && printable(r.client));
  FUZZ_CHECK(!r.id.empty() && r.id.size() <= desk::kMaxTokenBytes && printable(r.id));
  FUZZ_CHECK(r.client.find(' ') == std::string::npos && r.id.find(' ') == std::string::npos);
  FUZZ_CHECK(id == r.id);
  FUZZ_CHECK(r.winners.size() <= desk::kMaxWinners);
  if (r.command == desk::Command::kSetPrice) {
    FUZZ_CHECK(!r.odds.empty() && r.odds.size() <= desk::kMaxOddsBytes && printable(r.odds));
  } else {
    FUZZ_CHECK(r.odds.empty());
  }
  if (r.command != desk::Command::kSettle) FUZZ_CHECK(r.winners.empty());
  if (r.command == desk::Command::kSettle || r.command == desk::Command::kRelease) {
    FUZZ_CHECK(r.override_for_ms == 0);
  }

  const std::string formatted = desk::format_request(r);
  const auto again = desk::parse_request(formatted);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->client == r.client && again->id == r.id && again->command == r.command &&
             again->market == r.market && again->selection == r.selection &&
             again->odds == r.odds && again->winners == r.winners &&
             again->override_for_ms == r.override_for_ms);

  reply.ok = true;
  reply.id = r.id;
  reply.seq = r.market;  // any numbers: the reply's own round trip
  reply.epoch = static_cast<uint32_t>(r.selection);
  check_reply_round_trip(reply);
  reply.ok = false;
  reply.reason =
      static_cast<desk::RejectReason>(r.market % static_cast<uint64_t>(desk::RejectReason::kCount));
  reply.detail = r.odds;
  check_reply_round_trip(reply);
  return 0;
}
