#include "tools/bench/feeds_suite.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tools/bench/feeds_bench.h"
#include "tools/bench/report_format.h"

namespace oddsbus::bench {
namespace {

constexpr double kAdapterVsBareTarget = 0.5;
constexpr std::array<const char*, 3> kSimFormats = {"oddsjson", "betfair-stream", "uof-xml"};

enum Side : size_t { kAdapter, kBare, kSides };

const char* side_name(const FeedCorpus& corpus, Side side) {
  if (side == kAdapter) return "adapter";
  return corpus.bare == BareParser::kSimdjson ? "bare simdjson" : "bare pugixml";
}

// Every run of one corpus, kept to take medians.
struct CorpusRuns {
  FeedCorpus corpus;
  std::array<std::vector<FeedRun>, kSides> runs;

  double median_seconds(Side side) const {
    std::vector<double> v;
    for (const FeedRun& r : runs[side]) v.push_back(r.seconds);
    return median(v);
  }
  double median_mps(Side side) const {
    std::vector<double> v;
    for (const FeedRun& r : runs[side]) v.push_back(r.messages_per_second());
    return median(v);
  }
  double median_mbps(Side side) const {
    std::vector<double> v;
    for (const FeedRun& r : runs[side]) v.push_back(r.megabytes_per_second());
    return median(v);
  }
  double adapter_vs_bare() const { return ratio(median_mps(kAdapter), median_mps(kBare)); }
  // Counts are the same in every run; the first one speaks for all.
  const FeedRun& first(Side side) const { return runs[side].front(); }
};

void print_run(unsigned round, unsigned rounds, const FeedCorpus& corpus, Side side,
               const FeedRun& run) {
  std::printf("  round %u/%u  %-24s %-14s %9llu msgs  %8.3f s  %12s msgs/s  %8.1f MB/s\n", round,
              rounds, corpus.name.c_str(), side_name(corpus, side),
              static_cast<unsigned long long>(run.messages), run.seconds,
              grouped(run.messages_per_second()).c_str(), run.megabytes_per_second());
  std::fflush(stdout);
}

std::expected<void, std::string> run_side(unsigned round, unsigned rounds, CorpusRuns& c,
                                          Side side) {
  auto run = side == kAdapter ? run_adapter_parse(c.corpus) : run_bare_parse(c.corpus);
  if (!run) return std::unexpected(run.error());
  print_run(round, rounds, c.corpus, side, *run);
  c.runs[side].push_back(*run);
  return {};
}

std::expected<std::vector<CorpusRuns>, std::string> make_corpora(const FeedsOptions& options) {
  std::vector<CorpusRuns> corpora;
  for (const char* format : kSimFormats) {
    auto corpus = make_sim_corpus(format, options.messages);
    if (!corpus) return std::unexpected(std::string(format) + ": " + corpus.error());
    corpora.push_back(CorpusRuns{std::move(*corpus), {}});
  }
  if (!options.capture.empty() && std::filesystem::exists(options.capture)) {
    auto corpus = make_capture_corpus(options.capture, options.messages);
    if (!corpus) return std::unexpected(corpus.error());
    corpora.push_back(CorpusRuns{std::move(*corpus), {}});
  }
  return corpora;
}

// Empty when every message of the corpus parsed and every id was mapped; otherwise what went
// wrong.
std::string integrity_error(const CorpusRuns& c) {
  const FeedRun& adapter = c.first(kAdapter);
  const FeedRun& bare = c.first(kBare);
  char text[256];
  if (adapter.rejected != 0 || adapter.unknown != 0 || adapter.events == 0) {
    std::snprintf(text, sizeof text,
                  "%s: the adapter rejected %llu of %llu messages, met %llu unknown ids and made "
                  "%llu events",
                  c.corpus.name.c_str(), static_cast<unsigned long long>(adapter.rejected),
                  static_cast<unsigned long long>(adapter.messages),
                  static_cast<unsigned long long>(adapter.unknown),
                  static_cast<unsigned long long>(adapter.events));
    return text;
  }
  if (bare.rejected != 0) {
    std::snprintf(text, sizeof text, "%s: %s failed on %llu of %llu messages",
                  c.corpus.name.c_str(), side_name(c.corpus, kBare),
                  static_cast<unsigned long long>(bare.rejected),
                  static_cast<unsigned long long>(bare.messages));
    return text;
  }
  return "";
}

void print_table(const std::vector<CorpusRuns>& corpora) {
  std::printf("\n%-24s %-14s %10s %8s %10s %9s %14s %9s  %s\n", "corpus", "parser", "messages",
              "MB", "events", "median s", "median msgs/s", "MB/s", "ratio");
  for (const CorpusRuns& c : corpora) {
    for (size_t s = 0; s < kSides; ++s) {
      const Side side = static_cast<Side>(s);
      const FeedRun& run = c.first(side);
      char ratio_text[48] = "1.00x (baseline)";
      if (side == kAdapter)
        std::snprintf(ratio_text, sizeof ratio_text, "%.2fx bare", c.adapter_vs_bare());
      std::printf("%-24s %-14s %10llu %8.1f %10llu %9.3f %14s %9.1f  %s\n",
                  side == kAdapter ? c.corpus.name.c_str() : "", side_name(c.corpus, side),
                  static_cast<unsigned long long>(run.messages),
                  static_cast<double>(run.bytes) / 1e6, static_cast<unsigned long long>(run.events),
                  c.median_seconds(side), grouped(c.median_mps(side)).c_str(), c.median_mbps(side),
                  ratio_text);
    }
  }
}

std::string json_line(const FeedsOptions& options, const std::vector<CorpusRuns>& corpora) {
  std::string json = "{\"bench\":\"feeds\",\"messages\":" + std::to_string(options.messages) +
                     ",\"repeat\":" + std::to_string(options.repeat) + ",\"results\":{";
  for (size_t i = 0; i < corpora.size(); ++i) {
    const CorpusRuns& c = corpora[i];
    const double r = c.adapter_vs_bare();
    char entry[512];
    std::snprintf(entry, sizeof entry,
                  "%s\"%s\":{\"format\":\"%s\",\"messages\":%llu,\"bytes\":%llu,\"events\":%llu,"
                  "\"adapter\":{\"median_seconds\":%.6f,\"median_mps\":%.0f,\"median_mbps\":%.1f},"
                  "\"bare\":{\"parser\":\"%s\",\"median_seconds\":%.6f,\"median_mps\":%.0f,"
                  "\"median_mbps\":%.1f},\"ratio\":%.3f,\"target\":%.1f,\"met\":%s}",
                  i == 0 ? "" : ",", c.corpus.key.c_str(), c.corpus.format.c_str(),
                  static_cast<unsigned long long>(c.first(kAdapter).messages),
                  static_cast<unsigned long long>(c.first(kAdapter).bytes),
                  static_cast<unsigned long long>(c.first(kAdapter).events),
                  c.median_seconds(kAdapter), c.median_mps(kAdapter), c.median_mbps(kAdapter),
                  c.corpus.bare == BareParser::kSimdjson ? "simdjson" : "pugixml",
                  c.median_seconds(kBare), c.median_mps(kBare), c.median_mbps(kBare), r,
                  kAdapterVsBareTarget, r >= kAdapterVsBareTarget ? "true" : "false");
    json += entry;
  }
  json += "},\"integrity\":\"ok\"}";
  return json;
}

}  // namespace

int run_feeds_suite(const FeedsOptions& options) {
  const bool have_capture = !options.capture.empty() && std::filesystem::exists(options.capture);
  std::printf(
      "odds-bench feeds: %llu messages per simulated format, %u round(s), medians quoted; "
      "%ld CPUs; capture %s%s\n",
      static_cast<unsigned long long>(options.messages), options.repeat,
      ::sysconf(_SC_NPROCESSORS_ONLN), options.capture.empty() ? "none" : options.capture.c_str(),
      have_capture ? "" : " (not found: row skipped)");
  std::fflush(stdout);

  const auto made_start = std::chrono::steady_clock::now();
  auto made = make_corpora(options);
  if (!made) {
    std::fprintf(stderr, "odds-bench: %s\n", made.error().c_str());
    return 1;
  }
  std::vector<CorpusRuns>& corpora = *made;
  std::printf("corpora, in memory (%.2f s to generate):\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - made_start).count());
  for (const CorpusRuns& c : corpora) {
    const auto count = c.corpus.messages.size();
    std::printf("  %-24s %9zu msgs  %8.1f MB  %6.0f B/msg  x%u pass(es) per run\n",
                c.corpus.name.c_str(), count, static_cast<double>(c.corpus.message_bytes) / 1e6,
                ratio(static_cast<double>(c.corpus.message_bytes), static_cast<double>(count)),
                c.corpus.passes);
  }
  std::fflush(stdout);

  // Adapter and bare run back to back on each corpus; which goes first alternates by round and
  // corpus, so neither always inherits a warm (or cold) cache.
  for (unsigned round = 1; round <= options.repeat; ++round) {
    for (size_t i = 0; i < corpora.size(); ++i) {
      const bool adapter_first = (round + i) % 2 == 1;
      for (Side side : {adapter_first ? kAdapter : kBare, adapter_first ? kBare : kAdapter}) {
        if (auto done = run_side(round, options.repeat, corpora[i], side); !done) {
          std::fprintf(stderr, "odds-bench: %s\n", done.error().c_str());
          return 1;
        }
      }
    }
  }
  print_table(corpora);

  std::printf("\nratios (targets are reported, not enforced):\n");
  for (const CorpusRuns& c : corpora) {
    const double r = c.adapter_vs_bare();
    const std::string label = c.corpus.name + ": adapter / " + side_name(c.corpus, kBare);
    std::printf("  %-50s %6.2fx   target >= %.1fx   %s\n", label.c_str(), r, kAdapterVsBareTarget,
                r >= kAdapterVsBareTarget ? "MET" : "NOT MET");
  }

  std::string failure;
  for (const CorpusRuns& c : corpora) {
    if (std::string error = integrity_error(c); !error.empty()) {
      failure += failure.empty() ? error : "; " + error;
    }
  }
  if (!failure.empty()) {
    std::fprintf(stderr, "odds-bench: FAIL: %s\n", failure.c_str());
    return 1;
  }
  std::printf(
      "integrity: the adapters accepted every message and mapped every id (0 rejected, 0 "
      "unknown); the bare parsers parsed every message\n\n");
  std::printf("%s\n", json_line(options, corpora).c_str());
  return 0;
}

}  // namespace oddsbus::bench
