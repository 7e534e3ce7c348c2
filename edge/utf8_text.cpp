#include "edge/utf8_text.h"

#include <cstdint>

namespace oddsbus::edge {

namespace {

// Length of the well-formed sequence at text[i], or 0 when it is ill-formed (RFC 3629 section 4).
size_t sequence_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t length = 0;
  uint8_t low = 0x80;  // the second byte's range (narrower after E0, ED, F0 and F4)
  uint8_t high = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) low = 0xA0;   // no overlong forms
    if (b0 == 0xED) high = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) low = 0x90;   // no overlong forms
    if (b0 == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t n = sequence_length(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void repair_utf8(std::string& out, size_t from) {
  const std::string_view tail = std::string_view(out).substr(from);
  if (is_valid_utf8(tail)) return;
  std::string repaired;
  repaired.reserve(tail.size() + 16);
  for (size_t i = 0; i < tail.size();) {
    const size_t n = sequence_length(tail, i);
    if (n != 0) {
      repaired.append(tail.substr(i, n));
      i += n;
      continue;
    }
    repaired += "\xEF\xBF\xBD";  // U+FFFD
    ++i;
    // The rest of a truncated sequence goes with it.
    while (i < tail.size() && (static_cast<uint8_t>(tail[i]) & 0xC0) == 0x80) ++i;
  }
  out.resize(from);
  out += repaired;
}

std::string_view utf8_prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<uint8_t>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace oddsbus::edge
