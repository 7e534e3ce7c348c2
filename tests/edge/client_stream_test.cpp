#include "edge/client_stream.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "edge/client_tokens.h"
#include "tests/edge/edge_test_frames.h"

namespace oddsbus::edge {
namespace {

using testing_support::Change;
using testing_support::drain;
using testing_support::EdgeFeed;
using testing_support::FoldedClient;
using testing_support::holds_state_of;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;

// The fields of a server message the tests look at.
struct Parsed {
  std::string type;
  uint64_t seq = 0;
  bool conflated = false;
  std::string reason;
  bool stale = false;
  std::vector<uint64_t> markets;
  std::vector<bool> market_stale;
};

Parsed parse(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  Parsed p;
  if (parser.parse(text).get(root) != simdjson::SUCCESS) {
    ADD_FAILURE() << "unparseable: " << text;
    return p;
  }
  p.type = std::string(root["type"].get_string().value());
  uint64_t seq = 0;
  if (root["seq"].get(seq) == simdjson::SUCCESS) p.seq = seq;
  bool flag = false;
  if (root["conflated"].get(flag) == simdjson::SUCCESS) p.conflated = flag;
  if (root["stale"].get(flag) == simdjson::SUCCESS) p.stale = flag;
  std::string_view reason;
  if (root["reason"].get(reason) == simdjson::SUCCESS) p.reason = std::string(reason);
  if (root["error"].get(reason) == simdjson::SUCCESS) p.reason = std::string(reason);
  simdjson::dom::array markets;
  if (root["markets"].get(markets) == simdjson::SUCCESS) {
    for (simdjson::dom::element m : markets) {
      p.markets.push_back(m["market"].get_uint64().value());
      if (m["stale"].get(flag) == simdjson::SUCCESS) p.market_stale.push_back(flag);
    }
  }
  return p;
}

std::vector<std::string> types_of(const std::vector<std::string>& messages) {
  std::vector<std::string> types;
  for (const std::string& m : messages) types.push_back(parse(m).type);
  return types;
}

class ClientStreamTest : public ::testing::Test {
 protected:
  ClientStreamTest() { reset_feed({}, true); }

  // A new edge: event 10 holds markets 1 and 2, event 20 market 3, event 30 market 4 (seq 4).
  void reset_feed(const MarketCacheConfig& config, bool positioned) {
    feed_ = std::make_unique<EdgeFeed>(config);
    feed_->define(1, 10, "Match odds", {{11, "Home"}, {12, "Draw"}, {13, "Away"}});
    feed_->define(2, 10, "Total goals", {{21, "Over"}, {22, "Under"}});
    feed_->define(3, 20, "Winner", {{31, "A"}, {32, "B"}});
    feed_->define(4, 30, "Top scorer", {{41, "X"}});
    if (positioned) feed_->install_snapshot();
  }

  StreamContext ctx() { return StreamContext{feed_->cache(), Freshness{stale_, wall_ns_}, now_}; }

  ClientStream& client(ClientStreamConfig config = {}) {
    clients_.push_back(std::make_unique<ClientStream>(config, totals_, now_));
    return *clients_.back();
  }
  void send(ClientStream& stream, std::string_view text) { stream.on_text(text, parser_, ctx()); }
  // Hands a change the edge applied to every client, as the edge does.
  void publish(const Change& change) {
    if (!change) return;
    for (auto& c : clients_) c->on_change(change, ctx());
  }
  std::vector<std::string> read(ClientStream& stream) { return drain(stream, ctx()); }
  void tick(ClientStream& stream) { stream.on_tick(ctx()); }

  std::unique_ptr<EdgeFeed> feed_;
  StreamTotals totals_;
  ClientRequestParser parser_{1000};
  std::vector<std::unique_ptr<ClientStream>> clients_;
  uint64_t now_ = 1000 * kSec;
  uint64_t wall_ns_ = 1'700'000'000 * kSec;
  bool stale_ = false;
};

TEST_F(ClientStreamTest, SendsAnImageThenDeltasWithStrictlyIncreasingSeqs) {
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": "all"})");
  const std::vector<std::string> first = read(c);
  ASSERT_EQ(first.size(), 1u);
  const Parsed image = parse(first[0]);
  EXPECT_EQ(image.type, "image");
  EXPECT_EQ(image.reason, "subscribe");
  EXPECT_EQ(image.seq, 4u);
  EXPECT_EQ(image.markets, (std::vector<uint64_t>{1, 2, 3, 4}));

  publish(feed_->price(1, 11, "2.5"));
  publish(feed_->prices(3, {{31, "1.5"}, {32, "3.0"}}));
  publish(feed_->change_epoch());  // touches nothing: no delta
  publish(feed_->suspend_event(10));
  publish(feed_->define(5, 30, "New", {{51, "Z"}}));
  const std::vector<std::string> rest = read(c);
  std::vector<uint64_t> seqs;
  for (const std::string& m : rest) {
    const Parsed p = parse(m);
    EXPECT_EQ(p.type, "delta");
    EXPECT_FALSE(p.conflated);
    seqs.push_back(p.seq);
  }
  EXPECT_EQ(seqs, (std::vector<uint64_t>{5, 6, 8, 9}));

  FoldedClient folded;
  folded.fold_all(first);
  folded.fold_all(rest);
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state()));
  EXPECT_EQ(totals_.images_sent, 1u);
  EXPECT_EQ(totals_.deltas_sent, 4u);
  EXPECT_EQ(totals_.messages_sent, 5u);
}

TEST_F(ClientStreamTest, SendsNothingForAFrameThatTouchesOnlyOtherMarkets) {
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": [1, 3]})");
  const std::vector<std::string> image = read(c);
  ASSERT_EQ(image.size(), 1u);
  EXPECT_EQ(parse(image[0]).markets, (std::vector<uint64_t>{1, 3}));

  publish(feed_->price(2, 21, "2.0"));
  publish(feed_->status(4, fb::MarketStatus::Suspended));
  EXPECT_EQ(c.queued_messages(), 0u);
  publish(feed_->price(3, 31, "4.0"));
  const std::vector<std::string> deltas = read(c);
  ASSERT_EQ(deltas.size(), 1u);
  EXPECT_EQ(parse(deltas[0]).seq, 7u);
  EXPECT_EQ(parse(deltas[0]).markets, (std::vector<uint64_t>{3}));

  FoldedClient folded;
  folded.fold_all(image);
  folded.fold_all(deltas);
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state(),
                             [](const MarketRecord& m) { return m.id == 1 || m.id == 3; }));
}

TEST_F(ClientStreamTest, FiltersAMultiMarketFrameToTheSubscribedMarkets) {
  ClientStream& mine = client();
  ClientStream& everything = client();
  send(mine, R"({"op": "subscribe", "markets": [2]})");
  send(everything, R"({"op": "subscribe", "markets": "all"})");
  read(mine);
  read(everything);
  const Change change = feed_->suspend_event(10);
  ASSERT_EQ(change->markets.size(), 2u);
  publish(change);
  const std::vector<std::string> filtered = read(mine);
  ASSERT_EQ(filtered.size(), 1u);
  const Parsed p = parse(filtered[0]);
  EXPECT_EQ(p.seq, 5u);
  EXPECT_EQ(p.markets, (std::vector<uint64_t>{2}));
  const std::vector<std::string> whole = read(everything);
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0], *change->all_delta) << "an 'all' client gets the shared rendering";
}

TEST_F(ClientStreamTest, SubscribesToAnEventIncludingMarketsDefinedLater) {
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "event": 20})");
  FoldedClient folded;
  folded.fold_all(read(c));
  EXPECT_EQ(folded.markets.size(), 1u);
  publish(feed_->price(1, 11, "2.0"));
  EXPECT_EQ(c.queued_messages(), 0u);
  publish(feed_->define(6, 20, "Handicap", {{61, "Plus"}, {62, "Minus"}}));
  publish(feed_->price(6, 62, "1.8"));
  folded.fold_all(read(c));
  EXPECT_EQ(folded.deltas, 2u);
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state(),
                             [](const MarketRecord& m) { return m.event == 20; }));
}

