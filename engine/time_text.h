// Wall-clock times as ISO 8601 text for what odds-replay prints (DESIGN section 10: "Times T are
// ISO 8601"): the inverse of schemas/iso8601.h's parser, so every time printed can be pasted back
// into --at-time, --from-time or --to-time and means the same instant. Pure; safe from any thread.
#pragma once

#include <cstdint>
#include <string>

namespace oddsbus::engine {

// "2026-11-23T09:30:00Z", with a fraction only when the time has one, and only as many digits as
// it needs in groups of three (".5" is printed ".500", one ns ".000000001"): exact to the ns.
std::string format_iso8601_ns(uint64_t ns);

// Appends format_iso8601_ns(ns) to `out`.
void append_iso8601_ns(std::string& out, uint64_t ns);

}  // namespace oddsbus::engine
