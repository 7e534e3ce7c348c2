#include "feeds/line_splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace oddsbus::feeds {
namespace {

constexpr std::string_view kTooLong = "<too long>";

// Feeds each chunk in turn and records what the splitter emits.
std::vector<std::string> split(LineSplitter& splitter, std::vector<std::string_view> chunks) {
  std::vector<std::string> out;
  for (std::string_view chunk : chunks) {
    splitter.feed(chunk, [&](std::string_view line, bool too_long) {
      if (too_long) {
        EXPECT_TRUE(line.empty());
        out.emplace_back(kTooLong);
      } else {
        out.emplace_back(line);
      }
    });
  }
  return out;
}

using Lines = std::vector<std::string>;

TEST(LineSplitter, SplitsOnLfAndCrlfWithoutTheTerminator) {
  LineSplitter splitter(100);
  EXPECT_EQ(split(splitter, {"a\nbb\r\nccc\n"}), (Lines{"a", "bb", "ccc"}));
}

TEST(LineSplitter, HoldsAnUnterminatedLineUntilItsTerminatorArrives) {
  LineSplitter splitter(100);
  EXPECT_EQ(split(splitter, {"hel"}), Lines{});
  EXPECT_EQ(split(splitter, {"lo", " world\n"}), Lines{"hello world"});
}

TEST(LineSplitter, JoinsACrlfSplitBetweenFeeds) {
  LineSplitter splitter(100);
  EXPECT_EQ(split(splitter, {"abc\r", "\n", "def\r", "\ng\n"}), (Lines{"abc", "def", "g"}));
}

TEST(LineSplitter, DeliversEveryByteFedOneAtATime) {
  LineSplitter splitter(100);
  const std::string_view stream = "one\r\ntwo\nthree\r\n";
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < stream.size(); ++i) bytes.push_back(stream.substr(i, 1));
  EXPECT_EQ(split(splitter, bytes), (Lines{"one", "two", "three"}));
}

TEST(LineSplitter, SkipsEmptyLines) {
  LineSplitter splitter(100);
  EXPECT_EQ(split(splitter, {"\n\r\na\n\n\r\nb\n"}), (Lines{"a", "b"}));
}

TEST(LineSplitter, KeepsACarriageReturnInsideALine) {
  LineSplitter splitter(100);
  EXPECT_EQ(split(splitter, {"a\rb\n"}), Lines{"a\rb"});
}

TEST(LineSplitter, AcceptsALineOfExactlyMaxLineWithOrWithoutCr) {
  LineSplitter splitter(4);
  EXPECT_EQ(split(splitter, {"abcd\n", "efgh\r\n"}), (Lines{"abcd", "efgh"}));
  EXPECT_EQ(split(splitter, {"ab", "cd", "\r", "\n"}), Lines{"abcd"});
}

TEST(LineSplitter, ReportsALongLineInOneFeedOnceAndKeepsTheNext) {
  LineSplitter splitter(4);
  EXPECT_EQ(split(splitter, {"abcde\nok\n"}), (Lines{std::string(kTooLong), "ok"}));
}

TEST(LineSplitter, ReportsALongLineSpreadOverFeedsOnceAndKeepsTheNext) {
  LineSplitter splitter(4);
  EXPECT_EQ(split(splitter, {"abc", "def", "ghi", "jkl\nnext\n"}),
            (Lines{std::string(kTooLong), "next"}));
}

TEST(LineSplitter, ReportsALongLineWhoseTerminatorArrivesWithTheOverflow) {
  LineSplitter splitter(4);
  // The partial fits; the chunk that completes it makes it too long.
  EXPECT_EQ(split(splitter, {"abc", "defghijklmnop\nok\n"}), (Lines{std::string(kTooLong), "ok"}));
}

TEST(LineSplitter, ReportsALineOneByteOverWhenItEndsWithoutCr) {
  LineSplitter splitter(4);
  EXPECT_EQ(split(splitter, {"abcde", "\nok\n"}), (Lines{std::string(kTooLong), "ok"}));
}

TEST(LineSplitter, ResetForgetsAPartialLine) {
  LineSplitter splitter(100);
  EXPECT_EQ(split(splitter, {"half a li"}), Lines{});
  splitter.reset();
  EXPECT_EQ(split(splitter, {"fresh\n"}), Lines{"fresh"});
}

TEST(LineSplitter, ResetEndsDiscardingATooLongLine) {
  LineSplitter splitter(4);
  EXPECT_EQ(split(splitter, {"abcdefgh"}), Lines{std::string(kTooLong)});
  splitter.reset();
  EXPECT_EQ(split(splitter, {"new\n"}), Lines{"new"});
}

}  // namespace
}  // namespace oddsbus::feeds
