#include "engine/recovery_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "engine/committed_queue.h"
#include "engine/journal.h"
#include "engine/journal_scan.h"
#include "schemas/recovery_protocol.h"
#include "schemas/snapshot_image.h"
#include "schemas/state_digest.h"
#include "tests/engine/engine_test_support.h"
#include "tests/engine/recovery_test_support.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;
using namespace std::chrono_literals;
using recovery::ReplyHeader;
using recovery::ReplyKind;

struct Reply {
  ReplyHeader header;
  std::string text;
  std::vector<zmq::message_t> messages;
  std::vector<std::span<const uint8_t>> parts;
};

// True once `done()` holds, false after `timeout` (a clear failure, never a hang).
template <typename F>
bool eventually(F done, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Clocks a test steps by hand (RecoveryServerClocks takes plain functions).
std::atomic<uint64_t> test_monotonic{0};
std::atomic<uint64_t> test_wall{0};
uint64_t test_monotonic_ns() { return test_monotonic.load(); }
uint64_t test_wall_ns() { return test_wall.load(); }

// A journal in a temporary directory, a RecoveryServer on loopback following it on its own
// thread, and a DEALER to talk to it. The parameter: whether the server is handed committed
// batches over a CommittedQueue (as a node does) or reads each from the journal.
class RecoveryServerTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    JournalConfig config;
    config.dir = dir_.sub("journal");
    config.node = 3;
    auto journal = Journal::open(config);
    ASSERT_TRUE(journal) << journal.error();
    journal_ = std::move(*journal);
    if (GetParam()) journal_->set_observer(&queue_);
  }

  void TearDown() override {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    journal_->set_observer(nullptr);
  }

  void start(RecoveryServiceConfig config = {}, RecoveryServerClocks clocks = {}) {
    config.node = 3;
    server_ =
        std::make_unique<RecoveryServer>(context_, "tcp://127.0.0.1:*", *journal_, config, clocks);
    if (GetParam()) server_->follow(queue_);
    thread_ = std::thread([this] { server_->run(stop_); });
    dealer_ = connect();
  }

  zmq::socket_t connect() {
    zmq::socket_t dealer(context_, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.connect(server_->endpoint());
    return dealer;
  }

  void append(const std::vector<uint8_t>& batch) {
    BatchHeader header;
    std::memcpy(&header, batch.data(), sizeof header);
    auto appended = journal_->append(header.first_seq, header.first_seq + header.count - 1, batch);
    ASSERT_TRUE(appended) << appended.error();
  }

  void append_batches(size_t n, size_t frames) {
    for (size_t i = 0; i < n; ++i) append(script_.prices(frames));
  }

  // Waits until the server has followed the journal to its last seq.
  void await_followed() {
    ASSERT_TRUE(eventually([&] { return server_->last_seq() == journal_->last_seq(); }))
        << "followed " << server_->last_seq() << " of " << journal_->last_seq();
  }

  static std::optional<Reply> receive(zmq::socket_t& socket, std::chrono::milliseconds timeout) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) return std::nullopt;
    Reply reply;
    if (!zmq::recv_multipart(socket, std::back_inserter(reply.messages))) return std::nullopt;
    reply.text = reply.messages[0].to_string();
    auto header = recovery::parse_reply_header(reply.text);
    EXPECT_TRUE(header) << header.error();
    reply.header = header.value_or(ReplyHeader{});
    for (size_t i = 1; i < reply.messages.size(); ++i) {
      reply.parts.emplace_back(reply.messages[i].data<uint8_t>(), reply.messages[i].size());
    }
    return reply;
  }

  Reply ask(std::string_view request, zmq::socket_t* socket = nullptr) {
    zmq::socket_t& s = socket != nullptr ? *socket : dealer_;
    s.send(zmq::buffer(request));
    auto reply = receive(s, 5s);
    EXPECT_TRUE(reply) << "no reply to '" << request << "' within 5 s";
    return reply ? std::move(*reply) : Reply{};
  }

  // The state the journal's frames define, replayed independently of the server.
  MarketState replayed() {
    MarketState state;
    auto scanned = scan_frames(*journal_, 1, kNoLimit, [&](const fb::Frame& frame) {
      state.apply(frame);
      return true;
    });
    EXPECT_TRUE(scanned) << scanned.error().problem;
    return state;
  }

  CommittedQueueConfig queue_config() {
    CommittedQueueConfig config;
    config.max_batches = 3;  // small: some tests overflow it, which must lose nothing
    return config;
  }

  TempDir dir_;
  CommittedQueue queue_{queue_config()};
  std::unique_ptr<Journal> journal_;
  BatchScript script_;
  zmq::context_t context_;
  std::unique_ptr<RecoveryServer> server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  zmq::socket_t dealer_;
};

