// The fault proxy's control line protocol (odds-faultproxy --control HOST:PORT): one command per
// line (LF or CRLF), one reply line per command. Sans-I/O: parses a line, formats a reply.
//
//   delay MS        -> "ok delay MS"         every chunk from now on is forwarded MS ms later
//   stall           -> "ok stall"            stop forwarding, keep connections
//   reset           -> "ok reset N"          RST the N open connections
//   blackhole       -> "ok black-hole"       accept, drop everything ("black-hole" also accepted)
//   heal            -> "ok heal"             back to forwarding (resets streams that lost bytes)
//   stats           -> "ok connections=N open=N to_target=N to_client=N dropped=N resets=N
//                       failed_connects=N fault=KIND delay_ms=N"
//   anything else   -> "error <why>"
// A client may send several commands on one connection, one at a time.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "tools/faultproxy/fault_proxy.h"

namespace oddsbus::faultproxy {

enum class ControlOp { kDelay, kStall, kReset, kBlackHole, kHeal, kStats };

struct ControlCommand {
  ControlOp op = ControlOp::kStats;
  uint64_t delay_ms = 0;  // kDelay
};

// A line without its line ending; surrounding blanks are ignored. Errors are the reply's reason.
std::expected<ControlCommand, std::string> parse_control_line(std::string_view line);

// The "ok stats ..." payload (without "ok ").
std::string format_stats(const ProxyStats& stats);

}  // namespace oddsbus::faultproxy
