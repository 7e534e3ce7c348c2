#include "tools/bench/live_state_suite.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "engine/sequencer.h"
#include "schemas/batch.h"
#include "schemas/odds.h"
#include "schemas/state_digest.h"

namespace oddsbus::bench {

namespace {

constexpr size_t kCheckpoints = 10;
constexpr uint64_t kBaseNs = 1'800'000'000'000'000'000ull;
constexpr uint64_t kStepNs = 1'000'000;                // 1 ms of sequencer clock per market
constexpr uint64_t kEvictAfterNs = 10'000'000'000ull;  // 10 s of it

struct RunResult {
  std::array<uint64_t, kCheckpoints + 1> rss_kib{};  // at each tenth, then at the end
  uint64_t markets_held = 0;
  uint64_t evicted = 0;
  uint64_t frames = 0;
  bool folds_agree = false;
};

uint64_t rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

feeds::Event market_event(uint64_t market) {
  feeds::Event e;
  e.type = feeds::EventType::kMarket;
  e.market = market;
  e.event = 1 + market / 10;
  e.name = "Match Odds";
  e.selections = {{1, "Home"}, {2, "Draw"}, {3, "Away"}};
  return e;
}

feeds::Event price_event(uint64_t market, uint64_t selection, std::string_view text) {
  feeds::Event e;
  e.type = feeds::EventType::kPrice;
  e.market = market;
  e.selection = selection;
  e.odds = parse_odds(text).value();
  e.odds_text = std::string(text);
  return e;
}

feeds::Event settle_event(uint64_t market) {
  feeds::Event e;
  e.type = feeds::EventType::kSettle;
  e.market = market;
  e.winners = {1};
  return e;
}

RunResult run(uint64_t markets, uint64_t evict_after_ns) {
  RunResult result;
  engine::Sequencer sequencer(engine::SequencerConfig{});
  MarketState replica;  // the same frames folded again, as a replica, an edge and replay do
  BatchWriter batch(1 << 16);
  BatchReader reader;
  std::vector<uint64_t> due;
  const auto fold_batch = [&] {
    if (batch.empty()) return;
    if (!reader.open(batch.bytes())) return;
    for (const fb::Frame* frame : reader.frames()) replica.apply(*frame);
    result.frames += batch.count();
  };
  size_t checkpoint = 0;
  for (uint64_t i = 0; i < markets; ++i) {
    const uint64_t market = 1'000'000 + i;
    const uint64_t now = kBaseNs + i * kStepNs;
    sequencer.begin_batch(batch);
    (void)sequencer.sequence(market_event(market), now, batch);
    (void)sequencer.sequence(price_event(market, 1, "2.50"), now, batch);
    (void)sequencer.sequence(price_event(market, 2, "3.10"), now, batch);
    (void)sequencer.sequence(settle_event(market), now, batch);
    if (evict_after_ns != 0) {
      due.clear();
      sequencer.due_evictions(now, evict_after_ns, 64, due);
      for (const uint64_t gone : due) {
        if (sequencer.evict(gone, now, batch)) ++result.evicted;
      }
    }
    fold_batch();
    if ((i + 1) * kCheckpoints / markets > checkpoint && checkpoint < kCheckpoints) {
      result.rss_kib[checkpoint++] = rss_kib();
    }
  }
  result.rss_kib[kCheckpoints] = rss_kib();
  result.markets_held = sequencer.state().markets().size();
  result.folds_agree = state_digest(replica) == state_digest(sequencer.state()) &&
                       replica.markets().size() == result.markets_held;
  return result;
}

// Runs one variant in a child process (its own heap: RSS of one does not carry into the other).
bool run_in_child(uint64_t markets, uint64_t evict_after_ns, RunResult& out) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    close(fds[0]);
    const RunResult result = run(markets, evict_after_ns);
    const ssize_t wrote = write(fds[1], &result, sizeof result);
    _exit(wrote == static_cast<ssize_t>(sizeof result) ? 0 : 1);
  }
  close(fds[1]);
  size_t got = 0;
  auto* bytes = reinterpret_cast<char*>(&out);
  while (got < sizeof out) {
    const ssize_t n = read(fds[0], bytes + got, sizeof out - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return got == sizeof out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int run_live_state_suite(const LiveStateOptions& options) {
  std::printf("live-state: %" PRIu64
              " markets come and go (define, 2 prices, settle; 1 ms apart); "
              "--evict-after 10 s vs no eviction, each in its own process\n",
              options.markets);
  RunResult evicting;
  RunResult keeping;
  if (!run_in_child(options.markets, kEvictAfterNs, evicting) ||
      !run_in_child(options.markets, 0, keeping)) {
    std::fprintf(stderr, "odds-bench live-state: a run failed\n");
    return 1;
  }
  std::printf("%-12s %14s %14s\n", "markets in", "RSS evicting", "RSS keeping");
  for (size_t c = 0; c < kCheckpoints; ++c) {
    std::printf("%-12" PRIu64 " %11" PRIu64 " KiB %11" PRIu64 " KiB\n",
                options.markets * (c + 1) / kCheckpoints, evicting.rss_kib[c], keeping.rss_kib[c]);
  }
  const auto growth = [](const RunResult& r) {
    return r.rss_kib[0] == 0
               ? 0.0
               : static_cast<double>(r.rss_kib[kCheckpoints]) / static_cast<double>(r.rss_kib[0]);
  };
  std::printf("markets held at the end: %" PRIu64 " evicting (%" PRIu64 " evicted), %" PRIu64
              " keeping\n",
              evicting.markets_held, evicting.evicted, keeping.markets_held);
  std::printf(
      "RSS end / first tenth: %.2fx evicting, %.2fx keeping; end RSS keeping / evicting: "
      "%.1fx\n",
      growth(evicting), growth(keeping),
      evicting.rss_kib[kCheckpoints] == 0
          ? 0.0
          : static_cast<double>(keeping.rss_kib[kCheckpoints]) /
                static_cast<double>(evicting.rss_kib[kCheckpoints]));
  std::printf("{\"suite\": \"live-state\", \"markets\": %" PRIu64 ", \"evicting_rss_kib\": %" PRIu64
              ", \"keeping_rss_kib\": %" PRIu64
              ", \"evicting_growth\": %.3f, \"keeping_growth\": "
              "%.3f, \"evicting_held\": %" PRIu64 ", \"keeping_held\": %" PRIu64 "}\n",
              options.markets, evicting.rss_kib[kCheckpoints], keeping.rss_kib[kCheckpoints],
              growth(evicting), growth(keeping), evicting.markets_held, keeping.markets_held);
  if (!evicting.folds_agree || !keeping.folds_agree) {
    std::fprintf(stderr, "odds-bench live-state: the second fold disagrees with the sequencer\n");
    return 1;
  }
  return 0;
}

}  // namespace oddsbus::bench
