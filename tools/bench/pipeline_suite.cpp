#include "tools/bench/pipeline_suite.h"

#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "tools/bench/bench.h"
#include "tools/bench/report_format.h"

namespace oddsbus::bench {
namespace {

constexpr double kNoSyncVsZmqTarget = 2.0;
constexpr double kSyncVsNoSyncTarget = 0.8;

enum Row : size_t { kRawZmq, kRawLmdbNoSync, kRawLmdbSync, kFullNoSync, kFullSync, kRows };

constexpr std::array<const char*, kRows> kRowNames = {"raw zmq pub/sub 128B", "raw lmdb nosync",
                                                      "raw lmdb sync", "full path nosync",
                                                      "full path sync"};
constexpr std::array<const char*, kRows> kRowKeys = {"raw_zmq", "raw_lmdb_nosync", "raw_lmdb_sync",
                                                     "full_nosync", "full_sync"};

std::string filesystem_of(const std::filesystem::path& dir) {
  struct statfs fs;
  if (::statfs(dir.c_str(), &fs) != 0) return "unknown filesystem";
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0xEF53:
      return "ext4";
    case 0x01021994:
      return "tmpfs: sync does not reach a disk";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x794C7630:
      return "overlayfs";
    default:
      return "filesystem 0x" + [&] {
        char hex[32];
        std::snprintf(hex, sizeof hex, "%lx", static_cast<unsigned long>(fs.f_type));
        return std::string(hex);
      }();
  }
}

// Every run of every measurement, kept to take medians.
struct Runs {
  std::array<std::vector<Measurement>, kRows> rows;

