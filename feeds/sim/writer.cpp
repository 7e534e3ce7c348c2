#include "feeds/sim/writer.h"

namespace oddsbus::feeds::sim {

std::expected<Format, std::string> parse_format(std::string_view text) {
  if (text == "oddsjson") return Format::kOddsJson;
  if (text == "betfair-stream") return Format::kBetfairStream;
  if (text == "uof-xml") return Format::kUofXml;
  return std::unexpected("unknown format '" + std::string(text) +
                         "': expected oddsjson, betfair-stream or uof-xml");
}

std::string_view to_string(Format format) {
  switch (format) {
    case Format::kOddsJson:
      return "oddsjson";
    case Format::kBetfairStream:
      return "betfair-stream";
    case Format::kUofXml:
      return "uof-xml";
  }
  return "oddsjson";
}

std::string_view default_feed_name(Format format) {
  switch (format) {
    case Format::kOddsJson:
      return "oj";
    case Format::kBetfairStream:
      return "bf";
    case Format::kUofXml:
      return "sr";
  }
  return "oj";
}

std::string betfair_market_id(uint64_t canonical_market) {
  return "1." + std::to_string(canonical_market);
}

std::string uof_event_id(uint64_t canonical_event) {
  return "sr:match:" + std::to_string(canonical_event);
}

std::string_view to_string(SimFact::Kind kind) {
  switch (kind) {
    case SimFact::Kind::kMarket:
      return "market";
    case SimFact::Kind::kPrice:
      return "price";
    case SimFact::Kind::kStatus:
      return "status";
    case SimFact::Kind::kSettle:
      return "settle";
    case SimFact::Kind::kHeartbeat:
      return "heartbeat";
  }
  return "heartbeat";
}

void append_market_facts(const SimMarket& market, std::vector<SimFact>& facts) {
  SimFact definition;
  definition.kind = SimFact::Kind::kMarket;
  definition.market = market.id;
  definition.event = market.event;
  definition.status = market.status;
  facts.push_back(definition);
  for (size_t i = 0; i < kSelections; ++i) {
    SimFact price;
    price.kind = SimFact::Kind::kPrice;
    price.market = market.id;
    price.selection = i + 1;
    price.price_e4 = market.price_e4[i];
    facts.push_back(price);
  }
}

std::unique_ptr<Writer> make_writer(Format format, std::string provider) {
  switch (format) {
    case Format::kOddsJson:
      return make_oddsjson_writer(std::move(provider));
    case Format::kBetfairStream:
      return make_betfair_writer();
    case Format::kUofXml:
      return make_uof_writer();
  }
  return nullptr;
}

}  // namespace oddsbus::feeds::sim
