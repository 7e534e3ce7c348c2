#include "engine/file_ingest.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>

#include "engine/restore.h"
#include "feeds/line_splitter.h"
#include "feeds/oddsjson/parser.h"
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

}  // namespace

std::expected<IngestSummary, std::string> ingest_files(Journal& journal,
                                                       std::span<const std::string> files,
                                                       const IngestOptions& options) {
  if (options.format != "oddsjson") {
    return std::unexpected("format '" + options.format +
                           "' is not supported by ingest (supported: oddsjson)");
  }
  auto restored = restore_sequencer(journal);
  if (!restored) return std::unexpected(restored.error());
  Sequencer& sequencer = **restored;

  IngestSummary summary;
  BatchWriter batch;
  feeds::oddsjson::Parser parser;
  feeds::Event event;
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
      if (auto parsed = parser.parse(line, event); !parsed) {
        reject(parsed.error().reason, parsed.error().detail);
        return;
      }
      auto sequenced = sequencer.sequence(event, wall_clock_ns(), batch);
      if (!sequenced) {
        reject(sequenced.error(), "market " + std::to_string(event.market));
        return;
      }
      ++summary.accepted;
      if (*sequenced == 0) ++summary.heartbeats;
      if (batch.count() >= options.batch_frames) commit();
    };
    while (true) {
      const size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
      if (n == 0) {
        if (std::ferror(file.get())) return std::unexpected("error reading " + path);
        break;
      }
      splitter.feed(std::string_view(buffer.data(), n), on_line);
      if (!failure.empty()) {
        return std::unexpected("cannot write journal " + journal.dir() + ": " + failure);
      }
    }
    splitter.feed("\n", on_line);  // a last line without a terminator still counts
  }
  if (!commit()) return std::unexpected("cannot write journal " + journal.dir() + ": " + failure);
  summary.last_seq = journal.last_seq();
  return summary;
}

}  // namespace oddsbus::engine
