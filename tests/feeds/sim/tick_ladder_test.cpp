#include "feeds/sim/tick_ladder.h"

#include <gtest/gtest.h>

#include "schemas/odds.h"

namespace oddsbus::feeds::sim {
namespace {

TEST(TickLadder, HasBetfairsThreeHundredFiftyPricesFrom101To1000) {
  ASSERT_EQ(ladder_size(), 350u);
  EXPECT_EQ(ladder_price(0), 10'100u);
  EXPECT_EQ(ladder_price(ladder_size() - 1), 10'000'000u);
  for (size_t i = 1; i < ladder_size(); ++i) EXPECT_LT(ladder_price(i - 1), ladder_price(i));
}

TEST(TickLadder, StepsWidenAtEachBand) {
  EXPECT_TRUE(on_ladder(19'900));
  EXPECT_TRUE(on_ladder(20'000));
  EXPECT_FALSE(on_ladder(20'100));  // 2-3 goes by 0.02
  EXPECT_TRUE(on_ladder(20'200));
  EXPECT_TRUE(on_ladder(30'500));
  EXPECT_FALSE(on_ladder(30'200));
  EXPECT_TRUE(on_ladder(41'000));
  EXPECT_TRUE(on_ladder(62'000));
  EXPECT_FALSE(on_ladder(61'000));
  EXPECT_TRUE(on_ladder(105'000));
  EXPECT_TRUE(on_ladder(210'000));
  EXPECT_TRUE(on_ladder(320'000));
  EXPECT_FALSE(on_ladder(310'000));
  EXPECT_TRUE(on_ladder(550'000));
  EXPECT_TRUE(on_ladder(1'100'000));
  EXPECT_FALSE(on_ladder(1'050'000));
  EXPECT_FALSE(on_ladder(10'000));
  EXPECT_FALSE(on_ladder(10'100'000));
  EXPECT_EQ(ladder_index(20'000), 99u);
  EXPECT_EQ(ladder_index(20'200), 100u);
}

TEST(TickLadder, MovesClampAtBothEnds) {
  EXPECT_EQ(ladder_move(20'000, 1), 20'200u);
  EXPECT_EQ(ladder_move(20'200, -1), 20'000u);
  EXPECT_EQ(ladder_move(10'100, -3), 10'100u);
  EXPECT_EQ(ladder_move(10'000'000, 2), 10'000'000u);
  EXPECT_EQ(ladder_move(9'900'000, 5), 10'000'000u);
}

TEST(TickLadder, DecimalTextIsShortestAndExact) {
  EXPECT_EQ(decimal_text(25'000), "2.5");
  EXPECT_EQ(decimal_text(24'800), "2.48");
  EXPECT_EQ(decimal_text(10'100), "1.01");
  EXPECT_EQ(decimal_text(10'000'000), "1000");
  EXPECT_EQ(decimal_text(30'000), "3");
  EXPECT_EQ(decimal_text(10'005), "1.0005");
  for (size_t i = 0; i < ladder_size(); ++i) {
    const auto parsed = parse_decimal_odds(decimal_text(ladder_price(i)));
    ASSERT_TRUE(parsed.has_value()) << decimal_text(ladder_price(i));
    EXPECT_EQ(parsed->price_e4, ladder_price(i));
  }
}

}  // namespace
}  // namespace oddsbus::feeds::sim
