#include "engine/replay.h"

#include <algorithm>
#include <unordered_map>

#include "engine/frame_market.h"
#include "engine/journal_cursor.h"
#include "engine/journal_damage.h"
#include "engine/journal_snapshot.h"
#include "engine/journal_time_index.h"
#include "schemas/frame_json.h"
#include "schemas/state_digest.h"
#include "schemas/state_json.h"

namespace oddsbus::engine {

namespace {

// Whether two snapshot states are the same state (what the state JSON shows, and the digest's
// fields), with the same epoch start and price sources.
bool same_snapshot(const SnapshotState& a, const SnapshotState& b) {
  std::string json_a;
  std::string json_b;
  append_state_json(json_a, a.state);
  append_state_json(json_b, b.state);
  return json_a == json_b && a.state.seq() == b.state.seq() && a.state.epoch() == b.state.epoch() &&
         a.epoch_start == b.epoch_start && a.price_sources == b.price_sources &&
         state_digest(a.state) == state_digest(b.state);
}

}  // namespace

VerifyReport verify_journal(const Journal& journal) {
  VerifyReport report;
  auto first = log_first_seq(journal);
  auto seqs = snapshot_seqs(journal);
  if (!first || !seqs) {
    report.fault = {1, !first ? first.error() : seqs.error()};
    return report;
  }
  // Where to start: seq 1, or the snapshot the log was pruned behind.
  SnapshotState fold;
  ScanStart start;
  if (*first > 1 && journal.last_seq() > 0) {
    auto nearest = nearest_snapshot(journal, *first - 1);
    if (!nearest || !nearest->snapshot || nearest->snapshot->state.seq() != *first - 1) {
      report.fault = {*first,
                      "log begins at seq " + std::to_string(*first) +
                          " (pruned) but the snapshot at seq " + std::to_string(*first - 1) +
                          " it was pruned behind is " +
                          (nearest && nearest->corrupt_skipped > 0 ? "damaged" : "missing")};
      return report;
    }
    fold = std::move(*nearest->snapshot);
    start = {fold.state.seq(), fold.state.epoch()};
    ++report.snapshots_checked;
  }
  report.first_seq = start.after_seq + 1;
  // Snapshots to compare with the fold, ascending; those before the start were pruned with the log.
  std::vector<uint64_t> pending;
  for (uint64_t seq : *seqs) {
    if (seq > start.after_seq) pending.push_back(seq);
  }
  size_t next = 0;
  std::optional<JournalFault> snapshot_fault;
  JournalReader snapshots(journal);
  // Compares the snapshot at the fold's seq with the fold; false (with a fault) when they differ.
  auto check_snapshot = [&]() {
    const uint64_t seq = pending[next++];
    std::string problem;
    auto read = snapshots.scan_snapshots(seq, JournalReader::Direction::kDown,
                                         [&](uint64_t key, std::span<const uint8_t> record) {
                                           auto decoded = decode_snapshot_record(record, key);
                                           if (!decoded) {
                                             problem = "damaged: " + decoded.error();
                                           } else if (!same_snapshot(*decoded, fold)) {
                                             problem = "differs from the state its frames fold to";
                                           }
                                           return false;
                                         });
    if (!read) problem = read.error();
    if (problem.empty()) {
      ++report.snapshots_checked;
      return true;
    }
    snapshot_fault = JournalFault{seq, "snapshot at seq " + std::to_string(seq) + " " + problem};
    return false;
  };
  auto scanned = scan_frames(journal, start, 1, kNoLimit, [&](const fb::Frame& frame) {
    if (next < pending.size()) fold.apply(frame);  // folding costs only while snapshots remain
    while (next < pending.size() && pending[next] == frame.seq()) {
      if (!check_snapshot()) return false;
    }
    return true;
  });
  if (snapshot_fault) {
    report.fault = *snapshot_fault;
    return report;
  }
  if (!scanned) {
    report.fault = scanned.error();
    return report;
  }
  report.stats = *scanned;
  if (report.stats.frames == 0) {
    report.stats.last_seq = start.after_seq;
    report.stats.last_epoch = start.epoch;
  }
  if (next < pending.size()) {
    report.fault = {pending[next], "snapshot at seq " + std::to_string(pending[next]) +
                                       " lies past the log's end"};
    return report;
  }
  if (report.stats.last_seq != journal.last_seq()) {
    report.fault = {report.stats.last_seq + 1, "log ends early"};
    return report;
  }
  if (report.stats.last_epoch > journal.epoch()) {
    report.fault = {report.stats.last_seq,
                    "frames carry epoch " + std::to_string(report.stats.last_epoch) +
                        " above the journal's epoch " + std::to_string(journal.epoch())};
    return report;
  }
  report.ok = true;
  return report;
}

std::expected<SeqRange, std::string> seq_range_for_times(const Journal& journal,
                                                         std::optional<uint64_t> from_ns,
                                                         std::optional<uint64_t> to_ns) {
  SeqRange range{1, journal.last_seq()};
  JournalTimeIndex index(journal);
  if (from_ns) {
    auto first = index.first_at_or_after(*from_ns);
    if (!first) return std::unexpected(damage_message(journal, first.error()));
    range.from_seq = *first;
  }
  if (to_ns) {
    auto last = index.last_at_or_before(*to_ns);
    if (!last) return std::unexpected(damage_message(journal, last.error()));
    range.to_seq = *last;
  }
  return range;
}

std::expected<MarketState, std::string> state_at(const Journal& journal, const StateQuery& query,
                                                 const ReadProgress& progress) {
  uint64_t to_seq = query.at_seq.value_or(kNoLimit);
  if (query.at_seq && *query.at_seq > journal.last_seq()) {
    return std::unexpected("journal " + journal.dir() + " ends at seq " +
                           std::to_string(journal.last_seq()) + "; there is no seq " +
                           std::to_string(*query.at_seq));
  }
  if (query.at_time_ns) {
    auto range = seq_range_for_times(journal, std::nullopt, query.at_time_ns);
    if (!range) return std::unexpected(range.error());
    to_seq = std::min(to_seq, range->to_seq);
  }
  const uint64_t last = journal.last_seq();
  SnapshotStart start;
  if (!query.ignore_snapshots) {
    auto found = fold_start(journal, std::min(to_seq, last));
    if (!found) return std::unexpected(found.error());
    start = std::move(*found);
  }
  const ScanStart from = start.scan();
  MarketState state;
  if (start.snapshot) state = std::move(start.snapshot->state);
  auto scanned = scan_frames(journal, from, 1, to_seq, [&](const fb::Frame& frame) {
    state.apply(frame);
    progress.at(frame.seq(), last);
    return true;
  });
  if (!scanned) return std::unexpected(damage_message(journal, scanned.error()));
  return state;
}

std::expected<uint64_t, std::string> write_events(const Journal& journal, const EventsQuery& query,
                                                  FILE* out, const TimeRange& times,
                                                  const ReadProgress& progress) {
  uint64_t written = 0;
  uint64_t from_seq = query.from_seq;
  uint64_t to_seq = query.to_seq;
  if (times.from_ns || times.to_ns) {
    auto range = seq_range_for_times(journal, times.from_ns, times.to_ns);
    if (!range) return std::unexpected(range.error());
    if (times.from_ns) from_seq = std::max(from_seq, range->from_seq);
    if (times.to_ns) to_seq = std::min(to_seq, range->to_seq);
    if (from_seq > to_seq) return 0;
  }
  const uint64_t last = journal.last_seq();
  std::string line;
  if (!query.market) {
    // Nothing before from_seq is needed: read from there, not from seq 1.
    FrameCursor cursor(journal);
    cursor.seek(from_seq);
    for (;;) {
      auto frame = cursor.next();
      if (!frame) return std::unexpected(damage_message(journal, frame.error()));
      if (*frame == nullptr || (*frame)->seq() > to_seq) break;
      progress.at((*frame)->seq(), last);
      line.clear();
      append_frame_json(line, **frame);
      line.push_back('\n');
      std::fwrite(line.data(), 1, line.size(), out);
      ++written;
    }
    return written;
  }
  std::unordered_map<uint64_t, uint64_t> event_of_market;
  auto scanned = scan_frames(journal, 1, to_seq, [&](const fb::Frame& frame) {
    progress.at(frame.seq(), last);
    if (frame.payload_type() == fb::Payload::MarketDefinition) {
      const auto* def = frame.payload_as_MarketDefinition();
      event_of_market[def->market()] = def->event();
    }
    if (frame.seq() < from_seq) return true;
    if (query.market) {
      const auto market = market_of(frame);
      const bool event_wide =
          frame.payload_type() == fb::Payload::EventSuspension &&
          event_of_market.contains(*query.market) &&
          event_of_market[*query.market] == frame.payload_as_EventSuspension()->event();
      if (market != query.market && !event_wide) return true;
    }
    line.clear();
    append_frame_json(line, frame);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), out);
    ++written;
    return true;
  });
  if (!scanned) return std::unexpected(damage_message(journal, scanned.error()));
  return written;
}

}  // namespace oddsbus::engine
