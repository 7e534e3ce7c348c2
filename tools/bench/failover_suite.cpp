#include "tools/bench/failover_suite.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <expected>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "edge/subscriber.h"
#include "tools/bench/bench.h"
#include "tools/bench/child_process.h"
#include "tools/bench/report_format.h"

namespace oddsbus::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

enum Mode : size_t { kAsync, kSync, kModes };
constexpr std::array<const char*, kModes> kModeNames = {"async", "sync"};

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
          .count());
}

std::string url(uint16_t port) { return "tcp://127.0.0.1:" + std::to_string(port); }

// The measuring subscriber, on its own thread: both PUB lines, both recovery services. Counts
// what it delivers; after stop() the counters are final.
class BenchSubscriber {
 public:
  BenchSubscriber(std::vector<std::string> pubs, std::vector<std::string> recoveries) {
    edge::SubscriberConfig config;
    config.publisher_urls = std::move(pubs);
    config.recovery_urls = std::move(recoveries);
    config.arbiter.mode = edge::ResyncMode::kSnapshot;
    config.arbiter.gap_timeout_ns = 50'000'000;
    config.arbiter.request_timeout_ns = 500'000'000;
    subscriber_ = std::make_unique<edge::Subscriber>(context_, config);
    thread_ = std::thread([this] { run(); });
  }
  ~BenchSubscriber() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Frames of an epoch above `epoch` count as the new epoch from now on.
  void arm_takeover(uint32_t epoch) { takeover_after_epoch_ = epoch; }

  std::atomic<uint64_t> delivered{0};       // frames delivered (after the start snapshot)
  std::atomic<uint32_t> epoch{0};           // highest epoch delivered
  std::atomic<uint64_t> first_new_ns{0};    // steady ns of the first frame of the new epoch
  std::atomic<uint64_t> resumed_ns{0};      // and of its first frame past the EpochChange
  std::atomic<uint64_t> after_takeover{0};  // frames delivered from that one on
  // Final after stop():
  uint64_t gap_frames = 0;   // frames skipped by forward seq gaps (never delivered)
  uint64_t duplicates = 0;   // deliveries at or below the last delivered seq
  uint64_t snapshots = 0;    // snapshots installed (1: the start)
  uint64_t divergences = 0;  // the arbiter's: delivered history lost to a higher epoch
  uint64_t epoch_changes = 0;
  std::string error;

 private:
  void run() {
    edge::ArbiterOutput out;
    uint64_t last_seq = 0;
    try {
      while (!stop_) {
        out.clear();
        subscriber_->poll(10, out);
        if (auto image = subscriber_->take_snapshot()) {
          ++snapshots;
          // A later snapshot (after a divergence) moves the position: counted in resyncs.
          last_seq = image->seq;
          epoch = std::max(epoch.load(), image->epoch);
        }
        for (const fb::Frame* frame : out.frames) {
          const uint64_t seq = frame->seq();
          if (snapshots == 0) {
            // Frames before any snapshot would be a contract breach: count them as gaps.
            ++gap_frames;
            continue;
          }
          if (seq <= last_seq) {
            ++duplicates;
            continue;
          }
          if (seq > last_seq + 1) gap_frames += seq - last_seq - 1;
          last_seq = seq;
          if (frame->payload_type() == fb::Payload::EpochChange) ++epoch_changes;
          epoch = std::max(epoch.load(), frame->epoch());
          delivered.fetch_add(1, std::memory_order_relaxed);
          if (frame->epoch() > takeover_after_epoch_.load(std::memory_order_relaxed)) {
            if (first_new_ns.load(std::memory_order_relaxed) == 0) first_new_ns = now_ns();
            if (resumed_ns.load(std::memory_order_relaxed) == 0 &&
                frame->payload_type() != fb::Payload::EpochChange) {
              resumed_ns = now_ns();
            }
            after_takeover.fetch_add(1, std::memory_order_relaxed);
          }
        }
        divergences = subscriber_->arbiter().counters().divergences;
      }
    } catch (const zmq::error_t& e) {
      error = std::string("subscriber: ") + e.what();
    }
  }

