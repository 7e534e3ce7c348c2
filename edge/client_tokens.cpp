#include "edge/client_tokens.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <toml++/toml.h>
#include <algorithm>

namespace oddsbus::edge {

namespace {

using Refusal = std::unexpected<TokenError>;

Refusal refuse(TokenError::Code code, std::string message) {
  return Refusal(TokenError{code, std::move(message)});
}

ClientTokens::Digest digest_of(std::string_view value) {
  ClientTokens::Digest digest{};
  SHA256(reinterpret_cast<const unsigned char*>(value.data()), value.size(), digest.data());
  return digest;
}

// RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
// (https://datatracker.ietf.org/doc/html/rfc6750#section-2.1): a value outside it could never be
// presented in an Authorization header.
bool is_b64token(std::string_view value) {
  size_t i = 0;
  auto token_char = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
  };
  while (i < value.size() && token_char(value[i])) ++i;
  if (i == 0) return false;
  while (i < value.size() && value[i] == '=') ++i;
  return i == value.size();
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

}  // namespace

bool MarketRights::allows(uint64_t market) const {
  return all || std::binary_search(markets.begin(), markets.end(), market);
}

std::expected<ClientTokens, TokenError> ClientTokens::parse(std::string_view toml_text) {
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return refuse(TokenError::Code::kSyntax, std::string(e.description()) + " at line " +
                                                 std::to_string(e.source().begin.line));
  }
  for (const auto& [key, node] : root) {
    if (key.str() != "token") {
      return refuse(TokenError::Code::kUnknownKey,
                    "unknown key " + std::string(key.str()) + " (expected [[token]] tables)");
    }
  }
  const toml::array* tables = root["token"].as_array();
  if (tables == nullptr || tables->empty()) {
    return refuse(TokenError::Code::kNoTokens, "no [[token]] table: no client could connect");
  }
  ClientTokens tokens;
  for (size_t i = 0; i < tables->size(); ++i) {
    const std::string where = "token " + std::to_string(i + 1);
    const toml::table* table = tables->get(i)->as_table();
    if (table == nullptr) {
      return refuse(TokenError::Code::kSyntax, where + ": expected a [[token]] table");
    }
    for (const auto& [key, node] : *table) {
      if (key.str() != "value" && key.str() != "markets") {
        return refuse(
            TokenError::Code::kUnknownKey,
            where + ": unknown key " + std::string(key.str()) + " (expected value and markets)");
      }
    }
    const std::optional<std::string> value = (*table)["value"].value<std::string>();
    if (!value) return refuse(TokenError::Code::kBadValue, where + ": value: expected a string");
    if (!is_b64token(*value)) {
      return refuse(TokenError::Code::kBadValue,
                    where +
                        ": value: expected 1 or more of A-Z a-z 0-9 - . _ ~ + / then any = "
                        "(what an Authorization: Bearer header can carry)");
    }
    MarketRights rights;
    const toml::node* markets = table->get("markets");
    if (markets == nullptr) {
      return refuse(TokenError::Code::kBadMarkets,
                    where + ": markets: missing (\"all\" or a list of market ids)");
    }
    if (const auto word = markets->value<std::string>()) {
      if (*word != "all") {
        return refuse(TokenError::Code::kBadMarkets,
                      where + ": markets: expected \"all\" or a list of market ids");
      }
    } else if (const toml::array* ids = markets->as_array()) {
      rights.all = false;
      for (const toml::node& id : *ids) {
        const std::optional<int64_t> n = id.value_exact<int64_t>();
        if (!n || *n < 0) {
          return refuse(TokenError::Code::kBadMarkets,
                        where + ": markets: ids are non-negative integers");
        }
        rights.markets.push_back(static_cast<uint64_t>(*n));
      }
      std::sort(rights.markets.begin(), rights.markets.end());
      rights.markets.erase(std::unique(rights.markets.begin(), rights.markets.end()),
                           rights.markets.end());
    } else {
      return refuse(TokenError::Code::kBadMarkets,
                    where + ": markets: expected \"all\" or a list of market ids");
    }
    const Digest digest = digest_of(*value);
    if (std::find(tokens.digests_.begin(), tokens.digests_.end(), digest) !=
        tokens.digests_.end()) {
      return refuse(TokenError::Code::kDuplicateValue,
                    where + ": value: the same as an earlier token's");
    }
    tokens.digests_.push_back(digest);
    tokens.rights_.push_back(std::move(rights));
  }
  return tokens;
}

const MarketRights* ClientTokens::find(std::string_view presented) const {
  if (presented.empty()) return nullptr;
  const Digest digest = digest_of(presented);
  // Every digest is compared, and the match is chosen without a branch on the comparison: the
  // time taken depends only on how many tokens there are.
  size_t found = digests_.size();
  for (size_t i = 0; i < digests_.size(); ++i) {
    const size_t differs = CRYPTO_memcmp(digest.data(), digests_[i].data(), digest.size()) != 0;
    found = differs * found + (1 - differs) * i;
  }
  return found < rights_.size() ? &rights_[found] : nullptr;
}

std::string_view bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() ||
      !iequals(authorization.substr(0, kScheme.size()), kScheme) ||
      authorization[kScheme.size()] != ' ') {
    return {};
  }
  std::string_view token = authorization.substr(kScheme.size() + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  return token;
}

}  // namespace oddsbus::edge
