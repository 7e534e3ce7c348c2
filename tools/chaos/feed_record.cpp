#include "tools/chaos/feed_record.h"

#include <simdjson.h>

#include <cstdio>
#include <fstream>

namespace oddsbus::chaos {

namespace {

std::string decimal_odds(uint64_t price_e4) {
  char text[32];
  std::snprintf(text, sizeof text, "%llu.%04llu", static_cast<unsigned long long>(price_e4 / 10000),
                static_cast<unsigned long long>(price_e4 % 10000));
  return text;
}

std::string json_text(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20) out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

std::expected<RecordConversion, std::string> append_record_as_oddsjson(
    const std::string& record_path, const feeds::Mapping& mapping, const std::string& out_path,
    uint32_t line) {
  std::ifstream in(record_path);
  if (!in) return std::unexpected("cannot read the feed record " + record_path);
  std::ofstream out(out_path, std::ios::app);
  if (!out) return std::unexpected("cannot write " + out_path);
  RecordConversion conversion;
  simdjson::dom::parser parser;
  std::string text;
  uint64_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (text.empty()) continue;
    simdjson::dom::element fact;
    if (parser.parse(text).get(fact) != simdjson::SUCCESS) {
      // A simulator killed mid-write leaves its last line cut short (and loses what it had not
      // flushed): left out. What a restarted simulator sends begins with an image that sets
      // every market again, so the final state does not hang on those lines.
      if (in.peek() == std::char_traits<char>::eof()) {
        ++conversion.truncated;
        break;
      }
      return std::unexpected(record_path + ":" + std::to_string(number) + ": not JSON");
    }
    uint64_t fact_line = 0;
    std::string_view kind;
    if (fact["line"].get(fact_line) != simdjson::SUCCESS ||
        fact["kind"].get(kind) != simdjson::SUCCESS) {
      return std::unexpected(record_path + ":" + std::to_string(number) + ": no line or kind");
    }
    if (fact_line != line) {
      ++conversion.skipped;
      continue;
    }
    ++conversion.facts;
    auto number_of = [&](const char* key) {
      uint64_t value = 0;
      return fact[key].get(value) == simdjson::SUCCESS ? value : 0;
    };
    const uint64_t market = number_of("market");
    std::string_view status;
    if (fact["status"].get(status) != simdjson::SUCCESS) status = "";
    std::string message;
    if (kind == "market") {
      const feeds::MarketMapping* mapped = mapping.market(market);
      if (mapped == nullptr) {
        return std::unexpected(record_path + ":" + std::to_string(number) + ": market " +
                               std::to_string(market) + " is not in the mapping");
      }
      message = R"({"type":"market","market":)" + std::to_string(market) + R"(,"event":)" +
                std::to_string(mapped->event) + R"(,"name":)" + json_text(mapped->name) +
                R"(,"status":")" + std::string(status) + R"(","selections":[)";
      for (size_t i = 0; i < mapped->selections.size(); ++i) {
        if (i > 0) message += ",";
        message += R"({"id":)" + std::to_string(mapped->selections[i].id) + R"(,"name":)" +
                   json_text(mapped->selections[i].name) + "}";
      }
      message += "]}";
    } else if (kind == "price") {
      const uint64_t selection = number_of("selection"), price = number_of("price_e4");
      message = R"({"type":"price","market":)" + std::to_string(market) + R"(,"selection":)" +
                std::to_string(selection) + R"(,"odds":")" + decimal_odds(price) + "\"}";
    } else if (kind == "status") {
      message = R"({"type":"status","market":)" + std::to_string(market) + R"(,"status":")" +
                std::string(status) + R"(","reason":"provider"})";
    } else if (kind == "settle") {
      message = R"({"type":"settle","market":)" + std::to_string(market) + R"(,"winners":[)";
      simdjson::dom::array winners;
      if (fact["winners"].get(winners) == simdjson::SUCCESS) {
        bool first = true;
        for (simdjson::dom::element w : winners) {
          if (!first) message += ",";
          first = false;
          message += std::to_string(uint64_t(w));
        }
      }
      message += "]}";
    } else {
      ++conversion.skipped;  // heartbeat, corrupt
      continue;
    }
    out << message << "\n";
    ++conversion.lines;
  }
  if (!out) return std::unexpected("cannot write " + out_path);
  return conversion;
}

}  // namespace oddsbus::chaos
