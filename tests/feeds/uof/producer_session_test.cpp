// The UOF producer session (feeds/uof/producer_session.h) against Sportradar's documented producer
// and recovery rules (cited in the header): each test is a sequence of messages, ticks and API
// answers and what the session must do; the last ones also run its output through the adapter to
// check the markets a down producer priced are suspended and come back only with its recovery.
#include "feeds/uof/producer_session.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "feeds/uof/uof_adapter.h"
#include "tests/feeds/uof/uof_test_support.h"

namespace oddsbus::feeds::uof {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

std::string alive(uint64_t product, uint64_t timestamp, int subscribed) {
  return "<alive product=\"" + std::to_string(product) + "\" timestamp=\"" +
         std::to_string(timestamp) + "\" subscribed=\"" + std::to_string(subscribed) + "\"/>";
}

std::string snapshot_complete(uint64_t product, uint64_t request_id, uint64_t timestamp = 1) {
  return "<snapshot_complete product=\"" + std::to_string(product) + "\" request_id=\"" +
         std::to_string(request_id) + "\" timestamp=\"" + std::to_string(timestamp) + "\"/>";
}

class ProducerSessionTest : public ::testing::Test {
 protected:
  static ProducerSessionConfig test_config() {
    ProducerSessionConfig config;
    config.node_id = 7;
    config.first_request_id = 100;
    config.heartbeat_interval_ns = 0;  // HeartbeatsWhileAProducerIsUp turns it on
    return config;
  }
  // Clock at t seconds (monotonic) and wall 1'700'000'000'000 + t s.
  static SessionClock at(uint64_t t) { return {1'700'000'000'000 + t * 1000, t * kSecond}; }
  const ProducerActions& message(const std::string& m, uint64_t t) {
    session_.on_message(m, at(t), out_);
    return out_;
  }
  const ProducerActions& tick(uint64_t t) {
    session_.on_tick(at(t), out_);
    return out_;
  }
  // Brings `product` up at time t (first alive, its recovery, its snapshot_complete).
  void bring_up(uint64_t product, uint64_t t) {
    message(alive(product, at(t).wall_ms, 1), t);
    ASSERT_EQ(out_.requests.size(), 1u);
    const uint64_t id = out_.requests[0].request_id;
    message(snapshot_complete(product, id), t);
    ASSERT_TRUE(out_.deliver);
    ASSERT_EQ(session_.state(product), ProducerSession::State::kUp);
  }

  ProducerSession session_{test_config()};
  ProducerActions out_;
};

TEST(UofMessageHead, ReadsTheRootAttributesTheSessionNeeds) {
  const auto head = read_head(
      "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><!-- c -->\n"
      "<snapshot_complete request_id='42' product=\"3\" timestamp=\"1700000011000\"/>");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->name, "snapshot_complete");
  EXPECT_EQ(head->product, 3u);
  EXPECT_EQ(head->request_id, 42u);
  EXPECT_EQ(head->timestamp_ms, 1700000011000u);
  EXPECT_FALSE(head->subscribed);
  const auto odds = read_head("<odds_change product=\"1\" event_id=\"sr:match:1\"><odds/>");
  ASSERT_TRUE(odds);
  EXPECT_EQ(odds->name, "odds_change");
  EXPECT_EQ(read_head("<alive product=\"x\"/>")->product, std::nullopt);
  EXPECT_FALSE(read_head("not xml"));
  EXPECT_FALSE(read_head("<alive product=\"1"));
  EXPECT_FALSE(read_head(""));
}

