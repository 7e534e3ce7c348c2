#include "tools/chaos/stream_check.h"

#include <simdjson.h>

#include <fstream>

#include "engine/journal_scan.h"
#include "schemas/market_state.h"
#include "schemas/state_digest.h"

namespace oddsbus::chaos {

namespace {

std::expected<fb::MarketStatus, std::string> status_of(std::string_view text) {
  if (text == "open") return fb::MarketStatus::Open;
  if (text == "suspended") return fb::MarketStatus::Suspended;
  if (text == "closed") return fb::MarketStatus::Closed;
  if (text == "settled") return fb::MarketStatus::Settled;
  return std::unexpected("unknown status '" + std::string(text) + "'");
}

// A market as a client folds it; digested as DESIGN section 7 says.
struct Folded {
  fb::MarketStatus status = fb::MarketStatus::Open;
  std::map<uint64_t, uint32_t> prices;
};
using FoldedState = std::map<uint64_t, Folded>;

uint64_t digest_of(const FoldedState& folded) {
  std::map<uint64_t, MarketRecord> markets;
  for (const auto& [id, f] : folded) {
    MarketRecord& record = markets[id];
    record.id = id;
    record.status = f.status;
    for (const auto& [selection, price] : f.prices) {
      SelectionState s;
      s.id = selection;
      s.price_e4 = price;
      record.selections.push_back(s);
    }
  }
  MarketState state;
  state.load(0, 0, std::move(markets));
  return state_digest(state);
}

// Folds one market object of an image, or one delta entry, into `state`. Errors: ill-formed.
std::expected<void, std::string> fold_market(simdjson::dom::element m, bool image,
                                             FoldedState& state) {
  uint64_t id = 0;
  if (m["market"].get(id) != simdjson::SUCCESS) return std::unexpected("a market without an id");
  if (!image && m["removed"].error() == simdjson::SUCCESS) {
    state.erase(id);
    return {};
  }
  Folded& market = state[id];
  if (image || m["name"].error() == simdjson::SUCCESS) market.prices.clear();  // whole market
  std::string_view status;
  if (m["status"].get(status) == simdjson::SUCCESS) {
    auto s = status_of(status);
    if (!s) return std::unexpected(s.error());
    market.status = *s;
  }
  simdjson::dom::array selections;
  if (m["selections"].get(selections) == simdjson::SUCCESS) {
    for (simdjson::dom::element s : selections) {
      uint64_t selection = 0, price = 0;
      if (s["selection"].get(selection) != simdjson::SUCCESS) {
        return std::unexpected("a selection without an id");
      }
      if (s["price_e4"].get(price) == simdjson::SUCCESS) {
        market.prices[selection] = static_cast<uint32_t>(price);
      } else if (image) {
        market.prices[selection] = 0;
      }
    }
  }
  return {};
}

struct Message {
  enum Kind { kImage, kImagePart, kDelta, kResumed, kConnect, kOther } kind = kOther;
  uint64_t seq = 0;
  uint32_t epoch = 0;
  bool conflated = false;
  std::string reason;
  uint64_t part = 0, parts = 0;
};

std::expected<Message, std::string> classify(simdjson::dom::element doc) {
  Message m;
  std::string_view type;
  if (doc["type"].get(type) != simdjson::SUCCESS) return std::unexpected("a message without type");
  uint64_t value = 0;
  if (doc["seq"].get(value) == simdjson::SUCCESS) m.seq = value;
  if (doc["epoch"].get(value) == simdjson::SUCCESS) m.epoch = static_cast<uint32_t>(value);
  if (type == "image") {
    std::string_view reason;
    if (doc["reason"].get(reason) == simdjson::SUCCESS) m.reason = reason;
    if (doc["parts"].get(m.parts) == simdjson::SUCCESS &&
        doc["part"].get(m.part) == simdjson::SUCCESS && m.part < m.parts) {
      m.kind = Message::kImagePart;
    } else {
      m.kind = Message::kImage;
    }
    if (doc["seq"].error() != simdjson::SUCCESS) return std::unexpected("an image without seq");
  } else if (type == "delta") {
    m.kind = Message::kDelta;
    bool conflated = false;
    if (doc["conflated"].get(conflated) == simdjson::SUCCESS) m.conflated = conflated;
    if (doc["seq"].error() != simdjson::SUCCESS) return std::unexpected("a delta without seq");
  } else if (type == "resumed") {
    m.kind = Message::kResumed;
  } else if (type == "client-connect") {
    m.kind = Message::kConnect;
  }
  return m;
}

// Pass 1: the seqs whose journal digest the check needs (every image, each client's end).
std::set<uint64_t> seqs_to_digest(std::span<const ClientLog> clients) {
  std::set<uint64_t> seqs;
  simdjson::dom::parser parser;
  for (const ClientLog& client : clients) {
    std::ifstream in(client.path);
    std::string line;
    uint64_t last = 0;
    while (std::getline(in, line)) {
      simdjson::dom::element doc;
      if (parser.parse(line).get(doc) != simdjson::SUCCESS) continue;
      auto m = classify(doc);
      if (!m) continue;
      if (m->kind == Message::kImage) seqs.insert(m->seq);
      if (m->kind == Message::kImage || m->kind == Message::kDelta) last = m->seq;
    }
    seqs.insert(last);
  }
  return seqs;
}

// One client's walk through its log (pass 2).
class ClientWalk {
 public:
  ClientWalk(const ClientLog& client, const JournalHistory& history, CheckResult& result,
             StreamTotals& totals)
      : client_(client), history_(history), result_(result), totals_(totals) {}