TEST_F(ClientStreamTest, ResumesWithOnlyTheMissedDeltasAndNoImage) {
  FoldedClient folded;
  ClientStream& before = client();
  send(before, R"({"op": "subscribe", "markets": "all"})");
  publish(feed_->price(1, 11, "2.0"));
  folded.fold_all(read(before));
  ASSERT_EQ(folded.last_seq, 5u);
  // The connection drops; the edge moves on.
  clients_.clear();
  publish(feed_->price(1, 12, "3.0"));
  publish(feed_->status(3, fb::MarketStatus::Suspended));
  publish(feed_->define(2, 10, "Total goals", {{21, "Over"}, {22, "Under"}, {23, "Exactly"}}));

  ClientStream& after = client();
  send(after, R"({"op": "subscribe", "markets": "all", "resume_from": 5, "resume_epoch": 1})");
  const std::vector<std::string> missed = read(after);
  EXPECT_EQ(types_of(missed), (std::vector<std::string>{"resumed", "delta", "delta", "delta"}));
  EXPECT_EQ(parse(missed.front()).seq, 5u) << "resumed confirms where the client is";
  folded.fold_all(missed);
  EXPECT_EQ(folded.delta_seqs, (std::vector<uint64_t>{5, 6, 7, 8}));
  EXPECT_EQ(folded.images, 1u);
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state()));
  EXPECT_EQ(totals_.resumes, 1u);
  EXPECT_EQ(totals_.resume_misses, 0u);

  publish(feed_->price(2, 23, "9.0"));
  folded.fold_all(read(after));
  EXPECT_EQ(folded.last_seq, 9u);
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state()));
}

TEST_F(ClientStreamTest, ResumesFromTheNewestSeqWithNothingToSend) {
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": [1], "resume_from": 4, "resume_epoch": 1})");
  const std::vector<std::string> ack = read(c);
  ASSERT_EQ(types_of(ack), (std::vector<std::string>{"resumed"})) << "nothing missed, but heard";
  EXPECT_EQ(parse(ack[0]).seq, 4u);
  EXPECT_TRUE(c.subscribed());
  publish(feed_->price(1, 11, "2.0"));
  EXPECT_EQ(types_of(read(c)), (std::vector<std::string>{"delta"}));
}

TEST_F(ClientStreamTest, SendsAnImageWhenResumeFromIsOlderThanTheWindow) {
  reset_feed(MarketCacheConfig{.retain_frames = 2, .retain_bytes = size_t{1} << 20}, true);
  for (int i = 0; i < 5; ++i) publish(feed_->price(1, 11, i % 2 ? "2.0" : "3.0"));  // 5..9
  ASSERT_EQ(feed_->cache().covered_after(), 7u);
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": "all", "resume_from": 6, "resume_epoch": 1})");
  const std::vector<std::string> messages = read(c);
  ASSERT_EQ(messages.size(), 1u);
  const Parsed image = parse(messages[0]);
  EXPECT_EQ(image.type, "image");
  EXPECT_EQ(image.reason, "resume-unavailable");
  EXPECT_EQ(image.seq, 9u);
  EXPECT_EQ(totals_.resume_misses, 1u);
  EXPECT_EQ(totals_.resumes, 0u);

  ClientStream& at_edge = client();
  send(at_edge, R"({"op": "subscribe", "markets": "all", "resume_from": 7, "resume_epoch": 1})");
  EXPECT_EQ(types_of(read(at_edge)), (std::vector<std::string>{"resumed", "delta", "delta"}));
}

TEST_F(ClientStreamTest, SendsAnImageWhenResumeFromIsAheadOfTheEdge) {
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": [1], "resume_from": 5, "resume_epoch": 1})");
  const std::vector<std::string> messages = read(c);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(parse(messages[0]).type, "image");
  EXPECT_EQ(parse(messages[0]).reason, "resume-unavailable");
  EXPECT_EQ(parse(messages[0]).markets, (std::vector<uint64_t>{1}));
}

TEST_F(ClientStreamTest, SendsTheSubscribeImageOnceTheEdgeHasAState) {
  reset_feed({}, false);
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": [1]})");
  EXPECT_TRUE(c.subscribed());
  EXPECT_EQ(types_of(read(c)), (std::vector<std::string>{"stale"})) << "told it is not current";
  publish(feed_->price(1, 11, "2.0"));
  EXPECT_EQ(c.queued_messages(), 0u) << "no delta before the image";
  feed_->install_snapshot();
  c.on_resync(ctx());
  publish(feed_->price(1, 12, "4.0"));
  FoldedClient folded;
  const std::vector<std::string> messages = read(c);
  folded.fold_all(messages);
  EXPECT_EQ(types_of(messages), (std::vector<std::string>{"image", "delta"}));
  EXPECT_EQ(parse(messages[0]).reason, "subscribe");
  EXPECT_EQ(parse(messages[0]).seq, 5u);
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state(),
                             [](const MarketRecord& m) { return m.id == 1; }));
}

// Issue 18, item 6: a resume before the edge has a state was answered as a plain subscribe.
TEST_F(ClientStreamTest, AnswersAResumeBeforeTheEdgeHasAStateWithAResumeUnavailableImage) {
  reset_feed({}, false);
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": "all", "resume_from": 2, "resume_epoch": 1})");
  FoldedClient folded;
  folded.fold_all(read(c));
  EXPECT_EQ(folded.stales, 1u);
  EXPECT_TRUE(folded.last_stale) << "a resuming client holds what may be old: say so";
  feed_->install_snapshot();
  stale_ = false;
  c.on_resync(ctx());
  const std::vector<std::string> messages = read(c);
  folded.fold_all(messages);
  ASSERT_EQ(types_of(messages), (std::vector<std::string>{"image"}));
  EXPECT_EQ(parse(messages[0]).reason, "resume-unavailable");
  EXPECT_FALSE(folded.last_stale);
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state()));
}

TEST_F(ClientStreamTest, SendsAResyncImageWhenTheEdgeReloadsItsState) {
  ClientStream& c = client();
  ClientStream& idle = client();
  send(c, R"({"op": "subscribe", "markets": [1, 2]})");
  FoldedClient folded;
  folded.fold_all(read(c));
  publish(feed_->price(1, 11, "2.0"));  // queued, never written: superseded by the image
  feed_->set_deliver(false);
  feed_->price(1, 11, "3.0");
  feed_->define(2, 10, "Renamed", {{21, "Over"}});
  feed_->set_deliver(true);
  feed_->install_snapshot();
  c.on_resync(ctx());
  idle.on_resync(ctx());
  const std::vector<std::string> messages = read(c);
  EXPECT_EQ(types_of(messages), (std::vector<std::string>{"image"}));
  EXPECT_EQ(parse(messages[0]).reason, "resync");
  EXPECT_EQ(parse(messages[0]).seq, 7u);
  folded.fold_all(messages);
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state(),
                             [](const MarketRecord& m) { return m.event == 10; }));
  EXPECT_EQ(idle.queued_messages(), 0u) << "an unsubscribed client gets no image";
}

