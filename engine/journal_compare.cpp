#include "engine/journal_compare.h"

#include <cinttypes>

#include "engine/journal_cursor.h"
#include "engine/journal_damage.h"
#include "schemas/append_printf.h"
#include "schemas/frame_json.h"
#include "schemas/market_state.h"
#include "schemas/state_digest.h"
#include "schemas/state_json.h"

namespace oddsbus::engine {

std::expected<CompareReport, std::string> compare_journals(const Journal& a, const Journal& b,
                                                           const ReadProgress& progress) {
  CompareReport report;
  FrameCursor cursor_a(a);
  FrameCursor cursor_b(b);
  MarketState state_a;
  MarketState state_b;
  std::string json_a;
  std::string json_b;
  auto checkpoint = [&](uint64_t seq, std::string point) {
    report.checkpoints.push_back(
        {seq, std::move(point), state_digest(state_a), state_digest(state_b)});
  };
  const uint64_t last = a.last_seq();
  for (;;) {
    auto frame_a = cursor_a.next();
    if (!frame_a) return std::unexpected(damage_message(a, frame_a.error()));
    auto frame_b = cursor_b.next();
    if (!frame_b) return std::unexpected(damage_message(b, frame_b.error()));
    const fb::Frame* fa = *frame_a;
    const fb::Frame* fb_ = *frame_b;
    if (fa != nullptr) {
      report.a_last_seq = fa->seq();
      report.a_epoch = fa->epoch();
    }
    if (fb_ != nullptr) {
      report.b_last_seq = fb_->seq();
      report.b_epoch = fb_->epoch();
    }
    if (fa == nullptr || fb_ == nullptr) {
      // The common part ends; read on in the longer one only to say where it ends.
      FrameCursor& rest = fa != nullptr ? cursor_a : cursor_b;
      for (const fb::Frame* f = fa != nullptr ? fa : fb_; f != nullptr;) {
        (fa != nullptr ? report.a_last_seq : report.b_last_seq) = f->seq();
        (fa != nullptr ? report.a_epoch : report.b_epoch) = f->epoch();
        auto next = rest.next();
        if (!next) return std::unexpected(damage_message(fa != nullptr ? a : b, next.error()));
        f = *next;
      }
      break;
    }
    json_a.clear();
    json_b.clear();
    append_frame_json(json_a, *fa);
    append_frame_json(json_b, *fb_);
    const uint64_t seq = fa->seq();
    if (!report.first_difference && json_a != json_b) {
      report.first_difference = seq;
      if (seq > 1) checkpoint(seq - 1, "last agreement");
      report.frame_a = json_a;
      report.frame_b = json_b;
    }
    state_a.apply(*fa);
    state_b.apply(*fb_);
    report.common_last_seq = seq;
    if (report.first_difference == seq) {
      checkpoint(seq, "first difference");
    } else if (!report.first_difference && fa->payload_type() == fb::Payload::EpochChange) {
      checkpoint(seq, "epoch " + std::to_string(fa->epoch()) + " begins");
    }
    progress.at(seq, last);
  }
  if (report.checkpoints.empty() || report.checkpoints.back().seq != report.common_last_seq) {
    checkpoint(report.common_last_seq, "common end");
  } else {
    report.checkpoints.back().point += ", common end";
  }
  return report;
}

void append_compare_json(std::string& out, const CompareReport& report, const std::string& dir_a,
                         const std::string& dir_b) {
  out += "{\"first_difference\": ";
  if (report.first_difference) {
    append_printf(out, "%" PRIu64, *report.first_difference);
  } else {
    out += "null";
  }
  out += ", \"a\": {\"journal\": ";
  append_json_string(out, dir_a);
  append_printf(out, ", \"last_seq\": %" PRIu64 ", \"epoch\": %u}, \"b\": {\"journal\": ",
                report.a_last_seq, report.a_epoch);
  append_json_string(out, dir_b);
  append_printf(out,
                ", \"last_seq\": %" PRIu64 ", \"epoch\": %u}, \"common_last_seq\": %" PRIu64
                ", \"checkpoints\": [",
                report.b_last_seq, report.b_epoch, report.common_last_seq);
  bool first = true;
  for (const CompareCheckpoint& c : report.checkpoints) {
    append_printf(out, "%s{\"seq\": %" PRIu64 ", \"point\": ", first ? "" : ", ", c.seq);
    append_json_string(out, c.point);
    append_printf(out, ", \"digest_a\": \"%s\", \"digest_b\": \"%s\"}",
                  digest_hex(c.digest_a).c_str(), digest_hex(c.digest_b).c_str());
    first = false;
  }
  out += "]";
  if (report.first_difference) {
    out += ", \"frame_a\": " + report.frame_a + ", \"frame_b\": " + report.frame_b;
  }
  out += "}";
}

}  // namespace oddsbus::engine