TEST_P(RecoveryServerTest, StatusReportsWhatTheJournalHoldsAndTheRole) {
  append_batches(3, 4);
  start();
  await_followed();
  Reply status = ask("status");
  ASSERT_EQ(status.header.kind, ReplyKind::kStatus) << status.text;
  EXPECT_EQ(status.header.node, 3u);
  EXPECT_EQ(status.header.epoch, 1u);
  EXPECT_EQ(status.header.epoch_start, 1u);
  EXPECT_EQ(status.header.last_seq, 13u);
  EXPECT_FALSE(status.header.primary);
  EXPECT_TRUE(status.parts.empty());

  server_->primary_flag().store(true);
  EXPECT_TRUE(ask("status").header.primary);
  EXPECT_EQ(server_->counters().status_requests.load(), 2u);
}

TEST_P(RecoveryServerTest, FollowsCommitsAsTheyAreJournaled) {
  start();
  EXPECT_EQ(ask("status").header.last_seq, 0u);
  append_batches(2, 4);
  server_->wake();
  await_followed();
  EXPECT_EQ(ask("status").header.last_seq, 9u);
  append_batches(1, 4);  // not woken: found by the next poll
  await_followed();
  const RecoveryServerCounters& c = server_->server_counters();
  if (GetParam()) {
    EXPECT_EQ(c.queue_batches.load(), 3u) << "handed over, not read back from the journal";
    EXPECT_EQ(c.journal_batches.load(), 0u);
  } else {
    EXPECT_EQ(c.journal_batches.load(), 3u);
  }
}

TEST_P(RecoveryServerTest, ACommittedQueueThatOverflowsLosesNothing) {
  append_batches(10, 3);  // before the server runs: the queue holds 3, the rest is dropped
  start();
  await_followed();
  if (GetParam()) {
    EXPECT_EQ(queue_.counters().dropped.load(), 7u);
  }
  // A batch the queue never got (as when it was full): the next one it gets shows the gap.
  journal_->set_observer(nullptr);
  append(script_.prices(3));
  if (GetParam()) journal_->set_observer(&queue_);
  append_batches(2, 3);
  server_->wake();
  await_followed();
  append_batches(1, 3);  // after the catch-up: from the queue again
  server_->wake();
  await_followed();
  const uint64_t last = journal_->last_seq();
  EXPECT_EQ(ask("status").header.last_seq, last);
  Reply range = ask("range 1 " + std::to_string(last));
  EXPECT_EQ(seqs_in(range.parts), iota_seqs(1, last));
  Reply snapshot = ask("snapshot");
  EXPECT_EQ(snapshot.header.digest, state_digest(replayed()));
  if (GetParam()) {
    EXPECT_GE(server_->server_counters().catch_ups.load(), 1u);
    EXPECT_GE(server_->server_counters().queue_batches.load(), 1u);
  }
  EXPECT_EQ(server_->server_counters().journal_errors.load(), 0u);
  EXPECT_EQ(server_->server_counters().journal_rewrites.load(), 0u);
}

TEST_P(RecoveryServerTest, RangeIsCappedAndResumedToTheEnd) {
  RecoveryServiceConfig config;
  config.max_frames = 10;
  config.ring_slots = 3;  // the older half comes from LMDB
  append_batches(12, 4);  // 1-5, then 4 per batch: 49
  start(config);
  await_followed();
  std::vector<uint64_t> all;
  uint64_t from = 1;
  int replies = 0;
  while (from <= 49 && replies < 100) {
    Reply range = ask("range " + std::to_string(from) + " 49");
    ASSERT_EQ(range.header.kind, ReplyKind::kRange) << range.text;
    ASSERT_GE(range.header.served_to, from) << range.text;
    const auto seqs = seqs_in(range.parts);
    ASSERT_FALSE(seqs.empty());
    EXPECT_LE(seqs.size(), 10u);
    EXPECT_EQ(seqs.back(), range.header.served_to);
    for (uint64_t seq : seqs) {
      if (seq >= from) all.push_back(seq);
    }
    from = range.header.served_to + 1;
    ++replies;
  }
  EXPECT_EQ(all, iota_seqs(1, 49));
  EXPECT_GT(server_->counters().batches_from_journal.load(), 0u);
  EXPECT_GT(server_->counters().ranges_capped.load(), 0u);
}

