#include "tools/cluster/cluster_run.h"

#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tools/cluster/chaos_schedule.h"
#include "tools/cluster/local_cluster.h"
#include "tools/cluster/ports.h"
#include "tools/cluster/status_page.h"
#include "tools/cluster/stream_counter.h"

namespace oddsbus::cluster {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kStartTimeout = 60s;
constexpr auto kRecoverTimeout = 30s;

// What the chaos loop did, read by the status page's thread.
struct ChaosLog {
  std::mutex mutex;
  std::map<std::string, uint64_t> by_kind;
  uint64_t faults = 0;
  uint64_t unrecovered = 0;
  std::string last;
};

class Run {
 public:
  Run(const RunOptions& options, std::FILE* out) : options_(options), out_(out) {}

  int go() {
    std::error_code ec;
    std::filesystem::create_directories(options_.run_dir, ec);
    say("run directory " + options_.run_dir.string());
    auto planned = LocalCluster::plan(options_.topology, options_.bin_dir, options_.run_dir);
    if (!planned) return fail(planned.error());
    cluster_ = std::move(*planned);
    say("starting " + std::to_string(cluster_->supervisor().names().size()) +
        " processes; waiting for each to be ready (engines: recovery status, edges: /healthz)");
    if (auto started = cluster_->start(kStartTimeout); !started) {
      fail("not ready: " + started.error());
      stop_cluster();
      return 1;
    }
    started_at_ = Clock::now();
    print_banner();
    if (options_.chaos) {
      run_chaos();
    } else {
      run_quietly();
    }
    const bool clean = stop_cluster();
    int code = clean ? 0 : 1;
    if (options_.chaos && !chaos_summary()) code = 1;
    return code;
  }

 private:
  void say(const std::string& text) {
    end_status_line();
    std::fprintf(out_, "odds-cluster: %s\n", text.c_str());
    std::fflush(out_);
  }
  int fail(const std::string& text) {
    end_status_line();
    std::fprintf(out_, "odds-cluster: error: %s\n", text.c_str());
    std::fflush(out_);
    return 1;
  }
  void end_status_line() {
    if (status_line_open_) std::fputc('\n', out_);
    status_line_open_ = false;
  }

  bool stop_requested() const { return options_.stop != nullptr && options_.stop->load(); }
  bool time_up() const {
    return options_.for_seconds &&
           Clock::now() - started_at_ >= std::chrono::duration<double>(*options_.for_seconds);
  }
  bool keep_running() const { return !stop_requested() && !time_up(); }

  // Sleeps up to `duration` in short steps; stops early when the run should end (unless
  // `regardless`). Calls tick() about once a second.
  void idle(std::chrono::milliseconds duration, bool regardless = false) {
    const auto until = Clock::now() + duration;
    while (Clock::now() < until && (regardless || keep_running())) {
      std::this_thread::sleep_for(50ms);
      if (Clock::now() - last_tick_ >= 1s) {
        last_tick_ = Clock::now();
        tick();
      }
    }
  }

  void print_banner() {
    const std::string tools = options_.bin_dir.string();
    std::string text = "\nodds-cluster: the cluster is up (" + options_.run_dir.string() + ")\n";
    Supervisor& sup = cluster_->supervisor();
    for (const ProviderEndpoint& p : cluster_->providers()) {
      std::string urls;
      for (uint16_t port : p.ports) urls += " " + loopback_url(port);
      text += "  " + p.process + "  pid " + std::to_string(sup.process(p.process).pid()) + "  " +
              p.spec.format + " on" + urls + "\n";
    }
    for (const EngineEndpoint& e : cluster_->engines()) {
      text += "  " + e.process + "  pid " + std::to_string(sup.process(e.process).pid()) +
              "  pub " + e.pub + "  recovery " + e.recovery + "  desk " + e.desk + "\n";
    }
    for (const EdgeEndpoint& e : cluster_->edges()) {
      text += "  " + e.process + "  pid " + std::to_string(sup.process(e.process).pid()) +
              "  live page " + e.page() + "\n";
    }
    text += "\nOpen the live pages in a browser:\n";
    for (const EdgeEndpoint& e : cluster_->edges()) text += "  " + e.page() + "\n";
    const EngineEndpoint& first = cluster_->engines().front();
    const uint16_t http = cluster_->edges().empty() ? 0 : cluster_->edges().front().http;
    // CURVE is on (tools/cluster/cluster_keys.h): the desk's key, then the node's and the peer's
    // (the primary --follow-primary may be sent to).
    const std::string keys = (cluster_->run_dir() / "keys").string();
    std::string desk = tools + "/odds-desk --desk " + first.desk + " --curve-key " + keys +
                       "/desk.key --curve-server-key " + keys + "/" + first.process + ".pub";
    if (cluster_->engines().size() == 2)
      desk += "," + keys + "/" + cluster_->engines()[1].process + ".pub";
    text += "\nThings to try (in another terminal):\n";
    text += "  " + desk + " --follow-primary suspend 1001     # the pages show it\n";
    text += "  " + desk + " --follow-primary release 1001\n";
    if (http != 0) {
      text += "  curl -s http://127.0.0.1:" + std::to_string(http) + "/v1/snapshot | head -c 300\n";
    }
    text += "  " + tools + "/odds-replay verify --journal " + first.journal.string() + "\n";
    text += "  " + tools + "/odds-replay state --journal " + first.journal.string() + "\n";
    text += "  " + tools + "/odds-replay digest --journal " + first.journal.string() + "\n";
    text += "  kill -9 " + std::to_string(sup.process(first.process).pid()) +
            "    # the primary: the secondary takes over, the pages keep going\n";
    std::fprintf(out_, "%s\n", text.c_str());
    if (options_.for_seconds) {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%g", *options_.for_seconds);
      say(std::string("running for ") + seconds + " s (Ctrl-C stops it sooner)");
    } else {
      say("running until Ctrl-C");
    }
  }