  double median_seconds(Row row) const {
    std::vector<double> v;
    for (const Measurement& m : rows[row]) v.push_back(m.seconds);
    return median(v);
  }
  double median_fps(Row row) const {
    std::vector<double> v;
    for (const Measurement& m : rows[row]) v.push_back(m.frames_per_second());
    return median(v);
  }
  // The run at the median of frames/s, for the columns that are not medians themselves.
  const Measurement& median_run(Row row) const {
    std::vector<const Measurement*> sorted;
    for (const Measurement& m : rows[row]) sorted.push_back(&m);
    std::sort(sorted.begin(), sorted.end(), [](const Measurement* a, const Measurement* b) {
      return a->frames_per_second() < b->frames_per_second();
    });
    return *sorted[(sorted.size() - 1) / 2];
  }
};

void print_run(unsigned round, unsigned rounds, Row row, const Measurement& m,
               const std::string& detail) {
  std::printf("  round %u/%u  %-22s %9llu frames  %8.3f s  %12s frames/s%s\n", round, rounds,
              kRowNames[row], static_cast<unsigned long long>(m.frames), m.seconds,
              grouped(m.frames_per_second()).c_str(), detail.c_str());
  std::fflush(stdout);
}

std::string pipeline_detail(const PipelineResult& r) {
  const Measurement& m = r.measurement;
  char text[512];
  const double commit_share =
      m.seconds > 0 ? 100.0 * static_cast<double>(r.commit_ns_total) / 1e9 / m.seconds : 0;
  std::snprintf(
      text, sizeof text,
      "\n%14ssequencer, whole run: %llu batches, %.0f frames/batch, commit %.3f ms avg "
      "(%.0f%% of load wall time), backpressure %llu, heartbeats %llu"
      "\n%14scpu s: sequencer %.3f, producers %.3f, subscriber %.3f, zmq i/o + main %.3f",
      "", static_cast<unsigned long long>(r.sequencer_batches),
      ratio(static_cast<double>(r.sequenced_frames), static_cast<double>(r.sequencer_batches)),
      ratio(static_cast<double>(r.commit_ns_total) / 1e6, static_cast<double>(r.sequencer_batches)),
      commit_share, static_cast<unsigned long long>(r.backpressure),
      static_cast<unsigned long long>(r.heartbeats_published), "", r.sequencer_cpu_s,
      r.producers_cpu_s, r.subscriber_cpu_s, r.other_cpu_s);
  return text;
}

// One round: the pipeline runs with their raw LMDB mirrors, and the raw ZeroMQ baseline. The
// starting group rotates per round so no measurement always runs first.
std::expected<void, std::string> run_round(const SuiteOptions& options, unsigned round,
                                           Runs& runs) {
  auto full_then_lmdb = [&](engine::Durability durability) -> std::expected<void, std::string> {
    const bool sync = durability == engine::Durability::kSync;
    const Row full_row = sync ? kFullSync : kFullNoSync;
    const Row lmdb_row = sync ? kRawLmdbSync : kRawLmdbNoSync;
    PipelineOptions p;
    p.parent_dir = options.dir;
    p.frames = options.frames;
    p.producers = options.producers;
    p.max_batch_frames = options.max_batch_frames;
    p.durability = durability;
    auto full = run_pipeline(p);
    if (!full) return std::unexpected(std::string(kRowNames[full_row]) + ": " + full.error());
    if (std::string error = full->integrity_error(); !error.empty()) {
      return std::unexpected("FAIL: " + std::string(kRowNames[full_row]) + " (round " +
                             std::to_string(round) + "): " + error);
    }
    print_run(round, options.repeat, full_row, full->measurement, pipeline_detail(*full));
    runs.rows[full_row].push_back(full->measurement);

    RawLmdbOptions l;
    l.parent_dir = options.dir;
    l.frames = full->measurement.frames;
    l.bytes = full->measurement.bytes;
    l.batches = full->measurement.batches;
    l.durability = durability;
    auto lmdb = run_raw_lmdb(l);
    if (!lmdb) return std::unexpected(lmdb.error());
    char detail[96];
    std::snprintf(
        detail, sizeof detail, "  (%llu records of ~%llu B)",
        static_cast<unsigned long long>(lmdb->batches),
        static_cast<unsigned long long>(lmdb->bytes / std::max<uint64_t>(lmdb->batches, 1)));
    print_run(round, options.repeat, lmdb_row, *lmdb, detail);
    runs.rows[lmdb_row].push_back(*lmdb);
    return {};
  };
  auto raw_zmq = [&]() -> std::expected<void, std::string> {
    RawZmqOptions z;
    z.messages = options.frames;
    auto zmq = run_raw_zmq(z);
    if (!zmq) return std::unexpected(zmq.error());
    print_run(round, options.repeat, kRawZmq, *zmq, "");
    runs.rows[kRawZmq].push_back(*zmq);
    return {};
  };
  for (unsigned i = 0; i < 3; ++i) {
    const unsigned group = (round - 1 + i) % 3;
    auto done = group == 0   ? raw_zmq()
                : group == 1 ? full_then_lmdb(engine::Durability::kNoSync)
                             : full_then_lmdb(engine::Durability::kSync);
    if (!done) return done;
  }
  return {};
}

void print_table(const Runs& runs) {
  const double zmq = runs.median_fps(kRawZmq);
  const double nosync = runs.median_fps(kFullNoSync);
  const std::array<std::string, kRows> ratios = [&] {
    char text[kRows][48];
    std::snprintf(text[kRawZmq], 48, "1.00x (baseline)");
    std::snprintf(text[kRawLmdbNoSync], 48, "%.2fx raw zmq",
                  ratio(runs.median_fps(kRawLmdbNoSync), zmq));
    std::snprintf(text[kRawLmdbSync], 48, "%.2fx raw lmdb nosync",
                  ratio(runs.median_fps(kRawLmdbSync), runs.median_fps(kRawLmdbNoSync)));
    std::snprintf(text[kFullNoSync], 48, "%.2fx raw zmq", ratio(nosync, zmq));
    std::snprintf(text[kFullSync], 48, "%.2fx full path nosync",
                  ratio(runs.median_fps(kFullSync), nosync));
    return std::array<std::string, kRows>{text[0], text[1], text[2], text[3], text[4]};
  }();

  std::printf("\n%-22s %10s %9s %9s %10s %16s  %s\n", "measurement", "frames", "MB", "batches",
              "median s", "median frames/s", "ratio");
  for (size_t row = 0; row < kRows; ++row) {
    const Measurement& m = runs.median_run(static_cast<Row>(row));
    std::printf("%-22s %10llu %9.1f %9llu %10.3f %16s  %s\n", kRowNames[row],
                static_cast<unsigned long long>(m.frames), static_cast<double>(m.bytes) / 1e6,
                static_cast<unsigned long long>(m.batches),
                runs.median_seconds(static_cast<Row>(row)),
                grouped(runs.median_fps(static_cast<Row>(row))).c_str(), ratios[row].c_str());
  }
}

}  // namespace

