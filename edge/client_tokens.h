// The edge's client tokens (DESIGN section 10, `--tokens FILE`): which bearer tokens may use the
// edge, and which markets each may see. The file is TOML:
//
//   [[token]]
//   value = "s3cr3t-desk"         # what a client sends: `Authorization: Bearer s3cr3t-desk`
//   markets = "all"
//   [[token]]
//   value = "partner-a"
//   markets = [1001, 1002]        # canonical market ids
//
// Parsing is sans-I/O (a string in, a table or a coded error out); reading the file, with its
// permission check, is load_client_tokens() in edge/client_tokens_file.h.
//
// Secrets: only SHA-256 digests of the values are kept, and find() compares the presented
// token's digest with every stored digest with CRYPTO_memcmp, never stopping early, so how long
// it takes says nothing about how much of a token matched, nor which one did.
//
// Thread-safety: immutable after parse(); find() is safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace oddsbus::edge {

// What one client may see: every market, or the ones listed.
struct MarketRights {
  bool all = true;
  std::vector<uint64_t> markets;  // ascending, no duplicates; used when !all
  bool allows(uint64_t market) const;
};

struct TokenError {
  enum class Code : uint8_t {
    kSyntax,    // not TOML
    kNoTokens,  // no [[token]] table: nobody could connect
    kBadValue,  // value missing, not a string, empty, or with characters a header cannot carry
    kDuplicateValue,  // two tables with the same value
    kBadMarkets,      // markets missing, or neither "all" nor a list of non-negative ids
    kUnknownKey,      // a key other than token (top level) or value / markets (in a token)
  };
  Code code;
  std::string message;  // one line; never contains a token value
};

class ClientTokens {
 public:
  using Digest = std::array<unsigned char, 32>;

  // Parses the tokens file's text. Errors name the table ("token 2") and what is wrong.
  static std::expected<ClientTokens, TokenError> parse(std::string_view toml_text);

  // The rights of `presented` (a bearer token's value), or nullptr when it is none of ours.
  // Valid as long as this table.
  const MarketRights* find(std::string_view presented) const;

  size_t size() const { return digests_.size(); }

 private:
  std::vector<Digest> digests_;
  std::vector<MarketRights> rights_;  // rights_[i] belongs to digests_[i]
};

// The token of an `Authorization` header value "Bearer TOKEN" (RFC 6750 section 2.1; the scheme is
// case-insensitive, RFC 7235 section 2.1), or an empty view when it is absent or another scheme.
std::string_view bearer_token(std::string_view authorization);

}  // namespace oddsbus::edge
