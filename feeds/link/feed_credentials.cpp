#include "feeds/link/feed_credentials.h"

#include <sys/stat.h>

#include <toml++/toml.h>
#include <fstream>

namespace oddsbus::feeds::link {
namespace {

std::expected<std::string, std::string> string_key(const toml::table& table,
                                                   const std::string& path, std::string_view key,
                                                   bool required) {
  const toml::node* node = table.get(key);
  if (node == nullptr) {
    if (required) return std::unexpected(path + ": missing " + std::string(key));
    return std::string{};
  }
  const auto value = node->value<std::string>();
  if (!value) return std::unexpected(path + ": " + std::string(key) + " is not a string");
  if (value->empty()) return std::unexpected(path + ": " + std::string(key) + " is empty");
  return *value;
}

}  // namespace

std::expected<FeedCredentials, std::string> load_feed_credentials(const std::string& path,
                                                                  CredentialsKind kind) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::unexpected(path + ": cannot read the file");
  if ((st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH)) != 0) {
    return std::unexpected(path + ": readable or writable by others (holds secrets): chmod 600 it");
  }
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return std::unexpected(path + ": " + std::string(e.description()));
  }
  FeedCredentials c;
  c.path = path;
  const bool betfair = kind == CredentialsKind::kBetfair;
  for (const auto& [key, value] : table) {
    const std::string_view k = key.str();
    const bool known = k == "ca_file" || (betfair && (k == "app_key" || k == "session_token")) ||
                       (!betfair && (k == "access_token" || k == "api_url" || k == "node_id"));
    if (!known) {
      return std::unexpected(path + ": unknown key " + std::string(k) + " for " +
                             (betfair ? "betfair-stream" : "uof-xml"));
    }
  }
  auto read = [&](std::string_view key, bool required,
                  std::string& into) -> std::optional<std::string> {
    auto v = string_key(table, path, key, required);
    if (!v) return v.error();
    into = std::move(*v);
    return std::nullopt;
  };
  if (betfair) {
    if (auto e = read("app_key", true, c.app_key)) return std::unexpected(*e);
    if (auto e = read("session_token", true, c.session_token)) return std::unexpected(*e);
  } else {
    if (auto e = read("access_token", true, c.access_token)) return std::unexpected(*e);
    if (auto e = read("api_url", true, c.api_url)) return std::unexpected(*e);
    if (const toml::node* node = table.get("node_id")) {
      const auto id = node->value<int64_t>();
      if (!id || *id < 0) return std::unexpected(path + ": node_id is not a non-negative integer");
      c.node_id = static_cast<uint64_t>(*id);
    }
  }
  if (auto e = read("ca_file", false, c.ca_file)) return std::unexpected(*e);
  if (!c.ca_file.empty() && !std::ifstream(c.ca_file)) {
    return std::unexpected(path + ": ca_file " + c.ca_file + " cannot be read");
  }
  return c;
}

std::expected<std::pair<std::string, std::string>, std::string> parse_feed_auth(
    std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size()) {
    return std::unexpected("--feed-auth '" + std::string(text) + "' is not NAME=FILE");
  }
  return std::pair{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

}  // namespace oddsbus::feeds::link
