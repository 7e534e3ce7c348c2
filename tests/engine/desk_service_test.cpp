// The desk service end to end, in process: Sequencer, Journal (temporary directory), IngestQueues,
// SequencerAgent and DeskService on their own threads, asked over a DEALER on tcp loopback. Checks
// acks (seq and epoch of the journaled frame), rejections (unknown market, bad odds, not primary),
// idempotent retries, the override of feed prices until release, and expiry.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "engine/desk_protocol.h"
#include "tests/engine/desk_test_support.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;

// A desk: one DEALER connected to the service. Every reply is awaited with a bound.
class Desk {
 public:
  Desk(zmq::context_t& context, const std::string& endpoint)
      : socket_(context, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(endpoint);
  }

  void send(const std::string& request) { socket_.send(zmq::buffer(request)); }

  // The next reply's text; "<timeout>" when none came within `timeout`.
  std::string receive(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) return "<timeout>";
    zmq::message_t reply;
    if (!socket_.recv(reply)) return "<timeout>";
    return reply.to_string();
  }

  std::string ask(const std::string& request) {
    send(request);
    return receive();
  }

  desk::Reply ask_reply(const std::string& request) {
    const std::string text = ask(request);
    auto reply = desk::parse_reply(text);
    EXPECT_TRUE(reply) << request << " -> " << text;
    return reply ? *reply : desk::Reply{};
  }

 private:
  zmq::socket_t socket_;
};

size_t count_desk_prices(const std::vector<JournaledFrame>& frames) {
  size_t n = 0;
  for (const auto& f : frames) n += f.type == fb::Payload::PriceUpdate && f.source == "desk";
  return n;
}

TEST(DeskService, AcksASetPriceWithTheSeqAndEpochOfItsJournaledFrame) {
  DeskNode node;
  Desk desk(node.context(), node.endpoint());
  const auto reply = desk.ask_reply("trader r1 set-price 1001 1 5/2");
  ASSERT_TRUE(reply.ok) << desk::format_reply(reply);
  EXPECT_EQ(reply.id, "r1");
  EXPECT_EQ(reply.epoch, 1u);
  const auto frames = journaled_frames(node.journal(), reply.seq);
  ASSERT_FALSE(frames.empty()) << "acked before journaled";
  EXPECT_EQ(frames[0].seq, reply.seq);
  EXPECT_EQ(frames[0].type, fb::Payload::PriceUpdate);
  EXPECT_EQ(frames[0].market, 1001u);
  EXPECT_EQ(frames[0].selection, 1u);
  EXPECT_EQ(frames[0].price_e4, 35000u);
  EXPECT_EQ(frames[0].source, "desk");
  EXPECT_EQ(node.service().counters().applied.load(), 1u);

  const auto suspended = desk.ask_reply("trader r2 suspend 1001");
  ASSERT_TRUE(suspended.ok);
  EXPECT_EQ(suspended.seq, reply.seq + 1);
  const auto status = journaled_frames(node.journal(), suspended.seq);
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].status, fb::MarketStatus::Suspended);
  EXPECT_EQ(status[0].reason, fb::StatusReason::Trader);
  EXPECT_FALSE(node.failed());
}

TEST(DeskService, RejectsUnknownMarketsBadOddsAndMalformedRequests) {
  DeskNode node;
  Desk desk(node.context(), node.endpoint());
  const uint64_t before = journaled_frames(node.journal()).back().seq;
  EXPECT_EQ(desk.ask("trader r1 set-price 4242 1 2.5"), "reject r1 unknown-market");
  const auto odds = desk.ask_reply("trader r2 set-price 1001 1 0.5");
  EXPECT_FALSE(odds.ok);
  EXPECT_EQ(odds.reason, desk::RejectReason::kBadOdds);
  EXPECT_EQ(desk.ask_reply("trader r3 set-price 1001 1 2/x").reason, desk::RejectReason::kBadOdds);
  EXPECT_EQ(desk.ask_reply("trader r4 set-price 1001 9 2.5").reason,
            desk::RejectReason::kUnknownSelection);
  const auto bad = desk.ask_reply("trader r5 fly 1001");
  EXPECT_EQ(bad.reason, desk::RejectReason::kBadRequest);
  EXPECT_EQ(bad.id, "r5");
  EXPECT_EQ(desk.ask_reply("trader r6 release 1001").reason, desk::RejectReason::kNotOverridden);
  EXPECT_EQ(journaled_frames(node.journal()).back().seq, before) << "nothing was sequenced";
  const auto& rejected = node.service().counters().rejected;
  EXPECT_EQ(rejected[static_cast<size_t>(desk::RejectReason::kBadOdds)].load(), 2u);
  EXPECT_EQ(rejected[static_cast<size_t>(desk::RejectReason::kUnknownMarket)].load(), 1u);
}

