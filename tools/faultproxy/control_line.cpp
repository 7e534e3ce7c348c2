#include "tools/faultproxy/control_line.h"

#include <charconv>

namespace oddsbus::faultproxy {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::expected<ControlCommand, std::string> parse_control_line(std::string_view line) {
  line = trim(line);
  const size_t space = line.find(' ');
  const std::string_view word = line.substr(0, space);
  const std::string_view rest =
      space == std::string_view::npos ? std::string_view{} : trim(line.substr(space + 1));
  ControlCommand command;
  if (word == "delay") {
    const auto [end, ec] =
        std::from_chars(rest.data(), rest.data() + rest.size(), command.delay_ms);
    if (rest.empty() || ec != std::errc() || end != rest.data() + rest.size()) {
      return std::unexpected("delay needs a whole number of milliseconds");
    }
    command.op = ControlOp::kDelay;
    return command;
  }
  if (!rest.empty()) return std::unexpected(std::string(word) + " takes no argument");
  if (word == "stall") {
    command.op = ControlOp::kStall;
  } else if (word == "reset") {
    command.op = ControlOp::kReset;
  } else if (word == "blackhole" || word == "black-hole") {
    command.op = ControlOp::kBlackHole;
  } else if (word == "heal") {
    command.op = ControlOp::kHeal;
  } else if (word == "stats") {
    command.op = ControlOp::kStats;
  } else {
    return std::unexpected("unknown command '" + std::string(word) +
                           "' (delay MS, stall, reset, blackhole, heal, stats)");
  }
  return command;
}

std::string format_stats(const ProxyStats& s) {
  return "connections=" + std::to_string(s.connections) +
         " open=" + std::to_string(s.open_connections) +
         " to_target=" + std::to_string(s.bytes_to_target) +
         " to_client=" + std::to_string(s.bytes_to_client) +
         " dropped=" + std::to_string(s.bytes_dropped) + " resets=" + std::to_string(s.resets) +
         " failed_connects=" + std::to_string(s.failed_connects) + " fault=" + fault_name(s.fault) +
         " delay_ms=" + std::to_string(s.delay_ms);
}

}  // namespace oddsbus::faultproxy