  zmq::context_t context_{1};
  std::unique_ptr<edge::Subscriber> subscriber_;
  std::atomic<uint32_t> takeover_after_epoch_{UINT32_MAX};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct RunResult {
  double frames_per_second = 0;
  double failover_ms = 0;  // kill -> the first frame of the new epoch
  double resumed_ms = 0;   // kill -> its first frame past the EpochChange
  uint64_t lost = 0;       // gap frames + divergences
  uint64_t duplicates = 0;
  uint64_t gap_frames = 0;
  uint64_t divergences = 0;
  uint64_t resyncs = 0;  // snapshots after the start one
  uint64_t after_takeover = 0;
};

template <typename F>
bool wait_until(F&& done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::expected<RunResult, std::string> run_once(const FailoverOptions& options, Mode mode,
                                               const std::filesystem::path& scratch,
                                               const std::filesystem::path& bin) {
  const std::filesystem::path dir = scratch / kModeNames[mode];
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) return std::unexpected("cannot create " + dir.string() + ": " + ec.message());

  std::array<uint16_t, 5> ports{};  // feed; node 1 pub, recovery; node 2 pub, recovery
  for (uint16_t& p : ports) {
    auto port = free_tcp_port();
    if (!port) return std::unexpected(port.error());
    p = *port;
  }
  const std::string feedsim = (bin / "odds-feedsim").string();
  const std::string engine = (bin / "odds-engine").string();
  const std::string mapping = (dir / "mapping.toml").string();
  const std::string markets = std::to_string(options.markets);
  {
    ChildProcess writer(
        {feedsim, "--format", "oddsjson", "--markets", markets, "--write-mapping", mapping},
        dir / "mapping.log");
    const int code = writer.wait_for(30s);
    if (code != 0) {
      return std::unexpected("odds-feedsim --write-mapping exited " + std::to_string(code) +
                             writer.log_tail());
    }
  }
  ChildProcess feed(
      {feedsim, "--format", "oddsjson", "--listen", url(ports[0]), "--markets", markets, "--rate",
       std::to_string(options.rate), "--settle-after", "0", "--heartbeat-ms", "50", "--seed", "3"},
      dir / "feedsim.log");
  auto node = [&](int n, bool secondary) {
    const uint16_t pub = ports[n == 1 ? 1 : 3], rec = ports[n == 1 ? 2 : 4];
    const uint16_t peer_pub = ports[n == 1 ? 3 : 1], peer_rec = ports[n == 1 ? 4 : 2];
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{engine,
                                 "run",
                                 "--journal",
                                 (dir / ("node" + std::to_string(n))).string(),
                                 "--node",
                                 std::to_string(n),
                                 "--pub",
                                 url(pub),
                                 "--recovery",
                                 url(rec),
                                 "--peer-pub",
                                 url(peer_pub),
                                 "--peer-recovery",
                                 url(peer_rec),
                                 "--role",
                                 secondary ? "secondary" : "primary",
                                 "--feed",
                                 "oj=oddsjson@" + url(ports[0]),
                                 "--mapping",
                                 mapping,
                                 "--failover-after-ms",
                                 std::to_string(options.failover_after_ms),
                                 "--heartbeat-ms",
                                 std::to_string(options.heartbeat_ms),
                                 "--alone-after-ms",
                                 std::to_string(options.alone_after_ms),
                                 "--replication",
                                 kModeNames[mode]},
        dir / ("node" + std::to_string(n) + ".log"));
  };
  auto primary = node(1, false);
  auto secondary = node(2, true);
  auto children_tail = [&] {
    return primary->log_tail() + secondary->log_tail() + feed.log_tail();
  };
  std::unique_ptr<BenchSubscriber> sub;
  try {
    sub = std::make_unique<BenchSubscriber>(std::vector<std::string>{url(ports[1]), url(ports[3])},
                                            std::vector<std::string>{url(ports[2]), url(ports[4])});
  } catch (const zmq::error_t& e) {
    return std::unexpected(std::string("subscriber: ") + e.what());
  }

