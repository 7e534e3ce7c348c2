// odds-sim: runs the deterministic cluster simulator (tests/sim/sim.h) over many seeds, or
// replays one seed with its full trace. See --help.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/sim/sim.h"

namespace {

using oddsbus::sim::Plant;
using oddsbus::sim::Profile;
using oddsbus::sim::RunResult;

void usage(FILE* out) {
  std::fprintf(
      out,
      "usage: odds-sim --seeds N [--from S] [--profile NAME] [--plant NAME]\n"
      "       odds-sim --seed S [--trace] [--profile NAME] [--plant NAME]\n"
      "\n"
      "The deterministic cluster simulator: two engine nodes (sequencer, role core, recovery\n"
      "service, replica arbiter, source selector), two edges (arbiter, market cache) with\n"
      "clients (conflating streams), and two oddsjson providers (one over two redundant lines\n"
      "through the de-duplicator), all the real sans-I/O cores, over a simulated network and\n"
      "clock. One seed decides every message, delay and fault; a seed replays bit-identically.\n"
      "\n"
      "  --seeds N       run seeds S..S+N-1 and print a table: seeds, simulated time, faults\n"
      "                  injected by kind, frames, violations by invariant. Exit 1 on any\n"
      "                  violation, printing the first failing seed, its violations and the\n"
      "                  last events of its trace.\n"
      "  --from S        the first seed (default 1).\n"
      "  --seed S        run one seed and print its result (exit 1 on a violation).\n"
      "  --trace         with --seed: print every event of the run (the full trace) first.\n"
      "  --log           keep the cores' own log lines (stderr; silenced by default).\n"
      "  --profile NAME  the fault profile (default \"default\"):\n%s"
      "  --plant NAME    plant a known bug (test-only switches of the real cores), to prove the\n"
      "                  simulator catches it: skip-reorder (an edge's arbiter skips the reorder\n"
      "                  window), keep-epoch (a secondary takes over without raising the epoch),\n"
      "                  dedup-by-content (redundant lines de-duplicated by content alone).\n"
      "\n"
      "Invariants (each violation is counted under its name):\n"
      "  in-order-once      every edge and client applies each seq at most once, in order, with\n"
      "                     no gap that is not announced as a re-image (image or snapshot)\n"
      "  one-frame-per-seq  no two different frames accepted (journaled by a node, applied by an\n"
      "                     edge) for the same (epoch, seq)\n"
      "  applied-survives   every frame an edge applied is in the surviving history, or a later\n"
      "                     re-image announced that it was rolled back\n"
      "  acked-kept         sync mode: no frame served to an edge is lost from the surviving\n"
      "                     history\n"
      "  converged          after quiescence: one primary; the secondary's journal, every edge\n"
      "                     and every client equal the survivor's state, and the survivor's state\n"
      "                     equals a fault-free fold of the provider messages (per market: status\n"
      "                     and each selection's price)\n"
      "  stale-suspended    no market open at a current edge while its provider has been silent\n"
      "                     beyond stale_after plus the propagation bound\n"
      "  bounded            held batches, parked requests, edge windows, client queues in bounds\n"
      "\n"
      "Replay a failing seed: odds-sim --seed S --profile P [--plant X] --trace\n",
      oddsbus::sim::profile_help().c_str());
}

void print_failure(const RunResult& r, std::string_view profile, Plant plant) {
  const std::string planted =
      plant == Plant::kNone ? "" : " --plant " + std::string(oddsbus::sim::to_string(plant));
  std::printf("\nFAILED seed %" PRIu64 " (replay: odds-sim --seed %" PRIu64
              " --profile %.*s%s --trace)\n",
              r.seed, r.seed, static_cast<int>(profile.size()), profile.data(), planted.c_str());
  for (const std::string& m : r.messages) std::printf("  %s\n", m.c_str());
  std::printf("last events:\n");
  for (const std::string& line : r.trace_tail) std::printf("  %s\n", line.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seeds = 0, from = 1, seed = 0;
  bool one = false, trace = false, log = false;
  std::string profile_name = "default";
  Plant plant = Plant::kNone;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "odds-sim: %s needs a value\n", argv[i]);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 0;
    } else if (arg == "--seeds") {
      seeds = std::strtoull(value(), nullptr, 10);
    } else if (arg == "--from") {
      from = std::strtoull(value(), nullptr, 10);
    } else if (arg == "--seed") {
      seed = std::strtoull(value(), nullptr, 10);
      one = true;
    } else if (arg == "--trace") {
      trace = true;
    } else if (arg == "--log") {
      log = true;
    } else if (arg == "--profile") {
      profile_name = value();
    } else if (arg == "--plant") {
      const char* name = value();
      if (!oddsbus::sim::parse_plant(name, plant)) {
        std::fprintf(stderr, "odds-sim: unknown plant %s\n", name);
        return 2;
      }
    } else {
      std::fprintf(stderr, "odds-sim: unknown argument %s\n\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  Profile profile;
  if (!oddsbus::sim::profile_by_name(profile_name, profile)) {
    std::fprintf(stderr, "odds-sim: unknown profile %s\n", profile_name.c_str());
    return 2;
  }
  profile.plant = plant;
  if (!oddsbus::sim::plant_available(plant)) {
    std::fprintf(stderr,
                 "odds-sim: this build's edge::ArbiterConfig has no planted_skip_reorder switch; "
                 "plant %s is not available\n",
                 std::string(oddsbus::sim::to_string(plant)).c_str());
    return 2;
  }
  if (!one && seeds == 0) {
    usage(stderr);
    return 2;
  }
  if (one) {
    from = seed;
    seeds = 1;
  }
  if (!log) {
    // The cores log state changes to stderr; the trace says what happened, in simulated time.
    const int fd = ::open("/dev/null", O_WRONLY);
    if (fd >= 0) ::dup2(fd, 2);
  }
  std::array<uint64_t, oddsbus::sim::kFaultCount> faults{};
  std::array<uint64_t, oddsbus::sim::kInvariantCount> violations{};
  uint64_t simulated = 0, frames = 0, takeovers = 0, fencings = 0, set_asides = 0, snapshots = 0;
  uint64_t conflations = 0, resumes = 0, resume_misses = 0;
  std::vector<uint64_t> failing;
  std::optional<RunResult> first_failure;
  for (uint64_t s = from; s < from + seeds; ++s) {
    RunResult r = oddsbus::sim::run_seed(s, profile, one && trace ? stdout : nullptr);
    simulated += r.simulated_ns;
    frames += r.frames;
    takeovers += r.takeovers;
    fencings += r.fencings;
    set_asides += r.set_asides;
    snapshots += r.snapshots;
    conflations += r.conflations;
    resumes += r.resumes;
    resume_misses += r.resume_misses;
    for (size_t k = 0; k < faults.size(); ++k) faults[k] += r.faults[k];
    for (size_t k = 0; k < violations.size(); ++k) violations[k] += r.violations[k];
    if (r.total_violations() > 0) {
      failing.push_back(s);
      if (!first_failure) first_failure = std::move(r);
    } else if (one) {
      std::printf("seed %" PRIu64 " trace hash %016" PRIx64 "\n", s, r.trace_hash);
    }
    if (one && first_failure) {
      std::printf("seed %" PRIu64 " trace hash %016" PRIx64 "\n", s, first_failure->trace_hash);
    }
  }
  std::printf("profile %s%s%s: %" PRIu64 " seeds (%" PRIu64 "..%" PRIu64 "), %.1f s simulated\n",
              profile.name.c_str(), plant == Plant::kNone ? "" : ", plant ",
              plant == Plant::kNone ? "" : std::string(oddsbus::sim::to_string(plant)).c_str(),
              seeds, from, from + seeds - 1, static_cast<double>(simulated) / 1e9);
  std::printf("  %-20s %12s\n", "frames", std::to_string(frames).c_str());
  std::printf("  %-20s %12" PRIu64 "\n", "takeovers", takeovers);
  std::printf("  %-20s %12" PRIu64 "\n", "fencings", fencings);
  std::printf("  %-20s %12" PRIu64 "\n", "set-asides", set_asides);
  std::printf("  %-20s %12" PRIu64 "\n", "edge snapshots", snapshots);
  std::printf("  %-20s %12" PRIu64 "\n", "client conflations", conflations);
  std::printf("  %-20s %12" PRIu64 "\n", "client resumes", resumes);
  std::printf("  %-20s %12" PRIu64 "\n", "resume misses", resume_misses);
  std::printf("faults injected:\n");
  for (size_t k = 0; k < faults.size(); ++k) {
    std::printf("  %-20s %12" PRIu64 "\n", oddsbus::sim::kFaultNames[k], faults[k]);
  }
  std::printf("violations:\n");
  for (size_t k = 0; k < violations.size(); ++k) {
    std::printf("  %-20s %12" PRIu64 "\n", oddsbus::sim::kInvariantNames[k], violations[k]);
  }
  if (failing.empty()) {
    std::printf("no violations\n");
    return 0;
  }
  std::printf("%zu failing seeds:", failing.size());
  for (size_t i = 0; i < failing.size() && i < 30; ++i) std::printf(" %" PRIu64, failing[i]);
  std::printf("%s\n", failing.size() > 30 ? " ..." : "");
  print_failure(*first_failure, profile.name, plant);
  return 1;
}
