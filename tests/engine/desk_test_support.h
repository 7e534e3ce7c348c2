// Test helpers for the desk suites: the journal read back as a list of frame summaries, desk
// request events built the way DeskService builds them, and DeskNode: a sequencer, journal, ingest
// queues, sequencer agent and desk service running on their own threads, as a node wires them.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "engine/desk_overrides.h"
#include "engine/desk_protocol.h"
#include "engine/desk_service.h"
#include "engine/ingest_queues.h"
#include "engine/journal.h"
#include "engine/journal_scan.h"
#include "engine/sequencer.h"
#include "engine/sequencer_agent.h"
#include "feeds/event.h"
#include "schemas/frame_generated.h"
#include "schemas/log.h"
#include "tests/engine/engine_test_support.h"

namespace oddsbus::engine::testing_support {

struct JournaledFrame {
  uint64_t seq = 0;
  uint32_t epoch = 0;
  fb::Payload type = fb::Payload::NONE;
  uint64_t market = 0;
  uint64_t selection = 0;  // PriceUpdate: its first price
  uint32_t price_e4 = 0;
  std::string source;
  fb::MarketStatus status = fb::MarketStatus::Open;
  fb::StatusReason reason = fb::StatusReason::None;
};

inline std::vector<JournaledFrame> journaled_frames(const Journal& journal, uint64_t from = 1) {
  std::vector<JournaledFrame> frames;
  auto scanned = scan_frames(journal, from, kNoLimit, [&](const fb::Frame& f) {
    JournaledFrame j;
    j.seq = f.seq();
    j.epoch = f.epoch();
    j.type = f.payload_type();
    if (const auto* p = f.payload_as_PriceUpdate()) {
      j.market = p->market();
      if (p->prices() != nullptr && p->prices()->size() > 0) {
        j.selection = p->prices()->Get(0)->selection();
        j.price_e4 = p->prices()->Get(0)->price_e4();
      }
      if (p->source() != nullptr) j.source = p->source()->str();
    } else if (const auto* s = f.payload_as_MarketStatusUpdate()) {
      j.market = s->market();
      j.status = s->status();
      j.reason = s->reason();
    } else if (const auto* d = f.payload_as_MarketDefinition()) {
      j.market = d->market();
    } else if (const auto* t = f.payload_as_Settlement()) {
      j.market = t->market();
    }
    frames.push_back(j);
    return true;
  });
  EXPECT_TRUE(scanned) << (scanned ? "" : scanned.error().problem);
  return frames;
}

inline feeds::Event desk_event(feeds::Event e, uint64_t token, uint64_t override_for_ns = 0) {
  e.request_token = token;
  e.source = "desk";
  e.override_for_ns = override_for_ns;
  return e;
}

inline feeds::Event desk_release(uint64_t market, uint64_t token) {
  feeds::Event e;
  e.type = feeds::EventType::kHeartbeat;
  e.market = market;
  e.desk_release = true;
  e.request_token = token;
  e.source = "desk";
  return e;
}

// A desk request event as DeskService makes it: with its origin (identity = CLIENT, not
// authenticated) and a request text naming the command.
inline feeds::Event desk_request(feeds::Event e, uint64_t token, desk::Command command,
                                 std::string client, std::string id, uint64_t for_ns = 0) {
  e = desk_event(std::move(e), token, for_ns);
  if (command == desk::Command::kRelease) {
    e.type = feeds::EventType::kHeartbeat;
    e.desk_release = true;
  }
  auto origin = std::make_shared<feeds::DeskRequestOrigin>();
  origin->identity = client;
  origin->client = client;
  origin->request_id = id;
  origin->request = client + " " + id + " " + std::string(desk::to_string(command));
  origin->command = static_cast<uint8_t>(command);
  e.desk = std::move(origin);
  return e;
}

// A node's desk path on real threads: market 1001 (Home, Draw, Away) is defined and priced by feed
// "bf" (Home 2.0, Draw 3.0) at start. The caller's thread is the feed producer (push_feed()).
// Read the journal with journaled_frames() (LMDB readers never block the writer); the sequencer's
// state belongs to its thread and is not for tests to read.
class DeskNode {
 public:
  static constexpr size_t kFeedProducer = 0;
  static constexpr size_t kDeskProducer = 1;

