#include "schemas/frame_json.h"

#include <cinttypes>

#include "schemas/append_printf.h"
#include "schemas/market_state.h"
#include "schemas/state_json.h"

namespace oddsbus {
namespace {

void append_string_field(std::string& out, const char* name, const flatbuffers::String* s) {
  append_printf(out, ", \"%s\": ", name);
  append_json_string(out, s ? std::string_view(s->c_str(), s->size()) : std::string_view());
}

}  // namespace

void append_frame_json(std::string& out, const fb::Frame& frame) {
  append_printf(out,
                "{\"seq\": %" PRIu64
                ", \"epoch\": %u, \"channel\": %u, \"publisher\": %u, "
                "\"sequenced_ns\": %" PRIu64 ", \"source_ns\": %" PRIu64
                ", \"market_seq\": %" PRIu64 ", \"type\": \"%s\"",
                frame.seq(), frame.epoch(), frame.channel(), frame.publisher(),
                frame.sequenced_ns(), frame.source_ns(), frame.market_seq(),
                fb::EnumNamePayload(frame.payload_type()));
  switch (frame.payload_type()) {
    case fb::Payload::MarketDefinition: {
      const auto* p = frame.payload_as_MarketDefinition();
      append_printf(out, ", \"market\": %" PRIu64 ", \"event\": %" PRIu64, p->market(), p->event());
      append_string_field(out, "name", p->name());
      append_printf(out, ", \"status\": \"%s\", \"selections\": [", to_string(p->status()).data());
      if (p->selections()) {
        bool first = true;
        for (const auto* s : *p->selections()) {
          append_printf(out, "%s{\"selection\": %" PRIu64, first ? "" : ", ", s->selection());
          append_string_field(out, "name", s->name());
          out += "}";
          first = false;
        }
      }
      out += "]";
      break;
    }
    case fb::Payload::PriceUpdate: {
      const auto* p = frame.payload_as_PriceUpdate();
      append_printf(out, ", \"market\": %" PRIu64, p->market());
      append_string_field(out, "source", p->source());
      out += ", \"prices\": [";
      if (p->prices()) {
        bool first = true;
        for (const auto* price : *p->prices()) {
          append_printf(out,
                        "%s{\"selection\": %" PRIu64
                        ", \"price_e4\": %u, \"format\": \"%s\", "
                        "\"numerator\": %" PRIu64 ", \"denominator\": %" PRIu64,
                        first ? "" : ", ", price->selection(), price->price_e4(),
                        fb::EnumNameOddsFormat(price->format()), price->numerator(),
                        price->denominator());
          append_string_field(out, "odds", price->original());
          out += "}";
          first = false;
        }
      }
      out += "]";
      break;
    }
    case fb::Payload::MarketStatusUpdate: {
      const auto* p = frame.payload_as_MarketStatusUpdate();
      append_printf(out, ", \"market\": %" PRIu64 ", \"status\": \"%s\", \"reason\": \"%s\"",
                    p->market(), to_string(p->status()).data(), to_string(p->reason()).data());
      break;
    }
    case fb::Payload::EventSuspension: {
      const auto* p = frame.payload_as_EventSuspension();
      append_printf(out, ", \"event\": %" PRIu64 ", \"reason\": \"%s\"", p->event(),
                    to_string(p->reason()).data());
      break;
    }
    case fb::Payload::Settlement: {
      const auto* p = frame.payload_as_Settlement();
      append_printf(out, ", \"market\": %" PRIu64 ", \"winners\": [", p->market());
      if (p->winners()) {
        bool first = true;
        for (const uint64_t w : *p->winners()) {
          append_printf(out, "%s%" PRIu64, first ? "" : ", ", w);
          first = false;
        }
      }
      out += "]";
      // Appended keys, only when the settlement has them: older readers see what they always did.
      if (p->factors() && p->factors()->size() > 0) {
        out += ", \"factors\": [";
        bool first = true;
        for (const auto* f : *p->factors()) {
          append_printf(
              out,
              "%s{\"selection\": %" PRIu64 ", \"void_factor_e4\": %u, \"dead_heat_factor_e4\": %u}",
              first ? "" : ", ", f->selection(), f->void_factor_e4(), f->dead_heat_factor_e4());
          first = false;
        }
        out += "]";
      }
      if (p->voided()) out += ", \"voided\": true";
      break;
    }
    case fb::Payload::SettlementRollback:
      append_printf(out, ", \"market\": %" PRIu64, frame.payload_as_SettlementRollback()->market());
      break;
    case fb::Payload::Heartbeat:
      append_printf(out, ", \"last_seq\": %" PRIu64, frame.payload_as_Heartbeat()->last_seq());
      break;
    case fb::Payload::EpochChange: {
      const auto* p = frame.payload_as_EpochChange();
      append_printf(out, ", \"previous_epoch\": %u, \"new_epoch\": %u", p->previous_epoch(),
                    p->epoch());
      break;
    }
    case fb::Payload::MarketEviction:
      append_printf(out, ", \"market\": %" PRIu64, frame.payload_as_MarketEviction()->market());
      break;
    case fb::Payload::NONE:
      break;
  }
  append_desk_json(out, frame);
  out += "}";
}

void append_desk_json(std::string& out, const fb::Frame& frame) {
  if (const fb::DeskOrigin* desk = frame.desk()) {
    out += ", \"desk\": {\"identity\": ";
    append_json_string(out, desk->identity() ? desk->identity()->string_view() : "");
    out += ", \"client\": ";
    append_json_string(out, desk->client() ? desk->client()->string_view() : "");
    out += ", \"request_id\": ";
    append_json_string(out, desk->request_id() ? desk->request_id()->string_view() : "");
    out += "}";
  }
  if (const fb::DeskOverride* mark = frame.desk_override()) {
    append_printf(out, ", \"override\": \"%s\"", to_string(mark->change()).data());
    if (mark->change() == fb::OverrideChange::Take) {
      append_printf(out, ", \"override_expires_ns\": %" PRIu64, mark->expires_ns());
    }
  }
}

std::string_view to_string(fb::OverrideChange change) {
  switch (change) {
    case fb::OverrideChange::None:
      return "none";
    case fb::OverrideChange::Take:
      return "take";
    case fb::OverrideChange::Release:
      return "release";
    case fb::OverrideChange::Expire:
      return "expire";
    case fb::OverrideChange::SettlementEnd:
      return "settlement_end";
  }
  return "unknown";
}

}  // namespace oddsbus
