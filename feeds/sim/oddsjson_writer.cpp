// The oddsjson writer (DESIGN section 10); see writer.h.
#include <utility>

#include "feeds/sim/tick_ladder.h"
#include "feeds/sim/writer.h"
#include "schemas/append_printf.h"

namespace oddsbus::feeds::sim {
namespace {

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      append_printf(out, "\\u%04x", static_cast<unsigned>(c));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

class OddsJsonWriter final : public Writer {
 public:
  explicit OddsJsonWriter(std::string provider) : provider_json_(json_string(provider)) {}

  void write(const SimEvent& event, uint64_t ts_ms, std::vector<SimMessage>& out) override {
    const SimMarket& market = event.market;
    switch (event.kind) {
      case SimEventKind::kMarketStart: {
        SimMessage& definition = begin(event.at_ns, out);
        append_market_line(definition.bytes, market);
        finish(definition, definition.seq, ts_ms);
        append_market_facts(market, definition.facts);
        // The price facts belong to the price lines below.
        definition.facts.resize(1);
        for (size_t i = 0; i < kSelections; ++i) {
          SimMessage& price = begin(event.at_ns, out);
          append_price_line(price.bytes, market, i);
          finish(price, price.seq, ts_ms);
          price.facts.push_back(price_fact(market, i));
        }
        break;
      }
      case SimEventKind::kPrice: {
        SimMessage& price = begin(event.at_ns, out);
        append_price_line(price.bytes, market, event.selection - 1);
        finish(price, price.seq, ts_ms);
        price.facts.push_back(price_fact(market, event.selection - 1));
        break;
      }
      case SimEventKind::kStatus: {
        SimMessage& status = begin(event.at_ns, out);
        append_printf(status.bytes,
                      R"({"type":"status","market":%llu,"status":"%s","reason":"provider")",
                      static_cast<unsigned long long>(market.id),
                      std::string(to_string(market.status)).c_str());
        finish(status, status.seq, ts_ms);
        status.facts.push_back(
            {.kind = SimFact::Kind::kStatus, .market = market.id, .status = market.status});
        break;
      }
      case SimEventKind::kSettle: {
        SimMessage& settle = begin(event.at_ns, out);
        append_printf(settle.bytes, R"({"type":"settle","market":%llu,"winners":[%llu])",
                      static_cast<unsigned long long>(market.id),
                      static_cast<unsigned long long>(market.winner));
        finish(settle, settle.seq, ts_ms);
        settle.facts.push_back({.kind = SimFact::Kind::kSettle,
                                .market = market.id,
                                .status = SimStatus::kSettled,
                                .winner = market.winner});
        break;
      }
    }
  }

  void heartbeat(uint64_t at_ns, uint64_t ts_ms, std::vector<SimMessage>& out) override {
    SimMessage& message = begin(at_ns, out);
    message.bytes = R"({"type":"heartbeat")";
    finish(message, message.seq, ts_ms);
    message.facts.push_back({});
  }

  void image(const std::vector<SimMarket>& live, uint64_t at_ns, uint64_t ts_ms,
             std::vector<SimMessage>& out) const override {
    for (const SimMarket& market : live) {
      SimMessage definition{.at_ns = at_ns, .image = true};
      append_market_line(definition.bytes, market);
      finish(definition, 0, ts_ms);
      append_market_facts(market, definition.facts);
      definition.facts.resize(1);
      out.push_back(std::move(definition));
      for (size_t i = 0; i < kSelections; ++i) {
        SimMessage price{.at_ns = at_ns, .image = true};
        append_price_line(price.bytes, market, i);
        finish(price, 0, ts_ms);
        price.facts.push_back(price_fact(market, i));
        out.push_back(std::move(price));
      }
    }
  }

 private:
  SimMessage& begin(uint64_t at_ns, std::vector<SimMessage>& out) {
    out.push_back(SimMessage{.seq = next_seq(), .at_ns = at_ns});
    return out.back();
  }

  // Closes the object with provenance: "provider", "pseq" (live lines only) and "ts".
  void finish(SimMessage& message, uint64_t pseq, uint64_t ts_ms) const {
    message.bytes += ",\"provider\":";
    message.bytes += provider_json_;
    if (pseq != 0) append_printf(message.bytes, ",\"pseq\":%llu", (unsigned long long)pseq);
    append_printf(message.bytes, ",\"ts\":%llu}\n", static_cast<unsigned long long>(ts_ms));
  }

  static void append_market_line(std::string& out, const SimMarket& market) {
    append_printf(out, R"({"type":"market","market":%llu,"event":%llu,"name":"%s","status":"%s")",
                  static_cast<unsigned long long>(market.id),
                  static_cast<unsigned long long>(market.event), std::string(kMarketName).c_str(),
                  std::string(to_string(market.status)).c_str());
    out += R"(,"selections":[)";
    for (size_t i = 0; i < kSelections; ++i) {
      append_printf(out, R"(%s{"id":%zu,"name":"%s"})", i == 0 ? "" : ",", i + 1,
                    std::string(kSelectionNames[i]).c_str());
    }
    out += "]";
  }

  static void append_price_line(std::string& out, const SimMarket& market, size_t index) {
    append_printf(out, R"({"type":"price","market":%llu,"selection":%zu,"odds":")",
                  static_cast<unsigned long long>(market.id), index + 1);
    append_decimal_text(out, market.price_e4[index]);
    out += "\"";
  }

  static SimFact price_fact(const SimMarket& market, size_t index) {
    return {.kind = SimFact::Kind::kPrice,
            .market = market.id,
            .selection = index + 1,
            .price_e4 = market.price_e4[index]};
  }

  std::string provider_json_;
};

}  // namespace

std::unique_ptr<Writer> make_oddsjson_writer(std::string provider) {
  return std::make_unique<OddsJsonWriter>(std::move(provider));
}

}  // namespace oddsbus::feeds::sim
