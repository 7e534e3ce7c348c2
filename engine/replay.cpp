#include "engine/replay.h"

#include <unordered_map>

#include "schemas/frame_json.h"

namespace oddsbus::engine {
namespace {

std::string damaged(const Journal& journal, const JournalFault& fault) {
  return "journal " + journal.dir() + " is damaged at seq " + std::to_string(fault.seq) + " (" +
         fault.problem + "); nothing past seq " + std::to_string(fault.seq - 1) +
         " can be read (odds-replay verify names the fault)";
}

// The market a frame touches, if it names one.
std::optional<uint64_t> market_of(const fb::Frame& frame) {
  switch (frame.payload_type()) {
    case fb::Payload::MarketDefinition:
      return frame.payload_as_MarketDefinition()->market();
    case fb::Payload::PriceUpdate:
      return frame.payload_as_PriceUpdate()->market();
    case fb::Payload::MarketStatusUpdate:
      return frame.payload_as_MarketStatusUpdate()->market();
    case fb::Payload::Settlement:
      return frame.payload_as_Settlement()->market();
    case fb::Payload::SettlementRollback:
      return frame.payload_as_SettlementRollback()->market();
    default:
      return std::nullopt;
  }
}

}  // namespace

VerifyReport verify_journal(const Journal& journal) {
  VerifyReport report;
  auto scanned = scan_frames(journal, 1, kNoLimit, [](const fb::Frame&) { return true; });
  if (!scanned) {
    report.fault = scanned.error();
    return report;
  }
  report.stats = *scanned;
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

std::expected<MarketState, std::string> state_at(const Journal& journal, const StateQuery& query) {
  const uint64_t to_seq = query.at_seq.value_or(kNoLimit);
  if (query.at_seq && *query.at_seq > journal.last_seq()) {
    return std::unexpected("journal " + journal.dir() + " ends at seq " +
                           std::to_string(journal.last_seq()) + "; there is no seq " +
                           std::to_string(*query.at_seq));
  }
  MarketState state;
  auto scanned = scan_frames(journal, 1, to_seq, [&](const fb::Frame& frame) {
    if (query.at_time_ns && frame.sequenced_ns() > *query.at_time_ns) return false;
    state.apply(frame);
    return true;
  });
  if (!scanned) return std::unexpected(damaged(journal, scanned.error()));
  return state;
}

std::expected<uint64_t, std::string> write_events(const Journal& journal, const EventsQuery& query,
                                                  FILE* out) {
  uint64_t written = 0;
  std::string line;
  std::unordered_map<uint64_t, uint64_t> event_of_market;
  auto scanned = scan_frames(journal, 1, query.to_seq, [&](const fb::Frame& frame) {
    if (frame.payload_type() == fb::Payload::MarketDefinition) {
      const auto* def = frame.payload_as_MarketDefinition();
      event_of_market[def->market()] = def->event();
    }
    if (frame.seq() < query.from_seq) return true;
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
  if (!scanned) return std::unexpected(damaged(journal, scanned.error()));
  return written;
}

}  // namespace oddsbus::engine
