// A provider session's credentials file (DESIGN section 10, `--feed-auth NAME=FILE`): a TOML file
// with the secrets of one feed. Betfair: `app_key` and `session_token`; UOF: `access_token`,
// `api_url` and optional `node_id`; either: optional `ca_file` (PEM CA bundle for the TLS peer).
// The file is refused when its permission bits let anyone but its owner read it (group or other
// read), as ssh refuses a private key: a secret that others can read is already leaked.
//
// Read once at start-up, on the main thread. Errors are one line naming the file and what is wrong.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace oddsbus::feeds::link {

struct FeedCredentials {
  std::string path;  // the file it came from, for messages
  // Betfair Exchange Stream API.
  std::string app_key;
  std::string session_token;
  // Sportradar Unified Odds Feed.
  std::string access_token;
  std::string api_url;  // e.g. "https://api.betradar.com/v1" (no trailing slash needed)
  std::optional<uint64_t> node_id;
  // Either: a CA bundle to verify the provider's TLS certificate ("" : the system's store).
  std::string ca_file;
};

// Which keys a format requires.
enum class CredentialsKind : uint8_t { kBetfair, kUof };

// Reads and checks `path` for `kind`: the permission check, TOML syntax, required keys present and
// non-empty, node_id a non-negative integer, ca_file readable when given. Unknown keys are refused
// (a misspelt optional key would otherwise be silently ignored).
std::expected<FeedCredentials, std::string> load_feed_credentials(const std::string& path,
                                                                  CredentialsKind kind);

// Parses "NAME=FILE" (the --feed-auth flag).
std::expected<std::pair<std::string, std::string>, std::string> parse_feed_auth(
    std::string_view text);

}  // namespace oddsbus::feeds::link
