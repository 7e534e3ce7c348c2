// Market state as frames define it: the one fold of frames that every component (engine, replay,
// edge) uses, so that they all hold, digest and serve the same state.
//
// Invariants: markets are ordered by id and selections by id; applying a frame twice is harmless
// (frames set absolute values); seq() is the seq of the last sequenced frame applied.
// Not thread-safe: owned by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "schemas/frame_generated.h"

namespace oddsbus {

struct SelectionState {
  uint64_t id = 0;
  std::string name;
  uint32_t price_e4 = 0;  // 0: no price yet
  std::string odds;       // the odds text as received; empty when no price yet
  // Set by a settlement that has them (0: none), cleared by the next settlement or a rollback;
  // units of 1e-4 as in frame.fbs SettlementFactor.
  uint32_t void_factor_e4 = 0;
  uint32_t dead_heat_factor_e4 = 0;
};

struct MarketRecord {
  uint64_t id = 0;
  uint64_t event = 0;
  std::string name;
  fb::MarketStatus status = fb::MarketStatus::Open;
  fb::StatusReason reason = fb::StatusReason::None;
  std::vector<SelectionState> selections;  // ascending by id
  std::vector<uint64_t> winners;           // set by a settlement
  bool voided = false;                     // set by a settlement that voids the whole market
  uint64_t market_seq = 0;                 // frames that touched this market (counted here; a
                                           // single-market frame carries the same number)
  uint64_t last_seq = 0;                   // seq of the last frame that touched it
  uint64_t updated_ns = 0;                 // sequencer time of that frame

  SelectionState* find_selection(uint64_t selection);
  const SelectionState* find_selection(uint64_t selection) const;
};

class MarketState {
 public:
  // Folds one verified frame into the state. Heartbeats change nothing; references to markets or
  // selections the state does not hold are ignored (a sequencer never emits them).
  void apply(const fb::Frame& frame);

  const MarketRecord* find(uint64_t market) const;
  const std::map<uint64_t, MarketRecord>& markets() const { return markets_; }
  uint64_t seq() const { return seq_; }
  uint32_t epoch() const { return epoch_; }
  void clear();
  // Replaces the whole state with an image of it at `seq` (a decoded snapshot). `markets` must
  // keep the invariants above (keys equal to ids, selections ascending); the caller checks.
  void load(uint64_t seq, uint32_t epoch, std::map<uint64_t, MarketRecord> markets);

 private:
  MarketRecord* touch(uint64_t market, const fb::Frame& frame);

  std::map<uint64_t, MarketRecord> markets_;
  uint64_t seq_ = 0;
  uint32_t epoch_ = 0;
};

std::string_view to_string(fb::MarketStatus status);
std::string_view to_string(fb::StatusReason reason);

}  // namespace oddsbus
