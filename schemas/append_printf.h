// printf-style appending to a std::string (GCC 12 has no <format>). Safe from any thread.
#pragma once

#include <string>

namespace oddsbus {

__attribute__((format(printf, 2, 3))) void append_printf(std::string& out, const char* format, ...);

}  // namespace oddsbus