  void run() {
    std::ifstream in(client_.path);
    if (!in) {
      fail("cannot read " + client_.path);
      return;
    }
    ++totals_.clients;
    std::string line;
    uint64_t line_number = 0;
    while (std::getline(in, line)) {
      ++line_number;
      if (line.empty()) continue;
      simdjson::dom::element doc;
      if (parser_.parse(line).get(doc) != simdjson::SUCCESS) {
        fail("line " + std::to_string(line_number) + " is not JSON: " + line.substr(0, 120));
        continue;
      }
      auto m = classify(doc);
      if (!m) {
        fail("line " + std::to_string(line_number) + ": " + m.error());
        continue;
      }
      if (m->kind != Message::kConnect) ++totals_.messages;
      on_message(*m, doc, line);
    }
    finish();
  }

 private:
  void fail(const std::string& text) { result_.violation(client_.name + ": " + text); }

  bool on_history(uint64_t seq, uint32_t epoch) const {
    return seq >= 1 && seq <= history_.last_seq && history_.epoch[seq] == epoch;
  }

  void on_message(const Message& m, simdjson::dom::element doc, const std::string& line) {
    switch (m.kind) {
      case Message::kConnect:
        ++totals_.connections;
        image_parts_.clear();
        return;
      case Message::kResumed:
        ++totals_.resumes;
        image_parts_.clear();
        if (!positioned_) fail("resumed before any image");
        return;
      case Message::kImagePart:
        if (m.part == 1) image_parts_.clear();
        image_parts_.push_back(line);
        return;
      case Message::kImage:
        image_parts_.push_back(line);
        on_image(m);
        image_parts_.clear();
        return;
      case Message::kDelta:
        on_delta(m, doc);
        return;
      case Message::kOther:
        return;
    }
  }

  void on_image(const Message& m) {
    ++totals_.images;
    if (images_++ > 0) {
      ++totals_.reimages;
      ++totals_.reimage_reasons[m.reason.empty() ? "(none)" : m.reason];
    }
    state_.clear();
    simdjson::dom::parser part_parser;
    for (const std::string& text : image_parts_) {
      simdjson::dom::element part;
      simdjson::dom::array markets;
      if (part_parser.parse(text).get(part) != simdjson::SUCCESS ||
          part["markets"].get(markets) != simdjson::SUCCESS) {
        fail("an image at seq " + std::to_string(m.seq) + " without markets");
        continue;
      }
      for (simdjson::dom::element market : markets) {
        if (auto ok = fold_market(market, true, state_); !ok) fail(ok.error());
      }
    }
    const auto expected = history_.digests.find(m.seq);
    const bool same = expected != history_.digests.end() && expected->second == digest_of(state_);
    if (!same) {
      // A state of a lost history (or a wrong one): the client must be brought back.
      ++totals_.lost_history_images;
      off_history_ = true;
      off_since_ = "an image at seq " + std::to_string(m.seq) + " epoch " + std::to_string(m.epoch);
    } else {
      off_history_ = false;
    }
    positioned_ = true;
    last_seq_ = m.seq;
  }

