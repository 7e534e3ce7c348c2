// The journal republisher (engine/journal_republisher.h), in process: a SUB and a DEALER on
// loopback follow it through a journal with a known history (tests/engine/incident_journal.h).
// Asserted: the batches it publishes are the journal's records, unchanged and in order; its
// heartbeats state the last seq published, its epoch and where that epoch began; its recovery
// service serves nothing past what was published; ranges widen to whole records.
#include "engine/journal_republisher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "engine/journal.h"
#include "engine/replay.h"
#include "schemas/batch.h"
#include "schemas/recovery_protocol.h"
#include "schemas/state_digest.h"
#include "tests/engine/engine_test_support.h"
#include "tests/engine/incident_journal.h"

namespace oddsbus::engine {
namespace {

using namespace std::chrono_literals;
using testing_support::TempDir;

struct Heard {
  uint64_t seq = 0;
  uint32_t epoch = 0;
  uint64_t epoch_start = 0;
  bool relayed = false;
};

class JournalRepublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    journal_ = testing_support::create_journal(dir_.sub("journal"));
    ASSERT_TRUE(journal_);
    testing_support::write_incident(*journal_);
  }
  void TearDown() override {
    stop_serving();
    republisher_.reset();
  }

  // Starts a republisher of `config` (loopback, wildcard ports) with a SUB and a DEALER on it.
  void start(RepublishConfig config) {
    config.pub_url = "tcp://127.0.0.1:*";
    config.recovery_url = "tcp://127.0.0.1:*";
    config.heartbeat_interval_ns = 20'000'000;
    republisher_ = std::make_unique<JournalRepublisher>(*journal_, config);
    auto started = republisher_->start();
    ASSERT_TRUE(started) << started.error();
    sub_.set(zmq::sockopt::subscribe, "");
    sub_.set(zmq::sockopt::linger, 0);
    sub_.connect(republisher_->pub_endpoint());
    dealer_.set(zmq::sockopt::linger, 0);
    dealer_.connect(republisher_->recovery_endpoint());
  }