TEST_F(ClientStreamTest, ReplacesQueuedDeltasWithTheImageOfANewSubscription) {
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": [1]})");
  read(c);
  publish(feed_->price(1, 11, "2.0"));
  publish(feed_->price(1, 11, "3.0"));
  send(c, R"({"op": "subscribe", "markets": [3]})");
  const std::vector<std::string> messages = read(c);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(parse(messages[0]).type, "image");
  EXPECT_EQ(parse(messages[0]).seq, 6u);
  EXPECT_EQ(parse(messages[0]).markets, (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(c.queued_bytes(), 0u);
}

TEST_F(ClientStreamTest, ConflatesAFallenBehindClientIntoOneDeltaAtTheCurrentSeq) {
  ClientStream& c = client(ClientStreamConfig{.max_queue_bytes = 2048});
  send(c, R"({"op": "subscribe", "markets": [1, 3, 4]})");
  FoldedClient folded;
  folded.fold_all(read(c));
  publish(feed_->price(1, 11, "2.0"));
  // The client reads nothing more: this write never completes while the edge moves on.
  std::shared_ptr<const std::string> stuck = c.start_write(now_);
  ASSERT_NE(stuck, nullptr);
  const char* odds[] = {"2.0", "2.5", "3.0", "3.5"};
  for (int i = 0; i < 300; ++i) {
    publish(feed_->price(i % 3 == 0 ? 3 : 1, i % 3 == 0 ? 31 : 12, odds[i % 4]));
    publish(feed_->price(2, 21, odds[i % 4]));  // not subscribed: never part of it
    EXPECT_LE(c.queued_bytes(), 2048u + stuck->size());
  }
  EXPECT_TRUE(c.conflating());
  EXPECT_EQ(totals_.conflations, 1u);
  folded.fold(*stuck);
  c.on_written(ctx());

  const std::vector<std::string> messages = read(c);
  ASSERT_EQ(messages.size(), 1u);
  const Parsed p = parse(messages[0]);
  EXPECT_EQ(p.type, "delta");
  EXPECT_TRUE(p.conflated);
  EXPECT_EQ(p.seq, feed_->cache().seq());
  EXPECT_EQ(p.markets, (std::vector<uint64_t>{1, 3})) << "exactly the markets touched";
  EXPECT_EQ(totals_.conflated_deltas, 1u);
  EXPECT_FALSE(c.conflating());
  folded.fold_all(messages);
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state(),
                             [](const MarketRecord& m) { return m.id != 2; }));

  // Caught up: plain deltas again, after the conflated seq.
  publish(feed_->price(4, 41, "7.0"));
  const std::vector<std::string> next = read(c);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_FALSE(parse(next[0]).conflated);
  folded.fold_all(next);
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state(),
                             [](const MarketRecord& m) { return m.id != 2; }));
}

TEST_F(ClientStreamTest, FlushesAConflatedDeltaOnATickWhenNothingWasInFlight) {
  ClientStream& c = client(ClientStreamConfig{.max_queue_bytes = 512});
  send(c, R"({"op": "subscribe", "markets": "all"})");
  FoldedClient folded;
  folded.fold_all(read(c));
  for (int i = 0; i < 50; ++i) publish(feed_->price(1, 11, i % 2 ? "2.0" : "3.0"));
  EXPECT_TRUE(c.conflating());
  now_ += 10 * kMs;
  tick(c);
  const std::vector<std::string> messages = read(c);
  folded.fold_all(messages);
  ASSERT_FALSE(messages.empty());
  EXPECT_TRUE(parse(messages.back()).conflated);
  EXPECT_EQ(folded.last_seq, feed_->cache().seq());
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state()));
}

TEST_F(ClientStreamTest, ConflatesWhenADeltaHasWaitedLongerThanTheMaxDelay) {
  ClientStream& c = client(ClientStreamConfig{.max_queue_delay_ns = 100 * kMs});
  send(c, R"({"op": "subscribe", "markets": "all"})");
  FoldedClient folded;
  folded.fold_all(read(c));
  std::shared_ptr<const std::string> stuck;
  publish(feed_->price(1, 11, "2.0"));
  stuck = c.start_write(now_);
  publish(feed_->price(1, 12, "3.0"));  // waits behind the write in flight, far below the bytes
  now_ += 50 * kMs;
  tick(c);
  EXPECT_FALSE(c.conflating()) << "50 ms is within the delay";
  now_ += 60 * kMs;
  tick(c);
  EXPECT_TRUE(c.conflating()) << "the waiting delta is 110 ms old";
  publish(feed_->price(3, 31, "4.0"));
  EXPECT_EQ(c.queued_messages(), 1u) << "only the write in flight; the rest is conflated";
  folded.fold(*stuck);
  c.on_written(ctx());
  const std::vector<std::string> messages = read(c);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_TRUE(parse(messages[0]).conflated);
  EXPECT_EQ(parse(messages[0]).markets, (std::vector<uint64_t>{1, 3}));
  folded.fold_all(messages);
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state()));
}

TEST_F(ClientStreamTest, AnswersAPingWhileConflatingWithTheSeqTheClientReallyHas) {
  ClientStream& c = client(ClientStreamConfig{.max_queue_bytes = 512});
  send(c, R"({"op": "subscribe", "markets": "all"})");
  read(c);
  publish(feed_->price(1, 11, "2.0"));
  const uint64_t in_flight_seq = feed_->cache().seq();
  std::shared_ptr<const std::string> stuck = c.start_write(now_);
  for (int i = 0; i < 50; ++i) publish(feed_->price(1, 12, i % 2 ? "2.0" : "3.0"));
  ASSERT_TRUE(c.conflating());
  send(c, R"({"op": "ping"})");
  c.on_written(ctx());
  const std::vector<std::string> messages = read(c);
  ASSERT_GE(messages.size(), 2u);
  const Parsed pong = parse(messages[0]);
  ASSERT_EQ(pong.type, "pong");
  EXPECT_EQ(pong.seq, in_flight_seq)
      << "the conflated changes after it are not the client's yet: resuming from the pong's "
         "seq must not skip them";
  EXPECT_TRUE(parse(messages[1]).conflated);
  EXPECT_EQ(parse(messages[1]).seq, feed_->cache().seq());
}

TEST_F(ClientStreamTest, KeepsItsQueueBoundedForAClientThatNeverReads) {
  ClientStream& c = client(ClientStreamConfig{.max_queue_bytes = 4096});
  send(c, R"({"op": "subscribe", "markets": "all"})");
  read(c);
  std::shared_ptr<const std::string> stuck;
  for (int i = 0; i < 5000; ++i) {
    publish(feed_->prices(1, {{11, "2.0"}, {12, i % 2 ? "3.0" : "4.0"}}));
    if (!stuck) stuck = c.start_write(now_);
    ASSERT_LE(c.queued_bytes(), 4096u + stuck->size());
  }
  EXPECT_LT(c.queued_messages(), 40u);
  EXPECT_FALSE(c.close_verdict()) << "a slow reader is conflated, not dropped, while it writes";
}

TEST_F(ClientStreamTest, ClosesAClientWhoseWriteIsStuckPastTheTimeout) {
  ClientStream& c = client(ClientStreamConfig{.write_stall_timeout_ns = 5 * kSec});
  send(c, R"({"op": "subscribe", "markets": "all"})");
  ASSERT_NE(c.start_write(now_), nullptr);
  for (int i = 0; i < 50; ++i) {
    now_ += 100 * kMs;
    tick(c);
  }
  EXPECT_FALSE(c.close_verdict()) << "exactly at the timeout";
  now_ += 100 * kMs;
  tick(c);
  ASSERT_TRUE(c.close_verdict());
  EXPECT_EQ(c.close_verdict()->code, 1008);
  EXPECT_NE(c.close_verdict()->reason.find("5000 ms"), std::string::npos)
      << c.close_verdict()->reason;
  EXPECT_EQ(totals_.slow_drops, 1u);
  const size_t queued = c.queued_messages();
  publish(feed_->price(1, 11, "2.0"));
  send(c, R"({"op": "ping"})");
  EXPECT_EQ(c.queued_messages(), queued) << "nothing is queued after the verdict";
}

TEST_F(ClientStreamTest, DoesNotBlameTheClientForAPauseOfTheEdgeItself) {
  ClientStream& c = client(ClientStreamConfig{.write_stall_timeout_ns = 5 * kSec});
  send(c, R"({"op": "subscribe", "markets": "all"})");
  tick(c);
  ASSERT_NE(c.start_write(now_), nullptr);
  now_ += 30 * kSec;  // the edge was stopped
  tick(c);
  EXPECT_FALSE(c.close_verdict());
  for (int i = 0; i < 60; ++i) {
    now_ += 100 * kMs;
    tick(c);
  }
  EXPECT_TRUE(c.close_verdict()) << "a write still stuck after the pause is the client's";
}

