#include "feeds/link/message_dedup.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace oddsbus::feeds::link {
namespace {

using namespace std::chrono_literals;

MessageKey bytes(uint64_t value) { return {value, KeyKind::kBytes}; }
MessageKey sequence(uint64_t value) { return {value, KeyKind::kSequence}; }

// Admits `keys` on `line` in order; returns which were admitted.
std::vector<bool> admit_all(MessageDedup& dedup, size_t line, const std::vector<uint64_t>& keys) {
  std::vector<bool> out;
  for (uint64_t key : keys) out.push_back(dedup.admit(line, bytes(key)));
  return out;
}

TEST(MessageDedup, OneLineNeverHasADuplicate) {
  MessageDedup dedup(1);
  // A, B, A: suspend, open, suspend. Each is the provider's own message.
  EXPECT_EQ(admit_all(dedup, 0, {1, 2, 1, 1, 3, 1}), std::vector<bool>(6, true));
  EXPECT_EQ(dedup.counters().duplicates, 0u);
  EXPECT_EQ(dedup.counters().unique, 6u);
}

// The planted bug of the cluster simulator (tests/sim/): matching byte keys by content alone
// loses a legitimate repeat. The switch must really plant it, or the simulator's check that it
// catches the bug proves nothing.
TEST(MessageDedup, PlantedByContentLosesTheSecondAOfABA) {
  MessageDedupConfig config;
  config.planted_by_content = true;
  MessageDedup planted(1, config);
  EXPECT_EQ(admit_all(planted, 0, {1, 2, 1}), (std::vector<bool>{true, true, false}));
  MessageDedup correct(1);
  EXPECT_EQ(admit_all(correct, 0, {1, 2, 1}), (std::vector<bool>{true, true, true}));
}

TEST(MessageDedup, TwoSkewedLinesDeliverEachOccurrenceOnce) {
  MessageDedup dedup(2);
  // Provider: A B A C A. Line 1 is ahead by two, then line 0 overtakes it.
  EXPECT_EQ(admit_all(dedup, 1, {1, 2}), (std::vector<bool>{true, true}));
  EXPECT_EQ(admit_all(dedup, 0, {1, 2, 1, 3}), (std::vector<bool>{false, false, true, true}));
  EXPECT_EQ(admit_all(dedup, 1, {1, 3, 1}), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(admit_all(dedup, 0, {1}), (std::vector<bool>{false}));
  EXPECT_EQ(dedup.counters().unique, 5u);
  EXPECT_EQ(dedup.counters().duplicates, 5u);
}

TEST(MessageDedup, SequenceKeysRepeatedAreCopiesEvenOnOneLine) {
  MessageDedup dedup(1);
  EXPECT_TRUE(dedup.admit(0, sequence(7)));
  EXPECT_FALSE(dedup.admit(0, sequence(7)));
  EXPECT_TRUE(dedup.admit(0, sequence(8)));
  // A byte key with the same value is another key.
  EXPECT_TRUE(dedup.admit(0, bytes(7)));
  EXPECT_EQ(dedup.counters().duplicates, 1u);
}

TEST(MessageDedup, KeylessMessagesAreAlwaysDelivered) {
  MessageDedup dedup(2);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(dedup.admit(0, MessageKey{}));
    EXPECT_TRUE(dedup.admit(1, MessageKey{}));
  }
  EXPECT_EQ(dedup.size(), 0u);
  EXPECT_EQ(dedup.counters().duplicates, 0u);
}

TEST(MessageDedup, ALineThatLostCopiesIsTrustedAgainOnceItIsPastTheSkew) {
  MessageDedup dedup(2, MessageDedupConfig{.window = 64, .max_skew = 3});
  ASSERT_EQ(dedup.max_skew(), 3u);
  // Provider: A B A; line 1 lost both As. Line 0 then goes quiet (gone).
  EXPECT_EQ(admit_all(dedup, 0, {1, 2, 1}), std::vector<bool>(3, true));
  EXPECT_EQ(admit_all(dedup, 1, {2}), std::vector<bool>{false});
  // Within the skew an A on line 1 may still be a late copy of the first A.
  EXPECT_EQ(admit_all(dedup, 1, {1}), std::vector<bool>{false});
  // After more than 3 of its messages since the last A was delivered, line 1 has passed it: the
  // A it still owes was lost, and its next A is new.
  EXPECT_EQ(admit_all(dedup, 1, {3, 4, 1, 1}), std::vector<bool>(4, true));
  EXPECT_EQ(dedup.counters().lost_copies, 1u);
}

TEST(MessageDedup, ALineThatReconnectsContinuesItsCounts) {
  // MessageDedup knows nothing of connections: a line's arrivals after a reconnect are matched with
  // the other lines' as before. Line 0 misses B and A while down; its provider resends them.
  MessageDedup dedup(2);
  EXPECT_EQ(admit_all(dedup, 0, {1}), std::vector<bool>{true});
  EXPECT_EQ(admit_all(dedup, 1, {1, 2, 1}), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(admit_all(dedup, 0, {2, 1, 3}), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(admit_all(dedup, 1, {3}), std::vector<bool>{false});
}

TEST(MessageDedup, ForgetsTheKeyTouchedLeastRecentlyOnceTheWindowIsFull) {
  MessageDedup dedup(2, MessageDedupConfig{.window = 4});
  for (uint64_t key = 1; key <= 4; ++key) EXPECT_TRUE(dedup.admit(0, sequence(key)));
  EXPECT_FALSE(dedup.admit(1, sequence(1)));  // 1 is now the most recent
  EXPECT_TRUE(dedup.admit(0, sequence(5)));   // forgets 2, the least recent
  EXPECT_EQ(dedup.size(), 4u);
  EXPECT_EQ(dedup.counters().evictions, 1u);
  for (uint64_t key : {3, 4, 5, 1}) EXPECT_FALSE(dedup.admit(1, sequence(key))) << key;
  // 2 was forgotten, so line 1's copy of it is taken for a new message: the cost of a skew
  // beyond the window.
  EXPECT_TRUE(dedup.admit(1, sequence(2)));
  EXPECT_EQ(dedup.size(), 4u);
}

TEST(MessageDedup, AKeyForgottenWithAllItsCopiesInChangesNothing) {
  MessageDedup dedup(2, MessageDedupConfig{.window = 3});  // line 1 trails by one: skew 1
  for (uint64_t key : {1, 2, 3, 4}) {
    EXPECT_TRUE(dedup.admit(0, bytes(key))) << key;
    EXPECT_FALSE(dedup.admit(1, bytes(key))) << key;
  }
  EXPECT_EQ(dedup.counters().evictions, 1u);  // key 1, with both copies in
  EXPECT_TRUE(dedup.admit(0, bytes(1)));      // the next A: the counts restart together
  EXPECT_FALSE(dedup.admit(1, bytes(1)));
  EXPECT_EQ(dedup.counters().evictions, 2u);
  EXPECT_EQ(dedup.counters().lost_copies, 0u);
}

TEST(MessageDedup, HonoursTheDefaultWindowBound) {
  MessageDedup dedup(2);
  const uint64_t window = dedup.window();
  ASSERT_EQ(window, 65536u);
  EXPECT_EQ(dedup.max_skew(), 32767u);
  for (uint64_t key = 0; key <= window; ++key) ASSERT_TRUE(dedup.admit(0, bytes(key * 1000003)));
  EXPECT_EQ(dedup.size(), window);
  EXPECT_TRUE(dedup.admit(1, bytes(0)));                  // the oldest, key 0, was forgotten
  EXPECT_FALSE(dedup.admit(1, bytes(window * 1000003)));  // the newest is still remembered
}

TEST(MessageDedup, StaysConsistentUnderHeavyEvictionAndCollidingKeys) {
  // Consecutive keys and multiples of the table size stress probing and backward-shift deletion.
  MessageDedup dedup(2, MessageDedupConfig{.window = 64});
  for (uint64_t round = 0; round < 50; ++round) {
    for (uint64_t i = 0; i < 64; ++i) {
      const uint64_t key = (round * 64 + i) * 128;
      ASSERT_TRUE(dedup.admit(0, sequence(key)));
      ASSERT_FALSE(dedup.admit(1, sequence(key)));
      ASSERT_TRUE(dedup.admit(0, bytes(key)));
      ASSERT_FALSE(dedup.admit(1, bytes(key)));
      if (i > 0) {
        ASSERT_FALSE(dedup.admit(1, sequence(key - 128)));
      }
    }
    EXPECT_EQ(dedup.size(), 64u);
  }
  EXPECT_EQ(dedup.counters().unique, 2u * 50u * 64u);
}

TEST(MessageDedup, ForgetsKeysOlderThanMaxAge) {
  MessageDedup dedup(2, MessageDedupConfig{.window = 16, .max_age = 1s});
  const MessageDedup::Clock::time_point t0{};
  EXPECT_TRUE(dedup.admit(0, bytes(1), t0));
  EXPECT_FALSE(dedup.admit(1, bytes(1), t0 + 500ms));
  EXPECT_TRUE(dedup.admit(0, bytes(2), t0 + 900ms));
  EXPECT_TRUE(dedup.admit(1, bytes(1), t0 + 1501ms));   // untouched for over 1s: forgotten
  EXPECT_FALSE(dedup.admit(1, bytes(2), t0 + 1500ms));  // not yet
  EXPECT_EQ(dedup.size(), 2u);
  EXPECT_EQ(dedup.counters().expirations, 1u);
}

// The promise of message_dedup.h, on random streams. A provider sends a stream with many repeats
// (a few hot messages, some unique ones, some pseq-stamped ones); it is copied onto 2 or 3 lines;
// line 0 carries every message, the others lose some at random; the lines advance in a random
// interleaving whose skew never exceeds S, with window = 2 * S + 1 (the tightest the header
// allows). Promised and checked:
//  - no losses: the delivered sequence is exactly the provider's;
//  - losses, lossy lines trailing line 0: exactly the provider's sequence;
//  - losses, any interleaving within the skew: each key delivered exactly as often as sent.
struct Scenario {
  bool losses = false;
  bool lossy_lines_trail = false;
};

struct Outcome {
  std::vector<uint64_t> provider;
  std::vector<uint64_t> delivered;
};

Outcome run_scenario(uint64_t seed, const Scenario& scenario) {
  std::mt19937_64 rng(seed);
  const size_t lines = 2 + rng() % 2;
  const size_t skew = 1 + rng() % 40;
  const size_t length = 1500;
  const size_t hot = 1 + rng() % 6;  // messages the provider repeats all the time
  Outcome out;
  uint64_t pseq = 0;
  std::vector<MessageKey> keys;
  for (size_t i = 0; i < length; ++i) {
    const uint64_t roll = rng() % 10;
    MessageKey key;
    if (roll < 6) {
      key = bytes(1 + rng() % hot);
    } else if (roll < 8) {
      key = bytes(1000 + rng() % (4 * skew + 4));  // repeats now and then, often evicted
    } else {
      key = sequence(++pseq);
    }
    keys.push_back(key);
    out.provider.push_back(key.kind == KeyKind::kSequence ? (1ULL << 63) | key.value : key.value);
  }
  std::vector<std::vector<bool>> lost(lines, std::vector<bool>(length, false));
  if (scenario.losses) {
    const uint64_t loss_percent = 5 + rng() % 30;
    for (size_t l = 1; l < lines; ++l) {
      for (size_t i = 0; i < length; ++i) lost[l][i] = rng() % 100 < loss_percent;
    }
  }
  MessageDedup dedup(lines, MessageDedupConfig{.window = 2 * skew + 1});
  EXPECT_EQ(dedup.max_skew(), skew);
  std::vector<size_t> position(lines, 0);  // messages passed by each line, lost ones included
  while (true) {
    const size_t least = *std::min_element(position.begin(), position.end());
    std::vector<size_t> may_advance;
    for (size_t l = 0; l < lines; ++l) {
      if (position[l] == length || position[l] + 1 > least + skew) continue;
      if (scenario.lossy_lines_trail && l > 0 && position[l] >= position[0]) continue;
      may_advance.push_back(l);
    }
    if (may_advance.empty()) break;
    const size_t l = may_advance[rng() % may_advance.size()];
    const size_t i = position[l]++;
    if (lost[l][i]) continue;
    if (dedup.admit(l, keys[i])) out.delivered.push_back(out.provider[i]);
  }
  return out;
}

void check_promise(const Scenario& scenario, bool exact_order) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const Outcome outcome = run_scenario(seed, scenario);
    if (exact_order) {
      ASSERT_EQ(outcome.delivered, outcome.provider) << "replay with seed " << seed;
    } else {
      std::map<uint64_t, int64_t> balance;
      for (uint64_t key : outcome.provider) ++balance[key];
      for (uint64_t key : outcome.delivered) --balance[key];
      for (const auto& [key, count] : balance) {
        ASSERT_EQ(count, 0) << "key " << key << " over-/under-delivered; replay with seed " << seed;
      }
    }
  }
}

TEST(MessageDedupProperty, WithoutLossesDeliversExactlyTheProvidersSequence) {
  check_promise(Scenario{.losses = false}, /*exact_order=*/true);
}

TEST(MessageDedupProperty, WithLossesOnTrailingLinesDeliversExactlyTheProvidersSequence) {
  check_promise(Scenario{.losses = true, .lossy_lines_trail = true}, /*exact_order=*/true);
}

TEST(MessageDedupProperty, WithLossesAndAnySkewDeliversEachOccurrenceExactlyOnce) {
  check_promise(Scenario{.losses = true}, /*exact_order=*/false);
}

TEST(MessageKey, OddsjsonUsesPseqAndProviderWhenPresent) {
  const std::string a =
      R"({"type":"price","market":1,"selection":2,"odds":"2.5","provider":"bf","pseq":77})";
  // The same message re-serialised with other spacing and field order.
  const std::string b =
      R"({"pseq" : 77, "provider" : "bf", "type":"price","market":1,"selection":2,"odds":"2.50"})";
  EXPECT_EQ(message_key("oddsjson", a), message_key("oddsjson", b));
  EXPECT_EQ(message_key("oddsjson", a).kind, KeyKind::kSequence);
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
  EXPECT_EQ(message_key("oddsjson", R"({"type":"heartbeat"})").kind, KeyKind::kNone);
  EXPECT_EQ(message_key("oddsjson", R"({"type":"heartbeat","ts":1735725602000})").kind,
            KeyKind::kBytes);
  EXPECT_EQ(message_key("oddsjson", R"({"type":"heartbeat","pseq":7})").kind, KeyKind::kSequence);
  EXPECT_EQ(
      message_key("oddsjson", R"({"type":"price","market":1,"selection":1,"odds":"2.5"})").kind,
      KeyKind::kBytes);
}

}  // namespace
}  // namespace oddsbus::feeds::link
