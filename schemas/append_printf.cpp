#include "schemas/append_printf.h"

#include <cstdarg>
#include <cstdio>

namespace oddsbus {

void append_printf(std::string& out, const char* format, ...) {
  char small[256];
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(small, sizeof small, format, args);
  va_end(args);
  if (n < 0) {
    va_end(copy);
    return;
  }
  if (static_cast<size_t>(n) < sizeof small) {
    out.append(small, static_cast<size_t>(n));
  } else {
    const size_t start = out.size();
    out.resize(start + static_cast<size_t>(n) + 1);
    std::vsnprintf(out.data() + start, static_cast<size_t>(n) + 1, format, copy);
    out.resize(start + static_cast<size_t>(n));
  }
  va_end(copy);
}

}  // namespace oddsbus