  // `visible_seq`: sync replication's gate (DeskServiceConfig::visible_seq); null: async.
  explicit DeskNode(const std::string& url = "tcp://127.0.0.1:*",
                    const std::atomic<uint64_t>* visible_seq = nullptr) {
    JournalConfig config;
    config.dir = dir_.sub("journal");
    auto journal = Journal::open(config);
    if (!journal) throw std::runtime_error(journal.error());
    journal_ = std::move(*journal);
    DeskServiceConfig desk;
    desk.url = url;
    desk.producer = kDeskProducer;
    desk.poll_ms = 10;
    desk.visible_seq = visible_seq;
    service_ = std::make_unique<DeskService>(context_, desk, queues_);
    agent_ = std::make_unique<SequencerAgent>(sequencer_, *journal_, queues_, nullptr,
                                              SequencerAgentConfig{});
    agent_->set_desk(&overrides_, &service_->acks());
    auto ok = agent_->sequence_now(
        {market_event(1001, 501, "Match Odds", home_draw_away()), feed_price(1001, 1, "2.0"),
         feed_price(1001, 2, "3.0"), market_event(1002, 502, "Other", home_draw_away())},
        read_clocks());
    if (!ok) throw std::runtime_error(ok.error());
    sequencer_thread_ = std::thread([this] {
      while (!stop_sequencer_.load(std::memory_order_acquire)) {
        auto done = agent_->do_work(read_clocks());
        if (!done) {
          failed_.store(true);
          return;
        }
        if (*done == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
    desk_thread_ = std::thread([this] {
      if (auto ran = service_->run(stop_desk_); !ran) failed_.store(true);
    });
  }

  ~DeskNode() {
    stop_desk_.store(true, std::memory_order_release);
    desk_thread_.join();
    stop_sequencer_.store(true, std::memory_order_release);
    sequencer_thread_.join();
  }
  DeskNode(const DeskNode&) = delete;
  DeskNode& operator=(const DeskNode&) = delete;

  static feeds::Event feed_price(uint64_t market, uint64_t selection, std::string_view odds) {
    feeds::Event e = price_event(market, selection, odds);
    e.source = "bf";
    return e;
  }

  void push_feed(const feeds::Event& e) {
    ASSERT_EQ(queues_.push(kFeedProducer, e, stop_desk_), PushResult::kPushed);
  }

  // Waits (bounded) until the journal holds a frame past `seq`; false on timeout.
  bool wait_for_seq_past(uint64_t seq,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto frames = journaled_frames(*journal_);
      if (!frames.empty() && frames.back().seq > seq) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }

  zmq::context_t& context() { return context_; }
  DeskService& service() { return *service_; }
  const Journal& journal() const { return *journal_; }
  const std::string& endpoint() const { return service_->endpoint(); }
  bool failed() const { return failed_.load(); }

 private:
  TempDir dir_;
  std::unique_ptr<Journal> journal_;
  Sequencer sequencer_{SequencerConfig{}};
  IngestQueues queues_{2, 1024};
  DeskOverrides overrides_;
  zmq::context_t context_{1};
  std::unique_ptr<DeskService> service_;
  std::unique_ptr<SequencerAgent> agent_;
  std::atomic<bool> stop_desk_{false};
  std::atomic<bool> stop_sequencer_{false};
  std::atomic<bool> failed_{false};
  std::thread sequencer_thread_;
  std::thread desk_thread_;
};

// A desk: one DEALER connected to a desk service; every reply is awaited with a bound.
class DeskClient {
 public:
  DeskClient(zmq::context_t& context, const std::string& endpoint)
      : socket_(context, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(endpoint);
  }

  // The reply's text to `request`; "<timeout>" when none came within `timeout`.
  std::string ask(const std::string& request,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    socket_.send(zmq::buffer(request));
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) return "<timeout>";
    zmq::message_t reply;
    if (!socket_.recv(reply)) return "<timeout>";
    return reply.to_string();
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

}  // namespace oddsbus::engine::testing_support