TEST(DeskService, ASecondaryRejectsWithThePrimarysAddress) {
  DeskNode node;
  Desk desk(node.context(), node.endpoint());
  const uint64_t before = journaled_frames(node.journal()).back().seq;
  node.service().set_not_primary("tcp://10.1.2.3:7003");
  EXPECT_EQ(desk.ask("trader r1 suspend 1001"), "reject r1 not-primary tcp://10.1.2.3:7003");
  EXPECT_EQ(journaled_frames(node.journal()).back().seq, before);
  node.service().set_primary();
  const auto reply = desk.ask_reply("trader r1 suspend 1001");
  EXPECT_TRUE(reply.ok) << "a not-primary rejection is not remembered: the retry is applied";
  EXPECT_EQ(reply.seq, before + 1);
}

TEST(DeskService, ARetriedRequestIsAnsweredAgainButAppliedOnce) {
  DeskNode node;
  Desk desk(node.context(), node.endpoint());
  Desk reconnected(node.context(), node.endpoint());
  // Sent twice before the first ack can arrive, then once more after it, from another connection.
  desk.send("trader r1 set-price 1001 2 7/2");
  desk.send("trader r1 set-price 1001 2 7/2");
  const std::string first = desk.receive();
  const std::string second = desk.receive();
  const std::string third = reconnected.ask("trader r1 set-price 1001 2 7/2");
  ASSERT_TRUE(first.starts_with("ack r1 ")) << first;
  EXPECT_EQ(second, first);
  EXPECT_EQ(third, first);
  EXPECT_EQ(count_desk_prices(journaled_frames(node.journal())), 1u);
  EXPECT_EQ(node.service().counters().retries.load(), 2u);

  // The same id for a different request is refused, not applied.
  EXPECT_EQ(desk.ask_reply("trader r1 set-price 1001 2 9/2").reason,
            desk::RejectReason::kBadRequest);
  // Another client may use the same id.
  EXPECT_TRUE(desk.ask_reply("other r1 set-price 1001 2 9/2").ok);
  EXPECT_EQ(count_desk_prices(journaled_frames(node.journal())), 2u);
}

TEST(DeskService, FeedPricesOfADeskMarketWaitForTheRelease) {
  DeskNode node;
  Desk desk(node.context(), node.endpoint());
  const auto taken = desk.ask_reply("trader r1 set-price 1001 1 5.0");
  ASSERT_TRUE(taken.ok);

  node.push_feed(DeskNode::feed_price(1001, 2, "3.4"));
  node.push_feed(DeskNode::feed_price(1002, 1, "4.0"));  // a marker: not held
  ASSERT_TRUE(node.wait_for_seq_past(taken.seq)) << "the marker was never sequenced";
  auto frames = journaled_frames(node.journal(), taken.seq + 1);
  ASSERT_EQ(frames.size(), 1u) << "only the marker: the price for market 1001 is held";
  EXPECT_EQ(frames[0].market, 1002u);

  const auto released = desk.ask_reply("trader r2 release 1001");
  ASSERT_TRUE(released.ok) << desk::format_reply(released);
  frames = journaled_frames(node.journal(), taken.seq + 2);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].selection, 1u);
  EXPECT_EQ(frames[0].price_e4, 20000u) << "Home back to the feed's 2.0";
  EXPECT_NE(frames[0].source, "desk");
  EXPECT_EQ(frames[1].source, "bf");
  EXPECT_EQ(frames[1].selection, 2u);
  EXPECT_EQ(frames[1].price_e4, 34000u) << "Draw at the price the feed sent meanwhile";
  EXPECT_EQ(frames[2].type, fb::Payload::MarketStatusUpdate);
  EXPECT_EQ(frames[2].seq, released.seq);

  node.push_feed(DeskNode::feed_price(1001, 2, "3.6"));
  ASSERT_TRUE(node.wait_for_seq_past(released.seq)) << "feed prices flow again after release";
  EXPECT_EQ(journaled_frames(node.journal(), released.seq + 1).at(0).price_e4, 36000u);
}