TEST_F(ClientStreamTest, DoesNotBlameTheClientForAPauseRightAfterItsWriteStarted) {
  ClientStream& c = client(ClientStreamConfig{.write_stall_timeout_ns = 5 * kSec});
  send(c, R"({"op": "subscribe", "markets": "all"})");
  tick(c);
  now_ += 50 * kMs;  // the write starts between two ticks
  ASSERT_NE(c.start_write(now_), nullptr);
  now_ += 20 * kSec;  // then the edge is stopped
  tick(c);
  EXPECT_FALSE(c.close_verdict());
  now_ += 100 * kMs;
  tick(c);
  EXPECT_FALSE(c.close_verdict());
  c.on_written(ctx());
  EXPECT_EQ(totals_.images_sent, 1u);
}

TEST_F(ClientStreamTest, SendsHeartbeatsOnlyWhenQuiet) {
  ClientStream& c = client(ClientStreamConfig{.heartbeat_interval_ns = 1 * kSec});
  send(c, R"({"op": "subscribe", "markets": "all"})");
  read(c);
  now_ += 500 * kMs;
  tick(c);
  EXPECT_EQ(c.queued_messages(), 0u);
  now_ += 400 * kMs;
  publish(feed_->price(1, 11, "2.0"));
  read(c);
  now_ += 600 * kMs;
  tick(c);
  EXPECT_EQ(c.queued_messages(), 0u) << "a delta went out 600 ms ago";
  now_ += 400 * kMs;
  tick(c);
  const std::vector<std::string> beat = read(c);
  ASSERT_EQ(beat.size(), 1u);
  EXPECT_EQ(parse(beat[0]).type, "heartbeat");
  EXPECT_EQ(parse(beat[0]).seq, 5u);
  EXPECT_EQ(totals_.heartbeats_sent, 1u);

  // A client with unread messages is not quiet.
  publish(feed_->price(1, 11, "3.0"));
  now_ += 5 * kSec;
  tick(c);
  EXPECT_EQ(types_of(read(c)), (std::vector<std::string>{"delta"}));
  EXPECT_EQ(totals_.heartbeats_sent, 1u);
}

TEST_F(ClientStreamTest, AnswersAPingWithAPongAtTheCurrentSeq) {
  ClientStream& c = client();
  send(c, R"({"op": "ping"})");
  const std::vector<std::string> messages = read(c);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(parse(messages[0]).type, "pong");
  EXPECT_EQ(parse(messages[0]).seq, 4u);
  EXPECT_FALSE(c.subscribed());
}

TEST_F(ClientStreamTest, AnswersBadRequestsWithAnErrorAndCountsThem) {
  ClientStream& c = client();
  send(c, "{not json");
  send(c, R"({"op": "publish"})");
  send(c, R"({"op": "subscribe", "markets": ["1"]})");
  const std::vector<std::string> messages = read(c);
  ASSERT_EQ(messages.size(), 3u);
  for (const std::string& m : messages) EXPECT_EQ(parse(m).type, "error");
  EXPECT_TRUE(parse(messages[0]).reason.starts_with("malformed JSON")) << messages[0];
  EXPECT_NE(parse(messages[1]).reason.find("publish"), std::string::npos);
  EXPECT_EQ(totals_.bad_requests, 3u);
  EXPECT_FALSE(c.subscribed());
  EXPECT_FALSE(c.close_verdict());
  send(c, R"({"op": "subscribe", "markets": "all"})");
  EXPECT_EQ(types_of(read(c)), (std::vector<std::string>{"image"}));
}

TEST_F(ClientStreamTest, ClosesAClientThatSendsPingsWithoutReadingTheAnswers) {
  ClientStream& c = client(ClientStreamConfig{.max_queue_bytes = 1024});
  int pings = 0;
  while (!c.close_verdict() && pings < 10000) {
    send(c, R"({"op": "ping"})");
    ++pings;
  }
  ASSERT_TRUE(c.close_verdict());
  EXPECT_EQ(c.close_verdict()->code, 1008);
  EXPECT_NE(c.close_verdict()->reason.find("not reading"), std::string::npos);
  EXPECT_LT(pings, 200);
  EXPECT_GT(pings, 20);
  EXPECT_EQ(c.start_write(now_), nullptr);
}

TEST_F(ClientStreamTest, DoesNotCloseAClientThatPingsWhileALargeImageIsQueued) {
  for (uint64_t m = 100; m < 140; ++m) {
    feed_->define(m, 50, "A market with a long enough name",
                  {{m * 10, "One"}, {m * 10 + 1, "Two"}});
  }
  feed_->install_snapshot();
  ClientStream& c = client(ClientStreamConfig{.max_queue_bytes = 1024});
  send(c, R"({"op": "subscribe", "markets": "all"})");
  ASSERT_GT(c.queued_bytes(), 2048u);
  send(c, R"({"op": "ping"})");
  EXPECT_FALSE(c.close_verdict()) << "one ping is not a flood";
  EXPECT_EQ(types_of(read(c)), (std::vector<std::string>{"image", "pong"}));
}

TEST_F(ClientStreamTest, QueuesAStaleMessageWhenTheEdgeLosesOrRegainsItsPublishers) {
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": [1]})");
  read(c);
  stale_ = true;
  c.on_stale(true, ctx());
  send(c, R"({"op": "subscribe", "markets": [1]})");
  std::vector<std::string> messages = read(c);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(parse(messages[0]).type, "stale");
  EXPECT_TRUE(parse(messages[0]).stale);
  EXPECT_TRUE(parse(messages[1]).stale) << "images say the edge is stale";
  EXPECT_EQ(parse(messages[1]).market_stale, std::vector<bool>{true});
  stale_ = false;
  c.on_stale(false, ctx());
  messages = read(c);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(parse(messages[0]).type, "stale");
  EXPECT_FALSE(parse(messages[0]).stale);
}

TEST_F(ClientStreamTest, RefusesASubscriptionPastMaxSubscribedIds) {
  ClientStream& c = client(ClientStreamConfig{.max_subscribed_ids = 3});
  send(c, R"({"op": "subscribe", "markets": [1, 2]})");
  send(c, R"({"op": "subscribe", "markets": [1, 2]})");  // the same ids again: still two
  send(c, R"({"op": "subscribe", "markets": [3], "event": 30})");
  std::vector<std::string> messages = read(c);
  EXPECT_EQ(types_of(messages), (std::vector<std::string>{"image", "error"}));
  EXPECT_NE(parse(messages[1]).reason.find("more than 3"), std::string::npos);
  EXPECT_EQ(totals_.bad_requests, 1u);
  publish(feed_->price(3, 31, "2.0"));
  EXPECT_EQ(c.queued_messages(), 0u) << "the refused subscription did not take";
  send(c, R"({"op": "subscribe", "markets": "all"})");
  EXPECT_EQ(parse(read(c)[0]).markets.size(), 4u);
}

TEST_F(ClientStreamTest, StopsSendingAMarketAfterUnsubscribe) {
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": [1, 3]})");
  read(c);
  send(c, R"({"op": "unsubscribe", "markets": [1]})");
  EXPECT_TRUE(c.subscribed());
  publish(feed_->price(1, 11, "2.0"));
  EXPECT_EQ(c.queued_messages(), 0u);
  publish(feed_->price(3, 31, "2.0"));
  EXPECT_EQ(parse(read(c).at(0)).markets, (std::vector<uint64_t>{3}));
  send(c, R"({"op": "unsubscribe", "markets": "all"})");
  EXPECT_FALSE(c.subscribed());
  publish(feed_->price(3, 31, "3.0"));
  EXPECT_EQ(c.queued_messages(), 0u);
}

