#include "engine/file_ingest.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>

#include "engine/restore.h"
#include "feeds/adapter.h"
#include "feeds/line_splitter.h"
#include "feeds/source_selector.h"
#include "schemas/log.h"

namespace oddsbus::engine {

uint64_t IngestSummary::rejected_total() const {
  uint64_t total = 0;
  for (const uint64_t n : rejected) total += n;
  return total;
}

namespace {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

std::expected<std::string, std::string> resolve_ingest_feed_name(const IngestOptions& options) {
  if (options.mapping == nullptr) return options.feed_name;
  std::set<std::string> names;    // every feed with a provider section
  std::set<std::string> fitting;  // those whose sections fit the format
  for (const feeds::MarketMapping& market : options.mapping->markets()) {
    for (const feeds::ProviderMarketMapping& provider : market.providers) {
      names.insert(provider.feed);
      // uof-xml names a market within a provider event; betfair-stream (and oddsjson) do not.
      if (provider.event.empty() == (options.format != "uof-xml")) fitting.insert(provider.feed);
    }
  }
  if (!options.feed_name.empty()) {
    // An oddsjson feed carries canonical ids: it may be a feed the mapping does not list (its
    // events for mapped markets are then ignored, as a node ignores them).
    if (names.contains(options.feed_name) || options.format == "oddsjson") {
      return options.feed_name;
    }
    return std::unexpected("the mapping has no [market.provider." + options.feed_name +
                           "] section for --feed-name " + options.feed_name +
                           " (it has: " + joined(names) + ")");
  }
  if (fitting.size() == 1) return *fitting.begin();
  if (fitting.empty()) {
    return std::unexpected("the mapping has no provider section that fits " + options.format +
                           " (it has: " + joined(names) + "): choose one with --feed-name NAME");
  }
  return std::unexpected("the mapping names several feeds that fit " + options.format + " (" +
                         joined(fitting) + "): choose one with --feed-name NAME");
}

std::expected<std::string, std::string> check_ingest_options(const IngestOptions& options) {
  if (options.format != "oddsjson" && options.format != "betfair-stream" &&
      options.format != "uof-xml") {
    return std::unexpected("format '" + options.format +
                           "' is not supported by ingest (supported: oddsjson, betfair-stream, "
                           "uof-xml)");
  }
  if (options.mapping == nullptr && options.format != "oddsjson") {
    return std::unexpected("--format " + options.format +
                           " needs --mapping FILE to map provider ids to canonical ids");
  }
  auto name = resolve_ingest_feed_name(options);
  if (!name) return std::unexpected(name.error());
  auto adapter = feeds::make_adapter(options.format, *name, options.mapping);
  if (!adapter) return std::unexpected(adapter.error());
  return name;
}

std::expected<IngestSummary, std::string> ingest_files(Journal& journal,
                                                       std::span<const std::string> files,
                                                       const IngestOptions& options) {
  auto feed_name = check_ingest_options(options);
  if (!feed_name) return std::unexpected(feed_name.error());
  auto made = feeds::make_adapter(options.format, *feed_name, options.mapping);
  if (!made) return std::unexpected(made.error());
  feeds::Adapter& adapter = **made;

  auto restored = restore_sequencer(journal);
  if (!restored) return std::unexpected(restored.error());
  Sequencer& sequencer = **restored;

  // As engine/node.cpp: a selector with or without a mapping (unmapped markets pass through),
  // with the node's defaults; time stands still (kIngestClockNs), so no source goes stale.
  const feeds::Mapping no_mapping;
  feeds::SourceSelector selector(options.mapping != nullptr ? *options.mapping : no_mapping,
                                 feeds::SourceSelectorConfig{});

  IngestSummary summary;
  summary.feed_name = *feed_name;
  BatchWriter batch;
  std::vector<feeds::Event> events;
  std::vector<feeds::Event> selected;
  LogLimiter reject_log;
  std::string failure;
  sequencer.begin_batch(batch);

  auto commit = [&]() -> bool {
    if (batch.empty()) return true;
    const uint64_t first = batch.first_seq();
    const uint64_t last = first + batch.count() - 1;
    if (auto ok = journal.append(first, last, batch.bytes()); !ok) {
      failure = ok.error();
      return false;
    }
    if (summary.first_seq == 0) summary.first_seq = first;
    sequencer.begin_batch(batch);
    return true;
  };
  auto write_error = [&] {
    return std::unexpected("cannot write journal " + journal.dir() + ": " + failure);
  };

  if (options.mapping != nullptr) {
    // The mapping defines its markets, suspended until a source is heard (as a node does).
    selector.definitions(events);
    for (const feeds::Event& e : events) {
      if (sequencer.sequence(e, wall_clock_ns(), batch)) ++summary.definitions;
    }
    events.clear();
  }
  // The feed is connected (a node's link reports this when its first line connects).
  feeds::Event connected;
  connected.type = feeds::EventType::kSourceStatus;
  connected.source = *feed_name;
  connected.source_up = true;
  selector.on_event(connected, kIngestClockNs, selected);
  for (const feeds::Event& e : selected) sequencer.sequence(e, wall_clock_ns(), batch);
  selected.clear();
  if (!commit()) return write_error();

  std::vector<char> buffer(1 << 20);
  for (const std::string& path : files) {
    std::unique_ptr<FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    if (!file) return std::unexpected("cannot read " + path + ": " + std::strerror(errno));
    feeds::LineSplitter splitter(options.max_line);
    uint64_t line_number = 0;
    auto reject = [&](feeds::RejectReason reason, const std::string& detail) {
      ++summary.rejected[static_cast<size_t>(reason)];
      if (reject_log.allow(wall_clock_ns())) {
        log(LogLevel::kWarn, "%s:%" PRIu64 ": rejected: %s%s%s", path.c_str(), line_number,
            feeds::to_string(reason).data(), detail.empty() ? "" : ": ", detail.c_str());
      }
    };
    auto on_line = [&](std::string_view line, bool too_long) {
      if (!failure.empty()) return;
      ++line_number;
      ++summary.lines;
      if (too_long) {
        reject(feeds::RejectReason::kLineTooLong, "");
        return;
      }
      events.clear();
      if (auto parsed = adapter.parse(line, events); !parsed) {
        reject(parsed.error().reason, parsed.error().detail);
        return;
      }
      bool ok = true;
      for (feeds::Event& e : events) {
        e.source = *feed_name;  // as a node's provider thread does
        if (e.source.empty()) e.source = e.provider;
        selected.clear();
        selector.on_event(e, kIngestClockNs, selected);
        for (const feeds::Event& s : selected) {
          if (auto sequenced = sequencer.sequence(s, wall_clock_ns(), batch); !sequenced) {
            reject(sequenced.error(), "market " + std::to_string(s.market));
            ok = false;
          }
        }
      }
      if (ok) ++summary.accepted;
      if (batch.count() >= options.batch_frames) commit();
    };
    while (true) {
      const size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
      if (n == 0) {
        if (std::ferror(file.get())) return std::unexpected("error reading " + path);
        break;
      }
      splitter.feed(std::string_view(buffer.data(), n), on_line);
      if (!failure.empty()) return write_error();
    }
    splitter.feed("\n", on_line);  // a last line without a terminator still counts
    if (!failure.empty()) return write_error();
  }
  if (!commit()) return write_error();
  const feeds::AdapterCounters& counters = adapter.counters();
  summary.heartbeats = counters.heartbeats;
  summary.unknown_markets = counters.unknown_markets;
  summary.unknown_selections = counters.unknown_selections;
  summary.unknown_ids = adapter.unknown_ids();
  summary.last_seq = journal.last_seq();
  return summary;
}

}  // namespace oddsbus::engine