TEST_F(ProducerSessionTest, AProducerFirstHeardOfIsDownUntilItsFirstRecoveryCompletes) {
  const ProducerActions& first = message(alive(1, 1000, 1), 0);
  // The adapter is told it is down before it reads the alive itself.
  ASSERT_EQ(first.inject.size(), 1u);
  EXPECT_EQ(read_head(first.inject[0])->subscribed, 0u);
  EXPECT_EQ(read_head(first.inject[0])->product, 1u);
  EXPECT_TRUE(first.deliver);
  ASSERT_EQ(first.requests.size(), 1u);
  // No alive seen while up: a full odds recovery.
  EXPECT_EQ(first.requests[0].target(),
            "liveodds/recovery/initiate_request?request_id=100&node_id=7");
  EXPECT_EQ(session_.state(1), ProducerSession::State::kRecovering);
  EXPECT_TRUE(message(snapshot_complete(1, 100), 1).deliver);
  EXPECT_EQ(session_.state(1), ProducerSession::State::kUp);
  EXPECT_EQ(session_.counters().producer_up, 1u);
}

TEST_F(ProducerSessionTest, AnUnsubscribedFirstAliveNeedsNoInjectedDown) {
  const ProducerActions& first = message(alive(3, 1000, 0), 0);
  EXPECT_TRUE(first.inject.empty());  // the adapter reads subscribed="0" itself
  ASSERT_EQ(first.requests.size(), 1u);
  EXPECT_EQ(first.requests[0].path, "pre");
}

TEST_F(ProducerSessionTest, OnlyTheSnapshotCompleteOfThePendingRequestBringsAProducerUp) {
  message(alive(1, 1000, 1), 0);
  EXPECT_FALSE(message(snapshot_complete(1, 99), 1).deliver);   // another request
  EXPECT_FALSE(message(snapshot_complete(3, 100), 1).deliver);  // another producer
  EXPECT_FALSE(message("<snapshot_complete product=\"1\" timestamp=\"5\"/>", 1).deliver);
  EXPECT_EQ(session_.state(1), ProducerSession::State::kRecovering);
  EXPECT_EQ(session_.counters().snapshots_ignored, 3u);
  EXPECT_TRUE(message(snapshot_complete(1, 100), 2).deliver);
  // Once up, a repeat is dropped too: the adapter never sees a second completion.
  EXPECT_FALSE(message(snapshot_complete(1, 100), 3).deliver);
}

TEST_F(ProducerSessionTest, SilenceBeyondTheLimitTakesAProducerDownAndItsNextAliveRecovers) {
  bring_up(1, 0);
  message(alive(1, 1'700'000'005'000, 1), 5);
  message(alive(1, 1'700'000'010'000, 1), 10);
  EXPECT_TRUE(tick(25).inject.empty());  // 15 s after the last alive: not beyond the limit
  const ProducerActions& down = tick(26);
  ASSERT_EQ(down.inject.size(), 1u);
  EXPECT_EQ(read_head(down.inject[0])->subscribed, 0u);
  EXPECT_TRUE(down.requests.empty());  // no recovery before alive messages come again
  EXPECT_EQ(session_.state(1), ProducerSession::State::kDown);
  EXPECT_TRUE(tick(40).inject.empty());  // told once
  const ProducerActions& back = message(alive(1, 1'700'000'060'000, 1), 60);
  EXPECT_TRUE(back.inject.empty());
  ASSERT_EQ(back.requests.size(), 1u);
  // From the last alive received while up.
  EXPECT_EQ(back.requests[0].after_ms, 1'700'000'010'000u);
  EXPECT_EQ(back.requests[0].target(),
            "liveodds/recovery/initiate_request?after=1700000010000&request_id=101&node_id=7");
  EXPECT_EQ(session_.counters().inactivity_down, 1u);
  EXPECT_EQ(session_.counters().producer_down, 2u);  // at start, and for the silence
}

TEST_F(ProducerSessionTest, AnUnsubscribedAliveTakesAnUpProducerDownAndAsksForRecovery) {
  bring_up(1, 0);
  message(alive(1, 1'700'000'040'000, 1), 40);
  const ProducerActions& down = message(alive(1, 1'700'000'050'000, 0), 50);
  EXPECT_TRUE(down.inject.empty());
  EXPECT_TRUE(down.deliver);
  ASSERT_EQ(down.requests.size(), 1u);
  EXPECT_EQ(down.requests[0].after_ms, 1'700'000'040'000u);
  EXPECT_EQ(session_.counters().unsubscribed_down, 1u);
}