// Issue 18, item 1: a client that folded frames of a history that lost (the old primary's tail,
// dropped by an async takeover) and resumes inside the new history's window must not be resumed
// on its wrong state: its epoch ended here before its seq.
TEST_F(ClientStreamTest, ReimagesAClientWhoseSeqLiesInAHistoryThatLost) {
  // The lost history: epoch 1 ran on to seq 10 on the old primary.
  EdgeFeed lost;
  lost.define(1, 10, "Match odds", {{11, "Home"}, {12, "Draw"}, {13, "Away"}});
  lost.define(2, 10, "Total goals", {{21, "Over"}, {22, "Under"}});
  lost.define(3, 20, "Winner", {{31, "A"}, {32, "B"}});
  lost.define(4, 30, "Top scorer", {{41, "X"}});
  lost.install_snapshot();
  ClientStream old_edge(ClientStreamConfig{}, totals_, now_);
  const StreamContext lost_ctx{lost.cache(), Freshness{false, wall_ns_}, now_};
  old_edge.on_text(R"({"op": "subscribe", "markets": "all"})", parser_, lost_ctx);
  FoldedClient folded;
  for (int i = 0; i < 6; ++i) {
    const Change change = lost.price(1, 11, i % 2 ? "7.0" : "9.0");  // seqs 5..10
    old_edge.on_change(change, lost_ctx);
  }
  folded.fold_all(drain(old_edge, lost_ctx));
  ASSERT_EQ(folded.last_seq, 10u);
  ASSERT_EQ(folded.last_epoch, 1u);

  // The surviving history: epoch 1 to seq 7, epoch 2 from seq 8 on; this edge holds it to 12.
  publish(feed_->price(2, 21, "2.0"));  // 5
  publish(feed_->price(2, 22, "2.0"));  // 6
  publish(feed_->price(3, 31, "2.0"));  // 7
  publish(feed_->change_epoch());       // 8: epoch 2
  publish(feed_->price(3, 32, "5.0"));  // 9
  publish(feed_->price(4, 41, "5.0"));  // 10
  publish(feed_->price(2, 21, "3.0"));  // 11
  publish(feed_->price(1, 12, "4.0"));  // 12
  ASSERT_TRUE(feed_->cache().can_resume_after(10)) << "inside the window: only the epoch tells";

  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": "all", "resume_from": 10, "resume_epoch": 1})");
  const std::vector<std::string> messages = read(c);
  folded.fold_all(messages);
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(parse(messages[0]).type, "image");
  EXPECT_EQ(parse(messages[0]).reason, "resume-unavailable");
  EXPECT_EQ(folded.last_epoch, 2u);
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state()));
  EXPECT_EQ(totals_.resume_misses, 1u);

  // A seq of epoch 1 before epoch 2 began, and a seq of epoch 2, lie in this history.
  ClientStream& before_takeover = client();
  send(before_takeover,
       R"({"op": "subscribe", "markets": "all", "resume_from": 7, "resume_epoch": 1})");
  EXPECT_EQ(types_of(read(before_takeover)).front(), "resumed");
  ClientStream& in_new_epoch = client();
  send(in_new_epoch,
       R"({"op": "subscribe", "markets": "all", "resume_from": 9, "resume_epoch": 2})");
  EXPECT_EQ(types_of(read(in_new_epoch)).front(), "resumed");
  // Without its epoch a resume cannot be checked; an epoch this edge never held is not resumed.
  for (const char* request :
       {R"({"op": "subscribe", "markets": "all", "resume_from": 9})",
        R"({"op": "subscribe", "markets": "all", "resume_from": 9, "resume_epoch": 3})"}) {
    ClientStream& unchecked = client();
    send(unchecked, request);
    EXPECT_EQ(parse(read(unchecked).at(0)).type, "image") << request;
  }
}

TEST_F(ClientStreamTest, CarriesTheEpochInImagesDeltasAndHeartbeats) {
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": "all"})");
  FoldedClient folded;
  folded.fold_all(read(c));
  EXPECT_EQ(folded.last_epoch, 1u);
  publish(feed_->change_epoch());
  publish(feed_->price(1, 11, "2.0"));
  folded.fold_all(read(c));
  EXPECT_EQ(folded.last_epoch, 2u);
  now_ += 2 * kSec;
  tick(c);
  folded.fold_all(read(c));
  EXPECT_EQ(folded.heartbeats, 1u);
  EXPECT_EQ(folded.last_epoch, 2u);
}

// Issue 18, item 3: a resumed client was never told the current staleness, and an honoured
// resume with nothing missed sent nothing at all.
TEST_F(ClientStreamTest, AcknowledgesAnHonouredResumeWithTheCurrentStaleness) {
  stale_ = true;
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": "all", "resume_from": 4, "resume_epoch": 1})");
  FoldedClient folded;
  folded.fold_all(read(c));
  ASSERT_EQ(folded.resumes, 1u);
  EXPECT_TRUE(folded.last_stale);
  EXPECT_EQ(folded.last_seq, 4u);
  EXPECT_EQ(folded.last_epoch, 1u);

  ClientStream& image = client();
  send(image, R"({"op": "subscribe", "markets": [1]})");
  EXPECT_TRUE(parse(read(image).at(0)).stale) << "every image states stale";
}

// Issue 18, item 5: a resume that widens the subscription sent only deltas, never the added
// markets' state.
TEST_F(ClientStreamTest, ImagesTheMarketsAResumeAdds) {
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": [1]})");
  FoldedClient folded;
  publish(feed_->price(1, 11, "2.0"));  // 5
  publish(feed_->price(3, 31, "2.0"));  // 6
  folded.fold_all(read(c));
  ASSERT_EQ(folded.last_seq, 5u);
  send(c, R"({"op": "subscribe", "markets": [1, 3], "resume_from": 6, "resume_epoch": 1})");
  publish(feed_->price(3, 32, "4.0"));  // 7
  folded.fold_all(read(c));
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state(),
                             [](const MarketRecord& m) { return m.id == 1 || m.id == 3; }));
}

// Issue 18, item 4: a market redefined into another event froze for the old event's clients.
TEST_F(ClientStreamTest, TellsTheOldEventsClientsAMovedMarketLeftAndSendsItWholeToTheNew) {
  ClientStream& old_event = client();
  ClientStream& new_event = client();
  ClientStream& by_id = client();
  ClientStream& everything = client();
  send(old_event, R"({"op": "subscribe", "event": 10})");
  send(new_event, R"({"op": "subscribe", "event": 20})");
  send(by_id, R"({"op": "subscribe", "markets": [1]})");
  send(everything, R"({"op": "subscribe", "markets": "all"})");
  FoldedClient o, n, i, e;
  o.fold_all(read(old_event));
  n.fold_all(read(new_event));
  i.fold_all(read(by_id));
  e.fold_all(read(everything));
  const Change moved = feed_->define(1, 20, "Match odds", {{11, "Home"}, {13, "Away"}});
  publish(moved);
  publish(feed_->price(1, 13, "3.0"));
  o.fold_all(read(old_event));
  n.fold_all(read(new_event));
  i.fold_all(read(by_id));
  const std::vector<std::string> shared = read(everything);
  e.fold_all(shared);
  EXPECT_EQ(o.removed, 1u);
  EXPECT_EQ(shared.at(0), *moved->all_delta);
  auto in_event = [](uint64_t event) {
    return [event](const MarketRecord& m) { return m.event == event; };
  };
  EXPECT_TRUE(holds_state_of(o, feed_->cache().state(), in_event(10)));
  EXPECT_TRUE(holds_state_of(n, feed_->cache().state(), in_event(20)));
  EXPECT_TRUE(
      holds_state_of(i, feed_->cache().state(), [](const MarketRecord& m) { return m.id == 1; }));
  EXPECT_TRUE(holds_state_of(e, feed_->cache().state()));

  // The same when the old event's client was behind and is sent a conflated delta.
  ClientStream& slow = client(ClientStreamConfig{.max_queue_bytes = 64});
  send(slow, R"({"op": "subscribe", "event": 20})");
  FoldedClient s;
  s.fold_all(read(slow));
  for (int k = 0; k < 5; ++k) publish(feed_->price(1, 11, k % 2 ? "2.0" : "3.0"));
  publish(feed_->define(1, 10, "Match odds", {{11, "Home"}}));
  publish(feed_->price(3, 31, "8.0"));
  s.fold_all(read(slow));
  tick(slow);
  s.fold_all(read(slow));
  EXPECT_GT(s.conflated, 0u);
  EXPECT_TRUE(holds_state_of(s, feed_->cache().state(), in_event(20)));
}

