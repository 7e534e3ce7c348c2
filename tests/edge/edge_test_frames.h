// Test helpers for the edge's sans-I/O core: EdgeFeed builds frames one after another (seq 1, 2,
// ...) and applies each to a MarketCache and to a reference MarketState; FoldedClient folds the
// stream's JSON messages the way a client would (DESIGN section 10) and checks their order, so a
// test can compare what a client holds with what the edge holds.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edge/client_stream.h"
#include "edge/market_cache.h"
#include "schemas/frame_builder.h"
#include "schemas/market_state.h"
#include "schemas/odds.h"
#include "schemas/snapshot_image.h"

namespace oddsbus::edge::testing_support {

using Change = std::shared_ptr<const FrameChange>;

struct Sel {
  uint64_t id;
  std::string name;
};

inline constexpr uint32_t kChannel = 7;

class EdgeFeed {
 public:
  explicit EdgeFeed(const MarketCacheConfig& config = {}) : cache_(config) {}

  MarketCache& cache() { return cache_; }
  const MarketState& reference() const { return reference_; }
  uint64_t seq() const { return seq_; }

  // Positions the cache with the reference state as a snapshot at the current seq.
  void install_snapshot() { cache_.install(SnapshotImage{kChannel, epoch_, 1, seq_, reference_}); }
  // While false, frames reach only the reference state (the edge missed them: it must resync).
  void set_deliver(bool deliver) { deliver_ = deliver; }

  Change define(uint64_t market, uint64_t event, std::string_view name,
                const std::vector<Sel>& selections,
                fb::MarketStatus status = fb::MarketStatus::Open) {
    return apply(builder_.market_definition(next(), market, event, name, status, selections));
  }
  Change price(uint64_t market, uint64_t selection, std::string_view odds_text) {
    return apply(builder_.price(next(), market, selection, parse_odds(odds_text).value(), odds_text,
                                "test"));
  }
  // One frame pricing several selections of `market`.
  Change prices(uint64_t market,
                const std::vector<std::pair<uint64_t, std::string_view>>& selection_odds) {
    flatbuffers::FlatBufferBuilder fbb;
    std::vector<flatbuffers::Offset<fb::SelectionPrice>> offsets;
    for (const auto& [selection, text] : selection_odds) {
      const Odds odds = parse_odds(text).value();
      auto original = fbb.CreateString(text.data(), text.size());
      offsets.push_back(fb::CreateSelectionPrice(fbb, selection, odds.price_e4, odds.format,
                                                 odds.numerator, odds.denominator, original));
    }
    auto vector = fbb.CreateVector(offsets);
    auto source = fbb.CreateString("test");
    auto payload = fb::CreatePriceUpdate(fbb, market, vector, source);
    const FrameHeader h = next();
    auto frame =
        fb::CreateFrame(fbb, h.seq, h.epoch, h.channel, h.publisher, h.sequenced_ns, h.source_ns,
                        h.market_seq, fb::Payload::PriceUpdate, payload.Union());
    fb::FinishFrameBuffer(fbb, frame);
    return apply({fbb.GetBufferPointer(), fbb.GetSize()});
  }
  Change status(uint64_t market, fb::MarketStatus status,
                fb::StatusReason reason = fb::StatusReason::Trader) {
    return apply(builder_.status(next(), market, status, reason));
  }
  Change suspend_event(uint64_t event) {
    return apply(builder_.event_suspension(next(), event, fb::StatusReason::Provider));
  }
  Change settle(uint64_t market, const std::vector<uint64_t>& winners) {
    return apply(builder_.settlement(next(), market, winners));
  }
  Change rollback(uint64_t market) { return apply(builder_.settlement_rollback(next(), market)); }
  Change evict(uint64_t market) { return apply(builder_.market_eviction(next(), market)); }
  Change change_epoch() {
    const uint32_t previous = epoch_++;
    return apply(builder_.epoch_change(next(), previous));
  }

 private:
  FrameHeader next() const {
    FrameHeader h;
    h.seq = seq_ + 1;
    h.epoch = epoch_;
    h.channel = kChannel;
    h.publisher = 1;
    h.sequenced_ns = 1'000'000'000ull * (seq_ + 1);
    return h;
  }
  Change apply(std::span<const uint8_t> bytes) {
    // u64 storage keeps the copy aligned for FlatBuffers.
    std::vector<uint64_t> copy((bytes.size() + 7) / 8);
    std::memcpy(copy.data(), bytes.data(), bytes.size());
    const fb::Frame& frame = *fb::GetFrame(copy.data());
    ++seq_;
    reference_.apply(frame);
    return deliver_ ? cache_.apply(frame) : nullptr;
  }

