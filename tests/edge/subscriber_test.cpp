#include "edge/subscriber.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "schemas/batch.h"
#include "schemas/frame_builder.h"
#include "schemas/market_state.h"
#include "schemas/odds.h"
#include "schemas/recovery_protocol.h"
#include "schemas/snapshot_image.h"
#include "schemas/state_digest.h"

namespace oddsbus::edge {
namespace {

using Clock = std::chrono::steady_clock;

struct Selection {
  uint64_t id;
  std::string name;
};

// A channel's history: three markets defined, then price updates; frame seq i is frames[i - 1].
class Reference {
 public:
  explicit Reference(size_t prices) {
    const std::vector<Selection> selections = {{1, "home"}, {2, "away"}};
    for (uint64_t market = 1; market <= 3; ++market) {
      keep(builder_.market_definition(next(), market, 10, "match", fb::MarketStatus::Open,
                                      selections));
    }
    const char* odds[] = {"1.5", "2.25", "3", "5/2", "+150", "-110"};
    for (size_t i = 0; i < prices; ++i) {
      const std::string_view text = odds[i % 6];
      keep(builder_.price(next(), 1 + i % 3, 1 + i % 2, parse_odds(text).value(), text, "test"));
    }
  }

  uint64_t last_seq() const { return frames_.size(); }
  std::span<const uint8_t> bytes(uint64_t seq) const {
    const auto& f = frames_[seq - 1];
    return {reinterpret_cast<const uint8_t*>(f.words.data()), f.size};
  }
  std::vector<uint8_t> batch(uint64_t from, uint64_t to) const {
    BatchWriter writer(1 << 16);
    writer.begin(0, from);
    for (uint64_t s = from; s <= to; ++s) writer.add(bytes(s));
    return {writer.bytes().begin(), writer.bytes().end()};
  }
  std::vector<uint8_t> heartbeat(uint64_t last_seq) const {
    FrameBuilder builder;
    FrameHeader h;
    h.seq = last_seq;
    h.epoch = 1;
    h.publisher = 1;
    BatchWriter writer(4096);
    writer.begin(0, last_seq, kBatchHeartbeat);
    writer.add(builder.heartbeat(h, 1));
    return {writer.bytes().begin(), writer.bytes().end()};
  }
  MarketState state_at(uint64_t seq) const {
    MarketState state;
    for (uint64_t s = 1; s <= seq; ++s) state.apply(*fb::GetFrame(bytes(s).data()));
    return state;
  }

 private:
  struct Copy {
    std::vector<uint64_t> words;
    size_t size = 0;
  };
  FrameHeader next() const {
    FrameHeader h;
    h.seq = last_seq() + 1;
    h.epoch = 1;
    h.publisher = 1;
    h.sequenced_ns = h.seq * 1000;
    return h;
  }
  void keep(std::span<const uint8_t> bytes) {
    Copy copy;
    copy.words.resize((bytes.size() + 7) / 8);
    std::memcpy(copy.words.data(), bytes.data(), bytes.size());
    copy.size = bytes.size();
    frames_.push_back(std::move(copy));
  }

  FrameBuilder builder_;
  std::vector<Copy> frames_;
};

// The recovery service's socket side, answering from a Reference in the test thread.
class FakeRecovery {
 public:
  FakeRecovery(zmq::context_t& context, const std::string& url, const Reference& reference)
      : socket_(context, zmq::socket_type::router), reference_(reference) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind(url);
  }