// Issue 15, bounded live state: an evicted market leaves every client's view as removed, whether
// the client followed it by id, by event or as all, and whether it was current or conflated.
TEST_F(ClientStreamTest, TellsEveryClientOfAnEvictedMarketItWasRemoved) {
  ClientStream& by_event = client();
  ClientStream& by_id = client();
  ClientStream& everything = client();
  ClientStream& other = client();
  send(by_event, R"({"op": "subscribe", "event": 10})");
  send(by_id, R"({"op": "subscribe", "markets": [1]})");
  send(everything, R"({"op": "subscribe", "markets": "all"})");
  send(other, R"({"op": "subscribe", "markets": [3]})");
  FoldedClient v, i, e, o;
  v.fold_all(read(by_event));
  i.fold_all(read(by_id));
  e.fold_all(read(everything));
  o.fold_all(read(other));
  publish(feed_->settle(1, {11}));
  const Change evicted = feed_->evict(1);
  ASSERT_NE(evicted, nullptr);
  publish(evicted);
  EXPECT_EQ(feed_->cache().state().find(1), nullptr);
  v.fold_all(read(by_event));
  i.fold_all(read(by_id));
  e.fold_all(read(everything));
  EXPECT_TRUE(read(other).empty()) << "a client not following it hears nothing";
  for (const FoldedClient* f : {&v, &i, &e}) {
    EXPECT_EQ(f->removed, 1u);
    EXPECT_EQ(f->markets.count(1), 0u);
  }
  EXPECT_TRUE(holds_state_of(v, feed_->cache().state(),
                             [](const MarketRecord& m) { return m.event == 10; }));
  EXPECT_TRUE(holds_state_of(e, feed_->cache().state()));

  // A client behind, sent one conflated delta: the market is in it as removed.
  ClientStream& slow = client(ClientStreamConfig{.max_queue_bytes = 64});
  send(slow, R"({"op": "subscribe", "markets": "all"})");
  FoldedClient s;
  s.fold_all(read(slow));
  for (int k = 0; k < 5; ++k) publish(feed_->price(3, 31, k % 2 ? "2.0" : "3.0"));
  publish(feed_->settle(3, {31}));
  publish(feed_->evict(3));
  s.fold_all(read(slow));
  tick(slow);
  s.fold_all(read(slow));
  EXPECT_GT(s.conflated, 0u);
  EXPECT_EQ(s.markets.count(3), 0u);
  EXPECT_TRUE(holds_state_of(s, feed_->cache().state()));
}

// Issue 18, item 6: the smaller ones.
TEST_F(ClientStreamTest, LeavesUnsubscribedMarketsOutOfAPendingConflatedDelta) {
  ClientStream& c = client(ClientStreamConfig{.max_queue_bytes = 64});
  send(c, R"({"op": "subscribe", "markets": [1, 3]})");
  FoldedClient folded;
  folded.follows = [](uint64_t market, uint64_t) { return market == 1; };
  folded.fold_all(read(c));
  publish(feed_->price(1, 11, "2.0"));
  publish(feed_->price(3, 31, "2.0"));
  publish(feed_->price(3, 32, "4.0"));
  ASSERT_TRUE(c.conflating());
  send(c, R"({"op": "unsubscribe", "markets": [3]})");
  folded.markets.erase(3);
  tick(c);
  const std::vector<std::string> messages = read(c);
  folded.fold_all(messages);
  size_t conflated = 0;
  for (const std::string& m : messages) {
    if (!parse(m).conflated) continue;
    ++conflated;
    // Market 3 only as removed: none of its values after the unsubscribe.
    EXPECT_EQ(m.find("\"selection\": 31"), std::string::npos) << m;
    EXPECT_EQ(m.find("\"selection\": 32"), std::string::npos) << m;
  }
  EXPECT_EQ(conflated, 1u);
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state(),
                             [](const MarketRecord& m) { return m.id == 1; }));
}

TEST_F(ClientStreamTest, RefusesToUnsubscribeIdsFromAll) {
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": "all"})");
  read(c);
  send(c, R"({"op": "unsubscribe", "markets": [1]})");
  const std::vector<std::string> messages = read(c);
  ASSERT_EQ(types_of(messages), (std::vector<std::string>{"error"}));
  EXPECT_NE(parse(messages[0]).reason.find("all"), std::string::npos);
  EXPECT_TRUE(c.subscribed());
}

TEST_F(ClientStreamTest, GivesWholeMarketsInDeltasTheirAgeAndStaleness) {
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": "all"})");
  read(c);
  publish(feed_->define(5, 30, "New", {{51, "Z"}}));
  const std::vector<std::string> messages = read(c);
  ASSERT_EQ(messages.size(), 1u);
  simdjson::dom::parser parser;
  const simdjson::dom::element entry = parser.parse(messages[0])["markets"].at(0);
  EXPECT_EQ(entry["age_ms"].error(), simdjson::SUCCESS) << messages[0];
  EXPECT_EQ(entry["stale"].error(), simdjson::SUCCESS) << messages[0];
}

// Issue 18, item 6: names from frames and error replies never send invalid UTF-8 to a browser
// (a WebSocket text frame must be valid UTF-8, RFC 6455 section 5.6).
TEST_F(ClientStreamTest, SendsOnlyValidUtf8) {
  publish(feed_->define(5, 30, "bad \xff name", {{51, "caf\xc3"}}));
  ClientStream& c = client();
  send(c, R"({"op": "subscribe", "markets": "all"})");
  std::string op = "a";
  for (int i = 0; i < 20; ++i) op += "\xc3\xa9";  // e-acute: a cut at 32 bytes splits one
  send(c, R"({"op": ")" + op + R"("})");
  publish(feed_->define(5, 30, "surrogate \xed\xa0\x80", {{51, "x"}}));
  publish(feed_->price(5, 51, "2.0"));
  const std::vector<std::string> messages = read(c);
  ASSERT_EQ(types_of(messages), (std::vector<std::string>{"image", "error", "delta", "delta"}));
  for (const std::string& m : messages) {
    EXPECT_TRUE(simdjson::validate_utf8(m.data(), m.size())) << m;
  }
  EXPECT_NE(messages[0].find("bad \xEF\xBF\xBD name"), std::string::npos) << messages[0];
  EXPECT_NE(messages[1].find("a\xc3\xa9"), std::string::npos) << messages[1];
}

// Issue 18, item 7: images were rendered once per client after a resync, and a client could
// have full images rendered with small subscribe messages without ever reading them.
TEST_F(ClientStreamTest, SharesOneRenderingOfAnImageBetweenClientsOfTheSameMarkets) {
  ImageCache images;
  ClientStream& a = client();
  ClientStream& b = client();
  ClientStream& one = client();
  StreamContext shared = ctx();
  shared.images = &images;
  a.on_text(R"({"op": "subscribe", "markets": "all"})", parser_, shared);
  b.on_text(R"({"op": "subscribe", "markets": "all"})", parser_, shared);
  one.on_text(R"({"op": "subscribe", "markets": [1]})", parser_, shared);
  const auto first_a = a.start_write(now_);
  const auto first_b = b.start_write(now_);
  const auto first_one = one.start_write(now_);
  EXPECT_EQ(first_a.get(), first_b.get()) << "one rendering for both";
  EXPECT_NE(first_a.get(), first_one.get());
  EXPECT_EQ(images.hits(), 1u);
  for (ClientStream* c : {&a, &b, &one}) c->on_written(shared);
  feed_->install_snapshot();
  for (ClientStream* c : {&a, &b, &one}) c->on_resync(shared);
  const auto resync_a = a.start_write(now_);
  ASSERT_TRUE(resync_a);
  EXPECT_EQ(resync_a.get(), b.start_write(now_).get());
  EXPECT_EQ(parse(*resync_a).reason, "resync");
}

