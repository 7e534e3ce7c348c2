// The stream property (issue 18) through a real odds-edge and real WebSocket clients, the short
// live counterpart of tests/edge/edge_stream_property_test.cpp: odds-feedsim feeds a primary and a
// secondary `odds-engine run`; one odds-edge follows both; several clients follow a seeded random
// schedule (subscribe to ids, an event or all, unsubscribe, disconnect and resume with
// resume_from + resume_epoch, reconnect afresh, read slowly), and the primary is killed (kill -9)
// at a random step while the secondary is held (SIGSTOP) until the edge says it is stale, for a
// few steps more: a stale spell, then the takeover. Asserted:
//  - at the quiet point (feed stopped, the edge's seq still) each client's folded view, restricted
//    to its subscription, equals the edge's /v1/snapshot restricted to the same subscription, and
//    the client has folded up to the edge's seq;
//  - what each client is sent keeps the stream's promises (ws_test_client.h: seqs increase, no
//    market_seq skipped, epochs present);
//  - staleness: whenever the edge turned stale while a client was connected (its
//    oddsbus_edge_stale_transitions_total grew after the client was registered), that client was
//    told "stale": true afterwards. The counter is read on the serving thread that tells every
//    client in the same step, so this holds however short the stale spell (a /healthz poll can
//    miss a short one, or see a 503 the stream's tick has not yet acted on).
// Seeded; a failing seed is printed (ODDSBUS_LIVE_PROPERTY_SEED=N replays one). The default test
// runs a few short schedules; DISABLED_LongSchedules (ctest label "slow") runs more and longer.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/child_process.h"
#include "tests/integration/loopback.h"
#include "tests/integration/oddsjson_source.h"
#include "tests/integration/ws_test_client.h"

namespace oddsbus {
namespace {

using namespace std::chrono_literals;
using testing::bin_dir;
using testing::ChildProcess;
using testing::free_port;
using testing::http_get;
using testing::StreamClient;
using testing::url;
using testing::wait_until;

constexpr int kMarkets = 20;

// What a client asked for, as the edge applies it (client_stream.cpp).
struct Subscription {
  bool all = false;
  std::set<uint64_t> ids;
  std::set<uint64_t> events;

  bool empty() const { return !all && ids.empty() && events.empty(); }
  bool wants(uint64_t id, uint64_t event) const {
    return all || ids.contains(id) || events.contains(event);
  }
  // {"op": OP, ...} naming this subscription; `extra` ends the object (e.g. resume fields).
  std::string request(const char* op, const std::string& extra = {}) const {
    std::string text = std::string("{\"op\": \"") + op + "\"";
    if (all) {
      text += ", \"markets\": \"all\"";
    } else {
      auto list = [&](const char* field, const std::set<uint64_t>& values) {
        if (values.empty()) return;
        text += std::string(", \"") + field + "\": [";
        bool first = true;
        for (uint64_t v : values) {
          if (!first) text += ", ";
          first = false;
          text += std::to_string(v);
        }
        text += "]";
      };
      list("markets", ids);
      list("events", events);
    }
    return text + extra + "}";
  }
};

struct EdgeView {
  uint64_t seq = 0;
  uint64_t epoch = 0;
  testing::FoldedState state;
  std::map<uint64_t, uint64_t> event_of;  // market -> event
};

std::optional<EdgeView> edge_view(uint16_t http) {
  auto [status, body] = http_get(http, "/v1/snapshot");
  if (status != 200) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) return std::nullopt;
  EdgeView view{
      uint64_t(doc["seq"]), uint64_t(doc["epoch"]), testing::fold_markets(doc["markets"]), {}};
  for (simdjson::dom::element m : simdjson::dom::array(doc["markets"])) {
    view.event_of[uint64_t(m["market"])] = uint64_t(m["event"]);
  }
  return view;
}

// oddsbus_edge_stale_transitions_total, or nullopt when /metrics does not answer.
std::optional<uint64_t> stale_transitions(uint16_t http) {
  auto [status, body] = http_get(http, "/metrics");
  const std::string name = "\noddsbus_edge_stale_transitions_total ";
  const size_t at = body.find(name);
  if (status != 200 || at == std::string::npos) return std::nullopt;
  return std::stoull(body.substr(at + name.size()));
}

testing::FoldedState restricted(const testing::FoldedState& state, const Subscription& sub,
                                const std::map<uint64_t, uint64_t>& event_of) {
  testing::FoldedState out;
  for (const auto& [id, market] : state) {
    auto event = event_of.find(id);
    if (sub.wants(id, event == event_of.end() ? 0 : event->second)) out.emplace(id, market);
  }
  return out;
}

std::string describe(const testing::FoldedState& state) {
  std::ostringstream out;
  for (const auto& [id, m] : state) {
    out << id << ":" << m.status;
    for (const auto& [s, p] : m.prices) out << " " << s << "=" << p;
    out << "; ";
  }
  return out.str();
}

// One client of the schedule: its subscription and its current connection.
struct Slot {
  std::string name;
  Subscription sub;
  std::unique_ptr<StreamClient> client;
  std::chrono::microseconds read_delay{0};
  uint64_t transitions_at_start = 0;  // the edge's stale transitions once it was registered
  uint64_t told_at_start = 0;         // ... and what the client had been told by then
};

class EdgeStreamLiveProperty : public ::testing::Test {
 protected:
  void SetUp() override { slow_ = testing::sanitizer_slowdown(); }