  MarketCache cache_;
  MarketState reference_;
  FrameBuilder builder_;
  uint64_t seq_ = 0;
  uint32_t epoch_ = 1;
  bool deliver_ = true;
};

// Writes everything the stream has queued, one write at a time, as a fast client reads.
inline std::vector<std::string> drain(ClientStream& stream, const StreamContext& ctx,
                                      size_t max_messages = SIZE_MAX) {
  std::vector<std::string> written;
  while (written.size() < max_messages) {
    std::shared_ptr<const std::string> message = stream.start_write(ctx.now_ns);
    if (!message) break;
    written.push_back(*message);
    stream.on_written(ctx);
  }
  return written;
}

struct FoldedSelection {
  std::string name;
  uint64_t price_e4 = 0;
  std::string odds;
};

struct FoldedMarket {
  uint64_t event = 0;
  std::string name;
  std::string status;
  uint64_t market_seq = 0;
  std::map<uint64_t, FoldedSelection> selections;
};

// A client's view of the stream: folds images and deltas, counts the other messages, and records
// (as a test failure) any message that does not parse or any delta seq that does not increase.
class FoldedClient {
 public:
  void fold_all(const std::vector<std::string>& messages) {
    for (const std::string& m : messages) fold(m);
  }

  void fold(std::string_view message) {
    simdjson::dom::element root;
    if (parser_.parse(message.data(), message.size()).get(root) != simdjson::SUCCESS) {
      ADD_FAILURE() << "unparseable message: " << message;
      return;
    }
    std::string_view type;
    if (root["type"].get(type) != simdjson::SUCCESS) {
      ADD_FAILURE() << "message without a type: " << message;
      return;
    }
    types.emplace_back(type);
    uint64_t epoch = 0;
    if (root["epoch"].get(epoch) == simdjson::SUCCESS) last_epoch = static_cast<uint32_t>(epoch);
    if (type == "image") {
      // A large image comes in parts 1..k ("part", "parts"), applied when the last arrives; a
      // part 1 starts over (the rest of an earlier image was dropped for a newer one).
      uint64_t parts = 0;
      if (root["parts"].get(parts) == simdjson::SUCCESS) {
        const uint64_t part = root["part"].get_uint64().value();
        ++image_parts;
        if (part == 1) pending_parts_.clear();
        EXPECT_GT(parts, 1u) << "an image in one part says so: " << message;
        EXPECT_EQ(part, pending_parts_.size() + 1) << "image part out of order: " << message;
        pending_parts_.emplace_back(message);
        if (part < parts) return;
      } else {
        pending_parts_.assign(1, std::string(message));
      }
      ++images;
      // An image replaces everything: after a takeover that lost frames it may go back in seq.
      const uint64_t seq = root["seq"].get_uint64().value();
      EXPECT_EQ(root["epoch"].error(), simdjson::SUCCESS) << "image without an epoch: " << message;
      last_seq = seq;
      last_reason = std::string(root["reason"].get_string().value());
      last_stale = root["stale"].get_bool().value();
      markets.clear();
      const std::vector<std::string> texts = std::move(pending_parts_);
      pending_parts_.clear();
      simdjson::dom::parser part_parser;
      for (const std::string& text : texts) {
        simdjson::dom::element one;
        if (part_parser.parse(text).get(one) != simdjson::SUCCESS) continue;
        EXPECT_EQ(one["seq"].get_uint64().value(), seq) << "parts of one image at two seqs";
        const simdjson::dom::array list = one["markets"].get_array().value();
        for (simdjson::dom::element entry : list) {
          // An image answering a subscribe may have been sent before an unsubscribe took effect.
          if (follows &&
              !follows(entry["market"].get_uint64().value(), entry["event"].get_uint64().value())) {
            continue;
          }
          replace_market(entry);
        }
      }
    } else if (type == "delta") {
      EXPECT_TRUE(pending_parts_.empty()) << "a delta after an incomplete image: " << message;
      ++deltas;
      const uint64_t seq = root["seq"].get_uint64().value();
      EXPECT_GT(seq, last_seq) << "delta seq did not increase: " << message;
      EXPECT_EQ(root["epoch"].error(), simdjson::SUCCESS) << "delta without an epoch: " << message;
      last_seq = seq;
      delta_seqs.push_back(seq);
      const bool is_conflated = root["conflated"].get_bool().value();
      if (is_conflated) ++conflated;
      const simdjson::dom::array list = root["markets"].get_array().value();
      for (simdjson::dom::element entry : list) {
        fold_entry(entry);
      }
    } else if (type == "heartbeat") {
      ++heartbeats;
      last_heartbeat_seq = root["seq"].get_uint64().value();
      EXPECT_EQ(root["epoch"].error(), simdjson::SUCCESS) << "heartbeat without an epoch";
    } else if (type == "resumed") {
      pending_parts_.clear();  // a resume drops what was left of an image
      ++resumes;
      const uint64_t seq = root["seq"].get_uint64().value();
      EXPECT_GE(seq, last_seq) << "resumed behind what was folded: " << message;
      last_seq = seq;
      last_stale = root["stale"].get_bool().value();
    } else if (type == "pong") {
      ++pongs;
    } else if (type == "error") {
      ++errors;
      last_error = std::string(root["error"].get_string().value());
    } else if (type == "stale") {
      ++stales;
      last_stale = root["stale"].get_bool().value();
    } else {
      ADD_FAILURE() << "unknown message type: " << message;
    }
  }

