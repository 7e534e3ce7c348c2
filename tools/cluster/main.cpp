// odds-cluster: runs a local oddsbus cluster (providers, engines, edges) as real processes on
// loopback until Ctrl-C, optionally breaking it on purpose (tools/cluster/cluster_run.h).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/cluster/cluster_run.h"
#include "tools/cluster/topology.h"

namespace {

std::atomic<bool> g_stop{false};
void on_stop_signal(int) { g_stop.store(true); }

int fail(const std::string& message) {
  std::fprintf(stderr, "odds-cluster: %s\n", message.c_str());
  return 1;
}

// The directory this binary is in: the other binaries are built beside it.
std::filesystem::path own_dir() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path(".") : self.parent_path();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "odds-cluster: a local oddsbus cluster as real processes on loopback: simulated providers "
      "(odds-feedsim), engines replicating each other (odds-engine run), edges serving the live "
      "page (odds-edge). Default topology: tools/cluster/demo.toml.",
      "odds-cluster"};
  app.require_subcommand(1);
  CLI::App* run = app.add_subcommand(
      "run",
      "Start the cluster, wait until every process is ready, print each edge's live page and "
      "commands to try, and run until SIGINT/SIGTERM (or --for); then stop everything cleanly "
      "and say where the journals and logs are. Exit status 0 when it started, ran and stopped "
      "cleanly (with --chaos: and nothing was lost or duplicated).");
  std::string topology_path;
  double for_seconds = 0;
  bool chaos = false;
  uint64_t seed = 1;
  std::string dir;
  std::string bin_dir;
  run->add_option("--topology", topology_path, "topology TOML file (see tools/cluster/demo.toml)")
      ->check(CLI::ExistingFile);
  run->add_option("--for", for_seconds, "stop after SECONDS (default: run until Ctrl-C)")
      ->check(CLI::PositiveNumber);
  run->add_flag("--chaos", chaos,
                "every few seconds kill -9 and restart, or SIGSTOP and SIGCONT, a random process "
                "(one at a time), while a WebSocket client per edge counts updates lost and "
                "duplicated; a status page shows the counts");
  run->add_option("--seed", seed, "seed of the --chaos fault schedule");
  run->add_option("--dir", dir,
                  "run directory for journals, logs and the mapping (default: a new "
                  "$TMPDIR/oddsbus-cluster.XXXXXX, kept afterwards)");
  run->add_option(
      "--bin-dir", bin_dir,
      "where odds-feedsim, odds-engine and odds-edge are (default: beside this binary)");
  CLI11_PARSE(app, argc, argv);

  oddsbus::cluster::RunOptions options;
  options.topology = oddsbus::cluster::default_topology();
  if (!topology_path.empty()) {
    std::ifstream in(topology_path);
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = oddsbus::cluster::parse_topology(text.str());
    if (!parsed) return fail(topology_path + ": " + parsed.error());
    options.topology = *parsed;
  }
  options.bin_dir = bin_dir.empty() ? own_dir() : std::filesystem::path(bin_dir);
  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/oddsbus-cluster.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) return fail("cannot create " + pattern);
    dir = pattern;
  }
  options.run_dir = std::filesystem::absolute(dir);
  if (run->count("--for") > 0) options.for_seconds = for_seconds;
  options.chaos = chaos;
  options.seed = seed;
  options.stop = &g_stop;

  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  ::sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  try {
    return oddsbus::cluster::run_cluster(options, stdout);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
