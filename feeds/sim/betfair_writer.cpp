// The betfair-stream writer; see writer.h.
#include <utility>

#include "feeds/sim/tick_ladder.h"
#include "feeds/sim/writer.h"
#include "schemas/append_printf.h"

namespace oddsbus::feeds::sim {
namespace {

// Markets per image message, so an image of many markets stays well under a reader's line limit.
constexpr size_t kImageMarketsPerMessage = 50;

void append_size(std::string& out, uint32_t size_e2) {
  append_printf(out, "%u", size_e2 / 100);
  const uint32_t cents = size_e2 % 100;
  if (cents == 0) return;
  if (cents % 10 == 0) {
    append_printf(out, ".%u", cents / 10);
  } else {
    append_printf(out, ".%02u", cents);
  }
}

const char* betfair_status(SimStatus status) {
  switch (status) {
    case SimStatus::kOpen:
      return "OPEN";
    case SimStatus::kSuspended:
      return "SUSPENDED";
    case SimStatus::kSettled:
      return "CLOSED";
  }
  return "OPEN";
}

void append_definition(std::string& out, const SimMarket& market) {
  append_printf(out,
                R"("marketDefinition":{"status":"%s","inPlay":false,"betDelay":0,"version":%u,)"
                R"("eventId":"%llu","runners":[)",
                betfair_status(market.status), market.version,
                static_cast<unsigned long long>(market.event));
  for (size_t i = 0; i < kSelections; ++i) {
    const char* status = "ACTIVE";
    if (market.status == SimStatus::kSettled) status = market.winner == i + 1 ? "WINNER" : "LOSER";
    append_printf(out, R"(%s{"id":%llu,"status":"%s","sortPriority":%zu})", i == 0 ? "" : ",",
                  static_cast<unsigned long long>(betfair_runner_id(i + 1)), status, i + 1);
  }
  out += "]}";
}

void append_runner_change(std::string& out, const SimMarket& market, size_t index) {
  append_printf(out, R"({"id":%llu,"batb":[[0,)",
                static_cast<unsigned long long>(betfair_runner_id(index + 1)));
  append_decimal_text(out, market.price_e4[index]);
  out += ",";
  append_size(out, market.size_e2[index]);
  out += "]],\"ltp\":";
  append_decimal_text(out, market.price_e4[index]);
  out += "}";
}

// A whole market: definition and every runner's best back price, replacing any cached copy.
void append_market_image(std::string& out, const SimMarket& market) {
  append_printf(out, R"({"id":"%s","img":true,)", betfair_market_id(market.id).c_str());
  append_definition(out, market);
  out += ",\"rc\":[";
  for (size_t i = 0; i < kSelections; ++i) {
    if (i != 0) out += ",";
    append_runner_change(out, market, i);
  }
  out += "]}";
}

void begin_mcm(std::string& out, uint64_t clk, uint64_t pt_ms) {
  append_printf(out, R"({"op":"mcm","clk":"%llu","pt":%llu)", static_cast<unsigned long long>(clk),
                static_cast<unsigned long long>(pt_ms));
}

class BetfairWriter final : public Writer {
 public:
  void write(const SimEvent& event, uint64_t ts_ms, std::vector<SimMessage>& out) override {
    const SimMarket& market = event.market;
    SimMessage message{.seq = next_seq(), .at_ns = event.at_ns};
    std::string& bytes = message.bytes;
    begin_mcm(bytes, message.seq, ts_ms);
    bytes += ",\"mc\":[";
    switch (event.kind) {
      case SimEventKind::kMarketStart:
        append_market_image(bytes, market);
        append_market_facts(market, message.facts);
        break;
      case SimEventKind::kPrice:
        append_printf(bytes, R"({"id":"%s","rc":[)", betfair_market_id(market.id).c_str());
        append_runner_change(bytes, market, event.selection - 1);
        bytes += "]}";
        message.facts.push_back({.kind = SimFact::Kind::kPrice,
                                 .market = market.id,
                                 .selection = event.selection,
                                 .price_e4 = market.price_e4[event.selection - 1]});
        break;
      case SimEventKind::kStatus:
      case SimEventKind::kSettle:
        append_printf(bytes, R"({"id":"%s",)", betfair_market_id(market.id).c_str());
        append_definition(bytes, market);
        bytes += "}";
        message.facts.push_back({.kind = event.kind == SimEventKind::kSettle
                                             ? SimFact::Kind::kSettle
                                             : SimFact::Kind::kStatus,
                                 .market = market.id,
                                 .status = market.status,
                                 .winner = market.winner});
        break;
    }
    bytes += "]}\r\n";
    out.push_back(std::move(message));
  }

  void heartbeat(uint64_t at_ns, uint64_t ts_ms, std::vector<SimMessage>& out) override {
    SimMessage message{.seq = next_seq(), .at_ns = at_ns};
    begin_mcm(message.bytes, message.seq, ts_ms);
    message.bytes += ",\"ct\":\"HEARTBEAT\"}\r\n";
    message.facts.push_back({});
    out.push_back(std::move(message));
  }

  void image(const std::vector<SimMarket>& live, uint64_t at_ns, uint64_t ts_ms,
             std::vector<SimMessage>& out) const override {
    size_t next = 0;
    do {
      SimMessage message{.at_ns = at_ns, .image = true};
      begin_mcm(message.bytes, last_seq(), ts_ms);
      message.bytes += ",\"ct\":\"SUB_IMAGE\",\"mc\":[";
      const size_t end = std::min(live.size(), next + kImageMarketsPerMessage);
      for (size_t i = next; i < end; ++i) {
        if (i != next) message.bytes += ",";
        append_market_image(message.bytes, live[i]);
        append_market_facts(live[i], message.facts);
      }
      message.bytes += "]}\r\n";
      out.push_back(std::move(message));
      next = end;
    } while (next < live.size());
  }
};

}  // namespace

std::unique_ptr<Writer> make_betfair_writer() { return std::make_unique<BetfairWriter>(); }

}  // namespace oddsbus::feeds::sim
