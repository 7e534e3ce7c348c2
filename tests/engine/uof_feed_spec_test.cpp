// --feed with an AMQP URL (DESIGN section 10): uof-xml only, one URL, and the credentials file it
// needs (engine/node.h parse_feed_spec, engine/provider_feed.h open_uof_session).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/node.h"
#include "engine/provider_feed.h"

namespace oddsbus::engine {
namespace {

TEST(UofFeedSpec, AcceptsAnAmqpUrlForUofXmlOnly) {
  auto spec = parse_feed_spec("sr=uof-xml@amqps://mq.betradar.com:5671/unifiedfeed/1");
  ASSERT_TRUE(spec) << spec.error();
  EXPECT_EQ(spec->urls, std::vector<std::string>{"amqps://mq.betradar.com:5671/unifiedfeed/1"});
  EXPECT_FALSE(parse_feed_spec("bf=betfair-stream@amqp://h:5672/"));
  EXPECT_FALSE(parse_feed_spec("sr=uof-xml@amqp://h:5672/?bogus=1"));
  EXPECT_FALSE(parse_feed_spec("sr=uof-xml@amqp://:5672/"));
}

TEST(UofFeedSpec, AnAmqpSessionNeedsOneUrlAndItsCredentials) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("uof_feed_spec_test." + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string credentials = (dir / "sr.toml").string();
  std::ofstream(credentials) << "access_token = \"t\"\napi_url = \"http://127.0.0.1:1/v1\"\n";
  ::chmod(credentials.c_str(), 0600);

  ProviderFeed feed;
  feed.spec = *parse_feed_spec("sr=uof-xml@amqp://127.0.0.1:5672/");
  auto opened = open_uof_session(feed, nullptr, 1);
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().find("--feed-auth sr="), std::string::npos) << opened.error();

  feed.spec.auth_file = credentials;
  feed.spec.urls.push_back("tcp://127.0.0.1:9001");
  EXPECT_FALSE(open_uof_session(feed, nullptr, 1));  // an AMQP session is one URL

  feed.spec.urls.pop_back();
  opened = open_uof_session(feed, nullptr, 1);
  ASSERT_TRUE(opened) << opened.error();
  ASSERT_NE(feed.uof_session, nullptr);
  EXPECT_EQ(feed.uof_session->config().binding_keys, std::vector<std::string>{"#"});
  EXPECT_EQ(feed.uof_session->config().recovery.api.base, "/v1");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace oddsbus::engine