  // One schedule of `steps` steps; what breaks is recorded as gtest failures.
  void run_schedule(uint64_t seed, int steps) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
    const auto dir =
        std::filesystem::path(::testing::TempDir()) /
        ("edge_live_property_" + std::to_string(::getpid()) + "_" + std::to_string(seed));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    uint16_t ports[6] = {};
    for (uint16_t& p : ports) p = free_port();
    std::unique_ptr<ChildProcess> feed;
    testing::start_oddsjson_source(dir, ports[0], kMarkets, 300 / slow_, int(seed % 1000) + 1,
                                   feed);
    if (::testing::Test::HasFatalFailure()) return;
    auto node = [&](int n, bool secondary) {
      return std::make_unique<ChildProcess>(testing::pair_node_argv(dir, ports, n, secondary),
                                            (dir / ("node" + std::to_string(n) + ".log")).string());
    };
    auto primary = node(1, false);
    auto secondary = node(2, true);
    const uint16_t http = ports[5];
    // Stale sooner than the pair fails over (800 ms). Images of more than a few markets come in
    // parts (README, stream section), so clients fold parts too.
    ChildProcess edge(
        {bin_dir() + "/odds-edge", "--sub", url(ports[1]) + "," + url(ports[3]), "--recovery",
         url(ports[2]) + "," + url(ports[4]), "--http", "127.0.0.1:" + std::to_string(http),
         "--stale-after-ms", "500", "--image-part-bytes", "2048"},
        (dir / "edge.log").string());
    ASSERT_TRUE(wait_until([&] { return http_get(http, "/healthz").first == 200; }, slow_ * 20s))
        << edge.log() << primary->log();
    std::optional<EdgeView> first = edge_view(http);
    ASSERT_TRUE(first && !first->state.empty());
    std::vector<uint64_t> market_ids, event_ids;
    for (const auto& [id, event] : first->event_of) {
      market_ids.push_back(id);
      if (std::find(event_ids.begin(), event_ids.end(), event) == event_ids.end()) {
        event_ids.push_back(event);
      }
    }
    auto random_ids = [&] {
      std::set<uint64_t> ids;
      for (uint64_t n = 1 + pick(3); ids.size() < n;)
        ids.insert(market_ids[pick(market_ids.size())]);
      return ids;
    };

    uint64_t checked_stale = 0, image_parts = 0;
    // Opens `slot`'s connection (resuming from `resume` when given) and waits until the edge has
    // registered it: an image, a resume acknowledgement or a stale message has arrived.
    auto connect = [&](Slot& slot, const StreamClient::Summary* resume) {
      std::string extra;
      if (resume != nullptr) {
        extra = ", \"resume_from\": " + std::to_string(resume->last_delta_seq) +
                ", \"resume_epoch\": " + std::to_string(resume->last_epoch);
      }
      testing::StreamOptions options;
      options.read_delay = slot.read_delay;
      slot.client =
          std::make_unique<StreamClient>(http, slot.sub.request("subscribe", extra),
                                         resume ? *resume : StreamClient::Summary{}, options);
      StreamClient& c = *slot.client;
      ASSERT_TRUE(wait_until(
          [&] {
            auto s = c.summary();
            return s.images > 0 || s.resumes > 0 || s.stale_messages > 0;
          },
          slow_ * 10s))
          << slot.name << " was not answered: " << edge.log();
      slot.told_at_start = c.summary().told_stale;
      auto t = stale_transitions(http);
      ASSERT_TRUE(t);
      slot.transitions_at_start = *t;
    };
    // Ends `slot`'s connection; the edge turned stale while it was open: it was told so.
    auto disconnect = [&](Slot& slot) {
      StreamClient& c = *slot.client;
      auto t = stale_transitions(http);
      ASSERT_TRUE(t);
      if (*t > slot.transitions_at_start && !c.summary().closed) {
        ++checked_stale;
        EXPECT_TRUE(
            wait_until([&] { return c.summary().told_stale > slot.told_at_start; }, slow_ * 10s))
            << slot.name << ": the edge turned stale " << *t - slot.transitions_at_start
            << " times while it was connected; it was never told stale: true";
      }
      c.stop();
      const StreamClient::Summary s = c.summary();
      image_parts += s.image_parts;
      EXPECT_TRUE(s.violations.empty()) << slot.name << ": " << s.violations.front();
      EXPECT_TRUE(s.errors.empty()) << slot.name << ": " << s.errors.front();
    };