TEST_P(RecoveryServerTest, ALongPollIsAnsweredWhenTheFrameIsCommitted) {
  append_batches(1, 4);
  start();
  await_followed();
  dealer_.send(zmq::buffer(std::string_view("range 6 100 10000")));
  EXPECT_FALSE(receive(dealer_, 50ms)) << "nothing to answer yet";
  ASSERT_TRUE(eventually([&] { return server_->counters().parked.load() == 1; }));

  append(script_.prices(3));  // 6-8
  server_->wake();
  auto range = receive(dealer_, 5s);
  ASSERT_TRUE(range) << "the parked range was not answered";
  EXPECT_EQ(range->header.kind, ReplyKind::kRange);
  EXPECT_EQ(range->header.from, 6u);
  EXPECT_EQ(range->header.served_to, 8u);
  EXPECT_EQ(seqs_in(range->parts), iota_seqs(6, 8));
}

TEST_P(RecoveryServerTest, ALongPollThatRunsOutSaysNothingYet) {
  start();
  const auto asked = std::chrono::steady_clock::now();
  Reply range = ask("range 1 10 100");
  EXPECT_GE(std::chrono::steady_clock::now() - asked, 100ms);
  EXPECT_EQ(range.header.kind, ReplyKind::kRange);
  EXPECT_EQ(range.header.served_to, 0u);
  EXPECT_EQ(server_->counters().parked_expired.load(), 1u);
}

TEST_P(RecoveryServerTest, SnapshotHasTheDigestOfReplayingTheJournal) {
  RecoveryServiceConfig config;
  config.snapshot_markets_per_chunk = 1;
  append_batches(6, 9);
  append(script_.epoch_change(2));
  append_batches(1, 3);
  start(config);
  await_followed();
  Reply snapshot = ask("snapshot");
  ASSERT_EQ(snapshot.header.kind, ReplyKind::kSnapshot) << snapshot.text;
  EXPECT_EQ(snapshot.header.seq, journal_->last_seq());
  EXPECT_EQ(snapshot.header.epoch, 2u);
  ASSERT_EQ(snapshot.parts.size(), snapshot.header.chunks);
  auto image = decode_snapshot(snapshot.parts);
  ASSERT_TRUE(image) << image.error();
  const MarketState state = replayed();
  EXPECT_EQ(state_digest(image->state), state_digest(state));
  EXPECT_EQ(snapshot.header.digest, state_digest(state));
  EXPECT_EQ(image->seq, state.seq());
  EXPECT_EQ(image->epoch_start, 56u);
}

TEST_P(RecoveryServerTest, AnAckIsRecordedForTheSequencerWithoutAReply) {
  append_batches(2, 4);
  start();
  await_followed();
  EXPECT_EQ(server_->acked_seq().load(), 0u);
  dealer_.send(zmq::buffer(std::string_view("ack 7")));
  ASSERT_TRUE(eventually([&] { return server_->acked_seq().load() == 7; }));
  EXPECT_GT(server_->last_ack_ns().load(), 0u);
  EXPECT_FALSE(receive(dealer_, 50ms)) << "an ack is never answered";
  EXPECT_EQ(ask("status").header.kind, ReplyKind::kStatus) << "replies stay in step";
}

TEST_P(RecoveryServerTest, ARequesterOverItsRateIsToldToRetryWhileOthersAreServed) {
  RecoveryServiceConfig config;
  config.requests_per_s = 0.5;
  config.request_burst = 2;
  start(config);
  EXPECT_EQ(ask("status").header.kind, ReplyKind::kStatus);
  EXPECT_EQ(ask("status").header.kind, ReplyKind::kStatus);
  Reply busy = ask("status");
  ASSERT_EQ(busy.header.kind, ReplyKind::kBusy) << busy.text;
  EXPECT_GT(busy.header.retry_ms, 0u);
  zmq::socket_t other = connect();
  EXPECT_EQ(ask("status", &other).header.kind, ReplyKind::kStatus) << "limits are per requester";
  EXPECT_GE(server_->counters().busy.load(), 1u);
}

