// The desk protocol (DESIGN section 4, "Desk API"): what a trading desk asks a node's desk
// service, and what it answers. Transport: ZeroMQ; the service binds a ROUTER, a desk connects a
// DEALER (or REQ) and sends requests; each request gets exactly one reply.
//
// Every request and reply is one message part of ASCII text, words separated by single spaces, so
// an operator can speak it by hand (a trailing line end is ignored). A request names its client
// and its own request id:
//   CLIENT ID set-price MARKET SELECTION ODDS [for=MS]
//   CLIENT ID suspend MARKET [for=MS]
//   CLIENT ID reopen MARKET [for=MS]
//   CLIENT ID settle MARKET [WINNER...]
//   CLIENT ID release MARKET
//   CLIENT ID suspend-event EVENT [for=MS]   every market of EVENT suspended in one frame (an
//                                  EventSuspension, reason trader); the desk then holds each of
//                                  them (not yet settled) as a suspend would
//   CLIENT ID held                 lists the markets the desks hold (changes nothing)
// CLIENT and ID are 1 to 64 printable characters without spaces; MARKET, SELECTION, WINNER and MS
// are decimal u64; ODDS is decimal, fractional or American odds text (schemas/odds.h, at most 32
// characters), kept exactly as given. for=MS limits the desk's override of the market to MS
// milliseconds from when the sequencer applies the request; without it, the override lasts until
// released. A request is at most kMaxRequestBytes; settle names at most kMaxWinners winners.
//
// Replies:
//   ack ID SEQ EPOCH               applied: SEQ is the seq of the request's frame (for release, of
//                                  the last frame that hands the market back to its feeds), EPOCH
//                                  the epoch it was sequenced in. Sent only after it was journaled.
//                                  In sync replication, sent only once the secondary acknowledged
//                                  journaling SEQ too, so an acked request survives a takeover.
//   held ID COUNT                  the answer to held: COUNT more lines follow in the same part,
//     MARKET WHO CLIENT REQUEST SINCE EXPIRES   one per held market, ascending: WHO the holder's
//                                  identity (its CURVE key, or its CLIENT word), CLIENT and REQUEST
//                                  the request that took it last, SINCE the wall clock ns it was
//                                  first taken, EXPIRES the wall clock ns it expires (0: until
//                                  released)
//   reject ID REASON [DETAIL...]   not applied. REASON is one of kRejectReasonNames; DETAIL is for
//                                  people, except for not-primary, where it is the primary's desk
//                                  URL (or "unknown"). One exception, unconfirmed: this node
//                                  sequenced it but stopped being primary before its secondary
//                                  acknowledged the frame, so whether the new primary's history
//                                  holds it is unknown: read the market, or ask the new primary.
// ID is "-" when the request could not be read far enough to find it.
//
// Rights (engine/desk_rights.h): with a rights file, a request its desk may not make is answered
// `reject ID forbidden DETAIL`, DETAIL naming the right that is missing, and changes nothing.
//
// Durability (issue 15): every frame of a request carries its desk's identity, CLIENT, ID and the
// request (frame.fbs DeskOrigin), and a take, release, expiry or settlement-end of an override is
// marked on its frame (DeskOverride), so a restarted node or a new primary rebuilds the held
// overrides and the request table below from its journal (engine/desk_ledger.h).
//
// Idempotence: (CLIENT, ID) names one request. A request repeated with the same pair (a retry) is
// not applied again: it gets the reply the first one got (or will get). Rejections the service
// makes before sequencing (bad-request, bad-odds, not-primary, busy) are not remembered, so a
// retry of those is judged afresh. A request that was
// sequenced is remembered in the journal too: a retry after a restart or a takeover gets the
// original ack. Under CURVE the pair is scoped by the desk's key: one desk cannot answer for
// another's (CLIENT, ID).
//
// Thread safety: free functions on values.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/rejection.h"

namespace oddsbus::desk {

inline constexpr size_t kMaxRequestBytes = 4096;
inline constexpr size_t kMaxTokenBytes = 64;  // CLIENT and ID
inline constexpr size_t kMaxOddsBytes = 32;
inline constexpr size_t kMaxWinners = 64;

enum class Command : uint8_t {
  kSetPrice,
  kSuspend,
  kReopen,
  kSettle,
  kRelease,
  kSuspendEvent,
  kHeld
};

std::string_view to_string(Command command);

struct Request {
  std::string client;
  std::string id;
  Command command = Command::kSetPrice;
  uint64_t market = 0;
  uint64_t selection = 0;         // kSetPrice
  std::string odds;               // kSetPrice: the odds text as given (not validated here)
  std::vector<uint64_t> winners;  // kSettle
  uint64_t override_for_ms = 0;   // kSetPrice, kSuspend, kReopen, kSuspendEvent: 0 means until
                                  // released
  uint64_t event = 0;             // kSuspendEvent (market is 0)
};

// Parses one request; the error says what is wrong (sent back as `reject ID bad-request ...`).
std::expected<Request, std::string> parse_request(std::string_view text);
std::string format_request(const Request& request);

// The ID of a request that failed to parse, when its first two words are there ("-" otherwise),
// so the rejection can still name it.
std::string_view request_id_of(std::string_view text);

enum class RejectReason : uint8_t {
  kBadRequest,        // the request is not well-formed
  kBadOdds,           // odds text malformed or out of range
  kUnknownMarket,     // the market was never defined
  kUnknownSelection,  // a selection or winner not in the market
  kMarketSettled,     // a price or status for a settled market
  kNotOverridden,     // release of a market the desk does not hold
  kOverrideLimit,     // the desk already holds as many markets as it may
  kNotPrimary,        // this node does not sequence: ask the primary (DETAIL)
  kBusy,              // too many requests in flight: retry shortly
  kInternal,          // the node could not apply it (e.g. stopping)
  kUnconfirmed,       // sequenced, but primacy was lost before the secondary acknowledged it
  kForbidden,         // the desk has no right to it (DETAIL says which right is missing)
  kCount
};

inline constexpr std::array<std::string_view, static_cast<size_t>(RejectReason::kCount)>
    kRejectReasonNames = {"bad-request",    "bad-odds",       "unknown-market", "unknown-selection",
                          "market-settled", "not-overridden", "override-limit", "not-primary",
                          "busy",           "internal",       "unconfirmed",    "forbidden"};

inline std::string_view to_string(RejectReason reason) {
  return kRejectReasonNames[static_cast<size_t>(reason)];
}

// The desk reason for a sequencer rejection.
RejectReason from_sequencer(feeds::RejectReason reason);

// One held override, as the held reply lists it.
struct HeldEntry {
  uint64_t market = 0;
  std::string identity;
  std::string client;
  std::string request_id;
  uint64_t since_ns = 0;
  uint64_t expires_ns = 0;  // 0: until released
};

struct Reply {
  bool ok = false;
  bool held_list = false;       // ok: the answer to held (seq and epoch unused)
  std::vector<HeldEntry> held;  // held_list
  std::string id;
  uint64_t seq = 0;                                 // ok
  uint32_t epoch = 0;                               // ok
  RejectReason reason = RejectReason::kBadRequest;  // !ok
  std::string detail;                               // !ok; may be empty
};

std::string format_reply(const Reply& reply);
std::expected<Reply, std::string> parse_reply(std::string_view text);

}  // namespace oddsbus::desk