  if (!wait_until([&] { return sub->delivered.load() > 0; }, 20s)) {
    return std::unexpected("the subscriber received no frame in 20 s" + children_tail());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(options.warmup_ms));
  const uint64_t start_frames = sub->delivered.load();
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(options.window_ms));
  const uint64_t end_frames = sub->delivered.load();
  const double window_s = std::chrono::duration<double>(Clock::now() - start).count();
  if (!primary->running() || !secondary->running() || !feed.running()) {
    return std::unexpected("a child process exited before the kill" + children_tail());
  }

  RunResult r;
  r.frames_per_second = static_cast<double>(end_frames - start_frames) / window_s;
  sub->arm_takeover(sub->epoch.load());
  const uint64_t kill_ns = now_ns();
  primary->kill9();
  if (!wait_until([&] { return sub->first_new_ns.load() != 0; },
                  std::chrono::milliseconds(options.failover_after_ms) + 10s)) {
    return std::unexpected("no frame of a new epoch within 10 s of the kill" + children_tail());
  }
  r.failover_ms = static_cast<double>(sub->first_new_ns.load() - kill_ns) / 1e6;
  // In sync mode the new primary has no secondary to ack: it holds what it sequences for
  // --alone-after-ms, then publishes alone.
  if (!wait_until([&] { return sub->resumed_ns.load() != 0; },
                  std::chrono::milliseconds(options.alone_after_ms) + 10s)) {
    return std::unexpected("the new primary published only its EpochChange within " +
                           std::to_string(options.alone_after_ms / 1000 + 10) + " s" +
                           children_tail());
  }
  r.resumed_ms = static_cast<double>(sub->resumed_ns.load() - kill_ns) / 1e6;
  std::this_thread::sleep_for(std::chrono::milliseconds(options.after_ms));
  sub->stop();
  if (!sub->error.empty()) return std::unexpected(sub->error);
  r.gap_frames = sub->gap_frames;
  r.divergences = sub->divergences;
  r.lost = r.gap_frames + r.divergences;
  r.duplicates = sub->duplicates;
  r.resyncs = sub->snapshots > 0 ? sub->snapshots - 1 : 0;
  r.after_takeover = sub->after_takeover.load();
  if (r.after_takeover < 2) {
    return std::unexpected("the new primary published " + std::to_string(r.after_takeover) +
                           " frame(s) after the takeover" + children_tail());
  }
  return r;
}

void print_run(unsigned round, unsigned rounds, Mode mode, const RunResult& r) {
  std::printf(
      "  round %u/%u  %-5s %12s frames/s  failover %7.1f ms (flow resumed %7.1f ms)  lost %llu "
      "(gaps %llu, divergences %llu)  duplicated %llu  resyncs %llu  %llu frames after takeover\n",
      round, rounds, kModeNames[mode], grouped(r.frames_per_second).c_str(), r.failover_ms,
      r.resumed_ms, static_cast<unsigned long long>(r.lost),
      static_cast<unsigned long long>(r.gap_frames), static_cast<unsigned long long>(r.divergences),
      static_cast<unsigned long long>(r.duplicates), static_cast<unsigned long long>(r.resyncs),
      static_cast<unsigned long long>(r.after_takeover));
  std::fflush(stdout);
}

}  // namespace