TEST_P(RecoveryServerTest, GarbageGetsAnErrorAndTheServerKeepsServing) {
  append_batches(1, 2);
  start();
  await_followed();
  Reply error = ask("give me everything");
  EXPECT_EQ(error.header.kind, ReplyKind::kError);
  EXPECT_EQ(error.header.reason, "bad-request");

  dealer_.send(zmq::buffer(std::string_view("range 1 2")), zmq::send_flags::sndmore);
  dealer_.send(zmq::buffer(std::string_view("extra")));
  auto two_parts = receive(dealer_, 5s);
  ASSERT_TRUE(two_parts);
  EXPECT_EQ(two_parts->header.kind, ReplyKind::kError);
  EXPECT_EQ(two_parts->header.reason, "bad-request");

  const std::vector<uint8_t> binary = {0, 1, 2, 255, 254};
  dealer_.send(zmq::buffer(binary));
  auto binary_reply = receive(dealer_, 5s);
  ASSERT_TRUE(binary_reply);
  EXPECT_EQ(binary_reply->header.kind, ReplyKind::kError);

  // A message over the size limit costs its sender the connection, nobody else anything.
  zmq::socket_t flooder = connect();
  flooder.send(zmq::buffer(std::string(100'000, 'x')));

  Reply range = ask("range 1 3");
  EXPECT_EQ(range.header.kind, ReplyKind::kRange);
  EXPECT_EQ(seqs_in(range.parts), iota_seqs(1, 3));
  EXPECT_EQ(server_->counters().bad_requests.load(), 3u);
  EXPECT_EQ(server_->server_counters().malformed_messages.load(), 1u);
}

TEST_P(RecoveryServerTest, FollowsTheJournalAgainAfterFramesAreSetAside) {
  append_batches(5, 4);  // 1-5, 6-9, 10-13, 14-17, 18-21
  start();
  await_followed();
  EXPECT_EQ(ask("status").header.last_seq, 21u);

  // Fencing: frames from 14 lost to epoch 2, which began at 14.
  auto aside = journal_->set_aside_from(14, dir_.sub("aside.batches"));
  ASSERT_TRUE(aside) << aside.error();
  BatchScript winner;
  for (int i = 0; i < 3; ++i) winner.prices(4);  // the shared history, 1-13
  append(winner.epoch_change(2));                // 14
  append(winner.prices(2));                      // 15-16
  server_->wake();

  ASSERT_TRUE(eventually([&] {
    return server_->server_counters().journal_rewrites.load() >= 1 && server_->last_seq() == 16;
  }));
  Reply status = ask("status");
  EXPECT_EQ(status.header.last_seq, 16u);
  EXPECT_EQ(status.header.epoch, 2u);
  EXPECT_EQ(status.header.epoch_start, 14u);
  Reply snapshot = ask("snapshot");
  EXPECT_EQ(snapshot.header.digest, state_digest(replayed()));
  Reply range = ask("range 12 16");
  EXPECT_EQ(seqs_in(range.parts), iota_seqs(10, 16));
  EXPECT_EQ(server_->server_counters().journal_errors.load(), 0u);
}

TEST(RecoveryServer, ABindThatFailsThrows) {
  TempDir dir;
  JournalConfig config;
  config.dir = dir.sub("journal");
  auto journal = Journal::open(config);
  ASSERT_TRUE(journal) << journal.error();
  zmq::context_t context;
  RecoveryServer first(context, "tcp://127.0.0.1:*", **journal, {});
  EXPECT_THROW(RecoveryServer(context, first.endpoint(), **journal, {}), zmq::error_t);
  EXPECT_THROW(RecoveryServer(context, "nonsense://x", **journal, {}), zmq::error_t);
}

// DESIGN section 4, "Clocks": an NTP step of the wall clock must not stall a requester's rate
// limit (a bucket last refilled "in the future") nor hold a long poll for the size of the step.
TEST_P(RecoveryServerTest, AWallClockSteppedBackStallsNeitherRateLimitsNorLongPolls) {
  constexpr uint64_t kS = 1'000'000'000;
  test_monotonic = 1'000 * kS;
  test_wall = 1'800'000'000 * kS;
  RecoveryServiceConfig config;
  config.requests_per_s = 1;
  config.request_burst = 1;
  append_batches(1, 4);
  start(config, {test_monotonic_ns, test_wall_ns});
  await_followed();
  EXPECT_EQ(ask("status").header.kind, ReplyKind::kStatus);
  EXPECT_EQ(ask("status").header.kind, ReplyKind::kBusy) << "the burst is spent";

  test_wall -= 3'600 * kS;  // stepped back an hour
  test_monotonic += 2 * kS;
  // The server reads its clocks once per loop turn, so a request can be served in a turn begun
  // before the step (busy, which spends nothing). The injected monotonic clock moves only when
  // the test steps it: a `status` answer can come from nothing but the 2 s that passed.
  bool refilled = false;
  for (int i = 0; i < 50 && !refilled; ++i) {
    refilled = ask("status").header.kind == ReplyKind::kStatus;
    if (!refilled) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_TRUE(refilled) << "refilled by the 2 s that passed";

  test_monotonic += 2 * kS;
  // As above: a turn begun before the step answers busy; ask again until the long poll parks
  // (the injected clock is frozen between steps, so a parked poll does not expire on its own).
  bool parked = false;
  for (int i = 0; i < 50 && !parked; ++i) {
    dealer_.send(zmq::buffer(std::string_view("range 100 200 50")));
    if (auto early = receive(dealer_, std::chrono::milliseconds(200))) {
      ASSERT_EQ(early->header.kind, ReplyKind::kBusy) << early->text;
      continue;
    }
    parked = eventually([&] { return server_->counters().parked.load() == 1; });
  }
  ASSERT_TRUE(parked);
  test_wall -= 3'600 * kS;
  test_monotonic += 60'000'000;  // past the 50 ms wait
  auto expired = receive(dealer_, 5s);
  ASSERT_TRUE(expired) << "the long poll was held past its wait";
  EXPECT_EQ(expired->header.kind, ReplyKind::kRange) << expired->text;
  EXPECT_EQ(expired->header.served_to, 0u);

  dealer_.send(zmq::buffer(std::string_view("ack 5")));
  ASSERT_TRUE(eventually([&] { return server_->acked_seq().load() == 5; }));
  EXPECT_EQ(server_->last_ack_ns().load(), test_wall.load()) << "stamped by the wall clock";
}

// Sync replication: the server serves others up to the gate's visible seq, read every turn.
TEST_P(RecoveryServerTest, ServesOthersOnlyUpToTheVisibleSeq) {
  std::atomic<uint64_t> visible{5};
  append_batches(3, 4);  // 1-5, 6-9, 10-13
  RecoveryServiceConfig config;
  config.node = 3;
  server_ = std::make_unique<RecoveryServer>(context_, "tcp://127.0.0.1:*", *journal_, config);
  server_->limit_to(visible);
  thread_ = std::thread([this] { server_->run(stop_); });
  dealer_ = connect();
  await_followed();
  Reply range = ask("range 1 100");
  EXPECT_EQ(range.header.served_to, 5u) << range.text;
  EXPECT_EQ(range.header.last_seq, 5u);
  EXPECT_EQ(ask("snapshot").header.seq, 5u);
  EXPECT_EQ(ask("range 1 100 0 replica").header.served_to, 13u);
  dealer_.send(zmq::buffer(std::string_view("range 6 100 5000")));  // parked
  ASSERT_TRUE(eventually([&] { return server_->counters().parked.load() == 1; }));
  visible = 9;
  auto answered = receive(dealer_, 5s);
  ASSERT_TRUE(answered) << "the parked range was not answered when the visible seq moved";
  EXPECT_EQ(answered->header.served_to, 9u) << answered->text;
  EXPECT_EQ(seqs_in(answered->parts), iota_seqs(6, 9));
}

INSTANTIATE_TEST_SUITE_P(Following, RecoveryServerTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "CommittedQueue" : "JournalOnly";
                         });

}  // namespace
}  // namespace oddsbus::engine