TEST_F(ProducerSessionTest, ATimestampBeyondTheProducersRecoveryPeriodAsksForEverything) {
  bring_up(1, 0);
  bring_up(3, 0);
  message(alive(1, 1'700'000'001'000, 1), 1);
  message(alive(3, 1'700'000'001'000, 1), 1);
  message(alive(1, 1, 0), 11 * 3600);  // 11 hours later: Live Odds recovers 10 hours at most
  ASSERT_EQ(out_.requests.size(), 1u);
  EXPECT_EQ(out_.requests[0].after_ms, 0u);
  message(alive(3, 1, 0), 11 * 3600);  // pre-match: 72 hours
  ASSERT_EQ(out_.requests.size(), 1u);
  EXPECT_EQ(out_.requests[0].after_ms, 1'700'000'001'000u);
}

TEST_F(ProducerSessionTest, ARefusedRequestIsAskedAgainOnlyAfterTheMinimumInterval) {
  message(alive(1, 1, 0), 0);
  ASSERT_EQ(out_.requests.size(), 1u);
  session_.on_request_result(1, 100, false, "HTTP 403", at(1), out_);
  ASSERT_EQ(out_.notices.size(), 1u);
  EXPECT_EQ(out_.notices[0].kind, ProducerNotice::Kind::kRequestFailed);
  EXPECT_EQ(session_.state(1), ProducerSession::State::kDown);
  EXPECT_TRUE(message(alive(1, 2, 0), 10).requests.empty());
  EXPECT_TRUE(message(alive(1, 3, 0), 29).requests.empty());
  ASSERT_EQ(message(alive(1, 4, 0), 30).requests.size(), 1u);
  EXPECT_EQ(out_.requests[0].request_id, 101u);
  EXPECT_EQ(session_.counters().recovery_failures, 1u);
  EXPECT_EQ(session_.counters().recovery_requests, 2u);
}

TEST_F(ProducerSessionTest, ARecoveryThatNeverCompletesIsAbandonedAndAskedAgain) {
  message(alive(1, 1, 1), 0);
  for (uint64_t t = 10; t <= 1200; t += 10) {
    message(alive(1, t, 1), t);
    EXPECT_TRUE(out_.requests.empty()) << t;
    tick(t);
  }
  tick(1201);
  EXPECT_EQ(session_.counters().recovery_timeouts, 1u);
  EXPECT_EQ(session_.state(1), ProducerSession::State::kDown);
  ASSERT_EQ(message(alive(1, 1202, 1), 1202).requests.size(), 1u);
  EXPECT_FALSE(message(snapshot_complete(1, 100), 1203).deliver);  // the abandoned one
  EXPECT_TRUE(message(snapshot_complete(1, 101), 1204).deliver);
}

TEST_F(ProducerSessionTest, StillUnsubscribedLongAfterARequestAsksAgain) {
  message(alive(1, 1, 0), 0);
  EXPECT_TRUE(message(alive(1, 2, 0), 10).requests.empty());
  ASSERT_EQ(message(alive(1, 3, 0), 30).requests.size(), 1u);
  EXPECT_EQ(out_.requests[0].request_id, 101u);
}

TEST_F(ProducerSessionTest, ALostConnectionTakesEveryProducerDownAndForgetsPendingRecoveries) {
  bring_up(1, 0);
  message(alive(3, 1, 0), 0);  // recovering; the adapter knows it is down
  session_.on_disconnected(at(5), out_);
  ASSERT_EQ(out_.inject.size(), 1u);  // only the producer the adapter thought up
  EXPECT_EQ(read_head(out_.inject[0])->product, 1u);
  EXPECT_EQ(session_.state(1), ProducerSession::State::kDown);
  EXPECT_EQ(session_.state(3), ProducerSession::State::kDown);
  // The old queue's recovery is gone with it.
  EXPECT_FALSE(message(snapshot_complete(3, 101), 6).deliver);
  ASSERT_EQ(message(alive(3, 7, 1), 40).requests.size(), 1u);
  ASSERT_EQ(message(alive(1, 7, 1), 40).requests.size(), 1u);
}

