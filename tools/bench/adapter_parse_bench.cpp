// The adapter side of the feeds suite: the real adapter over a corpus.
#include <chrono>

#include "feeds/adapter.h"
#include "tools/bench/feeds_bench.h"

namespace oddsbus::bench {

std::expected<FeedRun, std::string> run_adapter_parse(const FeedCorpus& corpus) {
  FeedRun run;
  std::vector<feeds::Event> events;
  events.reserve(64);
  for (unsigned pass = 0; pass < corpus.passes; ++pass) {
    auto adapter = feeds::make_adapter(corpus.format, corpus.feed, corpus.mapping.get());
    if (!adapter) return std::unexpected(corpus.name + ": " + adapter.error());
    feeds::Adapter& parser = **adapter;
    const auto start = std::chrono::steady_clock::now();
    for (std::string_view message : corpus.messages) {
      events.clear();
      if (!parser.parse(message, events)) ++run.rejected;
      run.events += events.size();
      if (!events.empty()) run.checksum += events.back().market + events.back().selection;
    }
    const auto stop = std::chrono::steady_clock::now();
    run.seconds += std::chrono::duration<double>(stop - start).count();
    run.unknown += parser.counters().unknown_markets + parser.counters().unknown_selections;
    run.messages += corpus.messages.size();
    run.bytes += corpus.message_bytes;
  }
  return run;
}

}  // namespace oddsbus::bench