  // Answers every request waiting; `held` is the last seq it serves (what it has committed).
  void serve(uint64_t held) {
    for (;;) {
      zmq::message_t identity;
      if (!socket_.recv(identity, zmq::recv_flags::dontwait)) return;
      zmq::message_t text;
      ASSERT_TRUE(identity.more());
      ASSERT_TRUE(socket_.recv(text, zmq::recv_flags::dontwait));
      auto request = recovery::parse_request(text.to_string_view());
      ASSERT_TRUE(request.has_value()) << request.error();
      std::vector<std::vector<uint8_t>> parts;
      recovery::ReplyHeader header;
      if (request->kind == recovery::RequestKind::kAck) {
        acks.push_back(request->from);
        continue;  // acks are not answered
      }
      if (request->kind == recovery::RequestKind::kRange) {
        ++ranges;
        if (request->replica) ++replica_ranges;
        if (request->wait_ms != 0) ++long_polls;
        header.kind = recovery::ReplyKind::kRange;
        header.from = request->from;
        header.last_seq = held;
        header.epoch = 1;
        header.epoch_start = 1;
        if (request->from <= held) {
          header.served_to = std::min({request->to, held, request->from + 99});
          parts.push_back(reference_.batch(request->from, header.served_to));
        }
      } else if (request->kind == recovery::RequestKind::kSnapshot) {
        ++snapshots;
        if (corrupt_snapshots > 0) {
          --corrupt_snapshots;
          header.kind = recovery::ReplyKind::kSnapshot;
          header.seq = held;
          header.epoch = 1;
          header.chunks = 1;
          parts.push_back({1, 2, 3, 4, 5, 6, 7, 8});
        } else {
          const MarketState state = reference_.state_at(held);
          parts = encode_snapshot(state, 0, 1, 1, 2);
          header.kind = recovery::ReplyKind::kSnapshot;
          header.seq = held;
          header.epoch = 1;
          header.digest = state_digest(state);
          header.chunks = static_cast<uint32_t>(parts.size());
          if (bad_crc_snapshots > 0) {
            // A market's name garbled in transit: the verifier and the digest cannot see it.
            --bad_crc_snapshots;
            std::vector<uint8_t>& chunk = parts.back();
            const std::string_view name = "match";
            auto at = std::search(chunk.begin(), chunk.end(), name.begin(), name.end());
            EXPECT_NE(at, chunk.end());
            if (at != chunk.end()) at[1] = 'b';
          } else if (lying_digest_snapshots > 0) {
            --lying_digest_snapshots;
            header.digest ^= 1;
          }
        }
      } else {
        FAIL() << "unexpected request " << text.to_string();
      }
      socket_.send(identity, zmq::send_flags::sndmore);
      const std::string head = recovery::format_reply_header(header);
      socket_.send(zmq::buffer(head),
                   parts.empty() ? zmq::send_flags::none : zmq::send_flags::sndmore);
      for (size_t i = 0; i < parts.size(); ++i) {
        socket_.send(zmq::buffer(parts[i]),
                     i + 1 == parts.size() ? zmq::send_flags::none : zmq::send_flags::sndmore);
      }
    }
  }

  int ranges = 0;
  int replica_ranges = 0;  // range requests marked `replica`
  int long_polls = 0;      // range requests with a WAIT_MS
  std::vector<uint64_t> acks;
  int snapshots = 0;
  int corrupt_snapshots = 0;
  int bad_crc_snapshots = 0;       // sound FlatBuffers, one chunk altered after its CRC
  int lying_digest_snapshots = 0;  // sound chunks, the header's DIGEST wrong

