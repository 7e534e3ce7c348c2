// Test helpers for the engine suites: a temporary directory removed afterwards, a journal in it,
// and normalised events built the way the oddsjson adapter would build them.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/journal.h"
#include "feeds/event.h"
#include "schemas/odds.h"

namespace oddsbus::engine::testing_support {

// A fresh directory under ::testing::TempDir(), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "oddsbus-test-XXXXXX";
    const char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr) << "mkdtemp " << pattern;
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // A path inside the directory that does not exist yet.
  std::string sub(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

// Opens a journal with default settings at `dir` (created if absent). A failure fails the test
// and gives null.
inline std::unique_ptr<Journal> open_test_journal(const std::string& dir) {
  JournalConfig config;
  config.dir = dir;
  auto journal = Journal::open(config);
  if (!journal) {
    ADD_FAILURE() << "cannot open a journal at " << dir << ": " << journal.error();
    return nullptr;
  }
  return std::move(*journal);
}

inline feeds::Event market_event(uint64_t market, uint64_t event, std::string name,
                                 std::vector<feeds::SelectionDefinition> selections,
                                 fb::MarketStatus status = fb::MarketStatus::Open) {
  feeds::Event e;
  e.type = feeds::EventType::kMarket;
  e.market = market;
  e.event = event;
  e.name = std::move(name);
  e.selections = std::move(selections);
  e.status = status;
  return e;
}

inline feeds::Event price_event(uint64_t market, uint64_t selection, std::string_view odds_text,
                                uint64_t source_ns = 0) {
  feeds::Event e;
  e.type = feeds::EventType::kPrice;
  e.market = market;
  e.selection = selection;
  e.odds = parse_odds(odds_text).value();
  e.odds_text = std::string(odds_text);
  e.source_ns = source_ns;
  return e;
}

inline feeds::Event status_event(uint64_t market, fb::MarketStatus status,
                                 fb::StatusReason reason = fb::StatusReason::Trader) {
  feeds::Event e;
  e.type = feeds::EventType::kStatus;
  e.market = market;
  e.status = status;
  e.reason = reason;
  return e;
}

inline feeds::Event settle_event(uint64_t market, std::vector<uint64_t> winners) {
  feeds::Event e;
  e.type = feeds::EventType::kSettle;
  e.market = market;
  e.winners = std::move(winners);
  return e;
}

inline feeds::Event heartbeat_event() { return feeds::Event{}; }

inline std::vector<feeds::SelectionDefinition> home_draw_away() {
  return {{1, "Home"}, {2, "Draw"}, {3, "Away"}};
}

}  // namespace oddsbus::engine::testing_support
