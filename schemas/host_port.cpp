#include "schemas/host_port.h"

#include <charconv>

namespace oddsbus {

std::expected<HostPort, std::string> parse_host_port(std::string_view flag, std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return std::unexpected(std::string(flag) + ": expected HOST:PORT, e.g. 127.0.0.1:8080, not '" +
                           std::string(text) + "'");
  }
  HostPort address;
  address.host = std::string(text.substr(0, colon));
  if (address.host.size() > 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  if (address.host == "*") address.host = "0.0.0.0";
  const std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return std::unexpected(std::string(flag) + ": the port must be a number from 0 to 65535, in '" +
                           std::string(text) + "'");
  }
  address.port = static_cast<uint16_t>(value);
  return address;
}

}  // namespace oddsbus
