#include "edge/client_request.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdint>

#include "edge/utf8_text.h"

namespace oddsbus::edge {

namespace {

using Refusal = std::unexpected<std::string>;

// Reads an id list (or one id) into `ids`; false with `error` set when it is not one.
bool read_ids(simdjson::dom::element value, std::string_view field, size_t max_ids,
              std::vector<uint64_t>& ids, std::string& error) {
  uint64_t one = 0;
  if (value.get(one) == simdjson::SUCCESS) {
    ids.push_back(one);
    return true;
  }
  simdjson::dom::array array;
  if (value.get(array) != simdjson::SUCCESS) {
    error = std::string(field) + ": expected an id or a list of ids";
    return false;
  }
  if (array.size() > max_ids) {
    error = std::string(field) + ": more than " + std::to_string(max_ids) + " ids in one request";
    return false;
  }
  for (simdjson::dom::element element : array) {
    uint64_t id = 0;
    if (element.get(id) != simdjson::SUCCESS) {
      error = std::string(field) + ": ids are unsigned integers";
      return false;
    }
    ids.push_back(id);
  }
  return true;
}

}  // namespace

struct ClientRequestParser::Impl {
  explicit Impl(size_t max) : max_ids(max) {}
  size_t max_ids;
  simdjson::dom::parser parser;
  std::vector<char> buffer;  // the request with simdjson's padding; grows, never shrinks
};

ClientRequestParser::ClientRequestParser(size_t max_ids) : impl_(std::make_unique<Impl>(max_ids)) {}

ClientRequestParser::~ClientRequestParser() = default;

std::expected<ClientRequest, std::string> ClientRequestParser::parse(std::string_view text) {
  std::vector<char>& buffer = impl_->buffer;
  if (buffer.size() < text.size() + simdjson::SIMDJSON_PADDING) {
    buffer.resize(text.size() + simdjson::SIMDJSON_PADDING);
  }
  std::copy(text.begin(), text.end(), buffer.begin());
  std::fill_n(buffer.begin() + static_cast<ptrdiff_t>(text.size()), simdjson::SIMDJSON_PADDING,
              '\0');
  simdjson::dom::element root;
  if (auto error = impl_->parser.parse(buffer.data(), text.size(), false).get(root)) {
    return Refusal(std::string("malformed JSON: ") + simdjson::error_message(error));
  }
  simdjson::dom::object object;
  if (root.get(object) != simdjson::SUCCESS) return Refusal("expected a JSON object");
  std::string_view op;
  if (object["op"].get(op) != simdjson::SUCCESS) return Refusal("op: expected a string");

  ClientRequest request;
  if (op == "ping") {
    request.op = ClientRequest::Op::kPing;
    return request;
  }
  if (op == "subscribe") {
    request.op = ClientRequest::Op::kSubscribe;
  } else if (op == "unsubscribe") {
    request.op = ClientRequest::Op::kUnsubscribe;
  } else {
    return Refusal("op: expected subscribe, unsubscribe or ping, not \"" +
                   std::string(utf8_prefix(op, 32)) + "\"");
  }

  std::string error;
  simdjson::dom::element value;
  if (object["markets"].get(value) == simdjson::SUCCESS) {
    std::string_view word;
    if (value.get(word) == simdjson::SUCCESS) {
      if (word != "all") return Refusal("markets: expected \"all\" or a list of ids");
      request.all = true;
    } else if (!read_ids(value, "markets", impl_->max_ids, request.markets, error)) {
      return Refusal(error);
    }
  }
  for (const char* field : {"event", "events"}) {
    if (object[field].get(value) == simdjson::SUCCESS &&
        !read_ids(value, field, impl_->max_ids, request.events, error)) {
      return Refusal(error);
    }
  }
  if (request.markets.size() + request.events.size() > impl_->max_ids) {
    return Refusal("more than " + std::to_string(impl_->max_ids) + " ids in one request");
  }
  if (object["resume_from"].get(value) == simdjson::SUCCESS) {
    uint64_t seq = 0;
    if (value.get(seq) != simdjson::SUCCESS) return Refusal("resume_from: expected a seq");
    if (request.op != ClientRequest::Op::kSubscribe) {
      return Refusal("resume_from: only with subscribe");
    }
    request.resume_from = seq;
  }
  if (object["resume_epoch"].get(value) == simdjson::SUCCESS) {
    uint64_t epoch = 0;
    if (value.get(epoch) != simdjson::SUCCESS || epoch > UINT32_MAX) {
      return Refusal("resume_epoch: expected an epoch");
    }
    if (!request.resume_from) return Refusal("resume_epoch: only with resume_from");
    request.resume_epoch = static_cast<uint32_t>(epoch);
  }
  if (!request.all && request.markets.empty() && request.events.empty()) {
    return Refusal(std::string(op) + ": name markets (a list or \"all\") or an event");
  }
  std::sort(request.markets.begin(), request.markets.end());
  std::sort(request.events.begin(), request.events.end());
  return request;
}

}  // namespace oddsbus::edge