  std::map<uint64_t, FoldedMarket> markets;
  std::vector<std::string> types;
  std::vector<uint64_t> delta_seqs;
  uint64_t last_seq = 0;
  uint32_t last_epoch = 0;  // of the last image, delta, heartbeat or resumed
  uint64_t last_heartbeat_seq = 0;
  std::string last_reason;
  std::string last_error;
  bool last_stale = false;  // what the edge last said: image, resumed or stale message
  size_t images = 0, deltas = 0, conflated = 0, heartbeats = 0, pongs = 0, errors = 0, stales = 0,
         resumes = 0, removed = 0;
  size_t image_parts = 0;  // messages that were parts of an image sent in parts
  // When set, entries for markets the client does not follow (market id, event) are ignored, as a
  // client does with what was in flight when it unsubscribed; otherwise they are failures.
  std::function<bool(uint64_t, uint64_t)> follows;

 private:
  void replace_market(simdjson::dom::element entry) {
    FoldedMarket market;
    market.event = entry["event"].get_uint64().value();
    market.name = std::string(entry["name"].get_string().value());
    market.status = std::string(entry["status"].get_string().value());
    market.market_seq = entry["market_seq"].get_uint64().value();
    const simdjson::dom::array selections = entry["selections"].get_array().value();
    for (simdjson::dom::element s : selections) {
      FoldedSelection& selection = market.selections[s["selection"].get_uint64().value()];
      selection.name = std::string(s["name"].get_string().value());
      selection.price_e4 = s["price_e4"].get_uint64().value();
      selection.odds = std::string(s["odds"].get_string().value());
    }
    markets[entry["market"].get_uint64().value()] = std::move(market);
  }

  // A full market (it has a name) replaces; otherwise status and the listed prices are updated.
  void fold_entry(simdjson::dom::element entry) {
    const uint64_t id = entry["market"].get_uint64().value();
    if (entry["removed"].error() == simdjson::SUCCESS) {
      ++removed;
      markets.erase(id);
      return;
    }
    if (entry["name"].error() == simdjson::SUCCESS) {
      if (follows && !follows(id, entry["event"].get_uint64().value())) {
        markets.erase(id);  // it is in an event the client no longer follows
        return;
      }
      replace_market(entry);
      return;
    }
    auto it = markets.find(id);
    if (it == markets.end() && follows) return;
    if (it == markets.end()) {
      ADD_FAILURE() << "a partial delta for market " << id << " the client does not hold";
      return;
    }
    FoldedMarket& market = it->second;
    market.status = std::string(entry["status"].get_string().value());
    market.market_seq = entry["market_seq"].get_uint64().value();
    const simdjson::dom::array selections = entry["selections"].get_array().value();
    for (simdjson::dom::element s : selections) {
      const uint64_t selection_id = s["selection"].get_uint64().value();
      auto selection = market.selections.find(selection_id);
      if (selection == market.selections.end()) {
        ADD_FAILURE() << "a price for selection " << selection_id << " the client does not hold";
        continue;
      }
      selection->second.price_e4 = s["price_e4"].get_uint64().value();
      selection->second.odds = std::string(s["odds"].get_string().value());
    }
  }

  simdjson::dom::parser parser_;
  std::vector<std::string> pending_parts_;  // parts of an image not yet complete
};

// Whether `client` holds exactly `state`'s markets that `wanted` selects, with the same values.
template <typename Wanted>
::testing::AssertionResult holds_state_of(const FoldedClient& client, const MarketState& state,
                                          Wanted wanted) {
  size_t expected = 0;
  for (const auto& [id, m] : state.markets()) {
    if (!wanted(m)) continue;
    ++expected;
    auto it = client.markets.find(id);
    if (it == client.markets.end()) {
      return ::testing::AssertionFailure() << "client lacks market " << id;
    }
    const FoldedMarket& f = it->second;
    if (f.event != m.event || f.name != m.name || f.status != to_string(m.status) ||
        f.market_seq != m.market_seq || f.selections.size() != m.selections.size()) {
      return ::testing::AssertionFailure()
             << "market " << id << " differs: client has status " << f.status << " market_seq "
             << f.market_seq << " " << f.selections.size() << " selections; edge has "
             << to_string(m.status) << " " << m.market_seq << " " << m.selections.size();
    }
    for (const SelectionState& s : m.selections) {
      auto sel = f.selections.find(s.id);
      if (sel == f.selections.end() || sel->second.name != s.name ||
          sel->second.price_e4 != s.price_e4 || sel->second.odds != s.odds) {
        return ::testing::AssertionFailure()
               << "market " << id << " selection " << s.id << " differs: edge has " << s.price_e4
               << " \"" << s.odds << "\"";
      }
    }
  }
  if (client.markets.size() != expected) {
    return ::testing::AssertionFailure()
           << "client holds " << client.markets.size() << " markets, the edge " << expected;
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult holds_state_of(const FoldedClient& client,
                                                 const MarketState& state) {
  return holds_state_of(client, state, [](const MarketRecord&) { return true; });
}

}  // namespace oddsbus::edge::testing_support
