// The audit hooks of the client stream (edge/stream_audit_note.h) and their records
// (edge/session_audit.h): what they say a client was shown is what the client folded.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "edge/client_audit_log.h"
#include "edge/client_stream.h"
#include "edge/session_audit.h"
#include "tests/edge/edge_test_frames.h"

namespace oddsbus::edge {
namespace {

using testing_support::Change;
using testing_support::EdgeFeed;
using testing_support::FoldedClient;
using testing_support::holds_state_of;
using Kind = StreamAuditNote::Kind;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;

struct Subscription {
  bool all = false;
  std::vector<uint64_t> markets;
  std::vector<uint64_t> events;
  bool wants(uint64_t market, uint64_t event) const {
    return all || std::binary_search(markets.begin(), markets.end(), market) ||
           std::binary_search(events.begin(), events.end(), event);
  }
};

// What the notes say the client is showing, by the rule odds-replay client-view applies
// (engine/client_view.h): the state at the last shown seq, restricted to the subscription that
// message was rendered for and the one in force now.
struct NoteFold {
  std::map<uint64_t, Subscription> subscriptions;
  Subscription current;
  bool shown = false;
  uint64_t seq = 0;
  uint64_t rendered_for = 0;
  std::vector<Kind> kinds;

  void take(std::vector<StreamAuditNote>& notes) {
    for (const StreamAuditNote& note : notes) {
      kinds.push_back(note.kind);
      switch (note.kind) {
        case Kind::kSubscribe:
        case Kind::kUnsubscribe:
          current = Subscription{note.all, note.markets, note.events};
          subscriptions[note.subscription] = current;
          break;
        case Kind::kImage:
        case Kind::kResumed:
        case Kind::kDelta:
        case Kind::kConflatedDelta:
          shown = true;
          seq = note.seq;
          rendered_for = note.subscription;
          break;
        case Kind::kConflating:
          break;
      }
    }
    notes.clear();
  }
};

class StreamAuditTest : public ::testing::Test {
 protected:
  StreamAuditTest() {
    feed_.define(1, 10, "Match odds", {{11, "Home"}, {12, "Draw"}, {13, "Away"}});
    feed_.define(2, 10, "Total goals", {{21, "Over"}, {22, "Under"}});
    feed_.define(3, 20, "Winner", {{31, "A"}, {32, "B"}});
    feed_.define(4, 30, "Top scorer", {{41, "X"}});
    feed_.install_snapshot();
    states_[feed_.seq()] = feed_.reference();
  }

  StreamContext ctx() { return StreamContext{feed_.cache(), Freshness{false, wall_ns_}, now_}; }
  void publish(ClientStream& c, const Change& change) {
    states_[feed_.seq()] = feed_.reference();
    if (change) c.on_change(change, ctx());
  }

