#include "tools/bench/replay_suite.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/journal.h"
#include "engine/journal_export.h"
#include "engine/journal_scan.h"
#include "engine/journal_snapshot_writer.h"
#include "engine/journal_time_index.h"
#include "engine/market_history.h"
#include "engine/replay.h"
#include "engine/state_diff.h"
#include "schemas/batch.h"
#include "schemas/frame_builder.h"
#include "schemas/odds.h"
#include "schemas/state_digest.h"
#include "tools/bench/bench.h"
#include "tools/bench/report_format.h"

namespace oddsbus::bench {
namespace {

constexpr uint64_t kT0 = 1'795'426'200'000'000'000ull;  // 2026-11-23T09:30:00Z
constexpr uint64_t kFramesPerRecord = 50;
// 5,000 frames/s: the time index scans back over a 1 s window of frames (journal_time_index.h),
// so its cost grows with the journal's frame rate.
constexpr uint64_t kRecordSpacingNs = 10'000'000;
constexpr double kFoldTarget = 5'000'000;  // frames/s folding from seq 1 (issue 13)
// A node's default snapshot interval (engine/journal_snapshot_writer.h, --snapshot-every-frames).
constexpr uint64_t kSnapshotEveryFrames = 10'000;

struct Selection {
  uint64_t id;
  std::string name;
};

// Writes the journal; returns the stamp of every record's first seq for the time queries.
struct Generated {
  uint64_t last_seq = 0;
  uint64_t mid_seq = 0;      // the last seq of the record in the middle
  uint64_t mid_time_ns = 0;  // its stamp
  uint64_t bytes = 0;
};

std::expected<Generated, std::string> generate(engine::Journal& journal,
                                               const ReplayOptions& options) {
  FrameBuilder builder;
  BatchWriter batch(1 << 20);
  Generated out;
  uint64_t seq = 0;
  uint64_t record = 0;
  uint32_t epoch = 1;
  auto header = [&](uint64_t market) {
    return FrameHeader{++seq, epoch, 0, epoch, kT0 + record * kRecordSpacingNs, 0, market};
  };
  auto commit = [&]() -> std::expected<void, std::string> {
    if (batch.empty()) return {};
    auto appended = journal.append(batch.first_seq(), seq, batch.bytes());
    if (!appended) return std::unexpected(appended.error());
    out.bytes += batch.size();
    ++record;
    batch.begin(0, seq + 1);
    return {};
  };
  batch.begin(0, 1);
  const std::vector<Selection> selections = {{1, "Home"}, {2, "Draw"}, {3, "Away"}};
  for (uint64_t m = 1; m <= options.markets; ++m) {
    batch.add(builder.market_definition(header(m), m, 1 + m / 10, "Market " + std::to_string(m),
                                        fb::MarketStatus::Open, selections));
    if (batch.count() == 100) {
      if (auto ok = commit(); !ok) return std::unexpected(ok.error());
    }
  }
  if (auto ok = commit(); !ok) return std::unexpected(ok.error());
  static const char* const kOdds[] = {"1.50", "1.62", "1.75", "1.91", "2.00", "2.10",
                                      "2.25", "2.50", "2.75", "3.00", "3.25", "3.50",
                                      "4.00", "5.00", "7.50", "11.0"};
  std::vector<Odds> odds;
  for (const char* text : kOdds) odds.push_back(*parse_odds(text));
  const uint64_t takeover = options.frames / 2;
  for (uint64_t i = 0; i < options.frames; ++i) {
    const uint64_t market = 1 + (i * 7919) % options.markets;
    if (i == takeover) {
      if (auto ok = commit(); !ok) return std::unexpected(ok.error());
      out.mid_seq = seq;
      out.mid_time_ns = kT0 + (record - 1) * kRecordSpacingNs;
      epoch = 2;
      if (auto set = journal.set_epoch(epoch); !set) return std::unexpected(set.error());
      batch.add(builder.epoch_change(header(0), 1));
    } else if (i % 1000 == 500) {
      batch.add(builder.status(header(market), market, fb::MarketStatus::Suspended,
                               fb::StatusReason::FeedStale));
    } else if (i % 1000 == 900) {
      batch.add(builder.status(header(market), market, fb::MarketStatus::Open,
                               fb::StatusReason::Provider));
    } else {
      batch.add(builder.price(header(market), market, 1 + i % 3, odds[i % odds.size()],
                              kOdds[i % odds.size()], i % 2 == 0 ? "feed-a" : "feed-b"));
    }
    if (batch.count() == kFramesPerRecord) {
      if (auto ok = commit(); !ok) return std::unexpected(ok.error());
    }
  }
  if (auto ok = commit(); !ok) return std::unexpected(ok.error());
  out.last_seq = seq;
  if (out.mid_seq == 0) {
    out.mid_seq = seq;
    out.mid_time_ns = kT0 + (record - 1) * kRecordSpacingNs;
  }
  return out;
}

// One row: a query run `repeat` times; seconds per run.
struct Row {
  std::string name;
  std::string json_key;
  uint64_t frames = 0;  // frames the query reads (0: not a per-frame rate)
  std::function<std::expected<void, std::string>()> run;
  std::vector<double> seconds;
  double median_s() const { return median(seconds); }
};

}  // namespace

int run_replay_suite(const ReplayOptions& options) {
  auto scratch = ScratchDir::create(options.dir);
  if (!scratch) {
    std::fprintf(stderr, "odds-bench replay: %s\n", scratch.error().c_str());
    return 1;
  }
  engine::JournalConfig config;
  config.dir = (scratch->path() / "journal").string();
  auto journal = engine::Journal::open(config);
  if (!journal) {
    std::fprintf(stderr, "odds-bench replay: %s\n", journal.error().c_str());
    return 1;
  }
  const auto made_start = std::chrono::steady_clock::now();
  auto generated = generate(**journal, options);
  if (!generated) {
    std::fprintf(stderr, "odds-bench replay: writing the journal: %s\n", generated.error().c_str());
    return 1;
  }
  const engine::Journal& j = **journal;
  const Generated g = *generated;
  std::fprintf(
      stderr, "odds-bench replay: wrote %s frames (%.1f MB) in %.1f s\n",
      grouped(static_cast<double>(g.last_seq)).c_str(), g.bytes / 1e6,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - made_start).count());

