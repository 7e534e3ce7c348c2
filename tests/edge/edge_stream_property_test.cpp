// Issue 18's property, against the edge's sans-I/O cores (market cache, client streams, the
// staleness verdict) wired as odds-edge wires them: for random schedules of subscriptions (ids,
// events, all), unsubscriptions, disconnects and resumes, market redefinitions across events, slow
// readers, publisher deaths, takeovers with and without lost tails, and recovery outages, at
// every quiet point each client's folded view equals the edge's state restricted to its
// subscription, and whenever the edge is not current every subscribed client was told stale.
// Seeded; a failing seed is printed (ODDSBUS_PROPERTY_SEED=N replays one).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "edge/client_stream.h"
#include "edge/market_cache.h"
#include "schemas/frame_builder.h"
#include "schemas/odds.h"
#include "tests/edge/edge_test_frames.h"

namespace oddsbus::edge {
namespace {

using testing_support::FoldedClient;
using testing_support::holds_state_of;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;
constexpr uint64_t kMarkets = 12;

// One channel's history as its publishers sequenced it (frames kept to fork a takeover from).
struct History {
  std::vector<std::vector<uint64_t>> frames;  // seq i is frames[i - 1] (u64: aligned)
  std::vector<uint32_t> epochs;
  uint32_t epoch = 1;
  uint64_t epoch_start = 1;
  MarketState state;

  uint64_t seq() const { return frames.size(); }
  const fb::Frame& frame(uint64_t seq) const { return *fb::GetFrame(frames[seq - 1].data()); }
  FrameHeader next() const {
    FrameHeader h;
    h.seq = seq() + 1;
    h.epoch = epoch;
    h.channel = 7;
    h.publisher = epoch;
    h.sequenced_ns = h.seq * kMs;
    return h;
  }
  void add(std::span<const uint8_t> bytes) {
    std::vector<uint64_t> copy((bytes.size() + 7) / 8);
    std::memcpy(copy.data(), bytes.data(), bytes.size());
    frames.push_back(std::move(copy));
    epochs.push_back(epoch);
    state.apply(frame(seq()));
  }
  // The new primary's history: this one's first `keep` frames, then its EpochChange.
  History fork(uint64_t keep, FrameBuilder& builder) const {
    History next_history;
    next_history.epoch = epochs.empty() || keep == 0 ? 1 : epochs[keep - 1];
    for (uint64_t s = 1; s <= keep; ++s) {
      next_history.frames.push_back(frames[s - 1]);
      next_history.epochs.push_back(epochs[s - 1]);
      next_history.state.apply(next_history.frame(s));
      if (frame(s).payload_type() == fb::Payload::EpochChange) next_history.epoch_start = s;
    }
    const uint32_t previous = epoch;
    next_history.epoch = epoch + 1;
    next_history.epoch_start = keep + 1;
    next_history.add(builder.epoch_change(next_history.next(), previous));
    return next_history;
  }
};

struct Client {
  std::unique_ptr<ClientStream> stream;
  FoldedClient folded;
  bool all = false;
  std::set<uint64_t> markets, events;
  std::shared_ptr<const std::string> in_flight;
  size_t images_needed = 0;  // a widened subscription holds its markets once this many images came

  // A resume claims the client holds every market it names: true only once the image that
  // answered its last widening has been folded.
  bool may_resume() const { return folded.last_seq != 0 && folded.images >= images_needed; }

  bool follows(uint64_t id, uint64_t event) const {
    return all || markets.count(id) != 0 || events.count(event) != 0;
  }
  bool subscribed() const { return all || !markets.empty() || !events.empty(); }
};

std::string id_list(const std::set<uint64_t>& ids) {
  std::string out = "[";
  for (const uint64_t id : ids) out += (out.size() > 1 ? ", " : "") + std::to_string(id);
  return out + "]";
}

class Schedule {
 public:
  explicit Schedule(uint64_t seed)
      : rng_(seed),
        cache_(MarketCacheConfig{.retain_frames = 30 + pick(60), .retain_bytes = size_t{1} << 20}) {
  }