int run_failover_suite(const FailoverOptions& options) {
  std::filesystem::path bin = options.bin_dir;
  if (bin.empty()) {
    std::error_code ec;
    bin = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
    if (ec) {
      std::fprintf(stderr, "odds-bench: cannot read /proc/self/exe: %s\n", ec.message().c_str());
      return 1;
    }
  }
  for (const char* name : {"odds-engine", "odds-feedsim"}) {
    if (::access((bin / name).c_str(), X_OK) != 0) {
      std::fprintf(stderr, "odds-bench: %s not found beside odds-bench in %s (build it)\n", name,
                   bin.c_str());
      return 1;
    }
  }
  auto scratch = ScratchDir::create(options.dir);
  if (!scratch) {
    std::fprintf(stderr, "odds-bench: %s\n", scratch.error().c_str());
    return 1;
  }
  std::printf(
      "odds-bench failover: kill -9 of the primary under load, async vs sync replication, %u "
      "round(s), medians quoted; feedsim %u updates/s over %u markets, throughput window %u ms, "
      "--failover-after-ms %u, --alone-after-ms %u, --heartbeat-ms %u; %ld CPUs; scratch under "
      "%s\n",
      options.repeat, options.rate, options.markets, options.window_ms, options.failover_after_ms,
      options.alone_after_ms, options.heartbeat_ms, ::sysconf(_SC_NPROCESSORS_ONLN),
      options.dir.c_str());
  std::fflush(stdout);

  std::array<std::vector<RunResult>, kModes> runs;
  for (unsigned round = 1; round <= options.repeat; ++round) {
    for (size_t i = 0; i < kModes; ++i) {
      const Mode mode = static_cast<Mode>(i);
      auto r = run_once(options, mode, scratch->path(), bin);
      if (!r) {
        std::fprintf(stderr, "odds-bench: failover %s (round %u): %s\n", kModeNames[mode], round,
                     r.error().c_str());
        return 1;
      }
      print_run(round, options.repeat, mode, *r);
      runs[mode].push_back(*r);
    }
  }

  std::array<double, kModes> fps{}, failover{}, resumed{};
  std::array<uint64_t, kModes> lost{}, duplicated{};
  for (size_t m = 0; m < kModes; ++m) {
    std::vector<double> f, ms, res;
    for (const RunResult& r : runs[m]) {
      f.push_back(r.frames_per_second);
      ms.push_back(r.failover_ms);
      res.push_back(r.resumed_ms);
      lost[m] += r.lost;
      duplicated[m] += r.duplicates;
    }
    fps[m] = median(f);
    failover[m] = median(ms);
    resumed[m] = median(res);
  }
  const double sync_vs_async = ratio(fps[kSync], fps[kAsync]);
  std::printf("\n%-12s %16s %19s %18s %8s %11s\n", "replication", "median frames/s",
              "median failover ms", "median resumed ms", "lost", "duplicated");
  for (size_t m = 0; m < kModes; ++m) {
    std::printf("%-12s %16s %19.1f %18.1f %8llu %11llu\n", kModeNames[m], grouped(fps[m]).c_str(),
                failover[m], resumed[m], static_cast<unsigned long long>(lost[m]),
                static_cast<unsigned long long>(duplicated[m]));
  }
  std::printf(
      "\nthroughput sync / async  %6.2fx   (information; bounded by the feed's %u updates/s)\n"
      "failover ms: from the kill to the subscriber's first frame of the new epoch (its "
      "EpochChange); resumed ms: to its first frame after that (sync: the new primary, with no "
      "secondary to ack, publishes alone after --alone-after-ms %u)\n",
      sync_vs_async, options.rate, options.alone_after_ms);
  const uint64_t total_lost = lost[kAsync] + lost[kSync];
  const uint64_t total_dup = duplicated[kAsync] + duplicated[kSync];
  const bool ok = total_lost == 0 && total_dup == 0;
  std::printf(
      "integrity: %u takeover(s); lost counts forward seq gaps never filled plus the arbiter's "
      "divergences, duplicated counts deliveries not above the last seq: %s\n\n",
      options.repeat * 2, ok ? "0 lost, 0 duplicated" : "FAIL");

  char json[768];
  std::snprintf(
      json, sizeof json,
      "{\"bench\":\"failover\",\"repeat\":%u,\"rate\":%u,\"markets\":%u,"
      "\"failover_after_ms\":%u,\"results\":{\"async\":{\"median_fps\":%.0f,"
      "\"median_failover_ms\":%.1f,\"median_resumed_ms\":%.1f,\"lost\":%llu,"
      "\"duplicated\":%llu},\"sync\":{\"median_fps\":%.0f,\"median_failover_ms\":%.1f,"
      "\"median_resumed_ms\":%.1f,\"lost\":%llu,"
      "\"duplicated\":%llu}},\"ratios\":{\"sync_vs_async\":%.3f},\"integrity\":\"%s\"}",
      options.repeat, options.rate, options.markets, options.failover_after_ms, fps[kAsync],
      failover[kAsync], resumed[kAsync], static_cast<unsigned long long>(lost[kAsync]),
      static_cast<unsigned long long>(duplicated[kAsync]), fps[kSync], failover[kSync],
      resumed[kSync], static_cast<unsigned long long>(lost[kSync]),
      static_cast<unsigned long long>(duplicated[kSync]), sync_vs_async, ok ? "ok" : "fail");
  std::printf("%s\n", json);
  if (!ok) {
    std::fprintf(stderr, "odds-bench: failover: %llu frame(s) lost, %llu duplicated (must be 0)\n",
                 static_cast<unsigned long long>(total_lost),
                 static_cast<unsigned long long>(total_dup));
    return 1;
  }
  return 0;
}

}  // namespace oddsbus::bench
