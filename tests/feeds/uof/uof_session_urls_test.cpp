// The UOF session's URLs: amqp(s):// (feeds/uof/amqp_session.h) and the recovery API's base
// (feeds/uof/recovery_api_client.h).
#include <gtest/gtest.h>

#include "feeds/uof/amqp_session.h"
#include "feeds/uof/recovery_api_client.h"

namespace oddsbus::feeds::uof {
namespace {

TEST(UofAmqpUrl, KeepsTheVirtualHostsLeadingSlash) {
  auto url = parse_amqp_url("amqps://mq.betradar.com:5671/unifiedfeed/12345");
  ASSERT_TRUE(url) << url.error();
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->host, "mq.betradar.com");
  EXPECT_EQ(url->port, 5671);
  EXPECT_EQ(url->vhost, "/unifiedfeed/12345");
  EXPECT_EQ(parse_amqp_url("amqps://mq.betradar.com/%2Funifiedfeed%2F12345")->vhost,
            "/unifiedfeed/12345");
  EXPECT_EQ(parse_amqp_url("amqp://127.0.0.1:5672/")->vhost, "/");
  EXPECT_EQ(parse_amqp_url("amqp://127.0.0.1")->vhost, "/");
  EXPECT_EQ(parse_amqp_url("amqp://127.0.0.1")->port, 5672);
  EXPECT_EQ(parse_amqp_url("amqps://h")->port, 5671);
}

TEST(UofAmqpUrl, ReadsQueryParameters) {
  auto url = parse_amqp_url(
      "amqp://h:1/v?heartbeat=5&connection_timeout=200&inactivity_ms=1500&"
      "min_recovery_interval_ms=100&max_recovery_ms=9000");
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->vhost, "/v");
  EXPECT_EQ(url->heartbeat_s, 5u);
  EXPECT_EQ(url->connection_timeout_ms, 200u);
  EXPECT_EQ(url->inactivity_ms, 1500u);
  EXPECT_EQ(url->min_recovery_interval_ms, 100u);
  EXPECT_EQ(url->max_recovery_ms, 9000u);
  AmqpSessionConfig config;
  config.url = *url;
  AmqpSession session(config);
  EXPECT_EQ(session.config().producers.inactivity_ns, 1'500'000'000u);
  EXPECT_EQ(session.config().heartbeat_seconds, 5);
}

TEST(UofAmqpUrl, RefusesWhatItCannotUse) {
  EXPECT_FALSE(parse_amqp_url("tcp://h:1"));
  EXPECT_FALSE(parse_amqp_url("amqp://:1/"));
  EXPECT_FALSE(parse_amqp_url("amqp://h:0/"));
  EXPECT_FALSE(parse_amqp_url("amqp://h:70000/"));
  EXPECT_FALSE(parse_amqp_url("amqp://h/%zz"));
  EXPECT_FALSE(parse_amqp_url("amqp://h/?inactivity=5"));
  EXPECT_FALSE(parse_amqp_url("amqp://h/?inactivity_ms=x"));
}

TEST(UofApiUrl, SplitsHostPortAndBase) {
  auto api = parse_api_url("https://api.betradar.com/v1/");
  ASSERT_TRUE(api) << api.error();
  EXPECT_TRUE(api->tls);
  EXPECT_EQ(api->host, "api.betradar.com");
  EXPECT_EQ(api->port, "443");
  EXPECT_EQ(api->base, "/v1");
  api = parse_api_url("http://127.0.0.1:8080");
  ASSERT_TRUE(api);
  EXPECT_FALSE(api->tls);
  EXPECT_EQ(api->port, "8080");
  EXPECT_EQ(api->base, "");
  EXPECT_FALSE(parse_api_url("ftp://x"));
  EXPECT_FALSE(parse_api_url("http://:80"));
  EXPECT_FALSE(parse_api_url("http://h:x/"));
}

TEST(UofApiUrl, ARefusedConnectionIsAnErrorNotAHang) {
  RecoveryApiConfig config;
  config.api = *parse_api_url("http://127.0.0.1:1/v1");
  config.timeout = std::chrono::milliseconds(2000);
  auto status = post_recovery(config, "liveodds/recovery/initiate_request?request_id=1");
  EXPECT_FALSE(status);
}

}  // namespace
}  // namespace oddsbus::feeds::uof
