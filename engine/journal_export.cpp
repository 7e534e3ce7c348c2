#include "engine/journal_export.h"

#include <cinttypes>
#include <unordered_map>

#include "engine/frame_market.h"
#include "engine/journal_cursor.h"
#include "engine/journal_damage.h"
#include "engine/journal_scan.h"
#include "engine/time_text.h"
#include "schemas/append_printf.h"
#include "schemas/market_state.h"
#include "schemas/state_json.h"

namespace oddsbus::engine {
namespace {

constexpr const char* kColumns[] = {
    "seq",    "epoch",  "ts",     "sequenced_ns", "source_ns",     "publisher", "market_seq",
    "type",   "event",  "market", "selection",    "name",          "price_e4",  "odds",
    "source", "status", "reason", "winners",      "previous_epoch"};
constexpr size_t kColumnCount = sizeof kColumns / sizeof kColumns[0];
constexpr const char* kHeader =
    "seq,epoch,ts,sequenced_ns,source_ns,publisher,market_seq,type,event,market,selection,name,"
    "price_e4,odds,source,status,reason,winners,previous_epoch";

// One row: each column's text, and whether it is a JSON number (else a string; empty is null).
struct Row {
  std::string cells[kColumnCount];
  bool numeric[kColumnCount] = {};

  void set_number(size_t column, uint64_t value) {
    cells[column] = std::to_string(value);
    numeric[column] = true;
  }
  void set_text(size_t column, std::string_view value) {
    cells[column].assign(value.data(), value.size());
    numeric[column] = false;
  }
  void clear_payload() {
    for (size_t i = 7; i < kColumnCount; ++i) {
      cells[i].clear();
      numeric[i] = false;
    }
  }
};

enum Column : size_t {
  kSeq,
  kEpoch,
  kTs,
  kSequencedNs,
  kSourceNs,
  kPublisher,
  kMarketSeq,
  kType,
  kEvent,
  kMarket,
  kSelection,
  kName,
  kPriceE4,
  kOdds,
  kSource,
  kStatus,
  kReason,
  kWinners,
  kPreviousEpoch
};

void append_csv_cell(std::string& out, const std::string& cell) {
  if (cell.find_first_of(",\"\r\n") == std::string::npos) {
    out += cell;
    return;
  }
  out.push_back('"');
  for (const char c : cell) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

void append_row(std::string& out, const Row& row, ExportFormat format) {
  if (format == ExportFormat::kCsv) {
    for (size_t i = 0; i < kColumnCount; ++i) {
      if (i > 0) out.push_back(',');
      append_csv_cell(out, row.cells[i]);
    }
    out += "\r\n";
    return;
  }
  out.push_back('{');
  for (size_t i = 0; i < kColumnCount; ++i) {
    append_printf(out, "%s\"%s\": ", i > 0 ? ", " : "", kColumns[i]);
    if (row.cells[i].empty()) {
      out += "null";
    } else if (row.numeric[i]) {
      out += row.cells[i];
    } else {
      append_json_string(out, row.cells[i]);
    }
  }
  out += "}\n";
}

std::string_view text_of(const flatbuffers::String* s) {
  return s != nullptr ? std::string_view(s->c_str(), s->size()) : std::string_view();
}

}  // namespace

const char* export_csv_header() { return kHeader; }

std::expected<uint64_t, std::string> export_journal(const Journal& journal,
                                                    const ExportQuery& query, FILE* out,
                                                    const ReadProgress& progress) {
  uint64_t rows = 0;
  std::string text;
  if (query.format == ExportFormat::kCsv) {
    text = kHeader;
    text += "\r\n";
  }
  std::unordered_map<uint64_t, uint64_t> event_of_market;
  Row row;
  auto emit = [&] {
    append_row(text, row, query.format);
    ++rows;
    if (text.size() > (1 << 16)) {
      std::fwrite(text.data(), 1, text.size(), out);
      text.clear();
    }
  };
  const uint64_t last = journal.last_seq();
  auto visit = [&](const fb::Frame& frame) {
    progress.at(frame.seq(), last);
    const fb::Payload type = frame.payload_type();
    if (type == fb::Payload::MarketDefinition) {
      const auto* def = frame.payload_as_MarketDefinition();
      event_of_market[def->market()] = def->event();
    }
    if (frame.seq() < query.from_seq || type == fb::Payload::Heartbeat) return true;
    const auto market = market_of(frame);
    if (query.market && market && *market != *query.market) return true;
    if (query.market && type == fb::Payload::EventSuspension) {
      const auto it = event_of_market.find(*query.market);
      if (it == event_of_market.end() ||
          it->second != frame.payload_as_EventSuspension()->event()) {
        return true;
      }
    }
    row.set_number(kSeq, frame.seq());
    row.set_number(kEpoch, frame.epoch());
    row.cells[kTs].clear();
    append_iso8601_ns(row.cells[kTs], frame.sequenced_ns());
    row.set_number(kSequencedNs, frame.sequenced_ns());
    row.set_number(kSourceNs, frame.source_ns());
    row.set_number(kPublisher, frame.publisher());
    row.set_number(kMarketSeq, frame.market_seq());
    row.clear_payload();
    if (market) row.set_number(kMarket, *market);
    switch (type) {
      case fb::Payload::MarketDefinition: {
        const auto* def = frame.payload_as_MarketDefinition();
        row.set_text(kType, "market_definition");
        row.set_number(kEvent, def->event());
        row.set_text(kName, text_of(def->name()));
        row.set_text(kStatus, to_string(def->status()));
        emit();
        if (def->selections()) {
          for (const auto* s : *def->selections()) {
            row.set_text(kType, "selection_definition");
            row.set_number(kSelection, s->selection());
            row.set_text(kName, text_of(s->name()));
            emit();
          }
        }
        break;
      }
      case fb::Payload::PriceUpdate: {
        const auto* update = frame.payload_as_PriceUpdate();
        row.set_text(kType, "price");
        row.set_text(kSource, text_of(update->source()));
        if (update->prices()) {
          for (const auto* price : *update->prices()) {
            row.set_number(kSelection, price->selection());
            row.set_number(kPriceE4, price->price_e4());
            row.set_text(kOdds, text_of(price->original()));
            emit();
          }
        }
        break;
      }
      case fb::Payload::MarketStatusUpdate: {
        const auto* update = frame.payload_as_MarketStatusUpdate();
        row.set_text(kType, "status");
        row.set_text(kStatus, to_string(update->status()));
        row.set_text(kReason, to_string(update->reason()));
        emit();
        break;
      }
      case fb::Payload::EventSuspension: {
        const auto* suspension = frame.payload_as_EventSuspension();
        row.set_text(kType, "event_suspension");
        row.set_number(kEvent, suspension->event());
        if (query.market) row.set_number(kMarket, *query.market);
        row.set_text(kStatus, "suspended");
        row.set_text(kReason, to_string(suspension->reason()));
        emit();
        break;
      }
      case fb::Payload::Settlement: {
        const auto* settlement = frame.payload_as_Settlement();
        row.set_text(kType, "settlement");
        row.set_text(kStatus, "settled");
        row.set_text(kReason, "settlement");
        std::string winners;
        if (settlement->winners()) {
          for (const uint64_t w : *settlement->winners()) {
            if (!winners.empty()) winners.push_back(' ');
            winners += std::to_string(w);
          }
        }
        row.set_text(kWinners, winners);
        emit();
        break;
      }
      case fb::Payload::SettlementRollback:
        row.set_text(kType, "settlement_rollback");
        row.set_text(kStatus, "suspended");
        emit();
        break;
      case fb::Payload::EpochChange:
        row.set_text(kType, "epoch_change");
        row.set_number(kPreviousEpoch, frame.payload_as_EpochChange()->previous_epoch());
        emit();
        break;
      case fb::Payload::MarketEviction:
        row.set_text(kType, "eviction");  // the finished market left the live state
        emit();
        break;
      default:
        break;
    }
    return true;
  };
  std::optional<JournalFault> fault;
  if (query.market) {
    // A market's rows include its event's suspensions: its event comes from its definition,
    // which may lie before the range.
    auto scanned = scan_frames(journal, 1, query.to_seq, visit);
    if (!scanned) fault = scanned.error();
  } else {
    FrameCursor cursor(journal);
    cursor.seek(query.from_seq);
    for (;;) {
      auto frame = cursor.next();
      if (!frame) {
        fault = frame.error();
        break;
      }
      if (*frame == nullptr || (*frame)->seq() > query.to_seq) break;
      visit(**frame);
    }
  }
  std::fwrite(text.data(), 1, text.size(), out);
  if (fault) return std::unexpected(damage_message(journal, *fault));
  return rows;
}

}  // namespace oddsbus::engine