int run_pipeline_suite(const SuiteOptions& options) {
  std::printf(
      "odds-bench pipeline: %llu frames per measurement, %u round(s), medians quoted; "
      "%zu producer(s), max batch %zu frames, %ld CPUs; scratch under %s (%s)\n",
      static_cast<unsigned long long>(options.frames), options.repeat, options.producers,
      options.max_batch_frames, ::sysconf(_SC_NPROCESSORS_ONLN), options.dir.c_str(),
      filesystem_of(options.dir).c_str());
  std::fflush(stdout);

  Runs runs;
  for (unsigned round = 1; round <= options.repeat; ++round) {
    if (auto done = run_round(options, round, runs); !done) {
      std::fprintf(stderr, "odds-bench: %s\n", done.error().c_str());
      return 1;
    }
  }
  print_table(runs);

  const double zmq = runs.median_fps(kRawZmq);
  const double nosync = runs.median_fps(kFullNoSync);
  const double sync = runs.median_fps(kFullSync);
  const double nosync_vs_zmq = ratio(nosync, zmq);
  const double sync_vs_nosync = ratio(sync, nosync);
  const bool nosync_met = nosync_vs_zmq >= kNoSyncVsZmqTarget;
  const bool sync_met = sync_vs_nosync >= kSyncVsNoSyncTarget;
  std::printf("\nratios (targets are reported, not enforced):\n");
  std::printf("  full path nosync / raw zmq          %6.2fx   target >= %.1fx   %s\n",
              nosync_vs_zmq, kNoSyncVsZmqTarget, nosync_met ? "MET" : "NOT MET");
  std::printf("  full path sync / full path nosync   %6.2fx   target >= %.1fx   %s\n",
              sync_vs_nosync, kSyncVsNoSyncTarget, sync_met ? "MET" : "NOT MET");
  std::printf("  full path nosync / raw lmdb nosync  %6.2fx   (information)\n",
              ratio(nosync, runs.median_fps(kRawLmdbNoSync)));
  std::printf("  full path sync / raw lmdb sync      %6.2fx   (information)\n",
              ratio(sync, runs.median_fps(kRawLmdbSync)));
  std::printf(
      "integrity: %u full-path run(s), the subscriber verified (CRC32C + FlatBuffers verifier) "
      "and applied every seq exactly once: 0 gaps, 0 duplicates, 0 missing\n\n",
      options.repeat * 2);

  std::string json = "{\"bench\":\"pipeline\",\"frames\":" + std::to_string(options.frames) +
                     ",\"repeat\":" + std::to_string(options.repeat) + ",\"results\":{";
  for (size_t row = 0; row < kRows; ++row) {
    const Measurement& m = runs.median_run(static_cast<Row>(row));
    char entry[256];
    std::snprintf(
        entry, sizeof entry,
        "%s\"%s\":{\"frames\":%llu,\"bytes\":%llu,\"batches\":%llu,"
        "\"median_seconds\":%.6f,\"median_fps\":%.0f}",
        row == 0 ? "" : ",", kRowKeys[row], static_cast<unsigned long long>(m.frames),
        static_cast<unsigned long long>(m.bytes), static_cast<unsigned long long>(m.batches),
        runs.median_seconds(static_cast<Row>(row)), runs.median_fps(static_cast<Row>(row)));
    json += entry;
  }
  char tail[384];
  std::snprintf(tail, sizeof tail,
                "},\"ratios\":{\"full_nosync_vs_raw_zmq\":%.3f,\"full_sync_vs_full_nosync\":%.3f},"
                "\"targets\":{\"full_nosync_vs_raw_zmq\":{\"target\":%.1f,\"met\":%s},"
                "\"full_sync_vs_full_nosync\":{\"target\":%.1f,\"met\":%s}},\"integrity\":\"ok\"}",
                nosync_vs_zmq, sync_vs_nosync, kNoSyncVsZmqTarget, nosync_met ? "true" : "false",
                kSyncVsNoSyncTarget, sync_met ? "true" : "false");
  json += tail;
  std::printf("%s\n", json.c_str());
  return 0;
}

}  // namespace oddsbus::bench
