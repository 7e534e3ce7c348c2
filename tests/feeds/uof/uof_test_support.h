// What the uof-xml adapter tests share: the test mapping, an event as one line of text, and a
// fixture that feeds one message to an adapter and gives its events as lines. A target that
// includes this defines ODDSBUS_TEST_DATA_DIR (tests/feeds/uof/CMakeLists.txt).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "feeds/uof/uof_adapter.h"
#include "schemas/market_state.h"

namespace oddsbus::feeds::uof::testing {

inline std::string data_path(const std::string& name) {
  return std::string(ODDSBUS_TEST_DATA_DIR) + "/uof/" + name;
}

inline Mapping load_mapping() {
  auto mapping = Mapping::load(data_path("mapping.toml"));
  if (!mapping) {
    ADD_FAILURE() << mapping.error();
    return Mapping{};
  }
  return std::move(*mapping);
}

// "status <market> <status>": a test file adds what it checks of the reason.
inline std::string status_line(const Event& e) {
  return "status " + std::to_string(e.market) + " " + std::string(oddsbus::to_string(e.status));
}

// One line for an event that is not a price or a status (each test file spells those two, as they
// check different details of them), so that a whole message's events compare and print as one.
inline std::string describe_other(const Event& e) {
  const std::string market = std::to_string(e.market);
  switch (e.type) {
    case EventType::kSettle: {
      std::string s = "settle " + market + " [";
      for (size_t i = 0; i < e.winners.size(); ++i) {
        s += (i ? "," : "") + std::to_string(e.winners[i]);
      }
      return s + "]";
    }
    case EventType::kSettlementRollback:
      return "rollback " + market;
    case EventType::kHeartbeat:
      return "heartbeat";
    case EventType::kSourceStatus:
      return e.source_up ? "source up" : "source down";
    case EventType::kMarket:
      return "market " + market;
    case EventType::kPrice:
    case EventType::kStatus:
      break;
  }
  return "?";
}

using Lines = std::vector<std::string>;

// An adapter for source "sr" on the test mapping; feed() gives one message's events, each as
// `Describe` spells it.
template <std::string (*Describe)(const Event&)>
class UofFeedTest : public ::testing::Test {
 protected:
  // The events of one message the adapter must accept.
  Lines feed(std::string_view message) {
    out_.clear();
    const auto result = adapter_.parse(message, out_);
    EXPECT_TRUE(result) << (result ? "" : result.error().detail) << "\n  in: " << message;
    Lines lines;
    for (const Event& e : out_) lines.push_back(Describe(e));
    return lines;
  }

  Mapping mapping_ = load_mapping();
  UofAdapter adapter_{mapping_, "sr"};
  std::vector<Event> out_;
};

}  // namespace oddsbus::feeds::uof::testing