  // Snapshots as a node writes them (every kSnapshotEveryFrames frames, at record ends), by the
  // node's own writer. The fold rows below set ignore_snapshots (their baseline is the fold from
  // seq 1); the "(nearest snapshot)" rows start from one.
  const auto snap_start = std::chrono::steady_clock::now();
  engine::SnapshotPolicy snapshot_policy;
  snapshot_policy.every_frames = kSnapshotEveryFrames;
  snapshot_policy.every_ns = 0;
  engine::SnapshotWriter writer(**journal, snapshot_policy, engine::RetentionPolicy{});
  while (true) {
    auto did = writer.do_work(0, 0);
    if (!did) {
      std::fprintf(stderr, "odds-bench replay: writing snapshots: %s\n", did.error().c_str());
      return 1;
    }
    if (*did == 0) break;
  }
  std::fprintf(
      stderr, "odds-bench replay: wrote %llu snapshots (every %llu frames) in %.1f s\n",
      static_cast<unsigned long long>(writer.counters().written.load()),
      static_cast<unsigned long long>(kSnapshotEveryFrames),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - snap_start).count());

  uint64_t mid_digest = 0;
  uint64_t mid_time_digest = 0;
  uint64_t mid_time_snapshot_digest = 0;
  FILE* devnull = std::fopen("/dev/null", "w");
  std::unique_ptr<FILE, int (*)(FILE*)> devnull_owner(devnull, std::fclose);
  auto fold_to = [&j](engine::StateQuery query,
                      uint64_t* digest) -> std::expected<void, std::string> {
    auto state = engine::state_at(j, query);
    if (!state) return std::unexpected(state.error());
    if (digest != nullptr) *digest = state_digest(*state);
    return {};
  };
  std::vector<Row> rows;
  rows.push_back({"raw LMDB read of every record",
                  "raw_lmdb_read",
                  g.last_seq,
                  [&]() -> std::expected<void, std::string> {
                    engine::JournalReader reader(j);
                    // Every byte is read (summed), as the fold reads every frame.
                    uint64_t bytes = 0;
                    uint64_t sum = 0;
                    auto scanned = reader.scan(1, [&](uint64_t, std::span<const uint8_t> b) {
                      bytes += b.size();
                      size_t i = 0;
                      for (; i + 8 <= b.size(); i += 8) {
                        uint64_t word;
                        std::memcpy(&word, b.data() + i, sizeof word);
                        sum += word;
                      }
                      for (; i < b.size(); ++i) sum += b[i];
                      return true;
                    });
                    if (!scanned) return std::unexpected(scanned.error());
                    if (bytes < g.bytes || sum == 0)
                      return std::unexpected("raw read came up short");
                    return {};
                  },
                  {}});
  rows.push_back({"state at the last seq (full fold from seq 1)",
                  "full_fold",
                  g.last_seq,
                  [&] {
                    return fold_to({g.last_seq, std::nullopt, true}, nullptr);
                  },
                  {}});
  rows.push_back({"state --at-seq MID",
                  "state_at_seq_mid",
                  g.mid_seq,
                  [&] {
                    return fold_to({g.mid_seq, std::nullopt, true}, &mid_digest);
                  },
                  {}});
  rows.push_back({"state --at-time MID (time index)",
                  "state_at_time_mid",
                  g.mid_seq,
                  [&] {
                    return fold_to({std::nullopt, g.mid_time_ns, true}, &mid_time_digest);
                  },
                  {}});
  rows.push_back({"state at the last seq (nearest snapshot)",
                  "state_last_snapshot",
                  g.last_seq,
                  [&] {
                    return fold_to({g.last_seq, std::nullopt, false}, nullptr);
                  },
                  {}});
  rows.push_back({"state --at-time MID (nearest snapshot)",
                  "state_at_time_mid_snapshot",
                  g.mid_seq,
                  [&] {
                    return fold_to({std::nullopt, g.mid_time_ns, false}, &mid_time_snapshot_digest);
                  },
                  {}});
  rows.push_back({"time -> seq by the time index",
                  "time_index_lookup",
                  0,
                  [&]() -> std::expected<void, std::string> {
                    engine::JournalTimeIndex index(j);
                    auto seq = index.last_at_or_before(g.mid_time_ns);
                    if (!seq) return std::unexpected(seq.error().problem);
                    if (*seq != g.mid_seq) return std::unexpected("time index found the wrong seq");
                    return {};
                  },
                  {}});
  rows.push_back({"time -> seq by a scan of stamps",
                  "time_scan_lookup",
                  g.mid_seq,
                  [&]() -> std::expected<void, std::string> {
                    uint64_t found = 0;
                    auto scanned =
                        engine::scan_frames(j, 1, engine::kNoLimit, [&](const fb::Frame& frame) {
                          if (frame.sequenced_ns() > g.mid_time_ns) return false;
                          found = frame.seq();
                          return true;
                        });
                    if (!scanned) return std::unexpected(scanned.error().problem);
                    if (found != g.mid_seq) return std::unexpected("scan found the wrong seq");
                    return {};
                  },
                  {}});
  rows.push_back({"history --market 1",
                  "history",
                  g.last_seq,
                  [&]() -> std::expected<void, std::string> {
                    auto history = engine::market_history(j, 1, 1, g.last_seq);
                    if (!history) return std::unexpected(history.error());
                    return {};
                  },
                  {}});
  rows.push_back({"diff --from-seq MID --to-seq LAST",
                  "diff",
                  g.last_seq,
                  [&]() -> std::expected<void, std::string> {
                    auto diff = engine::diff_journal(j, g.mid_seq, g.last_seq);
                    if (!diff) return std::unexpected(diff.error());
                    return {};
                  },
                  {}});
  rows.push_back({"export --format jsonl (to /dev/null)",
                  "export_jsonl",
                  g.last_seq,
                  [&]() -> std::expected<void, std::string> {
                    engine::ExportQuery query;
                    auto exported = engine::export_journal(j, query, devnull);
                    if (!exported) return std::unexpected(exported.error());
                    return {};
                  },
                  {}});

  for (unsigned round = 0; round < options.repeat; ++round) {
    for (Row& row : rows) {
      const auto start = std::chrono::steady_clock::now();
      auto ran = row.run();
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!ran) {
        std::fprintf(stderr, "odds-bench replay: %s: %s\n", row.name.c_str(), ran.error().c_str());
        return 1;
      }
      row.seconds.push_back(s);
    }
    if (mid_time_snapshot_digest != mid_time_digest) {
      std::fprintf(stderr,
                   "odds-bench replay: state --at-time MID from the nearest snapshot (digest %s) "
                   "differs from the fold from seq 1 (digest %s)\n",
                   digest_hex(mid_time_snapshot_digest).c_str(),
                   digest_hex(mid_time_digest).c_str());
      return 1;
    }
    if (mid_digest != mid_time_digest) {
      std::fprintf(stderr,
                   "odds-bench replay: state --at-time MID (digest %s) differs from state "
                   "--at-seq MID (digest %s)\n",
                   digest_hex(mid_time_digest).c_str(), digest_hex(mid_digest).c_str());
      return 1;
    }
  }

  const double fold_s = rows[1].median_s();
  const double raw_s = rows[0].median_s();
  std::printf(
      "odds-bench replay: %s frames (%s markets, records of %llu frames, %.1f MB), MID = seq %s, "
      "%u round(s), medians quoted\n",
      grouped(static_cast<double>(g.last_seq)).c_str(),
      grouped(static_cast<double>(options.markets)).c_str(),
      static_cast<unsigned long long>(kFramesPerRecord), g.bytes / 1e6,
      grouped(static_cast<double>(g.mid_seq)).c_str(), options.repeat);
  std::printf("%-46s %12s %14s %14s %14s\n", "query", "median ms", "frames/s", "vs full fold",
              "vs raw read");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const double s = row.median_s();
    const std::string rate =
        row.frames > 0 ? grouped(static_cast<double>(row.frames) / s) : std::string("-");
    char vs_fold[32];
    char vs_raw[32];
    std::snprintf(vs_fold, sizeof vs_fold, i == 1 ? "1.00x (base)" : "%.3fx", ratio(s, fold_s));
    std::snprintf(vs_raw, sizeof vs_raw, i == 0 ? "1.00x (base)" : "%.2fx", ratio(s, raw_s));
    std::printf("%-46s %12.3f %14s %14s %14s\n", row.name.c_str(), s * 1e3, rate.c_str(), vs_fold,
                vs_raw);
  }
  const double fold_fps = static_cast<double>(g.last_seq) / fold_s;
  auto row_s = [&rows](const std::string& key) {
    for (const Row& row : rows) {
      if (row.json_key == key) return row.median_s();
    }
    return 0.0;
  };
  const double index_speedup = ratio(row_s("time_scan_lookup"), row_s("time_index_lookup"));
  const double at_time_snapshot_ms = row_s("state_at_time_mid_snapshot") * 1e3;
  std::printf(
      "fold from seq 1: %s frames/s (target >= %s/s: %s), %.1fx the time of the raw LMDB read\n"
      "time -> seq at MID: the time index takes 1/%.1f of the time of a scan of stamps\n"
      "state --at-time MID from the nearest snapshot: %.1f ms (target < 50 ms on a "
      "10,000,000-frame "
      "journal: --frames 10000000)\n"
      "(ratios are time over the baseline's time: below 1 is faster)\n",
      grouped(fold_fps).c_str(), grouped(kFoldTarget).c_str(),
      fold_fps >= kFoldTarget ? "met" : "missed", ratio(fold_s, raw_s), index_speedup,
      at_time_snapshot_ms);
  std::string json = "{\"suite\":\"replay\",\"frames\":" + std::to_string(g.last_seq) +
                     ",\"repeat\":" + std::to_string(options.repeat) + ",\"median_ms\":{";
  for (size_t i = 0; i < rows.size(); ++i) {
    char value[64];
    std::snprintf(value, sizeof value, "%s\"%s\":%.3f", i == 0 ? "" : ",", rows[i].json_key.c_str(),
                  rows[i].median_s() * 1e3);
    json += value;
  }
  char tail[160];
  std::snprintf(tail, sizeof tail,
                "},\"fold_fps\":%.0f,\"fold_target\":%.0f,\"met\":%s,\"time_index_speedup\":%.1f}",
                fold_fps, kFoldTarget, fold_fps >= kFoldTarget ? "true" : "false", index_speedup);
  json += tail;
  std::printf("%s\n", json.c_str());
  return 0;
}

}  // namespace oddsbus::bench
