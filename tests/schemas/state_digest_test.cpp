#include "schemas/state_digest.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "tests/schemas/frame_script.h"

namespace oddsbus {
namespace {

using testing_support::FrameScript;

// The encoding of DESIGN section 10, written out independently of the library.
class Encoding {
 public:
  Encoding& u8(uint8_t v) { return put(v, 1); }
  Encoding& u32(uint32_t v) { return put(v, 4); }
  Encoding& u64(uint64_t v) { return put(v, 8); }
  uint64_t xxh64() const { return XXH64(bytes_.data(), bytes_.size(), 0); }
  size_t size() const { return bytes_.size(); }

 private:
  Encoding& put(uint64_t v, int width) {
    for (int i = 0; i < width; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  std::vector<uint8_t> bytes_;
};

TEST(StateDigest, EmptyStateHashesTheEmptyString) {
  MarketState state;
  EXPECT_EQ(digest_hex(state_digest(state)), "ef46db3751d8e999");
  EXPECT_EQ(state_digest(state), XXH64(nullptr, 0, 0));
}

TEST(StateDigest, MatchesTheEncodingWrittenOutByHand) {
  MarketState state;
  FrameScript script(state);
  // Defined out of id order, with a closed, a suspended and a settled market.
  script.define(0x0102030405060708ull, 9, "Big id", {{7, "Only"}});
  script.define(5, 501, "Match Odds", {{3, "Away"}, {1, "Home"}, {2, "Draw"}});
  script.define(3, 501, "Total Goals", {{10, "Over"}, {11, "Under"}});
  script.price(5, 1, "2.50");
  script.price(5, 3, "-110");
  script.price(3, 11, "1/3");
  script.price(0x0102030405060708ull, 7, "10000");
  script.status(5, fb::MarketStatus::Suspended);
  script.settle(3, {11});
  script.define(6, 502, "Closed one", {});
  script.status(6, fb::MarketStatus::Closed);

  Encoding expected;
  expected.u64(3).u8(3).u32(2);  // settled
  expected.u64(10).u32(0);       // never priced
  expected.u64(11).u32(13333);   // 1/3
  expected.u64(5).u8(1).u32(3);  // suspended
  expected.u64(1).u32(25000);    // 2.50
  expected.u64(2).u32(0);        //
  expected.u64(3).u32(19091);    // -110
  expected.u64(6).u8(2).u32(0);  // closed, no selections
  expected.u64(0x0102030405060708ull).u8(0).u32(1);
  expected.u64(7).u32(100'000'000);  // 10000
  ASSERT_EQ(expected.size(), 4 * 13 + 6 * 12u);

  const uint64_t digest = state_digest(state);
  EXPECT_EQ(digest, expected.xxh64());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(expected.xxh64()));
  EXPECT_EQ(digest_hex(digest), hex);
}

TEST(StateDigest, DoesNotDependOnDefinitionOrder) {
  MarketState a;
  FrameScript script_a(a);
  script_a.define(1, 501, "One", {{1, "x"}, {2, "y"}});
  script_a.define(2, 501, "Two", {{5, "p"}, {6, "q"}});
  script_a.price(1, 2, "3.0");
  script_a.price(2, 5, "7/4");

  MarketState b;
  FrameScript script_b(b);
  script_b.define(2, 501, "Two", {{6, "q"}, {5, "p"}});
  script_b.price(2, 5, "2.75");  // the same price_e4 written another way
  script_b.define(1, 501, "One", {{2, "y"}, {1, "x"}});
  script_b.price(1, 2, "3.00");

  // Different histories, same state.
  EXPECT_EQ(state_digest(a), state_digest(b));
}

TEST(StateDigest, IgnoresNamesEventsAndOddsText) {
  MarketState a;
  FrameScript script_a(a);
  script_a.define(1, 501, "One", {{1, "Home"}, {2, "Away"}});
  script_a.price(1, 1, "2.5");

  MarketState b;
  FrameScript script_b(b);
  script_b.define(1, 777, "Renamed entirely", {{1, "Heim"}, {2, "Auswaerts"}});
  script_b.price(1, 1, "6/4");

  EXPECT_EQ(state_digest(a), state_digest(b));
}

TEST(StateDigest, ChangesWithEveryDigestedField) {
  auto build = [](uint64_t market, fb::MarketStatus status, uint64_t selection,
                  std::string_view odds, bool extra_selection) {
    MarketState state;
    FrameScript script(state);
    std::vector<testing_support::Selection> selections = {{selection, "s"}};
    if (extra_selection) selections.push_back({selection + 100, "t"});
    script.define(market, 1, "m", selections);
    script.price(market, selection, odds);
    if (status != fb::MarketStatus::Open) script.status(market, status);
    return state_digest(state);
  };
  const uint64_t base = build(1, fb::MarketStatus::Open, 1, "2.0", false);
  EXPECT_EQ(build(1, fb::MarketStatus::Open, 1, "2.0", false), base);
  EXPECT_NE(build(2, fb::MarketStatus::Open, 1, "2.0", false), base);
  EXPECT_NE(build(1, fb::MarketStatus::Suspended, 1, "2.0", false), base);
  EXPECT_NE(build(1, fb::MarketStatus::Open, 2, "2.0", false), base);
  EXPECT_NE(build(1, fb::MarketStatus::Open, 1, "2.0001", false), base);
  EXPECT_NE(build(1, fb::MarketStatus::Open, 1, "2.0", true), base);
}

TEST(StateDigest, HexIsSixteenLowerCaseDigits) {
  EXPECT_EQ(digest_hex(0), "0000000000000000");
  EXPECT_EQ(digest_hex(0xab), "00000000000000ab");
  EXPECT_EQ(digest_hex(0xFEDCBA9876543210ull), "fedcba9876543210");
}

}  // namespace
}  // namespace oddsbus