  void run(int steps) {
    for (uint64_t m = 0; m < kMarkets; ++m) define(m);
    cache_.install(
        SnapshotImage{7, history_.epoch, history_.epoch_start, history_.seq(), history_.state});
    heard_ = true;
    for (int i = 0; i < 4; ++i) connect(nullptr);
    for (int step = 0; step < steps; ++step) {
      now_ += pick(4) * kMs;
      const int action = static_cast<int>(pick(100));
      if (action < 30) {
        publish_price();
      } else if (action < 34) {
        define(pick(kMarkets));  // often into another event
      } else if (action < 55) {
        write_some(clients_[pick(clients_.size())], 1 + pick(3));
      } else if (action < 62) {
        change_subscription(clients_[pick(clients_.size())]);
      } else if (action < 66) {
        reconnect(clients_[pick(clients_.size())]);
      } else if (action < 70) {
        for (Client& c : clients_) c.stream->on_tick(ctx());
      } else if (action < 73) {
        heard_ = !heard_;  // the publishers die, or come back
      } else if (action < 76) {
        recovery_out_ = !recovery_out_;  // frames missed cannot be fetched meanwhile
      } else if (action < 78) {
        takeover();
      } else if (action < 85) {
        deliver();
      } else if (action < 88) {
        missed_ = true;  // a lost frame: the edge holds a gap until it is recovered
        publish_price();
        missed_ = false;
      } else if (action < 90) {
        quiet_point();
      }
      refresh_stale();
    }
    quiet_point();
  }

