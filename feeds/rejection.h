// Why an input was not turned into a frame. One enumeration for every stage (parse, validation,
// ingest) so that counts by reason add up in one table.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace oddsbus::feeds {

enum class RejectReason : uint8_t {
  kMalformedJson,     // not a JSON object
  kMissingField,      // a required field is absent
  kBadFieldType,      // a field has the wrong JSON type or an out-of-range value
  kUnknownType,       // "type" is not one the format defines
  kBadOdds,           // odds text malformed or out of range
  kBadStatus,         // status text not one of open/suspended/closed/settled
  kUnknownMarket,     // price/status/settle for a market never defined
  kUnknownSelection,  // price or winner for a selection not in the market
  kMarketSettled,     // price for a market already settled
  kLineTooLong,       // an input line longer than the connector's limit
  kMalformedXml,      // not a well-formed XML document
  kUnknownMessage,    // a well-formed message of a kind the format does not define
  kCount
};

inline constexpr std::array<std::string_view, static_cast<size_t>(RejectReason::kCount)>
    kRejectReasonNames = {"malformed_json", "missing_field",  "bad_field_type",
                          "unknown_type",   "bad_odds",       "bad_status",
                          "unknown_market", "unknown_selection", "market_settled",
                          "line_too_long",  "malformed_xml",  "unknown_message"};

inline std::string_view to_string(RejectReason reason) {
  return kRejectReasonNames[static_cast<size_t>(reason)];
}

struct Rejection {
  RejectReason reason;
  std::string detail;  // for logs: which field, what value; may be empty
};

}  // namespace oddsbus::feeds
