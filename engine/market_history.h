// One market's history (odds-replay history, DESIGN section 10): every change a frame made to it,
// oldest first, with the seq, epoch, time and source of each, and what it changed: prices old ->
// new, status old -> new with its reason, a switch of the source its prices come from (a feed
// failover, or a desk override taking or releasing the market), and epoch changes (takeovers).
//
// MarketHistory is the core: fed frames in seq order, it keeps the market's record (the same fold
// as schemas/market_state.h, applied to this market only) and returns the change each frame made.
// A frame that restates what the market already shows (same prices, same status, same source) is
// no change and yields nothing. Sans-I/O; not thread-safe.
//
// Provenance: a price change's source is the PriceUpdate's source ("desk" for a desk price). A
// status change's source is "desk" when its reason is trader, else the source the market's prices
// were following (the feed that went stale, for feed-stale). Epoch changes have the source the
// market's prices were following. A frame from a desk request names the desk (identity, CLIENT,
// request id), and one that took, released or expired an override says so; such a frame is a
// change even when it restates the market.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "engine/journal.h"
#include "engine/read_progress.h"
#include "schemas/market_state.h"

namespace oddsbus::engine {

struct SnapshotState;

struct SelectionChange {
  uint64_t selection = 0;
  std::optional<uint32_t> old_price_e4;  // nullopt: the selection did not exist
  std::optional<uint32_t> new_price_e4;  // nullopt: the selection was removed
};

// The selections whose price differs from `before` (nullptr: the market did not exist) to
// `after`, ascending by id. Shared by history and diff (state_diff.h).
std::vector<SelectionChange> selection_changes(const MarketRecord* before,
                                               const MarketRecord& after);

// Appends `"status": [OLD, NEW]` (OLD null when absent) and `"selections": [{"selection": ID,
// "price_e4": [OLD, NEW]}, ...]`, the pairs DESIGN section 10 gives history and diff.
void append_status_pair_json(std::string& out, std::optional<fb::MarketStatus> old_status,
                             fb::MarketStatus new_status);
void append_selection_changes_json(std::string& out, const std::vector<SelectionChange>& changes);

// "2.50" for a price, "-" for none yet (0), `absent` when the selection did not exist.
std::string price_change_text(std::optional<uint32_t> price_e4, const char* absent);

enum class ChangeKind : uint8_t {
  kDefinition,
  kPrice,
  kStatus,
  kEventSuspension,
  kSettlement,
  kSettlementRollback,
  kEpochChange,
  kEviction,  // the finished market left the live state (issue 15, --evict-after)
};
std::string_view to_string(ChangeKind kind);

struct MarketChange {
  uint64_t seq = 0;
  uint32_t epoch = 0;
  uint64_t time_ns = 0;  // the frame's sequenced_ns
  ChangeKind kind = ChangeKind::kPrice;
  std::string source;  // "" when unknown (no price seen yet)
  bool status_changed = false;
  std::optional<fb::MarketStatus> old_status;  // nullopt: the market did not exist
  fb::MarketStatus new_status = fb::MarketStatus::Open;
  fb::StatusReason reason = fb::StatusReason::None;
  std::vector<SelectionChange> selections;  // ascending by selection
  bool source_switched = false;
  std::string old_source;  // when source_switched
  uint32_t old_epoch = 0;  // kEpochChange
  bool desk = false;       // the desk set this (a desk price, or a trader status)
  // Provenance (frame.fbs DeskOrigin): who asked, when a desk request made the frame.
  std::string desk_identity;  // "" : no desk request
  std::string desk_client;
  std::string desk_request_id;
  fb::OverrideChange override_change = fb::OverrideChange::None;  // what it did to an override
};

class MarketHistory {
 public:
  explicit MarketHistory(uint64_t market) : market_(market) {}

  // Starts from a journal snapshot (engine/journal_snapshot.h) instead of an empty state: the
  // market as the snapshot holds it, with its last price source. Call before the first apply().
  void start_from(const SnapshotState& snapshot);

  // Folds one frame; returns the change it made to the market, if any.
  std::optional<MarketChange> apply(const fb::Frame& frame);

  // The market as folded so far; nullptr before its definition.
  const MarketRecord* record() const { return state_.find(market_); }
  // The source its latest price came from ("" when none yet).
  const std::string& price_source() const { return price_source_; }

 private:
  uint64_t market_;
  MarketState state_;  // holds this market only
  std::string price_source_;
};

struct MarketHistoryResult {
  uint64_t market = 0;
  uint64_t from_seq = 1;
  uint64_t to_seq = 0;                 // the last seq read
  std::optional<MarketRecord> before;  // the market as it was at from_seq - 1
  std::string source_before;           // its price source then
  std::vector<MarketChange> changes;   // seq from_seq..to_seq, oldest first
  std::optional<MarketRecord> after;   // the market at to_seq
};

// Reads frames up to to_seq (checked, journal_scan.h), from the nearest journal snapshot before
// from_seq or else from seq 1, and returns the changes from from_seq on.
// Errors: a damaged journal (naming the seq), or a market no frame up to to_seq defines.
std::expected<MarketHistoryResult, std::string> market_history(const Journal& journal,
                                                               uint64_t market, uint64_t from_seq,
                                                               uint64_t to_seq,
                                                               const ReadProgress& progress = {});

// One JSON object per change (DESIGN section 10), without a newline: "seq", "epoch", "ts"
// (ISO 8601), "source" (null when unknown), "type", then as they apply "status": [OLD, NEW]
// (OLD null for a new market) with "reason", "selections": [{"selection": ID, "price_e4": [OLD,
// NEW]}] (null for a selection that did not exist / was removed), "source_switch": [OLD, NEW],
// "epoch_change": [OLD, NEW], "desk": true.
void append_change_json(std::string& out, const MarketChange& change);

// One line for people: time, seq, epoch, source, and what changed in words.
void append_change_text(std::string& out, const MarketChange& change, const MarketRecord* market);

}  // namespace oddsbus::engine
