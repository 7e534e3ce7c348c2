// The uof-xml writer; see writer.h.
#include <utility>

#include "feeds/sim/tick_ladder.h"
#include "feeds/sim/writer.h"
#include "schemas/append_printf.h"

namespace oddsbus::feeds::sim {
namespace {

constexpr const char* kProduct = "1";   // Sportradar's live odds producer
constexpr const char* kMarketId = "1";  // 1x2

const char* uof_status(SimStatus status) {
  switch (status) {
    case SimStatus::kOpen:
      return "1";
    case SimStatus::kSuspended:
      return "-1";
    case SimStatus::kSettled:
      return "-3";
  }
  return "1";
}

std::string odds_change(const SimMarket& market, uint64_t ts_ms) {
  std::string out;
  append_printf(out,
                R"(<odds_change product="%s" event_id="%s" timestamp="%llu"><odds>)"
                R"(<market id="%s" status="%s">)",
                kProduct, uof_event_id(market.event).c_str(),
                static_cast<unsigned long long>(ts_ms), kMarketId, uof_status(market.status));
  for (size_t i = 0; i < kSelections; ++i) {
    append_printf(out, R"(<outcome id="%zu" odds=")", i + 1);
    append_decimal_text(out, market.price_e4[i]);
    out += R"(" active="1"/>)";
  }
  out += "</market></odds></odds_change>\n";
  return out;
}

class UofWriter final : public Writer {
 public:
  void write(const SimEvent& event, uint64_t ts_ms, std::vector<SimMessage>& out) override {
    const SimMarket& market = event.market;
    SimMessage message{.seq = next_seq(), .at_ns = event.at_ns};
    const auto ts = static_cast<unsigned long long>(ts_ms);
    const std::string event_id = uof_event_id(market.event);
    switch (event.kind) {
      case SimEventKind::kMarketStart:
        message.bytes = odds_change(market, ts_ms);
        append_market_facts(market, message.facts);
        break;
      case SimEventKind::kPrice:
        message.bytes = odds_change(market, ts_ms);
        message.facts.push_back({.kind = SimFact::Kind::kPrice,
                                 .market = market.id,
                                 .selection = event.selection,
                                 .price_e4 = market.price_e4[event.selection - 1]});
        break;
      case SimEventKind::kStatus:
        if (market.status == SimStatus::kSuspended) {
          append_printf(message.bytes,
                        R"(<bet_stop product="%s" event_id="%s" timestamp="%llu" groups="all" )"
                        R"(market_status="-1"/>)"
                        "\n",
                        kProduct, event_id.c_str(), ts);
        } else {
          message.bytes = odds_change(market, ts_ms);
        }
        message.facts.push_back(
            {.kind = SimFact::Kind::kStatus, .market = market.id, .status = market.status});
        break;
      case SimEventKind::kSettle:
        append_printf(message.bytes,
                      R"(<bet_settlement product="%s" event_id="%s" timestamp="%llu" )"
                      R"(certainty="2"><outcomes><market id="%s">)",
                      kProduct, event_id.c_str(), ts, kMarketId);
        for (size_t i = 0; i < kSelections; ++i) {
          append_printf(message.bytes, R"(<outcome id="%zu" result="%d"/>)", i + 1,
                        market.winner == i + 1 ? 1 : 0);
        }
        message.bytes += "</market></outcomes></bet_settlement>\n";
        message.facts.push_back({.kind = SimFact::Kind::kSettle,
                                 .market = market.id,
                                 .status = SimStatus::kSettled,
                                 .winner = market.winner});
        break;
    }
    out.push_back(std::move(message));
  }

  void heartbeat(uint64_t at_ns, uint64_t ts_ms, std::vector<SimMessage>& out) override {
    SimMessage message{.seq = next_seq(), .at_ns = at_ns};
    append_printf(message.bytes,
                  R"(<alive product="%s" timestamp="%llu" subscribed="1"/>)"
                  "\n",
                  kProduct, static_cast<unsigned long long>(ts_ms));
    message.facts.push_back({});
    out.push_back(std::move(message));
  }

  void image(const std::vector<SimMarket>& live, uint64_t at_ns, uint64_t ts_ms,
             std::vector<SimMessage>& out) const override {
    for (const SimMarket& market : live) {
      SimMessage message{.at_ns = at_ns, .image = true};
      message.bytes = odds_change(market, ts_ms);
      append_market_facts(market, message.facts);
      out.push_back(std::move(message));
    }
  }
};

}  // namespace

std::unique_ptr<Writer> make_uof_writer() { return std::make_unique<UofWriter>(); }

}  // namespace oddsbus::feeds::sim