 private:
  uint64_t pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  StreamContext ctx() {
    return StreamContext{cache_, Freshness{stale_, 1'700'000'000 * kSec}, now_};
  }

  void define(uint64_t m) {
    const uint64_t event = 100 + pick(4);
    std::vector<testing_support::Sel> sels;
    for (uint64_t s = 0; s < 1 + pick(3); ++s)
      sels.push_back({m * 10 + s, "s" + std::to_string(s)});
    history_.add(builder_.market_definition(history_.next(), m, event, "m" + std::to_string(m),
                                            fb::MarketStatus::Open, sels));
    arrive();
  }
  void publish_price() {
    const char* odds[] = {"1.5", "2.0", "evens", "5/2", "+150"};
    const uint64_t m = pick(kMarkets);
    const std::string_view text = odds[pick(5)];
    history_.add(builder_.price(history_.next(), m, m * 10, parse_odds(text).value(), text, "t"));
    arrive();
  }
  // A new frame reaches the edge at once unless the publishers are dead, a frame before it is
  // missing, or it is lost itself.
  void arrive() {
    if (heard_ && !missed_ && !gap_ && !diverged_ && cache_.seq() + 1 == history_.seq()) {
      apply(history_.seq());
    } else if (heard_ && !diverged_) {
      gap_ = true;
    }
  }
  void apply(uint64_t seq) {
    auto change = cache_.apply(history_.frame(seq), Freshness{stale_, 0});
    if (!change) return;
    for (Client& c : clients_) c.stream->on_change(change, ctx());
  }
  // The edge gets what it is missing: from the lines or a recovery service, or a snapshot.
  void deliver() {
    if (!heard_) return;
    if (diverged_) {
      if (recovery_out_) return;
      cache_.install(
          SnapshotImage{7, history_.epoch, history_.epoch_start, history_.seq(), history_.state});
      diverged_ = false;
      gap_ = false;
      refresh_stale();
      for (Client& c : clients_) c.stream->on_resync(ctx());
      return;
    }
    if (gap_ && recovery_out_) return;
    while (cache_.seq() < history_.seq()) apply(cache_.seq() + 1);
    gap_ = false;
  }
  // An async takeover: the new primary may lack the last frames the old one published.
  void takeover() {
    const uint64_t lost = std::min<uint64_t>(pick(4), history_.seq() - kMarkets);
    const uint64_t keep = history_.seq() - lost;
    history_ = history_.fork(keep, builder_);
    if (cache_.seq() > keep) {
      diverged_ = true;  // the edge applied frames of the history that lost: a snapshot is due
    } else {
      arrive();
    }
  }

  // The rule edge_health applies, in the terms of this model: not positioned (diverged), a gap
  // open (past its timeout: recovery is out or the lines are dead), or no publisher heard.
  void refresh_stale() {
    const bool stale =
        diverged_ || !heard_ || (gap_ && recovery_out_) || cache_.seq() + kMaxLag < history_.seq();
    if (stale == stale_) return;
    stale_ = stale;
    for (Client& c : clients_) c.stream->on_stale(stale_, ctx());
  }

  void subscribe(Client& c, bool resume) {
    std::string request = R"({"op": "subscribe", )";
    if (c.all) {
      request += R"("markets": "all")";
    } else {
      request += R"("markets": )" + id_list(c.markets) + R"(, "events": )" + id_list(c.events);
    }
    if (resume) {
      request += ", \"resume_from\": " + std::to_string(c.folded.last_seq) +
                 ", \"resume_epoch\": " + std::to_string(c.folded.last_epoch);
    }
    if (std::getenv("ODDSBUS_PROPERTY_TRACE"))
      std::printf("%p -> %s}\n", (void*)&c, request.c_str());
    c.stream->on_text(request + "}", parser_, ctx());
    if (std::getenv("ODDSBUS_PROPERTY_TRACE")) {
      std::printf("%p queued %zu conflating %d cache %llu window from %llu\n", (void*)&c,
                  c.stream->queued_messages(), c.stream->conflating(),
                  (unsigned long long)cache_.seq(), (unsigned long long)cache_.covered_after());
    }
  }
  void connect(Client* again) {
    Client& c = again != nullptr ? *again : clients_.emplace_back();
    ClientStreamConfig config;
    config.max_queue_bytes = 200 + pick(4000);
    config.write_stall_timeout_ns = 1000 * kSec;
    c.stream = std::make_unique<ClientStream>(config, totals_, now_);
    c.in_flight.reset();
    c.folded.follows = [&c](uint64_t id, uint64_t event) { return c.follows(id, event); };
    if (again != nullptr && c.subscribed()) {
      const bool resume = c.may_resume();
      if (!resume) c.images_needed = c.folded.images + 1;
      subscribe(c, resume);
      return;
    }
    c.all = pick(4) == 0;
    c.markets = {pick(kMarkets), pick(kMarkets)};
    c.events = {100 + pick(4)};
    if (c.all || pick(2) == 0) c.markets.clear();
    if (c.all || pick(2) == 0) c.events.clear();
    if (!c.subscribed()) c.all = true;
    c.images_needed = c.folded.images + 1;
    subscribe(c, false);
  }
  void reconnect(Client& c) { connect(&c); }  // the write in flight is lost with the connection

  void change_subscription(Client& c) {
    const int what = static_cast<int>(pick(3));
    if (what == 0 && !c.all) {
      c.markets.insert(pick(kMarkets));
      if (pick(2) == 0) c.events.insert(100 + pick(4));
      c.images_needed = c.folded.images + 1;
      subscribe(c, false);
      return;
    }
    std::string request;
    if (what == 1 && !c.all && (c.markets.size() + c.events.size()) > 1) {
      if (!c.markets.empty()) {
        const uint64_t id = *c.markets.begin();
        c.markets.erase(id);
        request = R"({"op": "unsubscribe", "markets": [)" + std::to_string(id) + "]}";
      } else {
        const uint64_t event = *c.events.begin();
        c.events.erase(event);
        request = R"({"op": "unsubscribe", "event": )" + std::to_string(event) + "}";
      }
    } else {
      return;
    }
    std::erase_if(c.folded.markets,
                  [&](const auto& m) { return !c.follows(m.first, m.second.event); });
    if (std::getenv("ODDSBUS_PROPERTY_TRACE"))
      std::printf("%p -> %s\n", (void*)&c, request.c_str());
    c.stream->on_text(request, parser_, ctx());
  }

  void write_some(Client& c, uint64_t writes) {
    for (uint64_t i = 0; i < writes; ++i) {
      if (!c.in_flight) {
        c.in_flight = c.stream->start_write(now_);
        if (!c.in_flight) return;
      } else {
        c.folded.fold(*c.in_flight);
        if (std::getenv("ODDSBUS_PROPERTY_TRACE"))
          std::printf("%p <- %s\n", (void*)&c, c.in_flight->c_str());
        c.in_flight.reset();
        c.stream->on_written(ctx());
      }
    }
  }

  void quiet_point() {
    deliver();
    refresh_stale();
    for (int round = 0; round < 3; ++round) {
      for (Client& c : clients_) {
        write_some(c, 1'000'000);
        c.stream->on_tick(ctx());
        write_some(c, 1'000'000);
      }
    }
    ++quiet_points_;
    for (Client& c : clients_) {
      ASSERT_FALSE(c.stream->close_verdict());
      ASSERT_EQ(c.stream->queued_messages(), 0u);
      if (!c.subscribed()) continue;
      ASSERT_TRUE(holds_state_of(c.folded, cache_.state(),
                                 [&](const MarketRecord& m) { return c.follows(m.id, m.event); }))
          << "at seq " << cache_.seq() << " quiet point " << quiet_points_ << " all " << c.all
          << " markets " << id_list(c.markets) << " events " << id_list(c.events) << " holds "
          << held(c) << " types " << types(c);
      if (stale_) {
        ASSERT_TRUE(c.folded.last_stale) << "the edge is not current and the client was not told";
      }
    }
  }

  static std::string held(const Client& c) {
    std::string out;
    for (const auto& [id, m] : c.folded.markets) {
      out += std::to_string(id) + "@" + std::to_string(m.event) + " ";
    }
    return out;
  }
  static std::string types(const Client& c) {
    std::string out;
    for (const std::string& t : c.folded.types) out += t + " ";
    return out;
  }

  static constexpr uint64_t kMaxLag = 1u << 30;  // lag is modelled by gaps and dead publishers

  std::mt19937_64 rng_;
  MarketCache cache_;
  History history_;
  FrameBuilder builder_;
  ClientRequestParser parser_{1000};
  StreamTotals totals_;
  std::deque<Client> clients_;  // stable addresses: follows() captures its client
  uint64_t now_ = 1000 * kSec;
  bool stale_ = false;
  bool heard_ = false;
  bool gap_ = false;
  bool missed_ = false;
  bool recovery_out_ = false;
  bool diverged_ = false;
  int quiet_points_ = 0;

 public:
  const StreamTotals& totals() const { return totals_; }
};

TEST(EdgeStreamProperty, EveryClientHoldsTheEdgesStateAndIsToldWhenItIsStale) {
  std::vector<uint64_t> seeds;
  if (const char* one = std::getenv("ODDSBUS_PROPERTY_SEED")) {
    seeds.push_back(std::strtoull(one, nullptr, 10));
  } else {
    for (uint64_t seed = 1; seed <= 300; ++seed) seeds.push_back(seed);
  }
  StreamTotals sum;
  for (const uint64_t seed : seeds) {
    Schedule schedule(seed);
    schedule.run(600);
    if (::testing::Test::HasFailure()) {
      std::printf("failing seed: ODDSBUS_PROPERTY_SEED=%llu\n",
                  static_cast<unsigned long long>(seed));
      return;
    }
    sum.resumes += schedule.totals().resumes;
    sum.resume_misses += schedule.totals().resume_misses;
    sum.conflated_deltas += schedule.totals().conflated_deltas;
  }
  std::printf("%zu schedules: %llu resumes, %llu resume misses, %llu conflated deltas\n",
              seeds.size(), static_cast<unsigned long long>(sum.resumes),
              static_cast<unsigned long long>(sum.resume_misses),
              static_cast<unsigned long long>(sum.conflated_deltas));
  if (seeds.size() > 1) {
    EXPECT_GT(sum.resumes, 0u);
    EXPECT_GT(sum.resume_misses, 0u);
    EXPECT_GT(sum.conflated_deltas, 0u);
  }
}

}  // namespace
}  // namespace oddsbus::edge
