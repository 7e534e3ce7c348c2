#include "edge/client_tokens.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "edge/client_tokens_file.h"

namespace oddsbus::edge {
namespace {

using Code = TokenError::Code;

Code error_of(std::string_view text) {
  auto parsed = ClientTokens::parse(text);
  EXPECT_FALSE(parsed.has_value()) << text;
  return parsed ? Code::kSyntax : parsed.error().code;
}

TEST(ClientTokens, GivesEachTokenItsMarketsAndNothingToOthers) {
  auto tokens = ClientTokens::parse(R"(
[[token]]
value = "desk-0123"
markets = "all"

[[token]]
value = "partner.a_b~c+d/e=="
markets = [1002, 1001, 1002]
)");
  ASSERT_TRUE(tokens.has_value()) << tokens.error().message;
  EXPECT_EQ(tokens->size(), 2u);
  const MarketRights* desk = tokens->find("desk-0123");
  ASSERT_NE(desk, nullptr);
  EXPECT_TRUE(desk->all);
  EXPECT_TRUE(desk->allows(77));
  const MarketRights* partner = tokens->find("partner.a_b~c+d/e==");
  ASSERT_NE(partner, nullptr);
  EXPECT_FALSE(partner->all);
  EXPECT_EQ(partner->markets, (std::vector<uint64_t>{1001, 1002}));
  EXPECT_TRUE(partner->allows(1001));
  EXPECT_FALSE(partner->allows(1003));
  EXPECT_EQ(tokens->find(""), nullptr);
  EXPECT_EQ(tokens->find("desk-012"), nullptr) << "a prefix is not the token";
  EXPECT_EQ(tokens->find("desk-01234"), nullptr);
  EXPECT_EQ(tokens->find("DESK-0123"), nullptr) << "values are case-sensitive";
}

TEST(ClientTokens, RefusesFilesThatCannotMeanWhatTheySay) {
  EXPECT_EQ(error_of("[[token]\nvalue = 1"), Code::kSyntax);
  EXPECT_EQ(error_of(""), Code::kNoTokens);
  EXPECT_EQ(error_of("tokens = []"), Code::kUnknownKey);
  EXPECT_EQ(error_of("[[token]]\nmarkets = \"all\""), Code::kBadValue);
  EXPECT_EQ(error_of("[[token]]\nvalue = 5\nmarkets = \"all\""), Code::kBadValue);
  EXPECT_EQ(error_of("[[token]]\nvalue = \"\"\nmarkets = \"all\""), Code::kBadValue);
  EXPECT_EQ(error_of("[[token]]\nvalue = \"has space\"\nmarkets = \"all\""), Code::kBadValue);
  EXPECT_EQ(error_of("[[token]]\nvalue = \"a=b\"\nmarkets = \"all\""), Code::kBadValue)
      << "= only at the end (RFC 6750 b64token)";
  EXPECT_EQ(error_of("[[token]]\nvalue = \"a\""), Code::kBadMarkets);
  EXPECT_EQ(error_of("[[token]]\nvalue = \"a\"\nmarkets = \"some\""), Code::kBadMarkets);
  EXPECT_EQ(error_of("[[token]]\nvalue = \"a\"\nmarkets = [1, -2]"), Code::kBadMarkets);
  EXPECT_EQ(error_of("[[token]]\nvalue = \"a\"\nmarkets = [1.5]"), Code::kBadMarkets);
  EXPECT_EQ(error_of("[[token]]\nvalue = \"a\"\nmarkets = 7"), Code::kBadMarkets);
  EXPECT_EQ(error_of("[[token]]\nvalue = \"a\"\nmarkets = \"all\"\nmarket = [1]"),
            Code::kUnknownKey);
  EXPECT_EQ(error_of("[[token]]\nvalue = \"a\"\nmarkets = \"all\"\n"
                     "[[token]]\nvalue = \"a\"\nmarkets = [1]"),
            Code::kDuplicateValue);
}

TEST(ClientTokens, NamesTheTableAtFaultAndNeverTheSecret) {
  auto parsed = ClientTokens::parse(
      "[[token]]\nvalue = \"first-secret\"\nmarkets = \"all\"\n"
      "[[token]]\nvalue = \"second-secret\"\nmarkets = [\"x\"]");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_NE(parsed.error().message.find("token 2"), std::string::npos) << parsed.error().message;
  EXPECT_EQ(parsed.error().message.find("secret"), std::string::npos) << parsed.error().message;
}

TEST(ClientTokens, ReadsTheBearerTokenOfAnAuthorizationHeader) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer abc"), "abc") << "the scheme is case-insensitive";
  EXPECT_EQ(bearer_token("BEARER  abc "), "abc");
  EXPECT_EQ(bearer_token("Basic YWxhZGRpbjpvcGVuc2VzYW1l"), "");
  EXPECT_EQ(bearer_token("Bearer"), "");
  EXPECT_EQ(bearer_token("Bearerabc"), "");
  EXPECT_EQ(bearer_token(""), "");
}

TEST(ClientTokensFile, IsRefusedWhenOthersCanReadIt) {
  const std::filesystem::path path =
      std::filesystem::path(::testing::TempDir()) / ("tokens_" + std::to_string(::getpid()));
  std::ofstream(path) << "[[token]]\nvalue = \"t\"\nmarkets = \"all\"\n";
  ::chmod(path.c_str(), 0644);
  auto loaded = load_client_tokens(path.string());
  ASSERT_FALSE(loaded.has_value());
  EXPECT_NE(loaded.error().find("readable"), std::string::npos) << loaded.error();
  EXPECT_NE(loaded.error().find(path.string()), std::string::npos) << loaded.error();
  ::chmod(path.c_str(), 0600);
  loaded = load_client_tokens(path.string());
  ASSERT_TRUE(loaded.has_value()) << loaded.error();
  EXPECT_NE(loaded->find("t"), nullptr);
  std::filesystem::remove(path);
  EXPECT_FALSE(load_client_tokens(path.string()).has_value());
}

}  // namespace
}  // namespace oddsbus::edge