TEST(DeskService, AnOverrideWithAnExpiryHandsTheMarketBackByItself) {
  DeskNode node;
  Desk desk(node.context(), node.endpoint());
  const auto taken = desk.ask_reply("trader r1 set-price 1001 1 5.0 for=200");
  ASSERT_TRUE(taken.ok);
  node.push_feed(DeskNode::feed_price(1001, 1, "2.2"));
  // The held price and the release status frame appear once the 200 ms have passed.
  ASSERT_TRUE(node.wait_for_seq_past(taken.seq + 1)) << "the override never expired";
  const auto frames = journaled_frames(node.journal(), taken.seq + 1);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].price_e4, 22000u);
  EXPECT_EQ(frames[0].source, "bf");
  EXPECT_EQ(frames[1].type, fb::Payload::MarketStatusUpdate);
  EXPECT_EQ(desk.ask_reply("trader r2 release 1001").reason, desk::RejectReason::kNotOverridden);
}

TEST(DeskService, SettlesAMarket) {
  DeskNode node;
  Desk desk(node.context(), node.endpoint());
  const auto settled = desk.ask_reply("trader r1 settle 1001 1");
  ASSERT_TRUE(settled.ok);
  const auto frames = journaled_frames(node.journal(), settled.seq);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].type, fb::Payload::Settlement);
  EXPECT_EQ(desk.ask_reply("trader r2 set-price 1001 1 2.0").reason,
            desk::RejectReason::kMarketSettled);
}

// Sync replication: the market definitions of DeskNode's start are seqs 1-4, acknowledged by the
// secondary (visible); the desk's frame at seq 5 is journaled but not yet acknowledged.
TEST(DeskService, SyncAckWaitsUntilTheSecondaryAcknowledgedTheFrame) {
  std::atomic<uint64_t> visible{4};
  DeskNode node("tcp://127.0.0.1:*", &visible);
  Desk desk(node.context(), node.endpoint());
  desk.send("trader s1 set-price 1001 1 5/2");
  ASSERT_TRUE(node.wait_for_seq_past(4)) << "the request was never journaled";
  // Journaled here only: a takeover now would lose it, so no ack may say otherwise.
  EXPECT_EQ(desk.receive(std::chrono::milliseconds(200)), "<timeout>");
  visible.store(5);
  auto reply = desk::parse_reply(desk.receive());
  ASSERT_TRUE(reply);
  EXPECT_TRUE(reply->ok) << desk::format_reply(*reply);
  EXPECT_EQ(reply->seq, 5u);
  EXPECT_EQ(node.service().counters().acks_held.load(), 1u);
  EXPECT_EQ(node.service().counters().applied.load(), 1u);
}

TEST(DeskService, SyncRequestUnacknowledgedWhenPrimacyIsLostIsAnsweredUnconfirmed) {
  std::atomic<uint64_t> visible{4};
  DeskNode node("tcp://127.0.0.1:*", &visible);
  Desk desk(node.context(), node.endpoint());
  desk.send("trader s2 suspend 1001");
  ASSERT_TRUE(node.wait_for_seq_past(4)) << "the request was never journaled";
  node.service().set_not_primary("tcp://other:1");  // fenced, or about to be taken over
  visible.store(UINT64_MAX);  // replication from the new primary: not this request's doing
  auto reply = desk::parse_reply(desk.receive());
  ASSERT_TRUE(reply);
  EXPECT_FALSE(reply->ok) << desk::format_reply(*reply);
  EXPECT_EQ(reply->reason, desk::RejectReason::kUnconfirmed);
  EXPECT_EQ(node.service().counters().applied.load(), 0u);
  // A retry is told the same, never a late ack.
  EXPECT_EQ(desk::parse_reply(desk.ask("trader s2 suspend 1001"))->reason,
            desk::RejectReason::kUnconfirmed);
}

}  // namespace
}  // namespace oddsbus::engine
