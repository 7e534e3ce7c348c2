// Rejections for the JSON formats (oddsjson, betfair-stream): turning simdjson errors into the
// reason a message is refused. Internal to oddsbus_feeds (simdjson is its private dependency).
#pragma once

#include <simdjson.h>

#include <expected>
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

}  // namespace oddsbus::feeds::json
