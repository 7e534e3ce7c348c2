// Property: what the betfair-stream adapter makes of a stream does not depend on how the stream
// was cut. A capture is sent as one byte stream (each message ended by CRLF, as the live API does,
// or LF, as Betfair's historical files do), with the stream's own HEARTBEAT messages interleaved
// where it was quiet, and read in random pieces that cut messages anywhere; split back into lines
// by the connectors' LineSplitter, it must give exactly the price, status, settlement and source
// events the capture gives read line by line. Seeded; a failure names its seed.
#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/betfair/stream_adapter.h"
#include "feeds/line_splitter.h"
#include "feeds/mapping.h"
#include "tests/feeds/betfair/betfair_test_support.h"

namespace oddsbus::feeds::betfair {
namespace {

using testing::must_load;
using testing::read_lines;
using testing::shared_data;
using testing::test_data;

// One event as text, everything a consumer reads from it. Heartbeats are left out: they say only
// that the source is alive, and the interleaved heartbeats add some by design.
std::string describe(const Event& e) {
  char head[160];
  std::snprintf(head, sizeof head,
                "type %d market %" PRIu64 " selection %" PRIu64
                " price_e4 %u status %d reason %d"
                " up %d ns %" PRIu64 " ",
                static_cast<int>(e.type), e.market, e.selection, e.odds.price_e4,
                static_cast<int>(e.status), static_cast<int>(e.reason), e.source_up ? 1 : 0,
                e.source_ns);
  std::string out = head + e.odds_text + " " + e.source + " winners";
  for (const uint64_t w : e.winners) out += " " + std::to_string(w);
  return out;
}

struct Outcome {
  std::vector<std::string> events;
  uint64_t messages = 0;
  uint64_t rejected = 0;
};

void take(StreamAdapter& adapter, std::string_view line, Outcome& outcome,
          std::vector<Event>& scratch) {
  ++outcome.messages;
  scratch.clear();
  if (!adapter.parse(line, scratch)) {
    ++outcome.rejected;
    return;
  }
  for (const Event& e : scratch) {
    if (e.type != EventType::kHeartbeat) outcome.events.push_back(describe(e));
  }
}

Outcome line_by_line(const Mapping& mapping, const std::vector<std::string>& lines) {
  StreamAdapter adapter(mapping, "bf");
  Outcome outcome;
  std::vector<Event> scratch;
  for (const std::string& line : lines) take(adapter, line, outcome, scratch);
  return outcome;
}

// A HEARTBEAT as the stream sends it when idle (ct HEARTBEAT, no mc), keeping the stream's
// `status` as the message before it had it: a quiet stream does not change its health.
std::string heartbeat_after(std::string_view previous, uint64_t n) {
  std::string out = R"({"op":"mcm","id":2,"clk":"HB)" + std::to_string(n) + R"(","ct":"HEARTBEAT")";
  if (previous.find(R"("status":503)") != std::string_view::npos) out += R"(,"status":503)";
  return out + "}";
}

// The capture as one byte stream: CRLF or LF per message, heartbeats and a few blank lines in
// between. Returns the stream and how many heartbeats it holds.
std::string as_stream(const std::vector<std::string>& lines, std::mt19937_64& rng,
                      uint64_t& heartbeats) {
  std::bernoulli_distribution crlf(0.5), beat(0.15), blank(0.02);
  std::string out;
  std::string_view previous;
  for (const std::string& line : lines) {
    while (beat(rng)) out += heartbeat_after(previous, ++heartbeats) + (crlf(rng) ? "\r\n" : "\n");
    if (blank(rng)) out += crlf(rng) ? "\r\n" : "\n";
    out += line;
    out += crlf(rng) ? "\r\n" : "\n";
    previous = line;
  }
  return out;
}

// Reads `stream` in random pieces: mostly small (a message cut in many places, a CRLF cut between
// its CR and LF), sometimes several messages at once.
Outcome in_pieces(const Mapping& mapping, std::string_view stream, std::mt19937_64& rng) {
  StreamAdapter adapter(mapping, "bf");
  LineSplitter splitter(1 << 22);
  Outcome outcome;
  std::vector<Event> scratch;
  std::uniform_int_distribution<size_t> small(1, 64), large(65, 64 * 1024);
  std::bernoulli_distribution pick_large(0.1);
  while (!stream.empty()) {
    const size_t n = std::min(stream.size(), pick_large(rng) ? large(rng) : small(rng));
    splitter.feed(stream.substr(0, n), [&](std::string_view line, bool too_long) {
      EXPECT_FALSE(too_long);
      take(adapter, line, outcome, scratch);
    });
    stream.remove_prefix(n);
  }
  splitter.feed("\n", [&](std::string_view line, bool) { take(adapter, line, outcome, scratch); });
  return outcome;
}

void check_cuts(const std::string& path, const Mapping& mapping, uint64_t first_seed, int seeds) {
  const auto lines = read_lines(path);
  ASSERT_TRUE(lines.has_value()) << "cannot read " << path;
  const Outcome reference = line_by_line(mapping, *lines);
  ASSERT_EQ(reference.rejected, 0u) << path;
  ASSERT_FALSE(reference.events.empty()) << path;
  for (uint64_t seed = first_seed; seed < first_seed + static_cast<uint64_t>(seeds); ++seed) {
    SCOPED_TRACE(path + " seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    uint64_t heartbeats = 0;
    const std::string stream = as_stream(*lines, rng, heartbeats);
    const Outcome cut = in_pieces(mapping, stream, rng);
    EXPECT_EQ(cut.rejected, 0u);
    EXPECT_EQ(cut.messages, lines->size() + heartbeats);
    ASSERT_EQ(cut.events.size(), reference.events.size());
    for (size_t i = 0; i < cut.events.size(); ++i) {
      ASSERT_EQ(cut.events[i], reference.events[i]) << "event " << i;
    }
  }
}

bool have_shared_data() { return std::filesystem::exists(shared_data("1.200806927")); }

TEST(BetfairStreamCuts, TheSampleStreamNormalisesAlikeHoweverItIsCut) {
  // Segments, a 503 and its clearing, a settlement: every kind of event the adapter makes.
  check_cuts(test_data("sample_stream.crlf"), must_load(test_data("sample_mapping.toml")), 1, 40);
}

TEST(BetfairStreamCuts, TheGreyhoundCaptureNormalisesAlikeHoweverItIsCut) {
  if (!have_shared_data()) GTEST_SKIP() << "no shared data at " << ODDSBUS_SHARED_DATA_DIR;
  check_cuts(shared_data("1.197931750"), must_load(test_data("captures_mapping.toml")), 100, 8);
}

TEST(BetfairStreamCuts, TheTennisCaptureNormalisesAlikeHoweverItIsCut) {
  if (!have_shared_data()) GTEST_SKIP() << "no shared data at " << ODDSBUS_SHARED_DATA_DIR;
  check_cuts(shared_data("1.200806927"), must_load(test_data("captures_mapping.toml")), 200, 3);
}

}  // namespace
}  // namespace oddsbus::feeds::betfair