 private:
  zmq::socket_t socket_;
  const Reference& reference_;
};

zmq::socket_t bound_pub(zmq::context_t& context, const std::string& url) {
  zmq::socket_t socket(context, zmq::socket_type::pub);
  socket.set(zmq::sockopt::linger, 0);
  socket.bind(url);
  return socket;
}

// A socket bound to a free loopback TCP port (ZeroMQ checks message sizes on TCP, not inproc).
zmq::socket_t bound_tcp(zmq::context_t& context, zmq::socket_type type) {
  zmq::socket_t socket(context, type);
  socket.set(zmq::sockopt::linger, 0);
  socket.bind("tcp://127.0.0.1:*");
  return socket;
}

void send(zmq::socket_t& pub, const std::vector<uint8_t>& bytes) {
  ASSERT_TRUE(pub.send(zmq::buffer(bytes), zmq::send_flags::dontwait).has_value());
}

// What the owner of a Subscriber does with each poll: installs snapshots, applies frames, and
// checks they come in seq order, each once.
struct Owner {
  void poll(Subscriber& subscriber) {
    out.clear();
    subscriber.poll(2, out);
    if (auto image = subscriber.take_snapshot()) {
      state = std::move(image->state);
      images.push_back(image->seq);
      next_seq = image->seq + 1;
    }
    for (const fb::Frame* frame : out.frames) {
      if (next_seq != 0) {
        ASSERT_EQ(frame->seq(), next_seq) << "delivered out of order or twice";
      }
      next_seq = frame->seq() + 1;
      seqs.push_back(frame->seq());
      state.apply(*frame);
    }
  }
  ArbiterOutput out;
  MarketState state;
  std::vector<uint64_t> seqs;
  std::vector<uint64_t> images;
  uint64_t next_seq = 0;
};

SubscriberConfig config_for(const std::string& name, ResyncMode mode) {
  SubscriberConfig config;
  config.publisher_urls = {"inproc://" + name + "-pub0", "inproc://" + name + "-pub1"};
  config.recovery_urls = {"inproc://" + name + "-recovery"};
  config.arbiter.mode = mode;
  config.arbiter.gap_timeout_ns = 5'000'000;
  config.arbiter.request_timeout_ns = 500'000'000;
  return config;
}

// Polls until `done` or 10 s pass (then fails): the test never hangs.
template <typename Step, typename Done>
void run_until(Step step, Done done, const char* what) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!done()) {
    ASSERT_LT(Clock::now(), deadline) << "timed out waiting: " << what;
    step();
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// Heartbeats on line 0 until the subscriber hears it: a SUB misses what a PUB sends before it
// joined.
void join_line(zmq::socket_t& pub, Subscriber& subscriber, Owner& owner,
               const Reference& reference) {
  run_until(
      [&] {
        send(pub, reference.heartbeat(0));
        owner.poll(subscriber);
      },
      [&] { return subscriber.arbiter().last_heard_ns(0) != 0; }, "the line to join");
}

TEST(Subscriber, FollowLongPollDeliversWithoutPublishersAndCarriesAcks) {
  const Reference reference(400);
  const uint64_t n = reference.last_seq();
  zmq::context_t context;
  SubscriberConfig config = config_for("follow", ResyncMode::kTruncate);
  config.replica_requests = true;
  config.follow_url = config.recovery_urls[0];
  config.follow_wait_ms = 50;
  FakeRecovery recovery(context, config.recovery_urls[0], reference);
  Subscriber subscriber(context, config);
  Owner owner;
  // Nothing is published: every frame comes over the long poll (line 2, after the two SUBs).
  run_until(
      [&] {
        owner.poll(subscriber);
        recovery.serve(n);
      },
      [&] { return owner.seqs.size() >= n; }, "the long poll to deliver everything");
  ASSERT_EQ(owner.seqs.size(), n);
  EXPECT_EQ(owner.seqs.back(), n);
  EXPECT_GE(recovery.long_polls, 5);  // at most 100 frames per reply
  EXPECT_EQ(recovery.replica_ranges, recovery.ranges) << "every range request is marked replica";
  EXPECT_GE(subscriber.counters().follow_requests, 5u);
  EXPECT_NE(subscriber.arbiter().last_heard_ns(2), 0u);
  EXPECT_NE(subscriber.last_reply_ns(), 0u);
  EXPECT_EQ(subscriber.highest_epoch_heard(), 1u);

  ASSERT_TRUE(subscriber.send_ack(n));
  run_until(
      [&] {
        owner.poll(subscriber);
        recovery.serve(n);
      },
      [&] { return !recovery.acks.empty(); }, "the ack to arrive");
  EXPECT_EQ(recovery.acks, std::vector<uint64_t>{n});
}

TEST(Subscriber, FollowGivesUpOnAnUnansweredLongPollAndAsksAgainOnAFreshSocket) {
  const Reference reference(10);
  const uint64_t n = reference.last_seq();
  zmq::context_t context;
  SubscriberConfig config = config_for("follow-reset", ResyncMode::kTruncate);
  config.follow_url = config.recovery_urls[0];
  config.follow_wait_ms = 20;
  FakeRecovery recovery(context, config.recovery_urls[0], reference);
  Subscriber subscriber(context, config);
  ArbiterOutput out;
  const uint64_t start = 1'000'000'000;
  constexpr uint64_t kMs = 1'000'000;
  subscriber.poll(0, start, out);
  EXPECT_EQ(subscriber.counters().follow_requests, 1u);
  subscriber.poll(0, start + 1020 * kMs, out);  // wait + 1 s: still waiting
  EXPECT_EQ(subscriber.counters().follow_resets, 0u);
  EXPECT_EQ(subscriber.counters().follow_requests, 1u);
  subscriber.poll(0, start + 1021 * kMs, out);  // past it: a fresh socket asks again
  EXPECT_EQ(subscriber.counters().follow_resets, 1u);
  EXPECT_EQ(subscriber.counters().follow_requests, 2u);
  std::vector<uint64_t> seqs;
  run_until(
      [&] {
        recovery.serve(n);
        out.clear();
        subscriber.poll(2, start + 1022 * kMs, out);
        for (const fb::Frame* frame : out.frames) seqs.push_back(frame->seq());
      },
      [&] { return seqs.size() >= n; }, "the second long poll's reply");
  std::vector<uint64_t> expected;
  for (uint64_t s = 1; s <= n; ++s) expected.push_back(s);
  EXPECT_EQ(seqs, expected) << "each frame once, in order";
}

TEST(Subscriber, WithoutAFollowURLThereIsNoLongPollAndNoAck) {
  const Reference reference(10);
  zmq::context_t context;
  const SubscriberConfig config = config_for("nofollow", ResyncMode::kTruncate);
  FakeRecovery recovery(context, config.recovery_urls[0], reference);
  Subscriber subscriber(context, config);
  Owner owner;
  owner.poll(subscriber);
  recovery.serve(reference.last_seq());
  EXPECT_EQ(recovery.long_polls, 0);
  EXPECT_FALSE(subscriber.send_ack(1));
  EXPECT_EQ(subscriber.file_descriptors().size(), 3u);
}

TEST(Subscriber, RecoversFramesThePublishersDroppedAndDeliversEachOnce) {
  const Reference reference(400);
  const uint64_t n = reference.last_seq();
  zmq::context_t context;
  const SubscriberConfig config = config_for("drops", ResyncMode::kTruncate);
  zmq::socket_t pub0 = bound_pub(context, config.publisher_urls[0]);
  zmq::socket_t pub1 = bound_pub(context, config.publisher_urls[1]);
  FakeRecovery recovery(context, config.recovery_urls[0], reference);
  Subscriber subscriber(context, config);
  Owner owner;

  // Heartbeats until both lines are heard: a SUB misses what a PUB sends before it joined.
  run_until(
      [&] {
        send(pub0, reference.heartbeat(0));
        send(pub1, reference.heartbeat(0));
        owner.poll(subscriber);
      },
      [&] {
        return subscriber.arbiter().last_heard_ns(0) != 0 &&
               subscriber.arbiter().last_heard_ns(1) != 0;
      },
      "both lines to join");

  // Batches of 4; line 0 drops every 3rd, line 1 every 5th, so every 15th is lost on both.
  size_t k = 0;
  for (uint64_t from = 1; from <= n; from += 4, ++k) {
    const std::vector<uint8_t> batch = reference.batch(from, std::min(n, from + 3));
    if (k % 3 != 0) send(pub0, batch);
    if (k % 5 != 0) send(pub1, batch);
    if (k % 8 == 0) {
      owner.poll(subscriber);
      recovery.serve(std::min(n, from + 3));
    }
  }
  // Whatever tail is still missing, a heartbeat reveals.
  run_until(
      [&] {
        send(pub0, reference.heartbeat(n));
        owner.poll(subscriber);
        recovery.serve(n);
      },
      [&] { return subscriber.arbiter().last_seq() == n; }, "every frame");

  ASSERT_EQ(owner.seqs.size(), n);
  for (uint64_t s = 1; s <= n; ++s) ASSERT_EQ(owner.seqs[s - 1], s);
  EXPECT_EQ(state_digest(owner.state), state_digest(reference.state_at(n)));
  EXPECT_GT(recovery.ranges, 0);
  const ArbiterCounters& c = subscriber.arbiter().counters();
  EXPECT_GT(c.duplicates, 0u);
  EXPECT_GT(c.range_requests, 0u);
  EXPECT_EQ(c.delivered, n);
  EXPECT_EQ(subscriber.counters().requests_sent, c.range_requests);
  EXPECT_EQ(subscriber.counters().send_failures, 0u);
  EXPECT_EQ(subscriber.counters().bad_replies, 0u);
  EXPECT_GT(subscriber.counters().replies, 0u);
}

// A publisher (hostile, or broken) sends a message over max_message_bytes: ZeroMQ drops the
// connection before holding it, so it never reaches the arbiter (it would count a corrupt batch).
// ZeroMQ does not reconnect after such a protocol error; the silent line is connected again and
// the frames sent after it arrive.
TEST(Subscriber, APublisherMessageOverTheLimitIsNeverTakenIn) {
  const Reference reference(20);
  const uint64_t n = reference.last_seq();
  zmq::context_t context;
  zmq::socket_t pub = bound_tcp(context, zmq::socket_type::pub);
  SubscriberConfig config = config_for("oversize", ResyncMode::kTruncate);
  config.publisher_urls = {pub.get(zmq::sockopt::last_endpoint)};
  config.max_message_bytes = 64 << 10;
  config.silent_line_reconnect_ns = 300'000'000;
  FakeRecovery recovery(context, config.recovery_urls[0], reference);
  Subscriber subscriber(context, config);
  Owner owner;
  join_line(pub, subscriber, owner, reference);

  const uint64_t batches_before = subscriber.counters().batches;
  send(pub, std::vector<uint8_t>(size_t{1} << 20, 0xAB));  // 1 MiB: 16 times the limit
  run_until(
      [&] {
        send(pub, reference.batch(1, n));
        owner.poll(subscriber);
        recovery.serve(n);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      },
      [&] { return subscriber.arbiter().last_seq() == n; }, "the frames after it");

  EXPECT_EQ(subscriber.arbiter().counters().corrupt_batches, 0u);
  EXPECT_EQ(subscriber.arbiter().counters().delivered, n);
  EXPECT_GE(subscriber.counters().line_reconnects, 1u);
  EXPECT_GT(subscriber.counters().batches, batches_before);  // the line itself came back
  EXPECT_EQ(state_digest(owner.state), state_digest(reference.state_at(n)));
}

// A recovery service (hostile, or broken) answers with a message over max_message_bytes: ZeroMQ
// drops that link for good. The request times out, the service's socket is connected again, and
// the next request is answered: the gap is filled.
TEST(Subscriber, AServiceDroppedForAnOversizedReplyIsConnectedAgainAfterTheTimeout) {
  const Reference reference(20);
  const uint64_t n = reference.last_seq();
  zmq::context_t context;
  zmq::socket_t pub = bound_tcp(context, zmq::socket_type::pub);
  zmq::socket_t service = bound_tcp(context, zmq::socket_type::router);
  SubscriberConfig config = config_for("oversized-reply", ResyncMode::kTruncate);
  config.publisher_urls = {pub.get(zmq::sockopt::last_endpoint)};
  config.recovery_urls = {service.get(zmq::sockopt::last_endpoint)};
  config.max_message_bytes = 64 << 10;
  config.arbiter.request_timeout_ns = 200'000'000;
  Subscriber subscriber(context, config);
  Owner owner;
  join_line(pub, subscriber, owner, reference);

  // Frames 1..n are missed on the line; a heartbeat shows the gap. The first range request is
  // answered with 1 MiB of garbage, every later one properly.
  int requests = 0;
  run_until(
      [&] {
        send(pub, reference.heartbeat(n));
        owner.poll(subscriber);
        zmq::message_t identity;
        zmq::message_t text;
        if (!service.recv(identity, zmq::recv_flags::dontwait)) return;
        ASSERT_TRUE(service.recv(text, zmq::recv_flags::none));
        auto request = recovery::parse_request(text.to_string_view());
        ASSERT_TRUE(request.has_value()) << request.error();
        ++requests;
        service.send(identity, zmq::send_flags::sndmore);
        if (requests == 1) {
          const std::vector<uint8_t> garbage(size_t{1} << 20, 0xCD);
          service.send(zmq::buffer(garbage), zmq::send_flags::none);
          return;
        }
        recovery::ReplyHeader header;
        header.kind = recovery::ReplyKind::kRange;
        header.from = request->from;
        header.last_seq = n;
        header.epoch = 1;
        header.epoch_start = 1;
        header.served_to = std::min(request->to, n);
        const std::string head = recovery::format_reply_header(header);
        const std::vector<uint8_t> batch = reference.batch(request->from, header.served_to);
        service.send(zmq::buffer(head), zmq::send_flags::sndmore);
        service.send(zmq::buffer(batch), zmq::send_flags::none);
      },
      [&] { return subscriber.arbiter().last_seq() == n; }, "the gap filled");

  EXPECT_GE(requests, 2);
  EXPECT_GE(subscriber.counters().service_reconnects, 1u);
  EXPECT_EQ(subscriber.counters().bad_replies, 0u) << "the garbage never reached the subscriber";
  EXPECT_EQ(state_digest(owner.state), state_digest(reference.state_at(n)));
}

TEST(Subscriber, StartsFromASnapshotAndContinuesWithLiveFrames) {
  const Reference reference(300);
  const uint64_t n = reference.last_seq();
  zmq::context_t context;
  const SubscriberConfig config = config_for("snapshot", ResyncMode::kSnapshot);
  zmq::socket_t pub0 = bound_pub(context, config.publisher_urls[0]);
  zmq::socket_t pub1 = bound_pub(context, config.publisher_urls[1]);
  FakeRecovery recovery(context, config.recovery_urls[0], reference);
  recovery.corrupt_snapshots = 1;  // the first answer does not decode: asked again
  Subscriber subscriber(context, config);
  Owner owner;

  // Frames 1..100 are out before the subscriber joins; the service has them committed.
  const uint64_t committed = 100;
  run_until(
      [&] {
        send(pub0, reference.heartbeat(committed));
        send(pub1, reference.heartbeat(committed));
        owner.poll(subscriber);
        recovery.serve(committed);
      },
      [&] { return subscriber.arbiter().positioned(); }, "the snapshot");
  ASSERT_EQ(owner.images, std::vector<uint64_t>{committed});
  EXPECT_EQ(subscriber.counters().snapshot_failures, 1u);
  EXPECT_EQ(subscriber.counters().snapshots_loaded, 1u);
  EXPECT_EQ(state_digest(owner.state), state_digest(reference.state_at(committed)));

  size_t k = 0;
  for (uint64_t from = committed + 1; from <= n; from += 5, ++k) {
    const std::vector<uint8_t> batch = reference.batch(from, std::min(n, from + 4));
    if (k % 4 != 1) send(pub0, batch);
    if (k % 3 != 1) send(pub1, batch);
    owner.poll(subscriber);
    recovery.serve(std::min(n, from + 4));
  }
  run_until(
      [&] {
        send(pub1, reference.heartbeat(n));
        owner.poll(subscriber);
        recovery.serve(n);
      },
      [&] { return subscriber.arbiter().last_seq() == n; }, "every frame after the snapshot");
  ASSERT_EQ(owner.seqs.size(), n - committed);
  EXPECT_EQ(owner.seqs.front(), committed + 1);
  EXPECT_EQ(state_digest(owner.state), state_digest(reference.state_at(n)));
  EXPECT_EQ(recovery.snapshots, 2);
}

// A snapshot is installed only when every chunk's CRC32C and the image's digest check out; a
// refused one is counted, changes nothing, and is asked for again.
TEST(Subscriber, RefusesASnapshotWithABadChunkOrALyingDigestAndAsksAgain) {
  const Reference reference(60);
  zmq::context_t context;
  const SubscriberConfig config = config_for("refuse", ResyncMode::kSnapshot);
  zmq::socket_t pub0 = bound_pub(context, config.publisher_urls[0]);
  zmq::socket_t pub1 = bound_pub(context, config.publisher_urls[1]);
  FakeRecovery recovery(context, config.recovery_urls[0], reference);
  recovery.bad_crc_snapshots = 1;
  recovery.lying_digest_snapshots = 1;
  Subscriber subscriber(context, config);
  Owner owner;
  const uint64_t committed = 40;
  run_until(
      [&] {
        send(pub0, reference.heartbeat(committed));
        owner.poll(subscriber);
        recovery.serve(committed);
      },
      [&] { return subscriber.arbiter().positioned(); }, "a sound snapshot");
  EXPECT_EQ(recovery.snapshots, 3);
  ASSERT_EQ(owner.images, std::vector<uint64_t>{committed}) << "only the sound one installed";
  EXPECT_EQ(subscriber.counters().snapshot_failures, 2u);
  EXPECT_EQ(subscriber.counters().bad_crc_chunks, 1u);
  EXPECT_EQ(subscriber.counters().bad_digests, 1u);
  EXPECT_EQ(subscriber.counters().snapshots_loaded, 1u);
  EXPECT_EQ(state_digest(owner.state), state_digest(reference.state_at(committed)));
}

}  // namespace
}  // namespace oddsbus::edge
