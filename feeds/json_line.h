// For the JSON line formats (oddsjson, betfair-stream): reading one message in place, and turning
// simdjson errors into the reason a message is refused. Internal to oddsbus_feeds (simdjson is its
// private dependency).
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <expected>
#include <memory>
#include <string>
#include <string_view>

#include "feeds/rejection.h"

namespace oddsbus::feeds::json {

inline std::unexpected<Rejection> reject(RejectReason reason, std::string detail) {
  return std::unexpected(Rejection{reason, std::move(detail)});
}

inline std::unexpected<Rejection> malformed(simdjson::error_code error) {
  return reject(RejectReason::kMalformedJson, simdjson::error_message(error));
}

// Errors that say a value is well-formed JSON of the wrong type or range, as opposed to errors
// that say the document itself is broken.
inline bool is_type_error(simdjson::error_code error) {
  return error == simdjson::INCORRECT_TYPE || error == simdjson::NUMBER_OUT_OF_RANGE ||
         error == simdjson::NUMBER_ERROR;
}

inline std::unexpected<Rejection> bad_value(simdjson::error_code error, std::string_view field,
                                            std::string_view expected) {
  if (!is_type_error(error)) return malformed(error);
  return reject(RejectReason::kBadFieldType,
                std::string(field) + ": expected " + std::string(expected));
}

// One JSON message, read in place: copied into a buffer this reader reuses (grown as needed, with
// simdjson's padding), then opened as an object. Not thread-safe: one per parser. The object, and
// every view into it, is valid until the next open().
class JsonLine {
 public:
  std::expected<simdjson::ondemand::object, Rejection> open(std::string_view line) {
    const size_t needed = line.size() + simdjson::SIMDJSON_PADDING;
    if (needed > capacity_) {
      capacity_ = std::max(needed, capacity_ * 2);
      buffer_ = std::make_unique<char[]>(capacity_);
    }
    if (!line.empty()) std::memcpy(buffer_.get(), line.data(), line.size());
    std::memset(buffer_.get() + line.size(), 0, simdjson::SIMDJSON_PADDING);
    if (auto error = json_.iterate(buffer_.get(), line.size(), capacity_).get(document_)) {
      return malformed(error);
    }
    simdjson::ondemand::object object;
    if (auto error = document_.get_object().get(object)) {
      if (error == simdjson::INCORRECT_TYPE) {
        return reject(RejectReason::kMalformedJson, "not a JSON object");
      }
      return malformed(error);
    }
    return object;
  }

  // After the object was read whole: a rejection when anything but whitespace follows it.
  std::expected<void, Rejection> check_end() {
    // At the end of the document, current_location() has nowhere to point.
    if (const char* rest = nullptr; !document_.current_location().get(rest)) {
      return reject(RejectReason::kMalformedJson, "content after the object");
    }
    return {};
  }

 private:
  simdjson::ondemand::parser json_;
  std::unique_ptr<char[]> buffer_;  // the message, then SIMDJSON_PADDING bytes
  size_t capacity_ = 0;
  simdjson::ondemand::document document_;
};

}  // namespace oddsbus::feeds::json