// Issue 18, item 7: an image had no size bound (the whole subscription in one message, however
// large). Past max_image_part_bytes it comes in parts 1..k whose markets together are the image;
// a small image stays one message, exactly as before.
TEST_F(ClientStreamTest, SendsALargeImageInBoundedPartsThatFoldToTheWholeImage) {
  for (uint64_t id = 100; id < 140; ++id) {
    feed_->define(id, 40, "Market " + std::to_string(id), {{id * 10, "One"}, {id * 10 + 1, "Two"}});
  }
  constexpr size_t kPart = 1024;
  ClientStream& c = client(ClientStreamConfig{.max_image_part_bytes = kPart});
  send(c, R"({"op": "subscribe", "markets": "all"})");
  const std::vector<std::string> parts = read(c);
  ASSERT_GT(parts.size(), 2u);
  simdjson::dom::parser parser;
  size_t markets = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    SCOPED_TRACE(parts[i]);
    EXPECT_LE(parts[i].size(), kPart);
    simdjson::dom::element m = parser.parse(parts[i]).value();
    EXPECT_EQ(std::string_view(m["type"].get_string().value()), "image");
    EXPECT_EQ(m["seq"].get_uint64().value(), feed_->seq());
    EXPECT_EQ(m["part"].get_uint64().value(), i + 1);
    EXPECT_EQ(m["parts"].get_uint64().value(), parts.size());
    markets += m["markets"].get_array().value().size();
  }
  EXPECT_EQ(markets, feed_->cache().state().markets().size());
  EXPECT_EQ(totals_.images_sent, 1u) << "one image, in parts";

  FoldedClient folded;
  folded.fold_all(parts);
  EXPECT_EQ(folded.images, 1u);
  EXPECT_EQ(folded.image_parts, parts.size());
  publish(feed_->price(120, 1200, "2.5"));
  folded.fold_all(read(c));
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state()));

  ClientStream& small = client(ClientStreamConfig{.max_image_part_bytes = kPart});
  send(small, R"({"op": "subscribe", "markets": [1]})");
  const std::vector<std::string> one = read(small);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].find("\"part"), std::string::npos) << one[0];
}

// A client whose image is cut short by a newer one (a resync while parts were still queued)
// discards the parts it has and folds the newer image.
TEST_F(ClientStreamTest, DropsTheRestOfAnImageInPartsForANewerImage) {
  for (uint64_t id = 100; id < 140; ++id) {
    feed_->define(id, 40, "Market " + std::to_string(id), {{id * 10, "One"}});
  }
  ClientStream& c = client(ClientStreamConfig{.max_image_part_bytes = 1024});
  send(c, R"({"op": "subscribe", "markets": "all"})");
  FoldedClient folded;
  const auto first = c.start_write(now_);
  ASSERT_TRUE(first);
  folded.fold(*first);
  c.on_written(ctx());
  feed_->price(130, 1300, "4.0");
  feed_->install_snapshot();
  c.on_resync(ctx());
  const std::vector<std::string> rest = read(c);
  ASSERT_FALSE(rest.empty());
  EXPECT_NE(rest[0].find("\"part\": 1,"), std::string::npos) << rest[0];
  folded.fold_all(rest);
  EXPECT_EQ(folded.images, 1u);
  EXPECT_EQ(folded.last_reason, "resync");
  EXPECT_TRUE(holds_state_of(folded, feed_->cache().state()));
}

TEST_F(ClientStreamTest, ClosesAClientThatAsksForImagesWithoutReadingThem) {
  ClientStream& c = client();
  for (int i = 0; i < 20 && !c.close_verdict(); ++i) {
    send(c, R"({"op": "subscribe", "markets": "all"})");
  }
  ASSERT_TRUE(c.close_verdict());
  EXPECT_NE(c.close_verdict()->reason.find("images"), std::string::npos);

  ClientStream& reader = client();
  for (int i = 0; i < 20; ++i) {
    send(reader, R"({"op": "subscribe", "markets": "all"})");
    read(reader);
  }
  EXPECT_FALSE(reader.close_verdict()) << "a client that reads its images may ask again";
}

// Random frames, writes, reconnects with resume_from and resyncs over 20 markets: every client's
// delta seqs increase and, once drained, its folded state equals the edge's for its markets.
TEST_F(ClientStreamTest, KeepsEveryRandomClientsFoldedStateEqualToTheEdges) {
  for (const uint32_t seed : {1u, 2u, 3u, 4u, 5u, 6u}) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(seed);
    auto chance = [&](double p) { return std::uniform_real_distribution<>(0, 1)(rng) < p; };
    auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
    const char* odds[] = {"1.5", "2.0", "2.25", "3.0", "evens", "5/2", "+150", "-110"};
    auto event_of = [](uint64_t m) { return 100 + m % 5; };

    feed_ = std::make_unique<EdgeFeed>(
        MarketCacheConfig{.retain_frames = 40 + pick(40), .retain_bytes = size_t{1} << 20});
    std::vector<size_t> selection_count(20, 2);
    auto define = [&](uint64_t m) {
      std::vector<testing_support::Sel> sels;
      for (uint64_t s = 0; s < selection_count[m]; ++s) {
        sels.push_back({m * 10 + s, "sel " + std::to_string(s)});
      }
      return feed_->define(m, event_of(m), "market " + std::to_string(m), sels);
    };
    for (uint64_t m = 0; m < 20; ++m) define(m);
    feed_->install_snapshot();

    struct Client {
      std::string subscribe;
      std::function<bool(const MarketRecord&)> wanted;
      ClientStreamConfig config;
      FoldedClient folded;
      ClientStream* stream = nullptr;
      std::shared_ptr<const std::string> in_flight;
    };
    clients_.clear();
    totals_ = StreamTotals{};
    std::vector<Client> model(5);
    for (size_t i = 0; i < model.size(); ++i) {
      Client& c = model[i];
      c.config.max_queue_bytes = 256 + pick(8192);
      c.config.write_stall_timeout_ns = 1000 * kSec;
      if (i == 0 || i == 1) {
        c.subscribe = R"({"op": "subscribe", "markets": "all")";
        c.wanted = [](const MarketRecord&) { return true; };
      } else if (i == 2) {
        c.subscribe = R"({"op": "subscribe", "markets": [1, 2, 3, 5, 8, 13])";
        c.wanted = [](const MarketRecord& m) {
          return m.id == 1 || m.id == 2 || m.id == 3 || m.id == 5 || m.id == 8 || m.id == 13;
        };
      } else {
        const uint64_t event = 100 + i;
        c.subscribe = R"({"op": "subscribe", "event": )" + std::to_string(event);
        c.wanted = [event](const MarketRecord& m) { return m.event == event; };
      }
      c.stream = &client(c.config);
      send(*c.stream, c.subscribe + "}");
    }

    auto write_some = [&](Client& c) {
      if (!c.in_flight) {
        c.in_flight = c.stream->start_write(now_);
      } else {
        c.folded.fold(*c.in_flight);
        c.in_flight.reset();
        c.stream->on_written(ctx());
      }
    };

    for (int step = 0; step < 4000; ++step) {
      now_ += pick(3) * kMs;
      const uint64_t m = pick(20);
      const int action = static_cast<int>(pick(100));
      if (action < 35) {
        if (chance(0.5)) {
          publish(feed_->price(m, m * 10 + pick(selection_count[m]), odds[pick(8)]));
        } else {
          publish(feed_->prices(m, {{m * 10, odds[pick(8)]}, {m * 10 + 1, odds[pick(8)]}}));
        }
      } else if (action < 40) {
        publish(
            feed_->status(m, chance(0.5) ? fb::MarketStatus::Open : fb::MarketStatus::Suspended));
      } else if (action < 42) {
        selection_count[m] = 2 + pick(3);
        publish(define(m));
      } else if (action < 43) {
        publish(feed_->suspend_event(event_of(m)));
      } else if (action < 44) {
        publish(chance(0.5) ? feed_->settle(m, {m * 10}) : feed_->rollback(m));
      } else if (action < 85) {
        write_some(model[pick(model.size())]);
      } else if (action < 93) {
        Client& c = model[pick(model.size())];
        for (int k = 0; k < 20; ++k) write_some(c);
      } else if (action < 96) {
        for (auto& s : clients_) s->on_tick(ctx());
      } else if (action < 98) {
        // The connection drops (the write in flight is lost) and the client resumes.
        Client& c = model[pick(model.size())];
        c.in_flight.reset();
        c.stream = &client(c.config);
        send(*c.stream, c.subscribe + ", \"resume_from\": " + std::to_string(c.folded.last_seq) +
                            ", \"resume_epoch\": " + std::to_string(c.folded.last_epoch) + "}");
      } else if (action < 99) {
        Client& c = model[pick(model.size())];
        send(*c.stream, chance(0.5) ? std::string(R"({"op": "ping"})") : c.subscribe + "}");
      } else if (chance(0.3)) {
        // The edge misses frames and reloads from a snapshot.
        feed_->set_deliver(false);
        for (int k = 0; k < 5; ++k) feed_->price(m, m * 10, odds[pick(8)]);
        feed_->set_deliver(true);
        feed_->install_snapshot();
        for (auto& s : clients_) s->on_resync(ctx());
      }
    }

    for (Client& c : model) {
      for (int round = 0; round < 3; ++round) {
        if (c.in_flight) write_some(c);
        while (true) {
          c.in_flight = c.stream->start_write(now_);
          if (!c.in_flight) break;
          write_some(c);
        }
        c.stream->on_tick(ctx());
      }
      EXPECT_FALSE(c.stream->close_verdict());
      EXPECT_EQ(c.stream->queued_messages(), 0u);
      EXPECT_FALSE(c.stream->conflating());
      EXPECT_TRUE(holds_state_of(c.folded, feed_->cache().state(), c.wanted))
          << c.subscribe << " images " << c.folded.images << " deltas " << c.folded.deltas
          << " conflated " << c.folded.conflated;
      EXPECT_GT(c.folded.deltas, 0u);
    }
    EXPECT_GT(totals_.conflated_deltas, 0u);
    EXPECT_GT(totals_.resumes, 0u);
    EXPECT_GT(totals_.resume_misses, 0u);
    std::printf("seed %u: %zu frames, %" PRIu64 " deltas, %" PRIu64 " conflated, %" PRIu64
                " images, %" PRIu64 " resumes, %" PRIu64 " resume misses\n",
                seed, static_cast<size_t>(feed_->seq()), totals_.deltas_sent,
                totals_.conflated_deltas, totals_.images_sent, totals_.resumes,
                totals_.resume_misses);
  }
}

}  // namespace
}  // namespace oddsbus::edge