  EdgeFeed feed_;
  std::map<uint64_t, MarketState> states_;  // the reference state after every seq
  StreamTotals totals_;
  ClientRequestParser parser_{1000};
  uint64_t now_ = 1000 * kSec;
  uint64_t wall_ns_ = 1'700'000'000 * kSec;
};

TEST_F(StreamAuditTest, WithoutAuditNothingIsNoted) {
  ClientStream c(ClientStreamConfig{}, totals_, now_);
  c.on_text(R"({"op": "subscribe", "markets": "all"})", parser_, ctx());
  testing_support::drain(c, ctx());
  EXPECT_TRUE(c.audit_notes().empty());
}

TEST_F(StreamAuditTest, NotesSubscriptionsAndEachMessageWhenWrittenNotWhenQueued) {
  ClientStream c(ClientStreamConfig{.audit = true}, totals_, now_);
  c.on_text(R"({"op": "subscribe", "markets": [3, 1], "event": 30})", parser_, ctx());
  ASSERT_EQ(c.audit_notes().size(), 1u);
  const StreamAuditNote sub = c.audit_notes()[0];
  EXPECT_EQ(sub.kind, Kind::kSubscribe);
  EXPECT_EQ(sub.subscription, 1u);
  EXPECT_EQ(sub.markets, (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(sub.events, (std::vector<uint64_t>{30}));
  EXPECT_EQ(sub.wall_ns, wall_ns_);
  c.audit_notes().clear();

  publish(c, feed_.price(1, 11, "2.5"));  // seq 5, queued behind the image
  EXPECT_TRUE(c.audit_notes().empty()) << "queued is not shown";
  ASSERT_NE(c.start_write(now_), nullptr);
  EXPECT_TRUE(c.audit_notes().empty()) << "in flight is not shown either";
  c.on_written(ctx());
  ASSERT_EQ(c.audit_notes().size(), 1u);
  EXPECT_EQ(c.audit_notes()[0].kind, Kind::kImage);
  EXPECT_EQ(c.audit_notes()[0].seq, 4u);
  EXPECT_EQ(c.audit_notes()[0].epoch, 1u);
  EXPECT_EQ(c.audit_notes()[0].subscription, 1u);
  EXPECT_EQ(c.audit_notes()[0].reason, "subscribe");
  c.audit_notes().clear();
  testing_support::drain(c, ctx());
  ASSERT_EQ(c.audit_notes().size(), 1u);
  EXPECT_EQ(c.audit_notes()[0].kind, Kind::kDelta);
  EXPECT_EQ(c.audit_notes()[0].seq, 5u);
  c.audit_notes().clear();

  c.on_text(R"({"op": "unsubscribe", "markets": [3]})", parser_, ctx());
  ASSERT_EQ(c.audit_notes().size(), 1u);
  EXPECT_EQ(c.audit_notes()[0].kind, Kind::kUnsubscribe);
  EXPECT_EQ(c.audit_notes()[0].subscription, 2u);
  EXPECT_EQ(c.audit_notes()[0].markets, (std::vector<uint64_t>{1}));
}

TEST_F(StreamAuditTest, NotesAResumeAtTheSeqTheClientHolds) {
  ClientStream c(ClientStreamConfig{.audit = true}, totals_, now_);
  publish(c, feed_.price(1, 11, "2.5"));  // seq 5
  publish(c, feed_.price(3, 31, "1.5"));  // seq 6
  c.on_text(R"({"op": "subscribe", "markets": "all", "resume_from": 5, "resume_epoch": 1})",
            parser_, ctx());
  testing_support::drain(c, ctx());
  std::vector<Kind> kinds;
  for (const StreamAuditNote& note : c.audit_notes()) kinds.push_back(note.kind);
  ASSERT_EQ(kinds, (std::vector<Kind>{Kind::kSubscribe, Kind::kResumed, Kind::kDelta}));
  EXPECT_TRUE(c.audit_notes()[0].resume);
  EXPECT_EQ(c.audit_notes()[0].resume_from, 5u);
  EXPECT_EQ(c.audit_notes()[1].seq, 5u);
  EXPECT_EQ(c.audit_notes()[1].epoch, 1u);
  EXPECT_EQ(c.audit_notes()[2].seq, 6u);
}

TEST_F(StreamAuditTest, NotesAConflationAndTheConflatedDeltaWithItsMarkets) {
  ClientStream c(ClientStreamConfig{.max_queue_bytes = 2048, .audit = true}, totals_, now_);
  c.on_text(R"({"op": "subscribe", "markets": [1, 3, 4]})", parser_, ctx());
  testing_support::drain(c, ctx());
  publish(c, feed_.price(1, 11, "2.0"));  // seq 5: in flight, kept
  ASSERT_NE(c.start_write(now_), nullptr);
  const char* odds[] = {"2.0", "2.5", "3.0", "3.5"};
  for (int i = 0; i < 300; ++i) {
    publish(c, feed_.price(i % 3 == 0 ? 3 : 1, i % 3 == 0 ? 31 : 12, odds[i % 4]));
  }
  ASSERT_TRUE(c.conflating());
  c.on_written(ctx());
  testing_support::drain(c, ctx());
  std::vector<StreamAuditNote> notes = c.audit_notes();
  std::vector<Kind> kinds;
  for (const StreamAuditNote& note : notes) kinds.push_back(note.kind);
  ASSERT_EQ(kinds, (std::vector<Kind>{Kind::kSubscribe, Kind::kImage, Kind::kConflating,
                                      Kind::kDelta, Kind::kConflatedDelta}));
  EXPECT_EQ(notes[2].held_seq, 5u) << "the client holds every change up to the in-flight delta";
  EXPECT_GT(notes[2].dropped, 0u);
  EXPECT_EQ(notes[3].seq, 5u);
  EXPECT_EQ(notes[4].seq, feed_.seq());
  EXPECT_EQ(notes[4].held_seq, 5u);
  EXPECT_EQ(notes[4].markets, (std::vector<uint64_t>{1, 3}));
}

// A seeded property: a client subscribes, unsubscribes, reads slowly (so it is conflated) and
// fast; after every message written to it, the state the notes name (the reference state at the
// last shown seq, restricted as client-view restricts it) is exactly what the client folded.
TEST_F(StreamAuditTest, WhatTheNotesSayWasShownIsWhatTheClientFolded) {
  const std::vector<std::vector<uint64_t>> selections{{}, {11, 12, 13}, {21, 22}, {31, 32}, {41}};
  const char* odds[] = {"1.5", "2.0", "2.5", "3.0", "4.5", "11/4", "+150"};
  const std::vector<std::string> requests{
      R"({"op": "subscribe", "markets": "all"})",    R"({"op": "subscribe", "markets": [1, 3]})",
      R"({"op": "subscribe", "markets": [2]})",      R"({"op": "subscribe", "event": 10})",
      R"({"op": "subscribe", "event": 30})",         R"({"op": "unsubscribe", "markets": [1]})",
      R"({"op": "unsubscribe", "markets": [2, 3]})", R"({"op": "unsubscribe", "markets": "all"})",
  };
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 random(seed);
    auto pick = [&](size_t n) { return static_cast<size_t>(random() % n); };
    ClientStream c(
        ClientStreamConfig{.max_queue_bytes = 1200, .max_queue_delay_ns = 100 * kMs, .audit = true},
        totals_, now_);
    NoteFold notes;
    FoldedClient client;
    client.follows = [&](uint64_t market, uint64_t event) {
      return notes.current.wants(market, event);
    };
    size_t checked = 0;
    for (int step = 0; step < 400; ++step) {
      const size_t op = pick(20);
      if (op < 10) {
        const uint64_t market = 1 + pick(4);
        const auto& ids = selections[market];
        publish(c, feed_.price(market, ids[pick(ids.size())], odds[pick(7)]));
      } else if (op < 11) {
        const uint64_t market = 1 + pick(4);
        publish(c, feed_.status(market, pick(2) == 0 ? fb::MarketStatus::Suspended
                                                     : fb::MarketStatus::Open));
      } else if (op < 13) {
        c.on_text(requests[pick(requests.size())], parser_, ctx());
      } else if (op < 15) {
        now_ += pick(150) * kMs;
        c.on_tick(ctx());
      } else {
        const size_t reads = pick(4);
        for (size_t i = 0; i < reads; ++i) {
          std::shared_ptr<const std::string> message = c.start_write(now_);
          if (!message) break;
          c.on_written(ctx());
          client.fold(*message);
          notes.take(c.audit_notes());
          // The client's markets, of those it follows now.
          FoldedClient view;
          for (const auto& [id, market] : client.markets) {
            if (notes.current.wants(id, market.event)) view.markets[id] = market;
          }
          const MarketState& at = notes.shown ? states_.at(notes.seq) : MarketState{};
          const Subscription* rendered = notes.subscriptions.count(notes.rendered_for)
                                             ? &notes.subscriptions[notes.rendered_for]
                                             : nullptr;
          ASSERT_TRUE(holds_state_of(view, at,
                                     [&](const MarketRecord& m) {
                                       return notes.shown && notes.current.wants(m.id, m.event) &&
                                              rendered != nullptr && rendered->wants(m.id, m.event);
                                     }))
              << "step " << step << ", shown seq " << notes.seq << ", edge at " << feed_.seq();
          ++checked;
        }
      }
      notes.take(c.audit_notes());
      ASSERT_FALSE(c.close_verdict()) << c.close_verdict()->reason;
    }
    EXPECT_GT(checked, 40u);
  }
  EXPECT_GT(totals_.conflated_deltas, 0u) << "the schedules must include conflation";
}

std::vector<std::string> log_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(SessionAudit, WritesOneRecordPerEventAndBatchesDeltas) {
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) /
                                     ("session_audit_" + std::to_string(::getpid()) + ".jsonl");
  std::filesystem::remove(path);
  ClientAuditLogConfig config;
  config.path = path.string();
  auto log = ClientAuditLog::open(config);
  ASSERT_TRUE(log) << log.error();
  {
    SessionAudit audit(**log, "77-1", "127.0.0.1:5000", 1000);
    StreamAuditNote sub{.kind = Kind::kSubscribe, .wall_ns = 1100, .subscription = 1};
    sub.markets = {1, 2};
    audit.record(sub);
    audit.record(StreamAuditNote{.kind = Kind::kImage,
                                 .wall_ns = 1200,
                                 .seq = 40,
                                 .epoch = 2,
                                 .subscription = 1,
                                 .reason = "subscribe"});
    for (uint64_t seq = 41; seq < 41 + SessionAudit::kMaxBatch + 2; ++seq) {
      audit.record(StreamAuditNote{
          .kind = Kind::kDelta, .wall_ns = 1300 + seq, .seq = seq, .epoch = 2, .subscription = 1});
    }
    StreamAuditNote conflated{.kind = Kind::kConflatedDelta,
                              .wall_ns = 5000,
                              .seq = 200,
                              .epoch = 2,
                              .subscription = 1,
                              .held_seq = 106};
    conflated.markets = {2};
    audit.record(conflated);
    audit.close("closed by the client", 6000);
    audit.close("twice", 7000);
  }
  (*log)->flush();
  const std::vector<std::string> lines = log_lines(config.path);
  ASSERT_EQ(lines.size(), 7u);
  simdjson::dom::parser parser;
  std::vector<std::string> types;
  for (const std::string& line : lines) {
    simdjson::dom::element record = parser.parse(line).value();
    types.emplace_back(std::string_view(record["type"]));
    EXPECT_EQ(std::string_view(record["session"]), "77-1") << line;
  }
  EXPECT_EQ(types, (std::vector<std::string>{"connect", "subscribe", "image", "deltas", "deltas",
                                             "conflated", "disconnect"}));
  simdjson::dom::element connect = parser.parse(lines[0]).value();
  EXPECT_EQ(std::string_view(connect["remote"]), "127.0.0.1:5000");
  EXPECT_EQ(uint64_t(connect["ts_ns"]), 1000u);
  simdjson::dom::element deltas = parser.parse(lines[3]).value();
  EXPECT_EQ(uint64_t(deltas["ts_ns"]), 1341u);
  simdjson::dom::array seqs = deltas["seqs"];
  simdjson::dom::array dts = deltas["dt_ns"];
  EXPECT_EQ(seqs.size(), SessionAudit::kMaxBatch);
  EXPECT_EQ(uint64_t(seqs.at(3).value()), 44u);
  EXPECT_EQ(uint64_t(dts.at(3).value()), 3u) << "written at ts_ns + dt_ns";
  simdjson::dom::element more = parser.parse(lines[4]).value();
  EXPECT_EQ(simdjson::dom::array(more["seqs"]).size(), 2u);
  simdjson::dom::element conflated_record = parser.parse(lines[5]).value();
  EXPECT_EQ(uint64_t(conflated_record["held_seq"]), 106u);
  EXPECT_EQ(uint64_t(conflated_record["seq"]), 200u);
  simdjson::dom::element disconnect = parser.parse(lines[6]).value();
  EXPECT_EQ(std::string_view(disconnect["reason"]), "closed by the client");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace oddsbus::edge