  // Without chaos: watch, and say so once when a process ends on its own (it is not restarted:
  // the operator may be experimenting with kill).
  void run_quietly() {
    std::map<std::string, bool> reported;
    while (keep_running()) {
      idle(250ms);
      for (const std::string& name : cluster_->supervisor().names()) {
        ChildProcess& p = cluster_->supervisor().process(name);
        if (!p.running() && !reported[name]) {
          reported[name] = true;
          say(name + " exited (" + std::to_string(p.exit_code().value_or(-1)) +
              "); its log: " + p.log_path().string());
        }
      }
    }
  }

  std::string status_json() {
    std::string json =
        "{\"elapsed_s\": " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_at_).count());
    {
      std::lock_guard lock(chaos_.mutex);
      std::string kinds;
      for (const auto& [kind, n] : chaos_.by_kind) {
        kinds += (kinds.empty() ? "" : ", ") + kind + " " + std::to_string(n);
      }
      json += ", \"faults\": " + std::to_string(chaos_.faults) + ", \"fault_kinds\": \"" + kinds +
              "\", \"last_fault\": \"" + chaos_.last +
              "\", \"unrecovered\": " + std::to_string(chaos_.unrecovered);
    }
    json += ", \"edges\": [";
    for (size_t i = 0; i < counters_.size(); ++i) {
      const StreamCounts c = counters_[i]->counts();
      json +=
          std::string(i == 0 ? "" : ", ") + "{\"name\": \"" + cluster_->edges()[i].process +
          "\", \"connected\": " + (c.connected ? "true" : "false") +
          ", \"seq\": " + std::to_string(c.last_seq) + ", \"epoch\": " + std::to_string(c.epoch) +
          ", \"deltas\": " + std::to_string(c.deltas) + ", \"lost\": " + std::to_string(c.lost) +
          ", \"duplicated\": " + std::to_string(c.duplicated) +
          ", \"reimages\": " + std::to_string(c.reimages) +
          ", \"resumes\": " + std::to_string(c.resumes) +
          ", \"connects\": " + std::to_string(c.connects) + "}";
    }
    return json + "]}";
  }

  void tick() {
    if (!options_.chaos) return;
    std::string line =
        "chaos " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_at_).count()) +
        "s";
    {
      std::lock_guard lock(chaos_.mutex);
      line += " faults " + std::to_string(chaos_.faults);
    }
    for (size_t i = 0; i < counters_.size(); ++i) {
      const StreamCounts c = counters_[i]->counts();
      line += " | " + cluster_->edges()[i].process + " seq " + std::to_string(c.last_seq) +
              " lost " + std::to_string(c.lost) + " dup " + std::to_string(c.duplicated) +
              " re-images " + std::to_string(c.reimages);
    }
    // A terminal gets one line rewritten in place; a pipe or file a line every 5 s.
    if (::isatty(::fileno(out_))) {
      std::fprintf(out_, "\r\033[K%s", line.c_str());
      status_line_open_ = true;
    } else if (++ticks_ % 5 == 0) {
      std::fprintf(out_, "%s\n", line.c_str());
    }
    std::fflush(out_);
  }

  // Waits until `target` is ready again, every process runs, and the engines settled; restarts
  // a process that ended on its own meanwhile (only ever the one faulted, or a fenced node).
  bool recover(const std::string& target) {
    const auto deadline = Clock::now() + kRecoverTimeout;
    Supervisor& sup = cluster_->supervisor();
    while (Clock::now() < deadline) {
      bool all_up = true;
      for (const std::string& name : sup.names()) {
        if (!sup.process(name).running()) {
          say(name + " had exited (" + std::to_string(sup.process(name).exit_code().value_or(-1)) +
              "); restarting it");
          sup.start(name);
          all_up = false;
        }
      }
      if (all_up && cluster_->ready(target) && cluster_->settled()) return true;
      idle(100ms, true);
    }
    return false;
  }

  void run_chaos() {
    for (const EdgeEndpoint& e : cluster_->edges()) {
      counters_.push_back(std::make_unique<StreamCounter>(e.http));
    }
    std::vector<std::string> pages;
    for (const EdgeEndpoint& e : cluster_->edges()) pages.push_back(e.page());
    std::unique_ptr<StatusPage> page;
    if (auto port = pick_free_port()) {
      page = std::make_unique<StatusPage>(*port, pages, [this] { return status_json(); });
      if (page->ok()) say("chaos status page: " + page->url());
    }
    say("chaos: seed " + std::to_string(options_.seed) +
        "; one fault at a time, the next once everything is back");
    ChaosSchedule schedule(options_.seed, cluster_->supervisor().names());
    idle(1s);
    while (keep_running()) {
      const Fault fault = schedule.next();
      ChildProcess& p = cluster_->supervisor().process(fault.target);
      const std::string what = std::string(fault_kind_name(fault.kind)) + " " + fault.target;
      if (fault.kind == FaultKind::kKill9) {
        p.kill9();
      } else {
        p.pause();
      }
      {
        std::lock_guard lock(chaos_.mutex);
        ++chaos_.faults;
        ++chaos_.by_kind[fault_kind_name(fault.kind)];
        chaos_.last = what;
      }
      say("chaos: " + what + " for " + std::to_string(fault.hold.count()) + " ms");
      idle(fault.hold, true);
      if (fault.kind == FaultKind::kKill9) {
        p.start();
      } else {
        p.resume();
      }
      if (!recover(fault.target)) {
        std::lock_guard lock(chaos_.mutex);
        ++chaos_.unrecovered;
        end_status_line();
        std::fprintf(out_, "odds-cluster: chaos: not everything came back within %lld s after %s\n",
                     static_cast<long long>(kRecoverTimeout.count()), what.c_str());
      }
      idle(fault.gap);
    }
    // Let the clients take what is in flight before the final counts.
    idle(1s, true);
    for (auto& counter : counters_) counter->stop();
  }

  bool chaos_summary() {
    end_status_line();
    bool ok = true;
    std::string text =
        "\nodds-cluster: chaos summary (seed " + std::to_string(options_.seed) + ")\n";
    {
      std::lock_guard lock(chaos_.mutex);
      text += "  faults: " + std::to_string(chaos_.faults);
      for (const auto& [kind, n] : chaos_.by_kind) text += ", " + kind + " " + std::to_string(n);
      text += "; not back in time: " + std::to_string(chaos_.unrecovered) + "\n";
      if (chaos_.unrecovered > 0) ok = false;
    }
    text += "  edge      deltas     lost  duplicated  re-images  resumes  reconnects\n";
    for (size_t i = 0; i < counters_.size(); ++i) {
      const StreamCounts c = counters_[i]->counts();
      char row[200];
      std::snprintf(
          row, sizeof row, "  %-8s %7llu %8llu %11llu %10llu %8llu %11llu\n",
          cluster_->edges()[i].process.c_str(), static_cast<unsigned long long>(c.deltas),
          static_cast<unsigned long long>(c.lost), static_cast<unsigned long long>(c.duplicated),
          static_cast<unsigned long long>(c.reimages), static_cast<unsigned long long>(c.resumes),
          static_cast<unsigned long long>(c.connects > 0 ? c.connects - 1 : 0));
      text += row;
      for (const std::string& f : c.findings) text += "    " + f + "\n";
      if (c.lost > 0 || c.duplicated > 0 || c.deltas == 0) ok = false;
    }
    text += ok ? "  result: nothing lost, nothing duplicated\n"
               : "  result: FAILED (replay it with --seed " + std::to_string(options_.seed) + ")\n";
    std::fprintf(out_, "%s", text.c_str());
    std::fflush(out_);
    return ok;
  }

  bool stop_cluster() {
    if (!cluster_) return false;
    say("stopping every process (SIGTERM, then SIGKILL after 5 s)");
    const bool clean = cluster_->stop(5s);
    std::string journals;
    for (const EngineEndpoint& e : cluster_->engines()) journals += " " + e.journal.string();
    say(clean ? "all processes stopped cleanly" : "not every process stopped cleanly (see logs)");
    say("journals:" + journals);
    say("logs: " + (options_.run_dir / "*.log").string());
    return clean;
  }

  const RunOptions& options_;
  std::FILE* out_;
  std::unique_ptr<LocalCluster> cluster_;
  std::vector<std::unique_ptr<StreamCounter>> counters_;
  ChaosLog chaos_;
  Clock::time_point started_at_ = Clock::now();
  Clock::time_point last_tick_ = Clock::now();
  uint64_t ticks_ = 0;
  bool status_line_open_ = false;
};

}  // namespace

int run_cluster(const RunOptions& options, std::FILE* out) { return Run(options, out).go(); }

}  // namespace oddsbus::cluster
