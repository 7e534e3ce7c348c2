// odds-bench: the benchmarks of DESIGN section 8. `pipeline` (the default) prints frames per second
// of the full path against raw ZeroMQ and raw LMDB, `feeds` parsed messages per second of each
// format adapter against its bare parser library, `failover` the multi-process kill -9 takeover
// (frames lost and duplicated, ms to the new epoch, async vs sync throughput), `edge` a real
// odds-edge (latency vs the raw ZeroMQ hop, gap recovery, WebSocket fan-out), `all` every suite;
// `replay` odds-replay's queries vs a full fold and the raw LMDB read (issue 13); each measured in
// one run on this machine.
#include <cstdio>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/bench/edge_suite.h"
#include "tools/bench/failover_suite.h"
#include "tools/bench/feeds_suite.h"
#include "tools/bench/live_state_suite.h"
#include "tools/bench/pipeline_suite.h"
#include "tools/bench/replay_suite.h"

int main(int argc, char** argv) {
  CLI::App app{
      "odds-bench: frames per second of the sequenced, journaled and published path vs raw "
      "ZeroMQ PUB/SUB and raw LMDB appends, and parsed messages per second of each feed adapter "
      "vs its bare parser, from one run on this machine."};
  app.require_subcommand(0, 1);
  app.fallthrough();
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("odds-bench: ") + e.what() + " (see --help)\n";
  });

  oddsbus::bench::SuiteOptions options;
  oddsbus::bench::FeedsOptions feeds_options;
  oddsbus::bench::FailoverOptions failover_options;
  oddsbus::bench::EdgeOptions edge_options;
  bool edge_no_pin = false;
  std::string capture = ODDSBUS_SHARED_DATA_DIR "/betfair/1.200806927";
  options.dir = std::filesystem::temp_directory_path();
  std::string dir = options.dir.string();
  bool quick = false;
  auto* frames = app.add_option("--frames,-n", options.frames, "frames per measurement")
                     ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 32))
                     ->capture_default_str();
  auto* repeat = app.add_option("--repeat,-r", options.repeat,
                                "runs of each measurement, interleaved; the median is quoted")
                     ->check(CLI::Range(1u, 101u))
                     ->capture_default_str();
  app.add_flag(
      "--quick", quick,
      "smoke run: 20000 frames or messages, 1 round (unless --frames/--messages/--repeat); "
      "failover: shorter windows; edge: fewer clients and shorter windows");
  auto* messages =
      app.add_option("--messages,-m", feeds_options.messages, "feeds: messages per format")
          ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 28))
          ->capture_default_str();
  app.add_option("--capture", capture,
                 "feeds: a real Betfair stream capture for a fourth row (skipped when absent)")
      ->capture_default_str();
  app.add_option("--producers", options.producers, "producer threads pushing events")
      ->check(CLI::Range(size_t{1}, size_t{64}))
      ->capture_default_str();
  app.add_option("--max-batch", options.max_batch_frames, "sequencer's max frames per batch")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--dir", dir, "parent of the scratch directories (journals are written here)")
      ->check(CLI::ExistingDirectory)
      ->capture_default_str();
  app.add_subcommand("pipeline",
                     "Raw ZeroMQ, raw LMDB (nosync, sync) and the full path (nosync, sync): a "
                     "table of medians, ratios vs targets, and a JSON line. Exit 1 if any frame "
                     "was lost, duplicated or corrupted; a missed target does not fail the run. "
                     "The default when no subcommand is given.");
  auto* feeds = app.add_subcommand(
      "feeds",
      "Parsed messages per second of each format's adapter (oddsjson, betfair-stream, uof-xml, "
      "and a real Betfair capture) vs the bare simdjson or pugixml parse of the same bytes: a "
      "table of medians (--repeat, default 5), ratios vs target, and a JSON line. Exit 1 if a "
      "corpus message was rejected; a missed target does not fail the run.");
  auto* failover = app.add_subcommand(
      "failover",
      "kill -9 of the primary `odds-engine run` under odds-feedsim load, with a secondary taking "
      "over, async then sync replication side by side per round (--repeat, default 3): a table of "
      "median frames/s delivered to a subscriber, the sync/async ratio, median ms from the kill to "
      "the subscriber's first frame of the new epoch, frames lost and duplicated, and a JSON line. "
      "Needs odds-engine and odds-feedsim beside odds-bench. Exit 1 if any frame was lost or "
      "duplicated.");
  failover
      ->add_option("--feed-rate", failover_options.rate,
                   "odds-feedsim updates per second, all markets together")
      ->check(CLI::Range(1u, 10'000'000u))
      ->capture_default_str();
  failover
      ->add_option("--failover-after-ms", failover_options.failover_after_ms,
                   "the secondary's --failover-after-ms")
      ->check(CLI::Range(50u, 60'000u))
      ->capture_default_str();
  failover
      ->add_option("--alone-after-ms", failover_options.alone_after_ms,
                   "the engines' --alone-after-ms (sync: the new primary, with no secondary, "
                   "publishes alone after this long)")
      ->check(CLI::Range(10u, 60'000u))
      ->capture_default_str();
  auto* edge = app.add_subcommand(
      "edge",
      "A real odds-edge (pinned to core 1 with taskset) fed by an in-process publisher "
      "(nosync journal, engine::RecoveryServer, ZeroMQ PUB), per round (--repeat, default 3): "
      "publish -> WebSocket client latency p50/p99/p99.9 vs a raw ZeroMQ SUB of the same bytes; "
      "gap recovery time for gaps of 10, 10k and 1M frames (ranges or snapshot, from /metrics); "
      "fan-out: 1k and 10k WebSocket clients with the publish rate stepped up until the edge "
      "conflates. A table of medians, ratios, and a JSON line. Needs odds-edge beside "
      "odds-bench. Exit 1 if a client saw seqs that do not rise, a frame or delta went missing "
      "unconflated, a gap was not recovered, the edge died, or its final digest differs.");
  edge->add_option("--latency-rate", edge_options.latency_rate, "latency: frames per second")
      ->check(CLI::Range(1u, 100'000u))
      ->capture_default_str();
  edge->add_option("--latency-ms", edge_options.latency_ms, "latency: ms of paced publishing")
      ->check(CLI::Range(100u, 600'000u))
      ->capture_default_str();
  edge->add_option("--clients", edge_options.clients, "fan-out: client counts, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(size_t{1}, size_t{60000}))
      ->capture_default_str();
  edge->add_option("--gaps", edge_options.gaps, "gap sizes in frames, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}))
      ->capture_default_str();
  edge->add_option("--window-ms", edge_options.window_ms, "fan-out: ms per rate step")
      ->check(CLI::Range(100u, 600'000u))
      ->capture_default_str();
  edge->add_option("--gap-timeout-ms", edge_options.gap_timeout_ms, "the edge's --gap-timeout-ms")
      ->check(CLI::Range(1u, 10'000u))
      ->capture_default_str();
  edge->add_flag("--no-pin", edge_no_pin, "do not pin odds-edge and odds-bench to cores 1 and 0");
  oddsbus::bench::ReplayOptions replay_options;
  auto* replay = app.add_subcommand(
      "replay",
      "odds-replay's queries on a generated journal (--frames, default 200000, over "
      "--replay-markets markets): state at a seq and at a time (time index) vs a full fold from "
      "seq 1, time-to-seq by binary search vs a scan of stamps, history, diff and export, beside "
      "the raw LMDB read of the same records; per round (--repeat, default 5). A table of "
      "medians, ratios against both baselines, and a JSON line. Exit 1 if a query failed or the "
      "state at a time differs from the state at its seq.");
  replay->add_option("--replay-markets", replay_options.markets, "markets in the generated journal")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000}))
      ->capture_default_str();
  oddsbus::bench::LiveStateOptions live_options;
  auto* live = app.add_subcommand(
      "live-state",
      "memory while markets come and go (issue 15): --live-markets markets defined, priced and "
      "settled 1 ms apart through the sequencer and a second fold, with --evict-after 10 s vs "
      "without eviction, each in its own process; RSS at ten checkpoints, markets held, and the "
      "growth ratios. Exit 1 if a run failed or the folds disagree.");
  live->add_option("--live-markets", live_options.markets, "markets that come and go")
      ->check(CLI::Range(uint64_t{10}, uint64_t{100'000'000}))
      ->capture_default_str();
  auto* all = app.add_subcommand("all", "pipeline, then feeds, then failover, then edge.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (quick) {
    if (frames->count() == 0) options.frames = 20000;
    if (repeat->count() == 0) options.repeat = 1;
  }
  options.dir = dir;
  if (repeat->count() != 0) feeds_options.repeat = options.repeat;
  if (quick) {
    if (messages->count() == 0) feeds_options.messages = 20000;
    if (repeat->count() == 0) feeds_options.repeat = 1;
  }
  feeds_options.capture = std::filesystem::path(capture).lexically_normal();
  failover_options.dir = options.dir;
  if (repeat->count() != 0) failover_options.repeat = options.repeat;
  if (quick) {
    if (repeat->count() == 0) failover_options.repeat = 1;
    failover_options.warmup_ms = 500;
    failover_options.window_ms = 1000;
    failover_options.after_ms = 1000;
  }
  edge_options.dir = options.dir;
  edge_options.pin = !edge_no_pin;
  if (repeat->count() != 0) edge_options.repeat = options.repeat;
  if (quick) {
    if (repeat->count() == 0) edge_options.repeat = 1;
    if (edge->get_option("--clients")->count() == 0) edge_options.clients = {100, 1000};
    if (edge->get_option("--latency-ms")->count() == 0) edge_options.latency_ms = 2000;
    if (edge->get_option("--window-ms")->count() == 0) edge_options.window_ms = 1000;
  }
  replay_options.dir = options.dir;
  if (frames->count() != 0) replay_options.frames = options.frames;
  if (repeat->count() != 0) replay_options.repeat = options.repeat;
  if (quick) {
    if (frames->count() == 0) replay_options.frames = 20000;
    if (repeat->count() == 0) replay_options.repeat = 1;
  }
  if (replay->parsed()) return oddsbus::bench::run_replay_suite(replay_options);
  if (live->parsed()) {
    if (quick && live->get_option("--live-markets")->count() == 0) live_options.markets = 100'000;
    return oddsbus::bench::run_live_state_suite(live_options);
  }
  if (feeds->parsed()) return oddsbus::bench::run_feeds_suite(feeds_options);
  if (edge->parsed()) return oddsbus::bench::run_edge_suite(edge_options);
  if (failover->parsed()) return oddsbus::bench::run_failover_suite(failover_options);
  if (all->parsed()) {
    const int pipeline_status = oddsbus::bench::run_pipeline_suite(options);
    const int feeds_status = oddsbus::bench::run_feeds_suite(feeds_options);
    const int failover_status = oddsbus::bench::run_failover_suite(failover_options);
    const int edge_status = oddsbus::bench::run_edge_suite(edge_options);
    for (const int status : {pipeline_status, feeds_status, failover_status, edge_status}) {
      if (status != 0) return status;
    }
    return 0;
  }
  return oddsbus::bench::run_pipeline_suite(options);
}