TEST_F(ProducerSessionTest, ProducersGoDownAndRecoverIndependently) {
  bring_up(1, 0);
  bring_up(3, 0);
  message(alive(1, 1, 1), 5);
  message(alive(3, 1, 1), 20);
  tick(21);  // producer 1 silent for 16 s, producer 3 heard 1 s ago
  EXPECT_EQ(session_.state(1), ProducerSession::State::kDown);
  EXPECT_EQ(session_.state(3), ProducerSession::State::kUp);
}

TEST_F(ProducerSessionTest, AProducerWithoutARecoveryPathStaysDownAndIsCounted) {
  message(alive(42, 1, 1), 0);
  EXPECT_TRUE(out_.requests.empty());
  ASSERT_FALSE(out_.notices.empty());
  EXPECT_EQ(out_.notices.back().kind, ProducerNotice::Kind::kUnroutable);
  EXPECT_EQ(session_.state(42), ProducerSession::State::kDown);
  EXPECT_EQ(session_.counters().unroutable, 1u);
}

TEST_F(ProducerSessionTest, OtherMessagesAreDeliveredWhateverTheProducersState) {
  EXPECT_TRUE(message("<odds_change product=\"1\" event_id=\"sr:match:1\"/>", 0).deliver);
  EXPECT_TRUE(message("garbage", 0).deliver);  // the adapter rejects it and counts it
  message(alive(1, 1, 0), 1);
  EXPECT_TRUE(message("<odds_change product=\"1\" event_id=\"sr:match:1\"/>", 2).deliver);
}

TEST(ProducerSessionHeartbeat, AnAliveOfAnUpProducerIsInjectedOnTicksAtTheInterval) {
  ProducerSessionConfig config;
  config.heartbeat_interval_ns = 2 * kSecond;
  ProducerSession session(config);
  ProducerActions out;
  auto at = [](uint64_t t) { return SessionClock{1000 + t * 1000, t * kSecond}; };
  session.on_message(alive(3, 1, 0), at(0), out);
  session.on_tick(at(3), out);
  EXPECT_TRUE(out.inject.empty());  // nothing up: no heartbeat
  session.on_message(snapshot_complete(3, 1), at(3), out);
  session.on_tick(at(4), out);
  ASSERT_EQ(out.inject.size(), 1u);
  EXPECT_EQ(read_head(out.inject[0])->subscribed, 1u);
  EXPECT_EQ(read_head(out.inject[0])->product, 3u);
  session.on_tick(at(5), out);
  EXPECT_TRUE(out.inject.empty());
  session.on_tick(at(6), out);
  EXPECT_EQ(out.inject.size(), 1u);
  EXPECT_EQ(session.state(3), ProducerSession::State::kUp);
}

TEST(UofBindingKeys, BindSystemMessagesAndEachMappedEvent) {
  auto mapping = Mapping::parse(R"(
[[market]]
id = 1
event = 1
name = "A"
sources = ["sr"]
selections = [{ id = 1, name = "H" }]
[market.provider.sr]
event = "sr:match:12345"
market = "1"
selections = { "1" = 1 }

[[market]]
id = 2
event = 2
name = "B"
sources = ["sr"]
selections = [{ id = 1, name = "H" }]
[market.provider.sr]
event = "vf:match:99"
market = "1"
selections = { "1" = 1 }
)");
  ASSERT_TRUE(mapping) << mapping.error();
  EXPECT_EQ(binding_keys(*mapping, "sr"),
            (std::vector<std::string>{"-.-.-.#", "*.*.*.*.*.sr:match.12345.*",
                                      "*.*.*.*.*.vf:match.99.*"}));
  EXPECT_EQ(binding_keys(*mapping, "other"), std::vector<std::string>{"#"});
  EXPECT_EQ(binding_keys(Mapping{}, "sr"), std::vector<std::string>{"#"});
}