    std::vector<Slot> slots(4);
    for (size_t i = 0; i < slots.size(); ++i) {
      Slot& slot = slots[i];
      slot.name = "client " + std::to_string(i);
      switch (i % 3) {
        case 0:
          slot.sub.all = true;
          break;
        case 1:
          slot.sub.ids = random_ids();
          break;
        default:
          slot.sub.events = {event_ids[pick(event_ids.size())]};
          break;
      }
      if (i == 3) slot.read_delay = 3ms;  // slower than the feed: conflated deltas
      connect(slot, nullptr);
      if (HasFatalFailure()) return;
    }

    const int kill_at = 1 + int(pick(steps - 2));
    unsigned healthz_503 = 0;
    int resume_at = -1;  // the step at which the stopped secondary continues
    std::string trace;
    for (int step = 0; step < steps; ++step) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100 + pick(300)));
      if (step == kill_at) {
        // The primary dies and the secondary is held (SIGSTOP) until the edge has said it is
        // stale: a stale spell with clients connected, however fast the takeover would be.
        trace += "kill primary, stop secondary; ";
        const uint64_t before = stale_transitions(http).value_or(0);
        primary->signal(SIGKILL);
        secondary->signal(SIGSTOP);
        ASSERT_TRUE(wait_until(
            [&] {
              if (http_get(http, "/healthz").first != 503) return false;
              ++healthz_503;
              return stale_transitions(http).value_or(0) > before;
            },
            slow_ * 15s))
            << "the edge never turned stale with no publisher: " << edge.log();
        resume_at = step + 1 + int(pick(3));
      }
      if (step == resume_at) {
        trace += "continue secondary; ";
        secondary->signal(SIGCONT);
      }
      Slot& slot = slots[pick(slots.size())];
      switch (pick(6)) {
        case 0: {  // subscribe to more: ids, an event or all
          Subscription more;
          const uint64_t what = pick(3);
          if (what == 0) more.ids = random_ids();
          if (what == 1) more.events = {event_ids[pick(event_ids.size())]};
          if (what == 2) more.all = true;
          slot.client->send(more.request("subscribe"));
          if (more.all) {
            slot.sub = more;
          } else if (!slot.sub.all) {
            slot.sub.ids.insert(more.ids.begin(), more.ids.end());
            slot.sub.events.insert(more.events.begin(), more.events.end());
          }
          trace += slot.name + " subscribe " + more.request("") + "; ";
          break;
        }
        case 1: {  // unsubscribe: all (then ids), or one id or event
          if (slot.sub.all) {
            slot.client->send(slot.sub.request("unsubscribe"));
            slot.sub = Subscription{};
            slot.sub.ids = random_ids();
            slot.client->send(slot.sub.request("subscribe"));
            trace += slot.name + " all -> " + slot.sub.request("") + "; ";
          } else if (slot.sub.ids.size() + slot.sub.events.size() >= 2) {
            Subscription less;
            if (!slot.sub.ids.empty()) {
              less.ids = {*slot.sub.ids.begin()};
              slot.sub.ids.erase(slot.sub.ids.begin());
            } else {
              less.events = {*slot.sub.events.begin()};
              slot.sub.events.erase(slot.sub.events.begin());
            }
            slot.client->send(less.request("unsubscribe"));
            trace += slot.name + " unsubscribe " + less.request("") + "; ";
          }
          break;
        }
        case 2:
        case 3: {  // disconnect, then resume from what it folded (or, 1 in 3, start afresh)
          const bool resume = pick(3) != 0;
          disconnect(slot);
          if (HasFatalFailure()) return;
          const StreamClient::Summary folded = slot.client->summary();
          slot.client.reset();
          std::this_thread::sleep_for(std::chrono::milliseconds(pick(300)));
          connect(slot, resume && folded.last_epoch != 0 ? &folded : nullptr);
          if (HasFatalFailure()) return;
          trace += slot.name + (resume ? " resume; " : " reconnect; ");
          break;
        }
        case 4: {  // toggle a slow reader
          slot.read_delay = slot.read_delay.count() ? 0us : std::chrono::microseconds(3000);
          slot.client->set_read_delay(slot.read_delay);
          trace += slot.name + " read delay " + std::to_string(slot.read_delay.count()) + "us; ";
          break;
        }
        default:
          break;  // nothing: let it run
      }
      if (http_get(http, "/healthz").first == 503) ++healthz_503;
    }

    if (resume_at >= steps) secondary->signal(SIGCONT);
    // The takeover completes: the edge follows the secondary's epoch.
    ASSERT_TRUE(wait_until(
        [&] {
          if (http_get(http, "/healthz").first == 503) ++healthz_503;
          auto v = edge_view(http);
          return v && v->epoch >= 2;
        },
        slow_ * 20s))
        << trace << secondary->log() << edge.log();
    // Quiet point: no more feed, so no more frames; every client reads at full speed.
    feed->signal(SIGKILL);
    for (Slot& slot : slots) slot.client->set_read_delay(0us);
    std::optional<EdgeView> final_view;
    auto agree = [&] {
      final_view = edge_view(http);
      if (!final_view) return false;
      for (const Slot& slot : slots) {
        const StreamClient::Summary s = slot.client->summary();
        if (s.last_seq != final_view->seq ||
            restricted(s.state, slot.sub, final_view->event_of) !=
                restricted(final_view->state, slot.sub, final_view->event_of)) {
          return false;
        }
      }
      // Still so a moment later: the edge was quiet, not between two frames.
      std::this_thread::sleep_for(300ms);
      auto again = edge_view(http);
      return again && again->seq == final_view->seq;
    };
    const bool agreed = wait_until(agree, slow_ * 20s);
    for (Slot& slot : slots) {
      const StreamClient::Summary s = slot.client->summary();
      if (!agreed && final_view) {
        ADD_FAILURE() << slot.name << " (" << slot.sub.request("") << ") at seq " << s.last_seq
                      << ", edge at " << final_view->seq << "\n  client: "
                      << describe(restricted(s.state, slot.sub, final_view->event_of))
                      << "\n  edge:   "
                      << describe(restricted(final_view->state, slot.sub, final_view->event_of));
      }
      EXPECT_FALSE(s.closed) << slot.name << " was closed: " << s.closed.value_or("");
      disconnect(slot);
    }
    EXPECT_TRUE(agreed) << "schedule: " << trace;
    std::printf(
        "seed %llu: primary killed at step %d of %d; /healthz 503 seen %u times; %llu "
        "connections spanned a stale spell, each told so; %llu image parts\n",
        static_cast<unsigned long long>(seed), kill_at, steps, healthz_503,
        static_cast<unsigned long long>(checked_stale),
        static_cast<unsigned long long>(image_parts));
    secondary->signal(SIGINT);
    secondary->wait_for(slow_ * 15s);
    if (!HasFailure()) std::filesystem::remove_all(dir);
  }

  void run_seeds(std::vector<uint64_t> seeds, int steps) {
    if (const char* one = std::getenv("ODDSBUS_LIVE_PROPERTY_SEED")) {
      seeds = {std::strtoull(one, nullptr, 10)};
    }
    for (uint64_t seed : seeds) {
      run_schedule(seed, steps);
      if (HasFailure()) {
        std::printf("failing seed: ODDSBUS_LIVE_PROPERTY_SEED=%llu\n",
                    static_cast<unsigned long long>(seed));
        return;
      }
    }
  }

  unsigned slow_ = 1;
};

TEST_F(EdgeStreamLiveProperty, ShortSchedules) { run_seeds({1, 2}, 10); }

// The long variant: ctest runs it with the label "slow" (tests/integration/CMakeLists.txt).
TEST_F(EdgeStreamLiveProperty, DISABLED_LongSchedules) {
  run_seeds({11, 12, 13, 14, 15, 16, 17, 18}, 30);
}

}  // namespace
}  // namespace oddsbus