  void on_delta(const Message& m, simdjson::dom::element doc) {
    ++totals_.deltas;
    if (m.conflated) ++totals_.conflated;
    if (!positioned_) {
      fail("a delta (seq " + std::to_string(m.seq) + ") before any image");
      return;
    }
    if (m.seq <= last_seq_) {
      fail((m.seq == last_seq_ ? "duplicate: delta seq " : "out of order: delta seq ") +
           std::to_string(m.seq) + " after " + std::to_string(last_seq_));
      return;  // not folded: a duplicate would change nothing, a stale one would undo news
    }
    if (!on_history(m.seq, m.epoch)) {
      ++totals_.lost_history_frames;
      if (!off_history_) {
        off_history_ = true;
        off_since_ = "delta seq " + std::to_string(m.seq) + " epoch " + std::to_string(m.epoch);
      }
    } else if (off_history_) {
      fail("delta seq " + std::to_string(m.seq) + " of the surviving history after " + off_since_ +
           " of a lost one, with no image between (silent divergence)");
      off_history_ = false;
    } else if (!m.conflated) {
      uint64_t lost = 0, first_lost = 0;
      for (uint64_t seq = last_seq_ + 1; seq < m.seq; ++seq) {
        if (history_.touches[seq]) {
          if (lost++ == 0) first_lost = seq;
        }
      }
      if (lost > 0) {
        fail("lost " + std::to_string(lost) + " frame(s) from seq " + std::to_string(first_lost) +
             ": delta seq " + std::to_string(m.seq) + " came after " + std::to_string(last_seq_) +
             " unflagged");
      }
    }
    simdjson::dom::array markets;
    if (doc["markets"].get(markets) == simdjson::SUCCESS) {
      for (simdjson::dom::element market : markets) {
        if (auto ok = fold_market(market, false, state_); !ok) fail(ok.error());
      }
    }
    last_seq_ = m.seq;
  }

  void finish() {
    if (off_history_) {
      fail("ended on a lost history (since " + off_since_ + ") with no image to bring it back");
      return;
    }
    if (!positioned_) {
      fail("never received an image");
      return;
    }
    const auto expected = history_.digests.find(last_seq_);
    if (expected == history_.digests.end()) {
      fail("ended at seq " + std::to_string(last_seq_) + ", beyond the journal's last seq " +
           std::to_string(history_.last_seq));
    } else if (expected->second != digest_of(state_)) {
      fail("folded state at seq " + std::to_string(last_seq_) + " has digest " +
           digest_hex(digest_of(state_)) + ", the journal " + digest_hex(expected->second));
    }
    if (client_.final_seq && last_seq_ < *client_.final_seq) {
      // Frames after last_seq_ that touch no market would send nothing: only those that touch.
      for (uint64_t seq = last_seq_ + 1; seq <= std::min(*client_.final_seq, history_.last_seq);
           ++seq) {
        if (history_.touches[seq]) {
          fail("stopped at seq " + std::to_string(last_seq_) + ", its edge at " +
               std::to_string(*client_.final_seq) + " (seq " + std::to_string(seq) +
               " never arrived)");
          break;
        }
      }
    }
  }

  const ClientLog& client_;
  const JournalHistory& history_;
  CheckResult& result_;
  StreamTotals& totals_;
  simdjson::dom::parser parser_;
  std::vector<std::string> image_parts_;
  FoldedState state_;
  bool positioned_ = false;
  bool off_history_ = false;
  std::string off_since_;
  uint64_t last_seq_ = 0;
  uint64_t images_ = 0;
};

}  // namespace

std::expected<JournalHistory, std::string> read_history(const engine::Journal& journal,
                                                        const std::set<uint64_t>& digest_at) {
  JournalHistory history;
  history.last_seq = journal.last_seq();
  history.epoch.assign(history.last_seq + 1, 0);
  history.touches.assign(history.last_seq + 1, false);
  MarketState state;
  if (digest_at.contains(0)) history.digests[0] = state_digest(state);
  auto scanned = engine::scan_frames(journal, 1, history.last_seq, [&](const fb::Frame& frame) {
    const uint64_t seq = frame.seq();
    if (seq > history.last_seq) return false;
    state.apply(frame);
    history.epoch[seq] = frame.epoch();
    for (const auto& [id, market] : state.markets()) {
      if (market.last_seq == seq) {
        history.touches[seq] = true;
        break;
      }
    }
    if (digest_at.contains(seq)) history.digests[seq] = state_digest(state);
    return true;
  });
  if (!scanned) {
    return std::unexpected("journal " + journal.dir() + " is damaged at seq " +
                           std::to_string(scanned.error().seq) + ": " + scanned.error().problem);
  }
  return history;
}

CheckResult check_client_streams(const engine::Journal& survivor,
                                 std::span<const ClientLog> clients, StreamTotals& totals) {
  CheckResult result;
  result.name = "client streams";
  result.unit = "deltas";
  auto history = read_history(survivor, seqs_to_digest(clients));
  if (!history) {
    result.violation(history.error());
    return result;
  }
  for (const ClientLog& client : clients) ClientWalk(client, *history, result, totals).run();
  result.checked = totals.deltas;
  result.note = std::to_string(totals.clients) + " clients, " + std::to_string(totals.images) +
                " images, " + std::to_string(totals.reimages) + " announced re-images, " +
                std::to_string(totals.lost_history_frames) +
                " frames of a lost history (announced)";
  return result;
}

}  // namespace oddsbus::chaos
