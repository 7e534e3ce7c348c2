// The baseline side of the feeds suite: the library the adapter is built on, parsing the same
// bytes with nothing on top.
#include <chrono>
#include <cstring>

#include <simdjson.h>
#include <pugixml.hpp>

#include "tools/bench/feeds_bench.h"

namespace oddsbus::bench {
namespace {

namespace ondemand = simdjson::ondemand;

static_assert(FeedCorpus::kPadding >= simdjson::SIMDJSON_PADDING);

// Visits every value below `value` (ondemand parses only what is visited): keys unescaped, strings
// unescaped, numbers converted. Counts values and folds them into `checksum`.
simdjson::error_code walk(ondemand::value value, uint64_t& values, uint64_t& checksum) {
  ++values;
  ondemand::json_type type;
  if (auto error = value.type().get(type)) return error;
  switch (type) {
    case ondemand::json_type::object: {
      ondemand::object object;
      if (auto error = value.get_object().get(object)) return error;
      for (auto member : object) {
        ondemand::field field;
        if (auto error = std::move(member).get(field)) return error;
        std::string_view key;
        if (auto error = field.unescaped_key().get(key)) return error;
        checksum += key.size();
        if (auto error = walk(field.value(), values, checksum)) return error;
      }
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::array: {
      ondemand::array array;
      if (auto error = value.get_array().get(array)) return error;
      for (auto item : array) {
        ondemand::value element;
        if (auto error = item.get(element)) return error;
        if (auto error = walk(element, values, checksum)) return error;
      }
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::string: {
      std::string_view text;
      if (auto error = value.get_string().get(text)) return error;
      checksum += text.size();
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::number: {
      ondemand::number number;
      if (auto error = value.get_number().get(number)) return error;
      checksum += static_cast<uint64_t>(number.as_double());
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::boolean: {
      bool flag = false;
      if (auto error = value.get_bool().get(flag)) return error;
      checksum += flag ? 1 : 0;
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::null:
      return value.is_null() ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
  }
  return simdjson::INCORRECT_TYPE;
}

// Each message is parsed in place: the corpus keeps its padding readable past every message.
void simdjson_pass(const FeedCorpus& corpus, ondemand::parser& parser, FeedRun& run) {
  const char* const end = corpus.bytes.data() + corpus.bytes.size();
  for (std::string_view message : corpus.messages) {
    ondemand::document document;
    ondemand::value root;
    const size_t allocated = static_cast<size_t>(end - message.data());
    if (parser.iterate(message.data(), message.size(), allocated).get(document) ||
        document.get_value().get(root) || walk(root, run.events, run.checksum)) {
      ++run.rejected;
    }
  }
}

void pugixml_pass(const FeedCorpus& corpus, pugi::xml_document& document, FeedRun& run) {
  for (std::string_view message : corpus.messages) {
    const pugi::xml_parse_result parsed = document.load_buffer(
        message.data(), message.size(), pugi::parse_default, pugi::encoding_utf8);
    if (!parsed) {
      ++run.rejected;
      continue;
    }
    ++run.events;
    run.checksum += std::strlen(document.document_element().name());
  }
}

}  // namespace

std::expected<FeedRun, std::string> run_bare_parse(const FeedCorpus& corpus) {
  FeedRun run;
  ondemand::parser json;
  pugi::xml_document xml;
  for (unsigned pass = 0; pass < corpus.passes; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    if (corpus.bare == BareParser::kSimdjson) {
      simdjson_pass(corpus, json, run);
    } else {
      pugixml_pass(corpus, xml, run);
    }
    const auto stop = std::chrono::steady_clock::now();
    run.seconds += std::chrono::duration<double>(stop - start).count();
    run.messages += corpus.messages.size();
    run.bytes += corpus.message_bytes;
  }
  return run;
}

}  // namespace oddsbus::bench
