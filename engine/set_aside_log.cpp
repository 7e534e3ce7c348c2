#include "engine/set_aside_log.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <tuple>
#include <unordered_map>

#include "engine/frame_market.h"
#include "engine/journal_scan.h"
#include "schemas/batch.h"
#include "schemas/frame_json.h"

namespace oddsbus::engine {
namespace {

// (epoch, from seq) from "epoch-E-from-S.batches"; nullopt for any other name.
std::optional<std::pair<uint64_t, uint64_t>> order_of(const std::string& name) {
  unsigned long long epoch = 0;
  unsigned long long from = 0;
  int used = 0;
  if (std::sscanf(name.c_str(), "epoch-%llu-from-%llu.batches%n", &epoch, &from, &used) != 2 ||
      static_cast<size_t>(used) != name.size()) {
    return std::nullopt;
  }
  return std::pair<uint64_t, uint64_t>{epoch, from};
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

// Streams one set-aside file's batches, checking each; visit(frame) per frame.
template <typename F>
std::expected<SetAsideReport, std::string> read_file(const std::string& path, F&& visit) {
  std::unique_ptr<FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) return std::unexpected("cannot read " + path + ": " + std::strerror(errno));
  SetAsideReport report;
  report.path = path;
  std::vector<uint8_t> bytes;
  BatchReader reader;
  auto bad = [&](uint64_t seq, std::string problem) {
    report.bad_seq = seq;
    report.problem = std::move(problem);
    return report;
  };
  for (;;) {
    const uint64_t expected = report.last_seq + 1;
    uint64_t size = 0;
    const size_t got = std::fread(&size, 1, sizeof size, file.get());
    if (got == 0 && std::feof(file.get())) break;
    if (got != sizeof size) return bad(expected, "truncated length prefix");
    if (size < kBatchHeaderSize || size > (uint64_t{1} << 32)) {
      return bad(expected, "implausible batch length " + std::to_string(size));
    }
    bytes.resize(size);
    if (std::fread(bytes.data(), 1, size, file.get()) != size) {
      return bad(expected, "truncated batch");
    }
    auto opened = reader.open(bytes);
    // The frames before a bad one checked whole: report them as read.
    const auto frames = reader.frames();
    const uint64_t first = frames.empty() ? 0 : frames.front()->seq();
    if (report.batches > 0 && !frames.empty() && first != expected) {
      return bad(expected,
                 "seq does not continue: the next batch begins at seq " + std::to_string(first));
    }
    bool stopped = false;
    for (const fb::Frame* frame : frames) {
      if (report.first_seq == 0) report.first_seq = frame->seq();
      report.last_seq = frame->seq();
      report.last_epoch = frame->epoch();
      ++report.frames;
      if (!stopped && !visit(*frame)) stopped = true;
    }
    if (!opened) {
      return bad(opened.error().seq, std::string(to_string(opened.error().error)));
    }
    ++report.batches;
    if (stopped) break;
  }
  report.ok = true;
  return report;
}

}  // namespace

std::vector<std::string> set_aside_files(const std::string& journal_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(journal_dir) / "set-aside", ec)) {
    if (entry.is_regular_file(ec)) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    const auto oa = order_of(a);
    const auto ob = order_of(b);
    if (oa && ob) return std::tie(*oa, a) < std::tie(*ob, b);
    if (oa || ob) return oa.has_value();
    return a < b;
  });
  std::vector<std::string> paths;
  for (const auto& name : names) {
    paths.push_back((std::filesystem::path(journal_dir) / "set-aside" / name).string());
  }
  return paths;
}

std::expected<SetAsideReport, std::string> verify_set_aside(const std::string& path) {
  return read_file(path, [](const fb::Frame&) { return true; });
}

std::expected<void, std::string> scan_set_aside(const std::string& journal_dir, SetAsideVisit visit,
                                                void* ctx) {
  for (const std::string& path : set_aside_files(journal_dir)) {
    bool stopped = false;
    auto read = read_file(path, [&](const fb::Frame& frame) {
      stopped = !visit(ctx, path, frame);
      return !stopped;
    });
    if (!read) return std::unexpected(read.error());
    if (!read->ok) {
      return std::unexpected("set-aside file " + path + " is damaged at seq " +
                             std::to_string(read->bad_seq) + ": " + read->problem);
    }
    if (stopped) break;
  }
  return {};
}

std::expected<uint64_t, std::string> write_set_aside_events(const Journal& journal,
                                                            const EventsQuery& query, FILE* out,
                                                            const TimeRange& times) {
  std::unordered_map<uint64_t, uint64_t> event_of_market;
  auto note_definition = [&](const fb::Frame& frame) {
    if (frame.payload_type() == fb::Payload::MarketDefinition) {
      const auto* def = frame.payload_as_MarketDefinition();
      event_of_market[def->market()] = def->event();
    }
  };
  if (query.market) {
    auto scanned = scan_frames(journal, 1, kNoLimit, [&](const fb::Frame& frame) {
      note_definition(frame);
      return true;
    });
    if (!scanned) {
      return std::unexpected("journal " + journal.dir() + " is damaged at seq " +
                             std::to_string(scanned.error().seq) + ": " + scanned.error().problem +
                             " (run odds-replay verify)");
    }
  }
  uint64_t written = 0;
  std::string line;
  auto scanned =
      scan_set_aside(journal.dir(), [&](const std::string& path, const fb::Frame& frame) {
        note_definition(frame);
        if (frame.seq() < query.from_seq || frame.seq() > query.to_seq) return true;
        if (times.from_ns && frame.sequenced_ns() < *times.from_ns) return true;
        if (times.to_ns && frame.sequenced_ns() > *times.to_ns) return true;
        if (query.market) {
          const auto market = market_of(frame);
          const auto event = event_of_market.find(*query.market);
          const bool event_wide = frame.payload_type() == fb::Payload::EventSuspension &&
                                  event != event_of_market.end() &&
                                  event->second == frame.payload_as_EventSuspension()->event();
          if (market != query.market && !event_wide) return true;
        }
        line.clear();
        append_frame_json(line, frame);
        if (!line.empty() && line.back() == '}') {
          line.pop_back();
          line += ", \"set_aside\": \"" + std::filesystem::path(path).filename().string() + "\"}";
        }
        line.push_back('\n');
        std::fwrite(line.data(), 1, line.size(), out);
        ++written;
        return true;
      });
  if (!scanned) return std::unexpected(scanned.error());
  return written;
}

}  // namespace oddsbus::engine
