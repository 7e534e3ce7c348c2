#include "feeds/link/message_dedup.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace oddsbus::feeds::link {
namespace {

using namespace std::chrono_literals;

TEST(MessageDedup, CountsLaterCopiesAsDuplicates) {
  MessageDedup dedup;
  EXPECT_TRUE(dedup.first_copy(7));
  EXPECT_FALSE(dedup.first_copy(7));
  EXPECT_FALSE(dedup.first_copy(7));
  EXPECT_TRUE(dedup.first_copy(8));
  EXPECT_EQ(dedup.counters().unique, 2u);
  EXPECT_EQ(dedup.counters().duplicates, 2u);
}

TEST(MessageDedup, ForgetsTheOldestKeyOnceTheWindowIsFull) {
  MessageDedup dedup(MessageDedupConfig{.window = 4});
  for (uint64_t key = 1; key <= 5; ++key) EXPECT_TRUE(dedup.first_copy(key));
  EXPECT_EQ(dedup.size(), 4u);
  // Keys 2..5 are remembered; 1 was pushed out by 5.
  for (uint64_t key = 2; key <= 5; ++key) EXPECT_FALSE(dedup.first_copy(key)) << key;
  EXPECT_TRUE(dedup.first_copy(1));  // forgotten, so it counts as new (and evicts 2)
  EXPECT_TRUE(dedup.first_copy(2));
  EXPECT_EQ(dedup.size(), 4u);
}

TEST(MessageDedup, HonoursTheDefaultWindowBound) {
  MessageDedup dedup;
  const uint64_t window = dedup.window();
  ASSERT_EQ(window, 65536u);
  for (uint64_t key = 0; key <= window; ++key) ASSERT_TRUE(dedup.first_copy(key * 1000003));
  EXPECT_EQ(dedup.size(), window);
  EXPECT_TRUE(dedup.first_copy(0));                  // the oldest, key 0, was forgotten
  EXPECT_FALSE(dedup.first_copy(window * 1000003));  // the newest is still remembered
}

TEST(MessageDedup, StaysConsistentUnderHeavyEvictionAndCollidingKeys) {
  // Consecutive keys and multiples of the table size stress probing and backward-shift deletion.
  MessageDedup dedup(MessageDedupConfig{.window = 64});
  for (uint64_t round = 0; round < 50; ++round) {
    for (uint64_t i = 0; i < 64; ++i) {
      const uint64_t key = (round * 64 + i) * 128;
      ASSERT_TRUE(dedup.first_copy(key));
      ASSERT_FALSE(dedup.first_copy(key));
      if (i > 0) {
        ASSERT_FALSE(dedup.first_copy(key - 128));
      }
    }
    EXPECT_EQ(dedup.size(), 64u);
  }
  EXPECT_EQ(dedup.counters().unique, 50u * 64u);
}

TEST(MessageDedup, ForgetsKeysOlderThanMaxAge) {
  MessageDedup dedup(MessageDedupConfig{.window = 16, .max_age = 1s});
  const MessageDedup::Clock::time_point t0{};
  EXPECT_TRUE(dedup.first_copy(1, t0));
  EXPECT_FALSE(dedup.first_copy(1, t0 + 500ms));
  EXPECT_TRUE(dedup.first_copy(2, t0 + 900ms));
  EXPECT_TRUE(dedup.first_copy(1, t0 + 1001ms));   // aged out
  EXPECT_FALSE(dedup.first_copy(2, t0 + 1500ms));  // not yet
  EXPECT_EQ(dedup.size(), 2u);
}

TEST(MessageKey, OddsjsonUsesPseqAndProviderWhenPresent) {
  const std::string a =
      R"({"type":"price","market":1,"selection":2,"odds":"2.5","provider":"bf","pseq":77})";
  // The same message re-serialised with other spacing and field order.
  const std::string b =
      R"({"pseq" : 77, "provider" : "bf", "type":"price","market":1,"selection":2,"odds":"2.50"})";
  EXPECT_EQ(message_key("oddsjson", a), message_key("oddsjson", b));
  const std::string other_seq = R"({"type":"price","provider":"bf","pseq":78})";
  const std::string other_provider = R"({"type":"price","provider":"pinn","pseq":77})";
  const std::string no_provider = R"({"type":"price","pseq":77})";
  EXPECT_NE(message_key("oddsjson", a), message_key("oddsjson", other_seq));
  EXPECT_NE(message_key("oddsjson", a), message_key("oddsjson", other_provider));
  EXPECT_NE(message_key("oddsjson", a), message_key("oddsjson", no_provider));
  EXPECT_EQ(message_key("oddsjson", no_provider),
            message_key("oddsjson", R"({"pseq":77,"type":"heartbeat"})"));
}

TEST(MessageKey, OddsjsonKeepsARestartedPseqApartByTs) {
  EXPECT_NE(message_key("oddsjson", R"({"type":"heartbeat","pseq":1,"ts":1000})"),
            message_key("oddsjson", R"({"type":"heartbeat","pseq":1,"ts":2000})"));
  EXPECT_EQ(message_key("oddsjson", R"({"type":"heartbeat","pseq":1,"ts":1000})"),
            message_key("oddsjson", R"({"ts":1000,"type":"heartbeat","pseq":1})"));
}

TEST(MessageKey, OddsjsonWithoutPseqHashesTheBytes) {
  const std::string a = R"({"type":"price","market":1,"selection":2,"odds":"2.5","ts":5})";
  const std::string b = R"({"type":"price","market":1,"selection":2,"odds":"2.5","ts":6})";
  EXPECT_EQ(message_key("oddsjson", a), message_key("oddsjson", a));
  EXPECT_NE(message_key("oddsjson", a), message_key("oddsjson", b));
  // The bytes, not the meaning: a re-serialised copy without pseq is a different message.
  EXPECT_NE(
      message_key("oddsjson", a),
      message_key("oddsjson", R"({"type":"price", "market":1,"selection":2,"odds":"2.5","ts":5})"));
}

TEST(MessageKey, OddsjsonIgnoresPseqThatIsNotAKeyOrNotAnInteger) {
  // "pseq" as a string value, a fractional pseq and a string pseq all fall back to the bytes.
  const std::string as_value = R"({"type":"status","reason":"pseq","market":1})";
  const std::string fractional_1 = R"({"type":"price","pseq":1.5})";
  const std::string fractional_2 = R"({"type":"price","pseq":1.6})";
  const std::string quoted_1 = R"({"type":"price","pseq":"1","x":1})";
  const std::string quoted_2 = R"({"type":"price","pseq":"1","x":2})";
  EXPECT_NE(message_key("oddsjson", fractional_1), message_key("oddsjson", fractional_2));
  EXPECT_NE(message_key("oddsjson", quoted_1), message_key("oddsjson", quoted_2));
  EXPECT_EQ(message_key("oddsjson", as_value), message_key("betfair-stream", as_value));
}

TEST(MessageKey, BetfairAndUofHashTheWholeMessage) {
  const std::string hb1 = R"({"op":"mcm","id":2,"clk":"AAAA","pt":1471370160471,"ct":"HEARTBEAT"})";
  const std::string hb2 = R"({"op":"mcm","id":2,"clk":"AAAA","pt":1471370165471,"ct":"HEARTBEAT"})";
  EXPECT_EQ(message_key("betfair-stream", hb1), message_key("betfair-stream", std::string(hb1)));
  EXPECT_NE(message_key("betfair-stream", hb1), message_key("betfair-stream", hb2));
  // A "pseq" field means nothing outside oddsjson.
  EXPECT_NE(message_key("betfair-stream", R"({"pseq":1,"a":1})"),
            message_key("betfair-stream", R"({"pseq":1,"a":2})"));
  const std::string alive1 = R"(<alive product="3" timestamp="1700000000000" subscribed="1"/>)";
  const std::string alive2 = R"(<alive product="3" timestamp="1700000010000" subscribed="1"/>)";
  EXPECT_EQ(message_key("uof-xml", alive1), message_key("uof-xml", std::string(alive1)));
  EXPECT_NE(message_key("uof-xml", alive1), message_key("uof-xml", alive2));
}

}  // namespace
}  // namespace oddsbus::feeds::link

namespace oddsbus::feeds::link {
namespace {

TEST(MessageKey, KeylessOddsJsonHeartbeatsAreNeverDeduplicated) {
  EXPECT_EQ(message_key("oddsjson", R"({"type":"heartbeat"})"), kNoDedupKey);
  EXPECT_NE(message_key("oddsjson", R"({"type":"heartbeat","ts":1735725602000})"), kNoDedupKey);
  EXPECT_NE(message_key("oddsjson", R"({"type":"heartbeat","pseq":7})"), kNoDedupKey);
  EXPECT_NE(message_key("oddsjson", R"({"type":"price","market":1,"selection":1,"odds":"2.5"})"),
            kNoDedupKey);
}

}  // namespace
}  // namespace oddsbus::feeds::link
