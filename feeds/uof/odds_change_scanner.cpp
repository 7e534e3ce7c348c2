#include "feeds/uof/odds_change_scanner.h"

#include <array>
#include <cstring>

namespace oddsbus::feeds::uof {
namespace {

// Character classes, each a subset of what pugixml accepts in that place.
enum : uint8_t {
  kSpace = 1,      // XML whitespace: space, tab, CR, LF
  kNameStart = 2,  // may begin a name
  kName = 4,       // may continue a name
  kValueStop = 8,  // ends a run of plain attribute value text: quotes, '&', '<', NUL
  kDecl = 16,      // may stand inside the <?xml ...?> declaration (not '?')
};

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> classes{};
  for (const char c : {' ', '\t', '\r', '\n'}) classes[static_cast<uint8_t>(c)] |= kSpace | kDecl;
  for (int c = 'a'; c <= 'z'; ++c) classes[c] |= kNameStart | kName;
  for (int c = 'A'; c <= 'Z'; ++c) classes[c] |= kNameStart | kName;
  for (const char c : {'_', ':'}) classes[static_cast<uint8_t>(c)] |= kNameStart | kName;
  for (int c = '0'; c <= '9'; ++c) classes[c] |= kName;
  for (const char c : {'-', '.'}) classes[static_cast<uint8_t>(c)] |= kName;
  for (const char c : {'"', '\'', '&', '<', '\0'}) classes[static_cast<uint8_t>(c)] |= kValueStop;
  for (int c = 0x20; c < 0x7f; ++c) {
    if (c != '<' && c != '>' && c != '&' && c != '?') classes[c] |= kDecl;
  }
  return classes;
}

constexpr std::array<uint8_t, 256> kClasses = make_classes();

bool is(char c, uint8_t mask) { return (kClasses[static_cast<uint8_t>(c)] & mask) != 0; }

// Equality with a literal: a compare of a known size, which the compiler inlines (string_view's ==
// calls memcmp with the run-time size).
template <size_t N>
bool is_named(std::string_view name, const char (&literal)[N]) {
  return name.size() == N - 1 && std::memcmp(name.data(), literal, N - 1) == 0;
}

// What an open element is to the adapter.
enum class Role : uint8_t { kOther, kRoot, kOdds, kMarket, kOutcome };

// Sets `field` to `value` unless it was set already (the same attribute twice: pugixml's accessors
// would pick one, and which one is not the scanner's to guess).
bool take(AttributeText& field, std::string_view value) {
  if (field) return false;
  field = value;
  return true;
}

// Records an attribute of an element the adapter reads; false to decline.
bool record(Role role, std::string_view name, std::string_view value, OddsChangeView& view) {
  switch (role) {
    case Role::kOther:
    case Role::kOdds:
      return true;
    case Role::kRoot:
      if (is_named(name, "event_id")) return take(view.event_id, value);
      if (is_named(name, "timestamp")) return take(view.timestamp, value);
      if (is_named(name, "product")) return take(view.product, value);
      return true;
    case Role::kMarket: {
      OddsChangeView::Market& market = view.markets.back();
      if (is_named(name, "id")) return take(market.id, value);
      if (is_named(name, "specifiers")) return take(market.specifiers, value);
      if (is_named(name, "status")) return take(market.status, value);
      return true;
    }
    case Role::kOutcome: {
      OddsChangeView::Outcome& outcome = view.outcomes.back();
      if (is_named(name, "id")) return take(outcome.id, value);
      if (is_named(name, "odds")) return take(outcome.odds, value);
      if (is_named(name, "active")) return take(outcome.active, value);
      return true;
    }
  }
  return false;
}

}  // namespace

