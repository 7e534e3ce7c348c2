#include "feeds/uof/odds_change_scanner.h"

#include <gtest/gtest.h>

#include <string>

namespace oddsbus::feeds::uof {
namespace {

constexpr std::string_view kDeclaration =
    R"(<?xml version="1.0" encoding="UTF-8" standalone="yes"?>)";

// A UOF odds_change with what the adapter reads and what it skips: sport_event_status before the
// odds, a market with specifiers, an outcome without odds, extra attributes.
const std::string kMessage =
    std::string(kDeclaration) +
    R"(<odds_change product="1" event_id="sr:match:12345" timestamp="1700000001000">)"
    R"(<sport_event_status status="1" match_status="6"><clock match_time="23:41"/>)"
    R"(</sport_event_status><odds betting_status="1">)"
    R"(<market favourite="1" id="1" status="1">)"
    R"(<outcome id="1" odds="2.48" probabilities="0.4" active="1"/>)"
    R"(<outcome id="2" odds="3.2" active="1"/></market>)"
    R"(<market id="18" specifiers="total=2.5" status="-1"><outcome id="13" active="0"/></market>)"
    R"(<market id="10"/></odds></odds_change>)";

std::string text(const AttributeText& attribute) {
  return attribute ? "\"" + std::string(*attribute) + "\"" : "absent";
}

// The view as one line, so that whole views compare (and print) as one value.
std::string describe(const OddsChangeView& view) {
  std::string s = "event_id=" + text(view.event_id) + " timestamp=" + text(view.timestamp);
  for (const OddsChangeView::Market& market : view.markets) {
    s += " | market id=" + text(market.id) + " specifiers=" + text(market.specifiers) +
         " status=" + text(market.status) + ":";
    for (uint32_t i = market.outcome_first; i < market.outcome_first + market.outcome_count; ++i) {
      const OddsChangeView::Outcome& outcome = view.outcomes[i];
      s += " (id=" + text(outcome.id) + " odds=" + text(outcome.odds) +
           " active=" + text(outcome.active) + ")";
    }
  }
  return s;
}

std::string scanned(std::string_view message) {
  OddsChangeView view;
  if (!scan_odds_change(message, view)) return "declined";
  return describe(view);
}

TEST(OddsChangeScanner, ReadsWhatTheAdapterUsesInDocumentOrder) {
  EXPECT_EQ(scanned(kMessage), R"(event_id="sr:match:12345" timestamp="1700000001000")"
                               R"( | market id="1" specifiers=absent status="1":)"
                               R"( (id="1" odds="2.48" active="1") (id="2" odds="3.2" active="1"))"
                               R"( | market id="18" specifiers="total=2.5" status="-1":)"
                               R"( (id="13" odds=absent active="0"))"
                               R"( | market id="10" specifiers=absent status=absent:)");
}

TEST(OddsChangeScanner, ReadsTheRootsProduct) {
  OddsChangeView view;
  ASSERT_TRUE(scan_odds_change(kMessage, view));
  EXPECT_EQ(view.product, "1");
  ASSERT_TRUE(
      scan_odds_change(R"(<odds_change event_id="e" timestamp="1"><odds/></odds_change>)", view));
  EXPECT_FALSE(view.product);
}

TEST(OddsChangeScanner, ReadsOnlyMarketsOfTheFirstOddsAndOutcomesOfMarkets) {
  // pugixml's path reads root.child("odds").children("market").children("outcome"): a second
  // <odds>, a <market> elsewhere and an <outcome> elsewhere are not read.
  EXPECT_EQ(scanned(R"(<odds_change event_id="e"><market id="7"/><odds><market id="1">)"
                    R"(<x><outcome id="8"/></x><outcome id="2"/></market></odds>)"
                    R"(<odds><market id="9"/></odds></odds_change>)"),
            R"(event_id="e" timestamp=absent | market id="1" specifiers=absent status=absent:)"
            R"( (id="2" odds=absent active=absent))");
}

TEST(OddsChangeScanner, KeepsValuesExactlyAsWritten) {
  // Whitespace in values is kept (pugixml normalises none with the adapter's options); the other
  // quote is plain text; an empty value is present.
  EXPECT_EQ(scanned("<odds_change event_id=' a\tb\r\n' timestamp=\"\">"
                    "<odds><market id='1' specifiers='x=\"1\"'/></odds></odds_change>"),
            "event_id=\" a\tb\r\n\" timestamp=\"\" | market id=\"1\" specifiers=\"x=\"1\"\" "
            "status=absent:");
}

TEST(OddsChangeScanner, AcceptsWhitespaceBetweenTagsAndAttributes) {
  EXPECT_NE(scanned("\n <odds_change\tevent_id=\"e\"\r\n>\n  <odds >\n    <market id=\"1\" />\n"
                    "  </odds>\n</odds_change>\r\n"),
            "declined");
  EXPECT_NE(scanned("<odds_change event_id=\"e\"/>"), "declined");
}

TEST(OddsChangeScanner, DeclinesWhatItIsNotSureOf) {
  const auto declined = [](const std::string& message) {
    OddsChangeView view;
    return !scan_odds_change(message, view);
  };
  const std::string open = R"(<odds_change event_id="e"><odds>)";
  const std::string close = "</odds></odds_change>";
  // Entities and character references (pugixml decodes them).
  EXPECT_TRUE(declined(open + R"(<market id="&#49;"/>)" + close));
  EXPECT_TRUE(declined(open + R"(<market id="1" specifiers="a&amp;b"/>)" + close));
  // Comments, CDATA, DOCTYPE, processing instructions, text.
  EXPECT_TRUE(declined(open + "<!-- c -->" + close));
  EXPECT_TRUE(declined(open + "<![CDATA[x]]>" + close));
  EXPECT_TRUE(declined("<!DOCTYPE odds_change>" + open + close));
  EXPECT_TRUE(declined(open + "<?pi x?>" + close));
  EXPECT_TRUE(declined(open + "text" + close));
  // Another root, a second root, something after the root, an unclosed or misclosed document.
  EXPECT_TRUE(declined(R"(<bet_stop event_id="e"/>)"));
  EXPECT_TRUE(declined(open + close + "<odds_change/>"));
  EXPECT_TRUE(declined(open + close + "x"));
  EXPECT_TRUE(declined(open));
  EXPECT_TRUE(declined(open + "</odd></odds_change>"));
  EXPECT_TRUE(declined(open + "</odds ></odds_change>"));
  EXPECT_TRUE(declined(""));
  // Attribute syntax outside the plain subset.
  EXPECT_TRUE(declined(open + R"(<market id = "1"/>)" + close));
  EXPECT_TRUE(declined(open + R"(<market id="1"status="1"/>)" + close));
  EXPECT_TRUE(declined(open + R"(<market id=1/>)" + close));
  EXPECT_TRUE(declined(open + R"(<market id="a<b"/>)" + close));
  EXPECT_TRUE(declined(open + std::string("<market id=\"a\0b\"/>", 18) + close));
  EXPECT_FALSE(declined(open + "<market id=\"1\xc3\xa9\"/>" + close));  // UTF-8 is text
  EXPECT_TRUE(declined(open + "<m\xc3\xa9/>" + close));                 // ... but not in a name
  // The same attribute twice where the adapter reads it (pugixml's path would pick one).
  EXPECT_TRUE(declined(R"(<odds_change event_id="e" event_id="f"/>)"));
  EXPECT_TRUE(declined(open + R"(<market id="1" id="2"/>)" + close));
  EXPECT_TRUE(
      declined(open + R"(<market id="1"><outcome id="1" odds="2" odds="3"/></market>)" + close));
  // ... but not where it does not.
  EXPECT_FALSE(declined(open + R"(<market id="1"><x id="1" id="2"/></market>)" + close));
  // Declarations: only a plain <?xml ...?> at the very start.
  EXPECT_FALSE(declined(std::string(kDeclaration) + open + close));
  EXPECT_TRUE(declined(" " + std::string(kDeclaration) + open + close));
  EXPECT_TRUE(declined(R"(<?xml version="1.0" encoding="a?b"?>)" + open + close));
  EXPECT_TRUE(declined("<?xml-stylesheet href=\"a\"?>" + open + close));
  // Nesting deeper than the scanner keeps.
  std::string deep = open;
  for (size_t i = 0; i < kMaxScanDepth; ++i) deep += "<x>";
  for (size_t i = 0; i < kMaxScanDepth; ++i) deep += "</x>";
  EXPECT_TRUE(declined(deep + close));
}

TEST(OddsChangeScanner, DeclinesEveryTruncation) {
  for (size_t size = 0; size < kMessage.size(); ++size) {
    OddsChangeView view;
    EXPECT_FALSE(scan_odds_change(std::string_view(kMessage).substr(0, size), view)) << size;
  }
}

TEST(OddsChangeScanner, ReusesTheViewFromMessageToMessage) {
  OddsChangeView view;
  ASSERT_TRUE(scan_odds_change(kMessage, view));
  ASSERT_TRUE(scan_odds_change(R"(<odds_change event_id="e"/>)", view));
  EXPECT_EQ(describe(view), R"(event_id="e" timestamp=absent)");
}

}  // namespace
}  // namespace oddsbus::feeds::uof
