// UTF-8 for text the edge serves (issue 18, item 6). WebSocket text frames must be valid UTF-8
// (RFC 6455 section 5.6; a browser fails the connection on invalid data, section 8.1), and names
// and odds come from provider feeds through frames the edge does not control: what it renders is
// repaired before it is sent, invalid sequences replaced by U+FFFD. Well-formed UTF-8 is the
// UTF8-octets grammar of RFC 3629 section 4 (no overlong forms, no surrogates, at most U+10FFFF).
// Pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace oddsbus::edge {

// True when `text` is well-formed UTF-8.
bool is_valid_utf8(std::string_view text);

// Replaces every ill-formed sequence in out[from, end) by U+FFFD (one per maximal invalid
// subpart); a no-op on valid text. JSON's structure is ASCII, so a rendered message stays JSON.
void repair_utf8(std::string& out, size_t from = 0);

// The longest prefix of `text` (itself valid UTF-8) of at most `max_bytes` that ends on a
// character boundary.
std::string_view utf8_prefix(std::string_view text, size_t max_bytes);

}  // namespace oddsbus::edge
