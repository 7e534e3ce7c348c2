// The tls:// line URLs of a betfair-stream feed (DESIGN section 10).
#include "feeds/betfair/tls_stream_link.h"

#include <gtest/gtest.h>

namespace oddsbus::feeds::betfair {
namespace {

TEST(ParseTlsUrl, ReadsHostAndPort) {
  auto endpoint = parse_tls_url("tls://stream-api.betfair.com:443");
  ASSERT_TRUE(endpoint) << endpoint.error();
  EXPECT_EQ(endpoint->host, "stream-api.betfair.com");
  EXPECT_EQ(endpoint->port, 443);
}

TEST(ParseTlsUrl, RefusesOtherSchemesAndBadPortsNamingTheTlsForm) {
  for (const char* url : {"tls://host", "tls://host:0", "tls://host:70000", "tls://:443"}) {
    SCOPED_TRACE(url);
    auto endpoint = parse_tls_url(url);
    ASSERT_FALSE(endpoint);
    EXPECT_EQ(endpoint.error().find("tcp://"), std::string::npos)
        << "the message names the form the operator wrote: " << endpoint.error();
  }
  EXPECT_FALSE(parse_tls_url("stream-api.betfair.com:443"));
  EXPECT_NE(parse_tls_url("tcp://127.0.0.1:443").error().find("tls://HOST:PORT"),
            std::string::npos);
}

}  // namespace
}  // namespace oddsbus::feeds::betfair