// The session in front of the adapter, as the transport runs them: the markets of a producer that
// goes silent are suspended feed-stale, and open again only with its recovery's snapshot_complete.
class ProducerSessionWithAdapterTest : public ProducerSessionTest {
 protected:
  std::vector<std::string> run(const std::string& m, uint64_t t) {
    session_.on_message(m, at(t), out_);
    return apply(m);
  }
  std::vector<std::string> run_tick(uint64_t t) {
    session_.on_tick(at(t), out_);
    return apply("");
  }
  std::vector<std::string> apply(const std::string& m) {
    events_.clear();
    for (const std::string& injected : out_.inject) {
      EXPECT_TRUE(adapter_.parse(injected, events_));
    }
    if (out_.deliver) {
      EXPECT_TRUE(adapter_.parse(m, events_));
    }
    std::vector<std::string> lines;
    for (const Event& e : events_) {
      if (e.type == EventType::kStatus) {
        lines.push_back(testing::status_line(e) +
                        (e.reason == fb::StatusReason::FeedStale ? " (feed-stale)" : ""));
      } else if (e.type != EventType::kPrice) {
        lines.push_back(testing::describe_other(e));
      }
    }
    return lines;
  }
  static std::string odds(uint64_t product, uint64_t timestamp, int market) {
    return "<odds_change product=\"" + std::to_string(product) +
           "\" event_id=\"sr:match:12345\" timestamp=\"" + std::to_string(timestamp) + "\"><odds>" +
           (market == 1 ? "<market id=\"1\" status=\"1\"><outcome id=\"1\" odds=\"2.5\"/>"
                          "<outcome id=\"2\" odds=\"3.4\"/><outcome id=\"3\" odds=\"2.9\"/>"
                          "</market>"
                        : "<market id=\"18\" specifiers=\"total=2.5\" status=\"1\">"
                          "<outcome id=\"12\" odds=\"1.9\"/><outcome id=\"13\" odds=\"1.9\"/>"
                          "</market>") +
           "</odds></odds_change>";
  }

  Mapping mapping_ = testing::load_mapping();
  UofAdapter adapter_{mapping_, "sr"};
  std::vector<Event> events_;
};

TEST_F(ProducerSessionWithAdapterTest, ASilentProducersMarketsAreSuspendedUntilItsRecovery) {
  using L = std::vector<std::string>;
  // Start: producer 1 down (the source with it) until its first recovery completes.
  EXPECT_EQ(run(alive(1, at(0).wall_ms, 1), 0), (L{"source down"}));
  EXPECT_EQ(run(odds(1, 2000, 1), 1), (L{"status 1001 suspended"}));
  EXPECT_EQ(run(snapshot_complete(1, 100), 2), (L{"source up", "status 1001 open"}));
  // Producer 3 comes up too; it prices the total.
  run(alive(3, at(3).wall_ms, 1), 3);
  EXPECT_EQ(run(odds(3, 3500, 2), 3), (L{"status 1002 suspended"}));
  EXPECT_EQ(run(snapshot_complete(3, 101), 4), (L{"status 1002 open"}));
  run(alive(1, at(10).wall_ms, 1), 10);
  run(alive(3, at(20).wall_ms, 1), 20);
  // Producer 1 silent beyond the limit: only its market is suspended; producer 3's stays open.
  EXPECT_EQ(run_tick(26), (L{"status 1001 suspended (feed-stale)", "heartbeat"}));
  // It speaks again: recovery from its last alive; its odds (prices) are taken, the market held
  // suspended...
  run(alive(1, at(40).wall_ms, 1), 40);
  ASSERT_EQ(out_.requests.size(), 1u);
  EXPECT_EQ(out_.requests[0].after_ms, at(10).wall_ms);
  EXPECT_EQ(run(odds(1, 40500, 1), 40), L{});
  // ... a stale snapshot_complete changes nothing ...
  EXPECT_EQ(run(snapshot_complete(1, 100), 41), L{});
  // ... and the matching one opens it.
  EXPECT_EQ(run(snapshot_complete(1, 102), 42), (L{"status 1001 open"}));
}

}  // namespace
}  // namespace oddsbus::feeds::uof
