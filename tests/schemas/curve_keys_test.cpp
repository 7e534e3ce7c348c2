// Key files and allow lists (schemas/curve_keys.h): what odds-keys writes reads back, a secret
// key file open to group or others is refused with a reason, an allow list's comments and bad
// lines.
#include "schemas/curve_keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace oddsbus::curve {
namespace {

std::filesystem::path scratch() {
  const auto dir = std::filesystem::path(::testing::TempDir()) /
                   ("curve_keys_" + std::to_string(::getpid()) + "_" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

mode_t mode_of(const std::filesystem::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 07777;
}

TEST(CurveKeys, GeneratedFilesReadBackAsTheSamePair) {
  const auto dir = scratch();
  const KeyPair pair = generate_key_pair();
  ASSERT_TRUE(write_key_files((dir / "node1").string(), pair));
  EXPECT_EQ(mode_of(dir / "node1.key"), 0600u);
  auto loaded = load_key_pair((dir / "node1.key").string());
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->secret_key, pair.secret_key);
  EXPECT_EQ(loaded->public_key, pair.public_key);  // derived from the secret
  auto pub = load_public_key((dir / "node1.pub").string());
  ASSERT_TRUE(pub) << pub.error().message;
  EXPECT_EQ(*pub, pair.public_key);
}

TEST(CurveKeys, GenerateEvenUnderAPermissiveUmaskCreatesTheSecretOwnerOnly) {
  const auto dir = scratch();
  const mode_t old = ::umask(0);
  auto written = write_key_files((dir / "k").string(), generate_key_pair());
  ::umask(old);
  ASSERT_TRUE(written);
  EXPECT_EQ(mode_of(dir / "k.key"), 0600u);
}

TEST(CurveKeys, GenerateNeverOverwrites) {
  const auto dir = scratch();
  ASSERT_TRUE(write_key_files((dir / "k").string(), generate_key_pair()));
  const std::string before = [&] {
    std::ifstream in(dir / "k.key");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  auto again = write_key_files((dir / "k").string(), generate_key_pair());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, CurveError::Code::kExists);
  std::ifstream in(dir / "k.key");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), before);
}

TEST(CurveKeys, RefusesASecretKeyFileReadableByGroupOrOthers) {
  const auto dir = scratch();
  ASSERT_TRUE(write_key_files((dir / "k").string(), generate_key_pair()));
  const std::string path = (dir / "k.key").string();
  for (const mode_t mode : {0640u, 0604u, 0644u, 0660u, 0602u}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto loaded = load_key_pair(path);
    ASSERT_FALSE(loaded) << std::oct << mode;
    EXPECT_EQ(loaded.error().code, CurveError::Code::kTooOpen);
    EXPECT_NE(loaded.error().message.find(path), std::string::npos) << loaded.error().message;
    EXPECT_NE(loaded.error().message.find("chmod 600"), std::string::npos);
    EXPECT_EQ(loaded.error().message.find('\n'), std::string::npos);
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(load_key_pair(path));
}

TEST(CurveKeys, AMissingKeyFileIsUnreadableNamingIt) {
  auto loaded = load_key_pair("/nonexistent/k.key");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, CurveError::Code::kUnreadable);
  EXPECT_NE(loaded.error().message.find("/nonexistent/k.key"), std::string::npos);
}

TEST(CurveKeys, AllowListTakesCommentsBlankLinesAndTrailingComments) {
  const std::string a = z85(generate_key_pair().public_key);
  const std::string b = z85(generate_key_pair().public_key);
  auto keys = parse_key_lines("# edges\n\n  " + a + "  # edge-1\r\n" + b + "\n#\n", "allow");
  ASSERT_TRUE(keys) << keys.error().message;
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ(z85((*keys)[0]), a);
  EXPECT_EQ(z85((*keys)[1]), b);
}

TEST(CurveKeys, AllowListRefusesABadLineNamingIt) {
  const std::string a = z85(generate_key_pair().public_key);
  auto short_key = parse_key_lines(a + "\n" + a.substr(0, 39) + "\n", "allow");
  ASSERT_FALSE(short_key);
  EXPECT_EQ(short_key.error().code, CurveError::Code::kMalformed);
  EXPECT_NE(short_key.error().message.find("allow:2:"), std::string::npos)
      << short_key.error().message;
  auto two_on_a_line = parse_key_lines(a + " " + a + "\n", "allow");
  ASSERT_FALSE(two_on_a_line);
  EXPECT_NE(two_on_a_line.error().message.find("allow:1:"), std::string::npos);
  auto bad_character = parse_key_lines(std::string(39, 'a') + "~\n", "allow");
  EXPECT_FALSE(bad_character);
}

TEST(CurveKeys, AnEmptyAllowListIsRefused) {
  const auto dir = scratch();
  write(dir / "allow", "# nobody\n");
  auto keys = load_allow_list((dir / "allow").string());
  ASSERT_FALSE(keys);
  EXPECT_EQ(keys.error().code, CurveError::Code::kMalformed);
}

TEST(CurveKeys, PubFilesConcatenatedAreAnAllowList) {
  const auto dir = scratch();
  const KeyPair a = generate_key_pair();
  const KeyPair b = generate_key_pair();
  ASSERT_TRUE(write_key_files((dir / "a").string(), a));
  ASSERT_TRUE(write_key_files((dir / "b").string(), b));
  std::ifstream ina(dir / "a.pub");
  std::ifstream inb(dir / "b.pub");
  write(dir / "allow", std::string(std::istreambuf_iterator<char>(ina), {}) +
                           std::string(std::istreambuf_iterator<char>(inb), {}));
  auto keys = load_allow_list((dir / "allow").string());
  ASSERT_TRUE(keys) << keys.error().message;
  EXPECT_EQ(*keys, (std::vector<Key>{a.public_key, b.public_key}));
}

}  // namespace
}  // namespace oddsbus::curve
