// The uof-xml adapter's fast path: a one-pass byte scanner for the hot message, <odds_change>,
// that reads what the adapter uses of it (the root's timestamp, event_id and product; each
// <market>'s id, specifiers and status under the first <odds>; each <outcome>'s id, odds and
// active) into an OddsChangeView, without building a DOM.
//
// The scanner only answers when it is sure the document is exactly what pugixml (parsing with the
// adapter's options: elements and attributes, entities decoded) would read, and reads the same
// values. It declines (returns false, and the adapter parses the message with pugixml instead)
// on anything outside a plain subset of XML:
//   - any root element but <odds_change>; anything before it but one <?xml ...?> declaration of
//     plain ASCII, or after it but whitespace;
//   - an entity or character reference ('&'), a '<' or NUL in an attribute value;
//   - comments, CDATA, DOCTYPE, processing instructions, non-whitespace text;
//   - names outside [A-Za-z_:][A-Za-z0-9_:.-]*, whitespace around '=', attributes not separated by
//     whitespace, whitespace inside an end tag, an end tag that does not close the open element,
//     nesting deeper than kMaxScanDepth, a truncated document;
//   - the same attribute twice on an element whose attributes the adapter reads.
// Whitespace is XML's (space, tab, CR, LF) and is kept as is in values, as pugixml keeps it
// without its EOL and whitespace-normalisation options. Declining is never wrong, only slower;
// accepting something pugixml reads differently would be (tests/feeds/uof compares the two).
//
// Thread safety: a pure function; the view is the caller's.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace oddsbus::feeds::uof {

// An attribute as a message has it: absent, or its exact value (possibly empty).
using AttributeText = std::optional<std::string_view>;

// What the adapter reads of an <odds_change>, in document order. The pugixml path fills the same
// view from its DOM, so both paths share one interpretation (UofAdapter::apply_odds_change).
// Views point into the message (or pugixml's buffer): valid while it is.
struct OddsChangeView {
  // The empty constructors are on purpose: `= default` would make emplace_back() zero the whole
  // struct (a measurable share of the scan); these set only each AttributeText's engaged flag.
  struct Market {
    Market() {}  // NOLINT(modernize-use-equals-default)
    AttributeText id, specifiers, status;
    uint32_t outcome_first = 0;  // its outcomes are outcomes[outcome_first, +outcome_count)
    uint32_t outcome_count = 0;
  };
  struct Outcome {
    Outcome() {}  // NOLINT(modernize-use-equals-default)
    AttributeText id, odds, active;
  };

  AttributeText timestamp;
  AttributeText event_id;
  AttributeText product;
  std::vector<Market> markets;  // the <market> children of the root's first <odds> child
  std::vector<Outcome> outcomes;

  void clear() {
    timestamp.reset();
    event_id.reset();
    product.reset();
    markets.clear();
    outcomes.clear();
  }
};

inline constexpr size_t kMaxScanDepth = 16;

// Fills `view` and returns true when `message` is an <odds_change> the scanner is sure of (see
// above); returns false otherwise, leaving `view` unspecified. Allocates only when `view` grows.
bool scan_odds_change(std::string_view message, OddsChangeView& view);

}  // namespace oddsbus::feeds::uof
