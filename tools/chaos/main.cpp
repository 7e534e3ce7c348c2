// odds-chaos: a seeded chaos run against a real local cluster (tools/chaos/chaos_run.h). Flags
// in, the run wired, the summary table out; exit 0 only when every check passed.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/chaos/chaos_run.h"

int main(int argc, char** argv) {
  using oddsbus::chaos::ChaosConfig;
  CLI::App app{
      "odds-chaos: starts a local cluster (odds-feedsim, a primary and a secondary odds-engine, "
      "two odds-edge, every link through a fault proxy), applies a seeded random schedule of "
      "faults (kill -9 and restart, SIGSTOP/SIGCONT, link delay/stall/reset/black-hole, feed "
      "stalls) while WebSocket clients consume everything, then checks: no seq lost, duplicated "
      "or out of order at any client apart from announced re-images; every edge's digest equals "
      "the surviving journal's; the journals verify and agree; the final state equals ingest of "
      "what the feed sent; no market open while its feed was stale. Prints a summary table; "
      "exits 1 on any violation, naming the seed."};
  ChaosConfig config;
  config.seed = static_cast<uint64_t>(::getpid()) ^ static_cast<uint64_t>(::time(nullptr));
  std::string run_dir;
  bool quiet = false;
  app.add_option("--faults", config.faults, "faults to apply, one after another")
      ->capture_default_str()
      ->check(CLI::Range(size_t{0}, size_t{1'000'000}));
  app.add_option("--seed", config.seed, "seed of the schedule and the feed (default: random)");
  app.add_option("--replication", config.replication, "the engines' --replication")
      ->check(CLI::IsMember({"async", "sync"}))
      ->capture_default_str();
  app.add_option("--bin-dir", config.bin_dir,
                 "where odds-engine, odds-edge and odds-feedsim are (default: next to odds-chaos)");
  app.add_option("--dir", run_dir, "run directory (default: a fresh one under $TMPDIR)");
  app.add_option("--markets", config.markets, "simulated markets")->capture_default_str();
  app.add_option("--rate", config.rate, "feed updates per second")->capture_default_str();
  app.add_option("--max-hold-ms", config.max_hold_ms, "longest a fault is held")
      ->capture_default_str();
  app.add_flag("--quiet", quiet, "no line per fault on stderr");
  bool keep = false;
  app.add_flag("--keep", keep,
               "keep the run directory after a passing run (a failing run always keeps it)");
  CLI11_PARSE(app, argc, argv);
  config.verbose = !quiet;

  namespace fs = std::filesystem;
  if (config.bin_dir.empty()) {
    config.bin_dir = fs::canonical("/proc/self/exe").parent_path().string();
  }
  bool made_dir = false;
  if (!run_dir.empty() && fs::exists(run_dir) && !fs::is_empty(run_dir)) {
    std::fprintf(stderr, "odds-chaos: --dir %s is not empty (a run needs fresh journals)\n",
                 run_dir.c_str());
    return 2;
  }
  if (run_dir.empty()) {
    made_dir = true;
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/oddsbus-chaos.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::fprintf(stderr, "odds-chaos: cannot create a run directory under %s\n", pattern.c_str());
      return 1;
    }
    run_dir = pattern;
  }
  config.run_dir = run_dir;
  std::fprintf(stderr, "odds-chaos: seed %llu, %zu faults, replication %s, run directory %s\n",
               static_cast<unsigned long long>(config.seed), config.faults,
               config.replication.c_str(), config.run_dir.c_str());
  const oddsbus::chaos::ChaosReport report = oddsbus::chaos::run_chaos(config);
  oddsbus::chaos::print_summary(stdout, config, report);
  if (report.ok() && made_dir && !keep) {
    std::error_code ec;
    fs::remove_all(run_dir, ec);
  }
  return report.ok() ? 0 : 1;
}
