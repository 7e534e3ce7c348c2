// CurveZMQ key material for every ZeroMQ link (issue 14, DESIGN section 10): the key files
// `odds-keys generate --out PATH` writes, and the allow list a server takes.
//
// Files (text; a line starting with `#`, or `#` after a key and white space, is a comment):
//   PATH.key  the secret key, Z85 (40 characters) on one line; mode 0600. A secret key file with
//             any permission for group or others is refused (load_key_pair) with a reason that
//             names the file and says `chmod 600`.
//   PATH.pub  the public key, Z85 on one line. Several .pub files concatenated are an allow list.
//   allow     one Z85 public key per line: the clients a server lets in (--curve-allow).
// Keys are held binary (32 bytes); Z85 is their text form (https://rfc.zeromq.org/spec/32/).
//
// Thread safety: plain functions and values; the loaders read files (start-up only).
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace oddsbus::curve {

using Key = std::array<uint8_t, 32>;

struct KeyPair {
  Key public_key{};
  Key secret_key{};
};

struct CurveError {
  enum class Code : uint8_t {
    kUnreadable,  // the file could not be opened or read
    kTooOpen,     // a secret key file with permissions for group or others
    kMalformed,   // not a Z85 key where one was expected (the message says which line)
    kExists,      // generate: the file is there already (never overwritten)
    kIo,          // generate: could not write
  };
  Code code;
  std::string message;  // one line naming the file
};

// The Z85 text of `key` (40 characters).
std::string z85(const Key& key);
// A Z85 key (exactly 40 characters of the Z85 alphabet); nullopt-like error otherwise.
std::expected<Key, CurveError> parse_z85_key(std::string_view text);

// The keys of `text` (allow-list syntax: one Z85 key per line, comments and blank lines
// ignored, surrounding spaces trimmed). `origin` names the source in errors ("FILE:LINE: ...").
std::expected<std::vector<Key>, CurveError> parse_key_lines(std::string_view text,
                                                            std::string_view origin);

// The allow list at `path`: its keys, at least one.
std::expected<std::vector<Key>, CurveError> load_allow_list(const std::string& path);
// The one public key of a .pub file (--curve-server-key).
std::expected<Key, CurveError> load_public_key(const std::string& path);
// The secret key file at `path` and its public key. Refuses a file open to group or others.
std::expected<KeyPair, CurveError> load_key_pair(const std::string& path);

// A fresh key pair (zmq_curve_keypair).
KeyPair generate_key_pair();
// Writes `out`.key (created 0600, never more open, refused if it exists) and `out`.pub.
std::expected<void, CurveError> write_key_files(const std::string& out, const KeyPair& keys);

}  // namespace oddsbus::curve