namespace oddsbus::edge {
namespace {

// Edge security (issue 14): a client limited by its token's market rights.
class ClientStreamRightsTest : public ClientStreamTest {
 protected:
  ClientStreamRightsTest() { rights_.all = false, rights_.markets = {1, 3}; }
  ClientStream& limited(ClientStreamConfig config = {}) {
    ClientStream& c = client(config);
    c.set_rights(&rights_);
    return c;
  }
  MarketRights rights_;
};

TEST_F(ClientStreamRightsTest, RefusesMarketsBeyondTheTokenAndSubscribesToTheRest) {
  ClientStream& c = limited();
  send(c, R"({"op": "subscribe", "markets": [1, 2, 4]})");
  const std::vector<std::string> first = read(c);
  ASSERT_EQ(types_of(first), (std::vector<std::string>{"error", "image"}));
  const Parsed error = parse(first[0]);
  EXPECT_NE(error.reason.find("not permitted"), std::string::npos) << error.reason;
  EXPECT_NE(error.reason.find("2, 4"), std::string::npos) << error.reason;
  EXPECT_EQ(parse(first[1]).markets, (std::vector<uint64_t>{1}));
  EXPECT_EQ(totals_.forbidden_subscribes, 1u);

  publish(feed_->price(2, 21, "2.0"));
  publish(feed_->price(4, 41, "2.0"));
  EXPECT_TRUE(read(c).empty()) << "changes of refused markets reach the client";
  publish(feed_->price(1, 11, "2.0"));
  const std::vector<std::string> delta = read(c);
  ASSERT_EQ(delta.size(), 1u);
  EXPECT_EQ(parse(delta[0]).markets, (std::vector<uint64_t>{1}));
}

TEST_F(ClientStreamRightsTest, AnswersAllAndEventsWithTheGrantedMarketsOnly) {
  ClientStream& all = limited();
  send(all, R"({"op": "subscribe", "markets": "all"})");
  const std::vector<std::string> first = read(all);
  ASSERT_EQ(types_of(first), (std::vector<std::string>{"error", "image"}));
  EXPECT_EQ(parse(first[1]).markets, (std::vector<uint64_t>{1, 3}));

  ClientStream& event = limited();
  send(event, R"({"op": "subscribe", "event": 10})");  // markets 1 and 2
  const std::vector<std::string> image = read(event);
  ASSERT_EQ(types_of(image), (std::vector<std::string>{"image"}));
  EXPECT_EQ(parse(image[0]).markets, (std::vector<uint64_t>{1}));

  // A frame touching granted and other markets: only the granted part, for both clients.
  publish(feed_->suspend_event(10));
  for (ClientStream* c : {&all, &event}) {
    const std::vector<std::string> deltas = read(*c);
    ASSERT_EQ(deltas.size(), 1u);
    EXPECT_EQ(parse(deltas[0]).markets, (std::vector<uint64_t>{1}));
  }
  // An unlimited client of "all" still gets every market (and its image is not shared).
  ClientStream& open = client();
  send(open, R"({"op": "subscribe", "markets": "all"})");
  const std::vector<std::string> open_image = read(open);
  ASSERT_EQ(open_image.size(), 1u);
  EXPECT_EQ(parse(open_image[0]).markets, (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST_F(ClientStreamRightsTest, SubscribesToNothingWhenNothingAskedForIsGranted) {
  ClientStream& c = limited();
  send(c, R"({"op": "subscribe", "markets": [2]})");
  EXPECT_EQ(types_of(read(c)), (std::vector<std::string>{"error"}));
  EXPECT_FALSE(c.subscribed());
  publish(feed_->price(2, 21, "2.0"));
  EXPECT_TRUE(read(c).empty());
}

TEST_F(ClientStreamTest, ClosesAClientThatFloodsMessages) {
  ClientStream& c = client(ClientStreamConfig{.max_messages_per_second = 10, .message_burst = 20});
  int sent = 0;
  while (!c.close_verdict() && sent < 1000) {
    send(c, R"({"op": "ping"})");
    read(c);  // it reads every reply: only the rate is at fault
    ++sent;
  }
  ASSERT_TRUE(c.close_verdict());
  EXPECT_EQ(sent, 21) << "the burst, then the refused one";
  EXPECT_NE(c.close_verdict()->reason.find("flood"), std::string::npos);
  EXPECT_EQ(totals_.floods, 1u);

  ClientStream& steady =
      client(ClientStreamConfig{.max_messages_per_second = 10, .message_burst = 20});
  for (int i = 0; i < 200; ++i) {
    now_ += 100 * kMs;  // exactly the rate
    send(steady, R"({"op": "ping"})");
    read(steady);
  }
  EXPECT_FALSE(steady.close_verdict()) << "a client within the rate is never closed";
}

}  // namespace
}  // namespace oddsbus::edge
