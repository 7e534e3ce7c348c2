// --feed-auth credentials files (feeds/link/feed_credentials.h): the keys each provider needs, and
// a file others can read is refused.
#include "feeds/link/feed_credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace oddsbus::feeds::link {
namespace {

class FeedCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("feed_credentials_test." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& text, mode_t mode = 0600) {
    const std::string path = (dir_ / ("c" + std::to_string(files_++) + ".toml")).string();
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::filesystem::path dir_;
  int files_ = 0;
};

TEST_F(FeedCredentialsTest, ReadsAUofFile) {
  const std::string ca = write("not checked as PEM here\n", 0644);
  auto c = load_feed_credentials(write("access_token = \"tok\"\napi_url = \"https://api/v1\"\n"
                                       "node_id = 7\nca_file = \"" +
                                       ca + "\"\n"),
                                 CredentialsKind::kUof);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->access_token, "tok");
  EXPECT_EQ(c->api_url, "https://api/v1");
  EXPECT_EQ(c->node_id, 7u);
  EXPECT_EQ(c->ca_file, ca);
}

TEST_F(FeedCredentialsTest, ReadsABetfairFile) {
  auto c = load_feed_credentials(write("app_key = \"k\"\nsession_token = \"s\"\n"),
                                 CredentialsKind::kBetfair);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->app_key, "k");
  EXPECT_EQ(c->session_token, "s");
  EXPECT_FALSE(c->node_id);
}

TEST_F(FeedCredentialsTest, RefusesAFileOthersCanRead) {
  const std::string text = "access_token = \"tok\"\napi_url = \"https://api/v1\"\n";
  for (mode_t mode : {0640, 0604, 0620}) {
    auto c = load_feed_credentials(write(text, mode), CredentialsKind::kUof);
    ASSERT_FALSE(c) << std::oct << mode;
    EXPECT_NE(c.error().find("chmod 600"), std::string::npos) << c.error();
  }
  EXPECT_TRUE(load_feed_credentials(write(text, 0400), CredentialsKind::kUof));
}

TEST_F(FeedCredentialsTest, SaysWhatIsMissingOrWrong) {
  auto expect_error = [&](const std::string& text, CredentialsKind kind, const std::string& what) {
    auto c = load_feed_credentials(write(text), kind);
    ASSERT_FALSE(c) << text;
    EXPECT_NE(c.error().find(what), std::string::npos) << c.error();
  };
  expect_error("api_url = \"https://a\"\n", CredentialsKind::kUof, "missing access_token");
  expect_error("access_token = \"t\"\n", CredentialsKind::kUof, "missing api_url");
  expect_error("access_token = \"\"\napi_url = \"https://a\"\n", CredentialsKind::kUof,
               "access_token is empty");
  expect_error("access_token = \"t\"\napi_url = \"https://a\"\nnode_id = -1\n",
               CredentialsKind::kUof, "node_id");
  expect_error("access_token = \"t\"\napi_url = \"https://a\"\nnodeid = 1\n", CredentialsKind::kUof,
               "unknown key nodeid");
  expect_error("app_key = \"k\"\n", CredentialsKind::kBetfair, "missing session_token");
  expect_error("access_token = \"t\"\napi_url = \"https://a\"\nca_file = \"/nonexistent\"\n",
               CredentialsKind::kUof, "ca_file");
  expect_error("access_token = = \n", CredentialsKind::kUof, ".toml");
  EXPECT_FALSE(load_feed_credentials((dir_ / "absent.toml").string(), CredentialsKind::kUof));
}

TEST(FeedAuthFlag, IsNameEqualsFile) {
  auto parsed = parse_feed_auth("sr=/etc/oddsbus/sr.toml");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first, "sr");
  EXPECT_EQ(parsed->second, "/etc/oddsbus/sr.toml");
  EXPECT_FALSE(parse_feed_auth("sr"));
  EXPECT_FALSE(parse_feed_auth("=f"));
  EXPECT_FALSE(parse_feed_auth("sr="));
}

}  // namespace
}  // namespace oddsbus::feeds::link
