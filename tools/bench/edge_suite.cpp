#include "tools/bench/edge_suite.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "schemas/state_digest.h"
#include "tools/bench/bench.h"
#include "tools/bench/child_process.h"
#include "tools/bench/edge_bench.h"
#include "tools/bench/report_format.h"

namespace oddsbus::bench {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kDrainNs = 500'000'000;  // a step whose last frame takes longer: not kept up
constexpr auto kGapTimeout = 120s;
constexpr double kKeptUpShare = 0.80;  // delivered msgs/s at least this share of offered

// The value of an unlabelled sample in Prometheus text; -1 when absent.
double metric(const std::string& text, std::string_view name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ' ') {
      return std::strtod(line.c_str() + name.size() + 1, nullptr);
    }
  }
  return -1;
}

// utime + stime of a process, in seconds.
double process_cpu(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::strtod(field.c_str(), nullptr);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

void sleep_until_ns(uint64_t ns) {
  const timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
}

struct LatencyRun {
  LatencyHistogram edge, raw;
  uint64_t published = 0, edge_deltas = 0, conflated = 0, raw_frames = 0;
};

struct GapRun {
  uint64_t frames = 0;
  double ms = 0;
  uint64_t ranges = 0, snapshots = 0, timeouts = 0;
};

struct FanoutStep {
  size_t clients = 0;
  double frames_per_s = 0, offered = 0, delivered = 0, edge_sent = 0;
  uint64_t conflations = 0, conflated = 0, missing = 0;
  double p50_ms = 0, p99_ms = 0, edge_cpu = 0, client_cpu = 0, drain_ms = 0;
  bool kept_up = false;
};

struct FanoutRun {
  size_t clients = 0;
  std::string not_measured;   // why, when the clients could not all connect
  double sustained = 0;       // delivered msgs/s of the best step kept up
  double sustained_rate = 0;  // its frames/s
  double ceiling = 0;         // delivered msgs/s of the first step not kept up (0: none)
  uint64_t ceiling_conflations = 0;
  double teardown_ms = 0;  // from closing every client until the edge's /metrics counts none
};

// Everything one run of the suite drives. Every wait goes through wait_until, which keeps the
// publisher's heartbeats going and gives up as soon as the edge has died.
class EdgeBench {
 public:
  EdgeBench(const EdgeOptions& options, EdgeFeed& feed, ChildProcess& edge, uint16_t port)
      : options_(options), feed_(feed), edge_(edge), port_(port) {}

  std::expected<void, std::string> start() {
    if (!wait_until([&] { return http_get(port_, "/healthz", 500).first == 200; }, 20s)) {
      return fail("the edge did not answer /healthz 200 within 20 s");
    }
    raw_ = std::make_unique<RawHop>(feed_, feed_.pub_url());
    if (!wait_until([&] { return raw_->joined(); }, 5s)) return fail("the raw SUB never joined");
    probe_ = std::make_unique<WsFleet>(feed_, port_);
    probe_->connect(1);
    if (!wait_until([&] { return probe_->ready() == 1; }, 10s)) {
      return fail("the latency client got no image within 10 s: " + probe_->first_error());
    }
    return {};
  }

  std::expected<LatencyRun, std::string> latency() {
    LatencyRun r;
    const uint64_t n =
        std::max<uint64_t>(1, uint64_t{options_.latency_rate} * options_.latency_ms / 1000);
    raw_->take();
    const uint64_t raw0 = raw_->frames();
    probe_->watch(feed_.last_seq() + n);
    probe_->begin_window();
    if (auto ok = publish_paced(n, options_.latency_rate); !ok) return std::unexpected(ok.error());
    const bool arrived =
        wait_until([&] { return probe_->watch_reached() == 1 && raw_->frames() - raw0 >= n; }, 5s);
    WindowStats w = probe_->end_window();
    r.edge = std::move(w.latency);
    r.raw = raw_->take();
    r.published = n;
    r.edge_deltas = w.deltas;
    r.conflated = w.conflated;
    r.raw_frames = raw_->frames() - raw0;
    if (!arrived && edge_.running()) {
      return fail("latency: of " + std::to_string(n) + " frames, the client received " +
                  std::to_string(w.deltas) + " deltas and the raw SUB " +
                  std::to_string(r.raw_frames) + " frames within 5 s of the last publish");
    }
    if (!edge_.running()) return fail("latency");
    return r;
  }

  std::expected<GapRun, std::string> gap(uint64_t frames) {
    GapRun r;
    r.frames = frames;
    const std::string before = http_get(port_, "/metrics").second;
    if (auto ok = feed_.journal_only(frames); !ok) return std::unexpected(ok.error());
    if (!wait_until([&] { return feed_.recovery_seq() >= feed_.last_seq(); }, 60s)) {
      return fail("the recovery service did not follow the journal within 60 s");
    }
    const uint64_t seq = feed_.last_seq() + 1;
    probe_->watch(seq);
    if (auto ok = feed_.publish_price(); !ok) return std::unexpected(ok.error());
    const uint64_t sent = feed_.sent_ns(seq);
    if (!wait_until([&] { return probe_->watch_reached() == 1; }, kGapTimeout)) {
      return fail("gap of " + std::to_string(frames) + " frames: the client saw no message at " +
                  "or past seq " + std::to_string(seq) + " within 120 s");
    }
    r.ms = static_cast<double>(probe_->watch_first_ns() - sent) / 1e6;
    const std::string after = http_get(port_, "/metrics").second;
    auto delta = [&](std::string_view name) {
      return static_cast<uint64_t>(std::max(0.0, metric(after, name) - metric(before, name)));
    };
    r.ranges = delta("oddsbus_edge_range_requests_total");
    r.snapshots = delta("oddsbus_edge_snapshot_requests_total");
    r.timeouts = delta("oddsbus_edge_request_timeouts_total");
    return r;
  }

  std::expected<FanoutRun, std::string> fanout(size_t clients, std::vector<FanoutStep>& steps) {
    FanoutRun run;
    run.clients = clients;
    auto owned = std::make_unique<WsFleet>(feed_, port_);
    WsFleet& fleet = *owned;
    fleet.connect(clients);
    const bool all = wait_until([&] { return fleet.ready() + fleet.failed() >= clients; }, 120s);
    if (!all || fleet.failed() > 0) {
      run.not_measured = std::to_string(fleet.ready()) + " of " + std::to_string(clients) +
                         " clients connected (" + fleet.first_error() + ")";
      if (!edge_.running()) return fail("fan-out");
      return run;
    }
    wait_until([] { return false; }, 300ms);
    for (const uint64_t offered : options_.offered) {
      const double rate =
          std::max(1.0, static_cast<double>(offered) / static_cast<double>(clients));
      const uint64_t n =
          std::max<uint64_t>(2, static_cast<uint64_t>(rate * options_.window_ms / 1e3));
      const std::string before = http_get(port_, "/metrics").second;
      const double edge_cpu0 = process_cpu(edge_.pid()), client_cpu0 = fleet.cpu_seconds();
      fleet.watch(feed_.last_seq() + n);
      fleet.begin_window();
      const uint64_t start = steady_ns();
      if (auto ok = publish_paced(n, rate); !ok) return std::unexpected(ok.error());
      const uint64_t published = steady_ns();  // just after the last send
      wait_until([&] { return fleet.watch_reached() >= clients; },
                 std::chrono::nanoseconds(4 * kDrainNs));
      WindowStats w = fleet.end_window();
      const std::string after = http_get(port_, "/metrics").second;
      if (!edge_.running()) return fail("fan-out");
      FanoutStep s;
      s.clients = clients;
      // n frames paced 1/rate apart span (n - 1) intervals; the window is n of them.
      s.frames_per_s = static_cast<double>(n - 1) / (static_cast<double>(published - start) / 1e9);
      const double interval_ns = 1e9 / s.frames_per_s;
      const double seconds =
          (static_cast<double>(std::max(w.last_arrival_ns, published) - start) + interval_ns) / 1e9;
      s.offered = s.frames_per_s * static_cast<double>(clients);
      s.delivered = static_cast<double>(w.deltas) / seconds;
      s.edge_sent = (metric(after, "oddsbus_edge_messages_sent_total") -
                     metric(before, "oddsbus_edge_messages_sent_total")) /
                    seconds;
      s.conflations = static_cast<uint64_t>(
          std::max(0.0, metric(after, "oddsbus_edge_conflations_total") -
                            metric(before, "oddsbus_edge_conflations_total")));
      s.conflated = w.conflated;
      const uint64_t expected = n * clients;
      s.missing = expected > w.deltas ? expected - w.deltas : 0;
      s.p50_ms = static_cast<double>(w.latency.quantile(0.5)) / 1e6;
      s.p99_ms = static_cast<double>(w.latency.quantile(0.99)) / 1e6;
      s.edge_cpu = 100 * (process_cpu(edge_.pid()) - edge_cpu0) / seconds;
      s.client_cpu = 100 * (fleet.cpu_seconds() - client_cpu0) / seconds;
      s.drain_ms = w.last_arrival_ns > published
                       ? static_cast<double>(w.last_arrival_ns - published) / 1e6
                       : 0;
      s.kept_up = s.conflations == 0 && w.conflated == 0 && s.missing == 0 &&
                  s.delivered >= kKeptUpShare * s.offered && fleet.watch_reached() >= clients &&
                  fleet.closed() == 0 && s.drain_ms * 1e6 < kDrainNs;
      steps.push_back(s);
      if (s.kept_up) {
        if (s.delivered > run.sustained) {
          run.sustained = s.delivered;
          run.sustained_rate = s.frames_per_s;
        }
      } else {
        run.ceiling = s.delivered;
        run.ceiling_conflations = s.conflations;
        break;
      }
      if (s.missing > 0 && s.conflations == 0 && w.conflated == 0) break;
    }
    if (fleet.order_errors() > 0) {
      return fail("fan-out: a client saw delta seqs that do not rise: " + fleet.first_error());
    }
    // The clients go (their sockets closed at once); the edge must be back to the latency client
    // alone before the next measurement.
    owned.reset();
    const uint64_t closed = steady_ns();
    const bool back = wait_until(
        [&] {
          const auto [status, body] = http_get(port_, "/metrics", 1000);
          return status == 200 && metric(body, "oddsbus_edge_clients") <= 1;
        },
        60s);
    run.teardown_ms = static_cast<double>(steady_ns() - closed) / 1e6;
    if (!back) return fail("the edge still counted clients 60 s after they all closed");
    return run;
  }

  // Waits for the edge to settle at the publisher's last seq, then compares digests.
  std::expected<std::string, std::string> final_digest() {
    std::string body;
    const uint64_t last = feed_.last_seq();
    const bool at = wait_until(
        [&] {
          auto [status, text] = http_get(port_, "/v1/snapshot");
          body = std::move(text);
          return status == 200 && number_of(body, "\"seq\"").value_or(0) == last;
        },
        30s);
    if (!at) return fail("the edge's /v1/snapshot did not reach seq " + std::to_string(last));
    const std::string_view quoted = value_of(body, "\"digest\"");
    const std::string edge_digest(quoted.substr(1, std::min<size_t>(16, quoted.size())));
    const std::string ours = digest_hex(feed_.digest());
    if (edge_digest != ours) {
      return fail("the edge's digest at seq " + std::to_string(last) + " is " + edge_digest +
                  ", the publisher's " + ours);
    }
    return ours;
  }

  const WsFleet& probe() const { return *probe_; }

  std::unexpected<std::string> fail(const std::string& what) {
    std::string text = what;
    if (!edge_.running()) {
      text += ": odds-edge exited with status " + std::to_string(edge_.wait_for(0ms));
    }
    return std::unexpected(text + edge_.log_tail());
  }

 private:
  template <typename F>
  bool wait_until(F&& done, std::chrono::nanoseconds timeout) {
    const uint64_t deadline = steady_ns() + static_cast<uint64_t>(timeout.count());
    while (!done()) {
      if (steady_ns() > deadline || !edge_.running()) return false;
      feed_.heartbeat_if_idle();
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

  std::expected<void, std::string> publish_paced(uint64_t n, double rate) {
    const uint64_t start = steady_ns();
    const double interval = 1e9 / rate;
    for (uint64_t i = 0; i < n; ++i) {
      sleep_until_ns(start + static_cast<uint64_t>(interval * static_cast<double>(i)));
      if (auto seq = feed_.publish_price(); !seq) return std::unexpected(seq.error());
    }
    return {};
  }

  const EdgeOptions& options_;
  EdgeFeed& feed_;
  ChildProcess& edge_;
  uint16_t port_;
  std::unique_ptr<RawHop> raw_;
  std::unique_ptr<WsFleet> probe_;
};

double us(uint64_t ns) { return static_cast<double>(ns) / 1e3; }

// Keeps odds-bench (and every thread it starts from now on) on core 0 while it lives.
class PinToCore0 {
 public:
  explicit PinToCore0(bool pin) {
    if (!pin || ::sched_getaffinity(0, sizeof saved_, &saved_) != 0) return;
    cpu_set_t zero;
    CPU_ZERO(&zero);
    CPU_SET(0, &zero);
    pinned_ = ::sched_setaffinity(0, sizeof zero, &zero) == 0;
  }
  ~PinToCore0() {
    if (pinned_) ::sched_setaffinity(0, sizeof saved_, &saved_);
  }
  bool pinned() const { return pinned_; }

 private:
  cpu_set_t saved_{};
  bool pinned_ = false;
};

}  // namespace

int run_edge_suite(const EdgeOptions& options) {
  std::filesystem::path bin = options.bin_dir;
  std::error_code ec;
  if (bin.empty()) bin = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  const std::string edge_bin = (bin / "odds-edge").string();
  if (ec || ::access(edge_bin.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "odds-bench: odds-edge not found beside odds-bench in %s (build it)\n",
                 bin.c_str());
    return 1;
  }
  const size_t max_clients = *std::max_element(options.clients.begin(), options.clients.end());
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  auto scratch = ScratchDir::create(options.dir);
  if (!scratch) {
    std::fprintf(stderr, "odds-bench: %s\n", scratch.error().c_str());
    return 1;
  }
  const bool can_pin = options.pin && ::sysconf(_SC_NPROCESSORS_ONLN) >= 2 &&
                       ::access("/usr/bin/taskset", X_OK) == 0;
  auto port = free_tcp_port();
  if (!port) {
    std::fprintf(stderr, "odds-bench: %s\n", port.error().c_str());
    return 1;
  }
  PinToCore0 pin(can_pin);
  EdgeFeedConfig feed_config;
  feed_config.dir = scratch->path();
  feed_config.markets = options.markets;
  auto feed = EdgeFeed::start(feed_config);
  if (!feed) {
    std::fprintf(stderr, "odds-bench: %s\n", feed.error().c_str());
    return 1;
  }
  std::vector<std::string> argv;
  if (can_pin) argv = {"/usr/bin/taskset", "-c", "1"};
  for (const std::string& a :
       {edge_bin, std::string("--sub"), (*feed)->pub_url(), std::string("--recovery"),
        (*feed)->recovery_url(), std::string("--http"), "127.0.0.1:" + std::to_string(*port),
        std::string("--gap-timeout-ms"), std::to_string(options.gap_timeout_ms),
        std::string("--max-connections"), std::to_string(max_clients + 100),
        std::string("--max-connection-rate"), std::string("1000000"),
        std::string("--connection-burst"), std::string("1000000"), std::string("--idle-timeout-ms"),
        std::string("3600000")}) {
    argv.push_back(a);
  }
  ChildProcess edge(argv, scratch->path() / "odds-edge.log");

  std::printf(
      "odds-bench edge: publisher -> odds-edge -> WebSocket clients, %u round(s), medians "
      "quoted; in-process publisher (nosync journal + engine::RecoveryServer + ZeroMQ PUB, one "
      "frame per batch), %zu markets x 3 selections; odds-edge %s, odds-bench %s; "
      "--gap-timeout-ms %u; RLIMIT_NOFILE %llu; %ld CPUs; scratch under %s\n",
      options.repeat, options.markets, can_pin ? "on core 1 (taskset)" : "unpinned",
      pin.pinned() ? "on core 0" : "unpinned", options.gap_timeout_ms,
      static_cast<unsigned long long>(files.rlim_cur), ::sysconf(_SC_NPROCESSORS_ONLN),
      options.dir.c_str());
  std::fflush(stdout);

  EdgeBench bench(options, **feed, edge, *port);
  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "odds-bench: edge: %s\n", what.c_str());
    edge.terminate(5s);
    return 1;
  };
  if (auto ok = bench.start(); !ok) return fail(ok.error());

  std::vector<LatencyRun> latencies;
  std::map<uint64_t, std::vector<GapRun>> gaps;
  std::map<size_t, std::vector<FanoutRun>> fanouts;
  uint64_t raw_lost = 0, edge_missing = 0, conflated = 0;
  for (unsigned round = 1; round <= options.repeat; ++round) {
    auto lat = bench.latency();
    if (!lat) return fail(lat.error());
    raw_lost += lat->published - std::min(lat->published, lat->raw_frames);
    if (lat->conflated == 0) {
      edge_missing += lat->published - std::min(lat->published, lat->edge_deltas);
    }
    conflated += lat->conflated;
    std::printf(
        "  round %u/%u  latency %u frames/s x %.1f s: edge p50 %.0f us p99 %.0f us p99.9 %.0f "
        "us | raw p50 %.0f us p99 %.0f us p99.9 %.0f us  (%llu published, client %llu deltas, "
        "%llu conflated; raw %llu)\n",
        round, options.repeat, options.latency_rate, options.latency_ms / 1e3,
        us(lat->edge.quantile(0.5)), us(lat->edge.quantile(0.99)), us(lat->edge.quantile(0.999)),
        us(lat->raw.quantile(0.5)), us(lat->raw.quantile(0.99)), us(lat->raw.quantile(0.999)),
        static_cast<unsigned long long>(lat->published),
        static_cast<unsigned long long>(lat->edge_deltas),
        static_cast<unsigned long long>(lat->conflated),
        static_cast<unsigned long long>(lat->raw_frames));
    std::fflush(stdout);
    latencies.push_back(std::move(*lat));

    for (const uint64_t frames : options.gaps) {
      auto g = bench.gap(frames);
      if (!g) return fail(g.error());
      std::printf(
          "  round %u/%u  gap %9llu frames: client past it after %9.1f ms  (%.0f frames/s; "
          "edge: %llu range requests, %llu snapshots, %llu request timeouts)\n",
          round, options.repeat, static_cast<unsigned long long>(frames), g->ms,
          static_cast<double>(frames) / (g->ms / 1e3), static_cast<unsigned long long>(g->ranges),
          static_cast<unsigned long long>(g->snapshots),
          static_cast<unsigned long long>(g->timeouts));
      std::fflush(stdout);
      gaps[frames].push_back(*g);
    }

    for (const size_t clients : options.clients) {
      std::vector<FanoutStep> steps;
      auto f = bench.fanout(clients, steps);
      if (!f) return fail(f.error());
      for (const FanoutStep& s : steps) {
        std::printf(
            "  round %u/%u  fan-out %5zu clients x %7.1f frames/s: offered %11s msgs/s, "
            "delivered %11s (edge sent %11s), %8s per client, p50 %6.1f ms p99 %7.1f ms, drain "
            "%6.1f ms, conflations %llu, missing %llu, cpu edge %3.0f%% client %3.0f%%  %s\n",
            round, options.repeat, s.clients, s.frames_per_s, grouped(s.offered).c_str(),
            grouped(s.delivered).c_str(), grouped(s.edge_sent).c_str(),
            grouped(s.delivered / static_cast<double>(s.clients)).c_str(), s.p50_ms, s.p99_ms,
            s.drain_ms, static_cast<unsigned long long>(s.conflations),
            static_cast<unsigned long long>(s.missing), s.edge_cpu, s.client_cpu,
            s.kept_up ? "kept up" : "NOT kept up");
      }
      std::printf(
          "  round %u/%u  fan-out %5zu clients closed: the edge counted them gone after "
          "%.0f ms\n",
          round, options.repeat, clients, f->teardown_ms);
      if (!f->not_measured.empty()) {
        std::printf("  round %u/%u  fan-out %5zu clients: not measured: %s\n", round,
                    options.repeat, clients, f->not_measured.c_str());
      }
      std::fflush(stdout);
      fanouts[clients].push_back(*f);
    }
  }
  if (bench.probe().order_errors() > 0) {
    return fail("the latency client saw delta seqs that do not rise: " +
                bench.probe().first_error());
  }
  auto digest = bench.final_digest();
  if (!digest) return fail(digest.error());
  const int edge_status = edge.terminate(5s);

  // Medians of the per-round percentiles.
  auto med = [&](auto get) {
    std::vector<double> v;
    for (const LatencyRun& r : latencies) v.push_back(get(r));
    return median(v);
  };
  const std::array<double, 3> qs = {0.5, 0.99, 0.999};
  std::array<double, 3> edge_us{}, raw_us{};
  for (size_t i = 0; i < qs.size(); ++i) {
    edge_us[i] = med([&](const LatencyRun& r) { return us(r.edge.quantile(qs[i])); });
    raw_us[i] = med([&](const LatencyRun& r) { return us(r.raw.quantile(qs[i])); });
  }
  std::printf("\n%-40s %10s %10s %10s\n", "latency, publish -> receive", "p50 us", "p99 us",
              "p99.9 us");
  std::printf("%-40s %10.0f %10.0f %10.0f\n", "raw zmq pub->sub (same bytes)", raw_us[0], raw_us[1],
              raw_us[2]);
  std::printf("%-40s %10.0f %10.0f %10.0f\n", "pub->odds-edge->websocket client", edge_us[0],
              edge_us[1], edge_us[2]);
  std::printf("%-40s %9.1fx %9.1fx %9.1fx\n", "edge / raw", ratio(edge_us[0], raw_us[0]),
              ratio(edge_us[1], raw_us[1]), ratio(edge_us[2], raw_us[2]));

  std::printf("\n%-14s %12s %18s %22s %18s %30s\n", "gap recovery", "frames", "median ms",
              "median frames/s", "vs 10-frame gap", "how (edge /metrics, all rounds)");
  std::string gaps_json;
  const double base_ms = gaps.empty() ? 0 : [&] {
    std::vector<double> v;
    for (const GapRun& g : gaps.begin()->second) v.push_back(g.ms);
    return median(v);
  }();
  for (const auto& [frames, runs] : gaps) {
    std::vector<double> ms;
    uint64_t ranges = 0, snapshots = 0, timeouts = 0;
    for (const GapRun& g : runs) {
      ms.push_back(g.ms);
      ranges += g.ranges;
      snapshots += g.snapshots;
      timeouts += g.timeouts;
    }
    const double m = median(ms);
    char how[96];
    std::snprintf(how, sizeof how, "%s: %llu ranges, %llu snapshots",
                  snapshots > 0 ? "snapshot" : "ranges", static_cast<unsigned long long>(ranges),
                  static_cast<unsigned long long>(snapshots));
    std::printf("%-14s %12s %18.1f %22s %17.1fx %30s\n", "",
                grouped(static_cast<double>(frames)).c_str(), m,
                grouped(static_cast<double>(frames) / (m / 1e3)).c_str(), ratio(m, base_ms), how);
    char entry[256];
    std::snprintf(entry, sizeof entry,
                  "%s\"%llu\":{\"median_ms\":%.2f,\"frames_per_s\":%.0f,\"ranges\":%llu,"
                  "\"snapshots\":%llu,\"request_timeouts\":%llu}",
                  gaps_json.empty() ? "" : ",", static_cast<unsigned long long>(frames), m,
                  static_cast<double>(frames) / (m / 1e3), static_cast<unsigned long long>(ranges),
                  static_cast<unsigned long long>(snapshots),
                  static_cast<unsigned long long>(timeouts));
    gaps_json += entry;
  }

  std::printf(
      "gap recovery ms: from the publish of the frame after the gap to the client's first message "
      "at or past it (the edge has one publisher line, so it asks the recovery service at once "
      "instead of waiting --gap-timeout-ms for another line to fill the gap)\n");
  std::printf("\n%-14s %8s %20s %20s %18s %22s %14s\n", "fan-out", "clients", "sustained frames/s",
              "sustained msgs/s", "per client msgs/s", "ceiling msgs/s", "vs 1st level");
  std::string fanout_json;
  double first_level = 0;
  for (const auto& [clients, runs] : fanouts) {
    std::vector<double> sustained, rate, ceiling;
    std::string not_measured;
    for (const FanoutRun& f : runs) {
      if (!f.not_measured.empty()) {
        not_measured = f.not_measured;
        continue;
      }
      sustained.push_back(f.sustained);
      rate.push_back(f.sustained_rate);
      ceiling.push_back(f.ceiling);
    }
    if (sustained.empty()) {
      std::printf("%-14s %8zu   not measured: %s\n", "", clients, not_measured.c_str());
      continue;
    }
    const double s = median(sustained);
    if (first_level == 0) first_level = s;
    const double c = median(ceiling);
    std::printf("%-14s %8zu %20.1f %20s %18s %22s %13.2fx\n", "", clients, median(rate),
                grouped(s).c_str(), grouped(s / static_cast<double>(clients)).c_str(),
                c > 0 ? grouped(c).c_str() : "not reached", ratio(s, first_level));
    char entry[256];
    std::snprintf(entry, sizeof entry,
                  "%s\"%zu\":{\"sustained_frames_per_s\":%.1f,\"sustained_msgs_per_s\":%.0f,"
                  "\"per_client_msgs_per_s\":%.1f,\"ceiling_msgs_per_s\":%.0f}",
                  fanout_json.empty() ? "" : ",", clients, median(rate), s,
                  s / static_cast<double>(clients), c);
    fanout_json += entry;
  }
  std::printf(
      "sustained: the highest step kept up (no conflation, every delta delivered, delivered "
      "msgs/s >= %.0f%% of offered, the last frame at every client within 0.5 s); ceiling: what "
      "the "
      "first step past it delivered; one odds-edge thread on one core serves all clients\n",
      kKeptUpShare * 100);

  const bool ok = raw_lost == 0 && edge_missing == 0 && edge_status == 0;
  std::printf(
      "integrity: delta seqs rose at every client; raw SUB lost %llu, latency client missed "
      "%llu deltas (%llu conflated); final /v1/snapshot digest %s equals the publisher's; "
      "odds-edge exited %d on SIGTERM: %s\n\n",
      static_cast<unsigned long long>(raw_lost), static_cast<unsigned long long>(edge_missing),
      static_cast<unsigned long long>(conflated), digest->c_str(), edge_status, ok ? "ok" : "FAIL");

  std::printf(
      "{\"bench\":\"edge\",\"repeat\":%u,\"publisher\":\"in-process RecoveryServer over a nosync "
      "journal\",\"pinned\":%s,\"latency\":{\"rate\":%u,\"raw_us\":{\"p50\":%.1f,\"p99\":%.1f,"
      "\"p999\":%.1f},\"edge_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f}},\"gaps\":{%s},"
      "\"fanout\":{%s},\"ratios\":{\"edge_vs_raw_p50\":%.2f,\"edge_vs_raw_p99\":%.2f},"
      "\"integrity\":\"%s\"}\n",
      options.repeat, can_pin ? "true" : "false", options.latency_rate, raw_us[0], raw_us[1],
      raw_us[2], edge_us[0], edge_us[1], edge_us[2], gaps_json.c_str(), fanout_json.c_str(),
      ratio(edge_us[0], raw_us[0]), ratio(edge_us[1], raw_us[1]), ok ? "ok" : "fail");
  if (!ok) {
    std::fprintf(stderr, "odds-bench: edge: integrity failed (see above)\n");
    return 1;
  }
  return 0;
}

}  // namespace oddsbus::bench
