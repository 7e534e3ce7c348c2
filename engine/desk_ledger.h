// The desk ledger (issue 15, durable overrides; issue 14, provenance): what the journal says about
// the trading desks, folded from frames' DeskOrigin and DeskOverride fields (schemas/frame.fbs):
//  - the held overrides: which markets a desk holds, who took each (identity, CLIENT, request id),
//    since when, until when (wall clock, as journaled), and the market as its feeds left it when
//    the desk took it (its status and prices just before the take frame);
//  - the recent desk requests: (identity, CLIENT, ID) -> the request, the seq of its (last) frame
//    and its epoch, so a retry after a restart or a takeover gets the original ack.
//
// Folded wherever frames are (engine/sequencer.h: sequencing, restore, replication), and kept in
// journal snapshots (engine/journal_snapshot.h, encode()/decode()), so a fold that starts from a
// snapshot mid-journal holds the same ledger as one from seq 1.
//
// Invariants: a market is held from a Take frame until a Release, Expire or SettlementEnd frame
// for it, or any Settlement of it; a take of a held market renews it (who and expiry change; since
// and the feed view stay). At most kRememberedRequests requests are kept (the oldest go first).
// Sans-I/O; not thread-safe: owned by one thread (the sequencer's, or a reader's fold).
#pragma once

#include <cstdint>
#include <deque>
#include <expected>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "schemas/frame_generated.h"
#include "schemas/market_state.h"

namespace oddsbus::engine {

inline constexpr size_t kRememberedRequests = 16384;

struct HeldPrice {
  uint64_t selection = 0;
  uint32_t price_e4 = 0;
  std::string odds;  // the odds text as sequenced
};

struct HeldOverride {
  uint64_t market = 0;
  std::string identity;     // who holds it (the last desk to take or renew it)
  std::string client;       // that request's CLIENT word
  std::string request_id;   // and ID
  uint64_t take_seq = 0;    // the frame that last took or renewed it
  uint64_t since_ns = 0;    // sequenced_ns of the frame that first took it
  uint64_t expires_ns = 0;  // wall clock ns; 0: until released
  // The market as its feeds left it just before the desk took it.
  fb::MarketStatus feed_status = fb::MarketStatus::Open;
  fb::StatusReason feed_reason = fb::StatusReason::None;
  std::vector<HeldPrice> feed_prices;  // ascending by selection; priced selections only
};

struct DeskRequestRecord {
  std::string request;  // the canonical request text
  uint64_t seq = 0;     // its (last) frame
  uint32_t epoch = 0;   // the epoch that frame was sequenced in
};

class DeskLedger {
 public:
  // The key of a request: (identity, CLIENT, ID).
  static std::string key(std::string_view identity, std::string_view client,
                         std::string_view request_id);

  // Folds one frame; `before` is the market state just before the frame is applied (the feed
  // view of a take comes from it, and the markets of an event suspension). Frames without desk
  // fields, and heartbeats, cost one branch.
  void apply(const fb::Frame& frame, const MarketState& before);

  const std::map<uint64_t, HeldOverride>& held() const { return held_; }
  const HeldOverride* find_held(uint64_t market) const;
  const DeskRequestRecord* find_request(std::string_view key) const;
  size_t requests() const { return requests_.size(); }
  // Bumped whenever the held set changes (a take, renewal or end), so a watcher can tell.
  uint64_t version() const { return version_; }

  void clear();

  // The ledger as bytes (little-endian, deterministic: equal ledgers encode equally), and back.
  // decode() fails with a one-line reason on a truncated or malformed encoding.
  void encode(std::vector<uint8_t>& out) const;
  static std::expected<DeskLedger, std::string> decode(std::span<const uint8_t> bytes);

  bool operator==(const DeskLedger& other) const;

 private:
  void take(uint64_t market, const fb::Frame& frame, const fb::DeskOrigin* origin,
            uint64_t expires_ns, const MarketState& before);
  void end(uint64_t market);
  void remember(std::string key, DeskRequestRecord record);

  std::map<uint64_t, HeldOverride> held_;
  std::unordered_map<std::string, DeskRequestRecord> requests_;
  std::deque<std::string> order_;  // request keys, oldest first
  uint64_t version_ = 0;
};

}  // namespace oddsbus::engine
