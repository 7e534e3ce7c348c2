// The uof-xml adapter's two paths, the byte scanner for <odds_change> and pugixml for everything,
// must be one adapter: fed the same messages, an adapter with the scanner and one without it
// (use_scanner(false)) must give the same result, the same events, the same counters and the
// same unknown-id samples for every message, in order (state carries from message to message).
// The messages: every sample in tests/data/uof, the feed simulator's uof-xml stream, variants of
// both the scanner must read (whitespace, quotes) or decline (entities, comments, CDATA, duplicate
// attributes), every truncation, every single-byte substitution from a set of XML's special
// characters, and random edits.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "feeds/sim/feed_stream.h"
#include "feeds/sim/mapping_writer.h"
#include "feeds/uof/uof_adapter.h"

namespace oddsbus::feeds::uof {
namespace {

std::string data_path(const std::string& name) {
  return std::string(ODDSBUS_TEST_DATA_DIR) + "/uof/" + name;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The message with its control bytes visible, for failure messages.
std::string printable(std::string_view message) {
  std::string s;
  for (const char c : message) {
    if (static_cast<unsigned char>(c) < 0x20) {
      constexpr char kHex[] = "0123456789abcdef";
      s += "\\x";
      s += kHex[static_cast<unsigned char>(c) >> 4];
      s += kHex[static_cast<unsigned char>(c) & 15];
    } else {
      s += c;
    }
  }
  return s;
}

// Every field an adapter sets, as one line.
std::string fingerprint(const Event& e) {
  std::string s =
      "type=" + std::to_string(static_cast<int>(e.type)) + " market=" + std::to_string(e.market) +
      " event=" + std::to_string(e.event) + " selection=" + std::to_string(e.selection) +
      " price_e4=" + std::to_string(e.odds.price_e4) +
      " format=" + std::to_string(static_cast<int>(e.odds.format)) +
      " odds=" + std::to_string(e.odds.numerator) + "/" + std::to_string(e.odds.denominator) +
      " odds_text=" + e.odds_text + " status=" + std::to_string(static_cast<int>(e.status)) +
      " reason=" + std::to_string(static_cast<int>(e.reason)) + " name=" + e.name +
      " provider=" + e.provider + " pseq=" + std::to_string(e.pseq) + (e.has_pseq ? "+" : "-") +
      " source_ns=" + std::to_string(e.source_ns) + " source=" + e.source +
      " source_up=" + (e.source_up ? "1" : "0") + " selections=";
  for (const SelectionDefinition& selection : e.selections) {
    s += std::to_string(selection.id) + ":" + selection.name + ",";
  }
  s += " winners=";
  for (const uint64_t winner : e.winners) s += std::to_string(winner) + ",";
  return s;
}

// What parsing one message did: the result, what `out` holds after it (it starts with one event
// already there, which must stay), the counters and the unknown-id samples.
std::string outcome(UofAdapter& adapter, std::string_view message) {
  std::vector<Event> out(1);
  out[0].name = "already there";
  const auto result = adapter.parse(message, out);
  std::string s = result ? "accepted"
                         : "rejected " + std::string(to_string(result.error().reason)) + ": " +
                               result.error().detail;
  for (const Event& event : out) s += "\n  " + fingerprint(event);
  const AdapterCounters& c = adapter.counters();
  const UofCounters& u = adapter.uof_counters();
  s += "\n  counters " + std::to_string(c.messages) + " " + std::to_string(c.events) + " " +
       std::to_string(c.heartbeats) + " " + std::to_string(c.rejected) + " " +
       std::to_string(c.unknown_markets) + " " + std::to_string(c.unknown_selections) + " " +
       std::to_string(u.bad_odds) + " " + std::to_string(u.snapshot_complete) + " " +
       std::to_string(u.fixture_change) + " " + std::to_string(u.source_down) +
       (adapter.source_up() ? " up" : " down") + "\n  unknown";
  for (const std::string& id : adapter.unknown_ids()) s += " [" + id + "]";
  return s;
}

class TwoPaths {
 public:
  TwoPaths(const Mapping& mapping, const std::string& feed)
      : fast_(mapping, feed), reference_(mapping, feed) {
    reference_.use_scanner(false);
  }

  // Feeds `message` to both adapters; false (and a test failure) when they differ.
  bool feed(std::string_view message) {
    const std::string fast = outcome(fast_, message);
    const std::string reference = outcome(reference_, message);
    EXPECT_EQ(fast, reference) << "message: " << printable(message);
    EXPECT_EQ(reference_.uof_counters().scanned, 0u);
    accepted_ = reference.starts_with("accepted");
    return fast == reference;
  }
  // Whether the last message fed was accepted (by both).
  bool accepted() const { return accepted_; }
  // Messages the fast adapter's scanner read (and accepted).
  uint64_t scanned() const { return fast_.uof_counters().scanned; }

 private:
  UofAdapter fast_;
  UofAdapter reference_;
  bool accepted_ = false;
};

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::string replace_first(std::string text, std::string_view from, std::string_view to) {
  if (const size_t at = text.find(from); at != std::string::npos) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Variants the scanner must read as it reads `message` (whitespace and quoting pugixml reads the
// same), and variants it must decline (pugixml decodes, skips or picks: the reference decides).
std::vector<std::string> read_variants(const std::string& message) {
  return {replace_all(message, "><", ">\n  <"), replace_all(message, "\" ", "\"\t"),
          replace_all(message, "\" ", "\"\r\n "), replace_all(message, "\"", "'"),
          message + " \r\n",
          // Markets and outcomes pugixml's path does not read, as the scanner must not: under a
          // second <odds>, outside <odds>, nested one level too deep.
          replace_first(message, "</odds>",
                        "</odds><odds><market id=\"1\" status=\"-4\"><outcome id=\"1\" "
                        "odds=\"9.5\"/></market></odds><market id=\"1\" status=\"-4\"/>"),
          replace_first(message, "</odds>", "<x><market id=\"1\" status=\"-4\"/></x></odds>"),
          replace_first(message, "<outcome ", "<x><outcome id=\"1\" odds=\"9.5\"/></x><outcome ")};
}

std::vector<std::string> declined_variants(const std::string& message) {
  return {replace_first(message, "event_id=\"sr", "event_id=\"&#115;r"),
          replace_first(message, "odds=\"", "odds=\"&#x31;"),
          replace_first(message, "specifiers=\"", "specifiers=\"&amp;"),
          replace_first(message, "<odds>", "<odds><!-- comment -->"),
          replace_first(message, "<odds>", "<odds><![CDATA[<market id=\"1\"/>]]>"),
          replace_first(message, "<outcome id=\"", "<outcome id=\"9\" id=\""),
          replace_first(message, "<market id=\"", "<market id=\"2\" id=\""),
          replace_first(message, "<market ", "<market id=\"1\" "),
          replace_first(message, " timestamp=\"", " timestamp=\"1\" timestamp=\""),
          replace_first(message, "<odds>", "<odds>text"),
          replace_first(message, "><", "><?pi x?><"),
          "<!DOCTYPE x>" + message,
          message + "<odds_change/>"};
}

// What each byte of a message is replaced with, in turn: XML's special characters, whitespace,
// name characters, nothing, NUL.
constexpr std::string_view kSpecials[] = {
    "<", ">", "/", "\"", "'",  "=",  "&",
    "?", "!", " ", "\t", "\n", "\r", ":",
    "_", ".", "-", "0",  "x",  "",   std::string_view("\0", 1)};

void feed_substitutions(TwoPaths& paths, const std::string& message) {
  for (size_t at = 0; at < message.size(); ++at) {
    for (const std::string_view special : kSpecials) {
      std::string mutated = message;
      mutated.replace(at, 1, special);
      if (!paths.feed(mutated)) return;
    }
  }
}

Mapping sample_mapping() {
  auto mapping = Mapping::load(data_path("mapping.toml"));
  EXPECT_TRUE(mapping.has_value()) << mapping.error();
  return mapping ? std::move(*mapping) : Mapping{};
}

bool is_odds_change(std::string_view message) {
  return message.find("<odds_change ") != std::string_view::npos;
}

TEST(UofAdapterPaths, AgreeOnEverySampleMessage) {
  const Mapping mapping = sample_mapping();
  const std::vector<std::string> messages = read_lines(data_path("sample_feed.txt"));
  ASSERT_FALSE(messages.empty());
  TwoPaths paths(mapping, "sr");
  uint64_t odds_changes = 0;  // accepted ones (one sample is not well-formed)
  for (const std::string& message : messages) {
    ASSERT_TRUE(paths.feed(message));
    odds_changes += is_odds_change(message) && paths.accepted();
  }
  EXPECT_GT(odds_changes, 0u);
  EXPECT_EQ(paths.scanned(), odds_changes);  // the fast path took every one
}

TEST(UofAdapterPaths, AgreeOnVariantsOfTheSamples) {
  const Mapping mapping = sample_mapping();
  const std::vector<std::string> messages = read_lines(data_path("sample_feed.txt"));
  TwoPaths paths(mapping, "sr");
  for (const std::string& message : messages) {
    for (const std::string& variant : read_variants(message)) {
      const uint64_t before = paths.scanned();
      ASSERT_TRUE(paths.feed(variant));
      EXPECT_EQ(paths.scanned() - before, is_odds_change(message) && paths.accepted() ? 1u : 0u)
          << "not read by the scanner: " << printable(variant);
    }
    for (const std::string& variant : declined_variants(message)) {
      const uint64_t before = paths.scanned();
      ASSERT_TRUE(paths.feed(variant));
      if (variant != message) {
        EXPECT_EQ(paths.scanned(), before) << "read by the scanner: " << printable(variant);
      }
    }
  }
}

TEST(UofAdapterPaths, AgreeOnEveryTruncationAndSubstitutionOfTheSamples) {
  const Mapping mapping = sample_mapping();
  TwoPaths paths(mapping, "sr");
  for (const std::string& message : read_lines(data_path("sample_feed.txt"))) {
    for (size_t size = 0; size <= message.size(); ++size) {
      ASSERT_TRUE(paths.feed(std::string_view(message).substr(0, size)));
    }
    feed_substitutions(paths, message);
    if (::testing::Test::HasFailure()) return;
  }
}

// The simulator's uof-xml stream (writer.h) with the mapping it declares, or with every other
// market left out of it (unknown markets are the common case of a real feed).
std::vector<std::string> sim_messages(sim::SimConfig sim_config) {
  sim::FeedStreamConfig config;
  config.format = sim::Format::kUofXml;
  config.provider = "sr";
  config.epoch_ms = 1'700'000'000'000;
  config.sim = sim_config;
  config.heartbeat_ns = 50'000'000;
  config.alive_ns = 200'000'000;
  sim::FeedStream stream(config);
  std::vector<sim::SimMessage> due;
  stream.image(0, due);
  stream.advance(UINT64_MAX / 2, due);
  EXPECT_TRUE(stream.over());
  std::vector<std::string> messages;
  for (const sim::SimMessage& message : due) {
    std::string line = message.bytes;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    messages.push_back(std::move(line));
  }
  return messages;
}

Mapping sim_mapping(const sim::SimConfig& sim_config, bool every_other) {
  std::vector<sim::PlannedMarket> planned = sim::planned_markets(sim_config);
  if (every_other) {
    std::vector<sim::PlannedMarket> half;
    for (size_t i = 0; i < planned.size(); i += 2) half.push_back(planned[i]);
    planned = std::move(half);
  }
  auto mapping =
      Mapping::parse(sim::write_mapping(planned, {{"sr", sim::Format::kUofXml}}), "sim mapping");
  EXPECT_TRUE(mapping.has_value()) << mapping.error();
  return mapping ? std::move(*mapping) : Mapping{};
}

constexpr sim::SimConfig kSim{
    .seed = 7, .markets = 12, .rate = 50, .max_updates = 6'000, .settle_after = 60};

TEST(UofAdapterPaths, AgreeOnTheSimulatedStream) {
  const std::vector<std::string> messages = sim_messages(kSim);
  ASSERT_GT(messages.size(), 6'000u);
  for (const bool every_other : {false, true}) {
    const Mapping mapping = sim_mapping(kSim, every_other);
    TwoPaths paths(mapping, "sr");
    uint64_t odds_changes = 0;
    for (const std::string& message : messages) {
      ASSERT_TRUE(paths.feed(message)) << (every_other ? "half mapped" : "all mapped");
      ASSERT_TRUE(paths.accepted()) << message;
      odds_changes += is_odds_change(message);
    }
    EXPECT_GT(odds_changes, messages.size() / 2);
    EXPECT_EQ(paths.scanned(), odds_changes);
  }
}

TEST(UofAdapterPaths, AgreeOnVariantsAndEditsOfTheSimulatedStream) {
  const std::vector<std::string> messages = sim_messages(kSim);
  const Mapping mapping = sim_mapping(kSim, false);
  TwoPaths paths(mapping, "sr");
  // Every kind of message the simulator writes, each varied as the samples are.
  for (size_t i = 0; i < messages.size(); i += 97) {
    for (const std::string& variant : read_variants(messages[i])) {
      ASSERT_TRUE(paths.feed(variant));
    }
    for (const std::string& variant : declined_variants(messages[i])) {
      ASSERT_TRUE(paths.feed(variant));
    }
  }
  for (size_t i = 0; i < messages.size(); i += 1'500) {
    feed_substitutions(paths, messages[i]);
    if (::testing::Test::HasFailure()) return;
  }
  // Random edits (deterministic): replace, insert or delete a few bytes of a message.
  uint64_t state = 0x9e3779b97f4a7c15;
  const auto next = [&state](uint64_t bound) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state % bound;
  };
  constexpr std::string_view kSnippets[] = {"<",
                                            ">",
                                            "/>",
                                            "</",
                                            "\"",
                                            "='",
                                            "&amp;",
                                            " ",
                                            "<odds>",
                                            "</odds>",
                                            "<market id=\"1\">",
                                            "</market>",
                                            "<outcome id=\"2\" odds=\"1.5\"/>",
                                            "status=\"-1\" ",
                                            "active=\"0\" ",
                                            "id=\"x\" "};
  for (int round = 0; round < 20'000; ++round) {
    std::string message = messages[next(messages.size())];
    for (uint64_t edits = 1 + next(3); edits > 0 && !message.empty(); --edits) {
      const size_t at = next(message.size());
      switch (next(3)) {
        case 0:
          message.replace(at, 1, kSnippets[next(std::size(kSnippets))]);
          break;
        case 1:
          message.insert(at, kSnippets[next(std::size(kSnippets))]);
          break;
        default:
          message.erase(at, 1 + next(8));
          break;
      }
    }
    ASSERT_TRUE(paths.feed(message));
  }
}

}  // namespace
}  // namespace oddsbus::feeds::uof
