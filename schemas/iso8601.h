// Parses an ISO 8601 / RFC 3339 UTC timestamp ("2026-11-23T09:30:00Z", with optional fractional
// seconds up to ns, and "Z" or a "+hh:mm"/"-hh:mm" offset; a date alone means midnight UTC) into ns
// since the Unix epoch. Pure; safe from any thread.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace oddsbus {

std::expected<uint64_t, std::string> parse_iso8601_ns(std::string_view text);

}  // namespace oddsbus