bool scan_odds_change(std::string_view message, OddsChangeView& view) {
  view.clear();
  const char* p = message.data();
  const char* const end = p + message.size();
  const auto skip_space = [&] {
    while (p != end && is(*p, kSpace)) ++p;
  };

  // An optional declaration: pugixml skips it (its declaration option is off) up to the first "?>".
  constexpr std::string_view kDeclaration = "<?xml";
  if (message.starts_with(kDeclaration)) {
    p += kDeclaration.size();
    if (p == end || !is(*p, kSpace)) return false;
    while (p != end && is(*p, kDecl)) ++p;
    if (end - p < 2 || p[0] != '?' || p[1] != '>') return false;
    p += 2;
    skip_space();
  }

  // The open elements, outermost first; left uninitialised (only [0, depth) is ever read).
  struct Open {
    const char* name;
    size_t size;
    Role role;
  };
  std::array<Open, kMaxScanDepth> open;
  size_t depth = 0;
  bool odds_seen = false;  // only the first <odds> is read, as pugixml's child("odds") finds it
  bool root_seen = false;
  while (p != end) {
    if (*p != '<') {
      // Between tags, before and after the root only whitespace, which pugixml drops (its
      // parse_ws_pcdata is off).
      if (!is(*p, kSpace)) return false;
      ++p;
      continue;
    }
    if (root_seen && depth == 0) return false;  // a second root: pugixml's path rejects it
    ++p;
    if (p == end) return false;
    if (*p == '/') {
      if (depth == 0) return false;
      ++p;
      const Open& closed = open[depth - 1];
      if (static_cast<size_t>(end - p) <= closed.size ||
          std::memcmp(p, closed.name, closed.size) != 0 || p[closed.size] != '>') {
        return false;
      }
      p += closed.size + 1;
      --depth;
      continue;
    }

    // A start tag ('!' and '?' decline here: comments, CDATA, DOCTYPE, PIs).
    if (!is(*p, kNameStart)) return false;
    const char* const name_begin = p;
    while (++p != end && is(*p, kName)) {
    }
    const std::string_view name(name_begin, static_cast<size_t>(p - name_begin));
    Role role = Role::kOther;
    if (depth == 0) {
      if (!is_named(name, "odds_change")) return false;
      role = Role::kRoot;
      root_seen = true;
    } else if (depth == 1 && !odds_seen && is_named(name, "odds")) {
      role = Role::kOdds;
      odds_seen = true;
    } else if (depth == 2 && open[1].role == Role::kOdds && is_named(name, "market")) {
      role = Role::kMarket;
      view.markets.emplace_back().outcome_first = static_cast<uint32_t>(view.outcomes.size());
    } else if (depth == 3 && open[2].role == Role::kMarket && is_named(name, "outcome")) {
      role = Role::kOutcome;
      view.outcomes.emplace_back();
      ++view.markets.back().outcome_count;
    }

    for (;;) {
      const char* const before_space = p;
      skip_space();
      if (p == end) return false;
      if (*p == '>') {
        ++p;
        if (depth == kMaxScanDepth) return false;
        open[depth++] = {name.data(), name.size(), role};
        break;
      }
      if (*p == '/') {
        if (end - p < 2 || p[1] != '>') return false;
        p += 2;
        break;
      }
      if (p == before_space || !is(*p, kNameStart)) return false;
      const char* const attribute_begin = p;
      while (++p != end && is(*p, kName)) {
      }
      const std::string_view attribute(attribute_begin, static_cast<size_t>(p - attribute_begin));
      if (end - p < 2 || p[0] != '=' || (p[1] != '"' && p[1] != '\'')) return false;
      const char quote = p[1];
      p += 2;
      const char* const value_begin = p;
      for (;;) {
        while (p != end && !is(*p, kValueStop)) ++p;
        if (p == end) return false;
        if (*p == quote) break;
        if (*p != '"' && *p != '\'') return false;  // '&', '<', NUL
        ++p;                                        // the other quote is plain text
      }
      const std::string_view value(value_begin, static_cast<size_t>(p - value_begin));
      ++p;
      if (!record(role, attribute, value, view)) return false;
    }
  }
  return root_seen && depth == 0;
}

}  // namespace oddsbus::feeds::uof