  // Heartbeats until the SUB hears one (so nothing published later is lost to the joining), and
  // returns what it stated.
  Heard join() {
    serve_in_background();
    std::optional<Heard> heard;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!heard && std::chrono::steady_clock::now() < deadline) {
      auto message = receive(100ms);
      if (message) heard = heartbeat_of(*message);
    }
    stop_serving();
    EXPECT_TRUE(heard) << "no heartbeat within 10 s";
    return heard.value_or(Heard{});
  }

  void serve_in_background() {
    serve_stop_.store(false);
    server_ = std::thread([this] { republisher_->serve(serve_stop_); });
  }
  void stop_serving() {
    serve_stop_.store(true);
    if (server_.joinable()) server_.join();
  }

  std::optional<std::vector<uint8_t>> receive(std::chrono::milliseconds timeout) {
    zmq::pollitem_t item{sub_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) return std::nullopt;
    zmq::message_t message;
    if (!sub_.recv(message)) return std::nullopt;
    const auto* bytes = message.data<uint8_t>();
    return std::vector<uint8_t>(bytes, bytes + message.size());
  }

  std::optional<Heard> heartbeat_of(const std::vector<uint8_t>& bytes) {
    BatchReader reader;
    if (!reader.open(bytes) || !reader.heartbeat()) return std::nullopt;
    const fb::Frame* frame = reader.frames()[0];
    const fb::Heartbeat* heartbeat = frame->payload_as_Heartbeat();
    return Heard{heartbeat->last_seq(), frame->epoch(), heartbeat->epoch_start(),
                 heartbeat->relayed()};
  }

  // Every data batch the SUB receives until `last_seq` was published, then the next heartbeat.
  std::vector<std::vector<uint8_t>> receive_through(uint64_t last_seq, Heard& after) {
    std::vector<std::vector<uint8_t>> batches;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    bool done = false;
    while (std::chrono::steady_clock::now() < deadline) {
      auto message = receive(100ms);
      if (!message) continue;
      if (auto heard = heartbeat_of(*message)) {
        if (done) {
          after = *heard;
          return batches;
        }
        continue;
      }
      BatchReader reader;
      EXPECT_TRUE(reader.open(*message));
      batches.push_back(*message);
      if (reader.header().first_seq + reader.header().count - 1 >= last_seq) {
        done = true;
        serve_in_background();
      }
    }
    ADD_FAILURE() << "seq " << last_seq << " and a heartbeat after it not received within 10 s";
    return batches;
  }

  // The journal's records holding seqs from..to, as stored.
  std::vector<std::vector<uint8_t>> records(uint64_t from, uint64_t to) {
    std::vector<std::vector<uint8_t>> out;
    JournalReader reader(*journal_);
    auto scanned = reader.scan(from, [&](uint64_t key, std::span<const uint8_t> bytes) {
      if (key > to) return false;
      out.emplace_back(bytes.begin(), bytes.end());
      return true;
    });
    EXPECT_TRUE(scanned);
    return out;
  }

  recovery::ReplyHeader ask(const std::string& request, size_t* parts = nullptr) {
    dealer_.send(zmq::buffer(request));
    zmq::pollitem_t item{dealer_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 5s) == 0) {
      ADD_FAILURE() << "no reply to " << request << " within 5 s";
      return {};
    }
    std::vector<zmq::message_t> messages;
    EXPECT_TRUE(zmq::recv_multipart(dealer_, std::back_inserter(messages)));
    if (parts != nullptr) *parts = messages.size() - 1;
    auto header = recovery::parse_reply_header(messages[0].to_string());
    EXPECT_TRUE(header) << header.error();
    return header.value_or(recovery::ReplyHeader{});
  }

  // Asks `status` until the service states `seq` (it follows the journal on its own thread).
  recovery::ReplyHeader status_at(uint64_t seq) {
    recovery::ReplyHeader status;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    do {
      status = ask("status");
      if (status.last_seq == seq) break;
      std::this_thread::sleep_for(5ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return status;
  }

  uint64_t digest_at(uint64_t seq) {
    StateQuery query;
    query.at_seq = seq;
    auto state = state_at(*journal_, query);
    EXPECT_TRUE(state) << state.error();
    return state ? state_digest(*state) : 0;
  }

  TempDir dir_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<JournalRepublisher> republisher_;
  zmq::context_t context_;
  zmq::socket_t sub_{context_, zmq::socket_type::sub};
  zmq::socket_t dealer_{context_, zmq::socket_type::dealer};
  std::atomic<bool> publish_stop_{false};
  std::atomic<bool> serve_stop_{false};
  std::thread server_;
};

TEST_F(JournalRepublisherTest, PublishesEveryRecordUnchangedInOrderThenHeartbeatsTheLastSeq) {
  RepublishConfig config;
  config.speed = {1.0, true};
  start(config);
  const Heard before = join();
  EXPECT_EQ(before.seq, 0u);
  EXPECT_EQ(before.epoch, 1u);
  EXPECT_EQ(before.epoch_start, 1u);
  EXPECT_TRUE(before.relayed) << "a republisher never claims to sequence";

  auto published = republisher_->publish(publish_stop_);
  ASSERT_TRUE(published) << published.error();
  EXPECT_EQ(published->last_seq, 18u);
  EXPECT_EQ(published->frames, 18u);
  EXPECT_EQ(published->batches, 11u);

  Heard after;
  const auto batches = receive_through(18, after);
  EXPECT_EQ(batches, records(1, 18));
  // The takeover at seq 14 began epoch 2.
  EXPECT_EQ(after.seq, 18u);
  EXPECT_EQ(after.epoch, 2u);
  EXPECT_EQ(after.epoch_start, 14u);
}

TEST_F(JournalRepublisherTest, RecoveryServesNothingPastWhatWasPublished) {
  RepublishConfig config;
  config.speed = {1.0, true};
  config.to_seq = 10;
  start(config);
  // Before the first batch nothing is published: a snapshot is the empty state at seq 0.
  join();
  recovery::ReplyHeader status = status_at(0);
  EXPECT_EQ(status.last_seq, 0u);
  EXPECT_TRUE(status.primary);

  auto published = republisher_->publish(publish_stop_);
  ASSERT_TRUE(published) << published.error();
  EXPECT_EQ(published->last_seq, 10u);
  status = status_at(10);
  EXPECT_EQ(status.last_seq, 10u) << "the journal holds 18 frames; 10 were published";
  EXPECT_EQ(status.epoch, 1u);

  const recovery::ReplyHeader snapshot = ask("snapshot");
  EXPECT_EQ(snapshot.kind, recovery::ReplyKind::kSnapshot);
  EXPECT_EQ(snapshot.seq, 10u);
  EXPECT_EQ(snapshot.digest, digest_at(10));

  size_t parts = 0;
  const recovery::ReplyHeader range = ask("range 3 10", &parts);
  EXPECT_EQ(range.kind, recovery::ReplyKind::kRange);
  EXPECT_EQ(range.served_to, 10u);
  EXPECT_GT(parts, 0u);
  const recovery::ReplyHeader beyond = ask("range 11 18");
  EXPECT_EQ(beyond.kind, recovery::ReplyKind::kRange);
  EXPECT_EQ(beyond.served_to, 0u) << "seq 11 is journaled but was not published";
}

TEST_F(JournalRepublisherTest, RangesWidenToWholeRecordsAndHeartbeatsStateTheEpochInForce) {
  // Record 9 holds seqs 14-15 (the epoch change and a price); record 10 holds seq 16.
  RepublishConfig config;
  config.speed = {1.0, true};
  config.from_seq = 15;
  config.to_seq = 15;
  start(config);
  EXPECT_EQ(republisher_->range().from_seq, 14u);
  const Heard before = join();
  EXPECT_EQ(before.seq, 13u);
  EXPECT_EQ(before.epoch, 1u);
  EXPECT_EQ(before.epoch_start, 1u);
  EXPECT_EQ(status_at(13).last_seq, 13u) << "the frames before the range count as published";
  auto published = republisher_->publish(publish_stop_);
  ASSERT_TRUE(published) << published.error();
  EXPECT_EQ(published->last_seq, 15u);
  EXPECT_EQ(republisher_->range().to_seq, 15u);

  republisher_.reset();
  sub_.close();
  dealer_.close();
  sub_ = zmq::socket_t(context_, zmq::socket_type::sub);
  dealer_ = zmq::socket_t(context_, zmq::socket_type::dealer);
  config.from_seq = 16;
  config.to_seq = UINT64_MAX;
  start(config);
  const Heard later = join();
  EXPECT_EQ(later.seq, 15u);
  EXPECT_EQ(later.epoch, 2u);
  EXPECT_EQ(later.epoch_start, 14u);
  Heard after;
  auto published_later = republisher_->publish(publish_stop_);
  ASSERT_TRUE(published_later) << published_later.error();
  EXPECT_EQ(receive_through(18, after), records(16, 18));
}

TEST_F(JournalRepublisherTest, RefusesARangeTheJournalDoesNotHold) {
  RepublishConfig config;
  config.pub_url = "tcp://127.0.0.1:*";
  config.recovery_url = "tcp://127.0.0.1:*";
  config.from_seq = 19;
  JournalRepublisher past(*journal_, config);
  auto started = past.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().find("last seq 18"), std::string::npos) << started.error();

  config.from_seq = 12;
  config.to_seq = 11;
  JournalRepublisher backwards(*journal_, config);
  started = backwards.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().find("--to-seq 11"), std::string::npos) << started.error();

  auto empty = testing_support::create_journal(dir_.sub("empty"));
  ASSERT_TRUE(empty);
  JournalRepublisher nothing(*empty, config);
  started = nothing.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().find("holds no frames"), std::string::npos) << started.error();
}

}  // namespace
}  // namespace oddsbus::engine
