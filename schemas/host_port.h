// HOST:PORT as the binaries' --http flags take it ("127.0.0.1:8080", "*:8080" for every address,
// "[::1]:8080"). Errors are one-line messages naming the flag.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace oddsbus {

struct HostPort {
  std::string host;  // "*" becomes "0.0.0.0"; brackets around an IPv6 address are removed
  uint16_t port = 0;
};

std::expected<HostPort, std::string> parse_host_port(std::string_view flag, std::string_view text);

}  // namespace oddsbus
