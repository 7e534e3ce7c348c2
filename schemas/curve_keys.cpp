#include "schemas/curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace oddsbus::curve {
namespace {

CurveError error(CurveError::Code code, std::string message) { return {code, std::move(message)}; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

std::expected<std::string, CurveError> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::unexpected(
        error(CurveError::Code::kUnreadable, path + ": cannot read: " + std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

}  // namespace

std::string z85(const Key& key) {
  char text[41];
  zmq_z85_encode(text, key.data(), key.size());
  return std::string(text, 40);
}

std::expected<Key, CurveError> parse_z85_key(std::string_view text) {
  // Z85 (RFC 32) encodes 4 bytes as 5 characters of its 85-character alphabet.
  static constexpr std::string_view kAlphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  if (text.size() != 40 || text.find_first_not_of(kAlphabet) != std::string_view::npos) {
    return std::unexpected(
        error(CurveError::Code::kMalformed, "not a Z85 CURVE key (40 characters)"));
  }
  const std::string zero_terminated(text);
  Key key{};
  if (zmq_z85_decode(key.data(), zero_terminated.c_str()) == nullptr) {
    return std::unexpected(error(CurveError::Code::kMalformed, "not a Z85 CURVE key"));
  }
  return key;
}

std::expected<std::vector<Key>, CurveError> parse_key_lines(std::string_view text,
                                                            std::string_view origin) {
  std::vector<Key> keys;
  size_t line_number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    // '#' is a Z85 digit too, but never a key's first (85^4 * 84 > 2^32): a comment is a line
    // that starts with it, or what follows a key after white space.
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    if (const size_t space = line.find_first_of(" \t"); space != std::string_view::npos) {
      if (const std::string_view rest = trim(line.substr(space)); rest.front() != '#') {
        return std::unexpected(error(CurveError::Code::kMalformed,
                                     std::string(origin) + ":" + std::to_string(line_number) +
                                         ": one key a line (a comment starts with #)"));
      }
      line = line.substr(0, space);
    }
    auto key = parse_z85_key(line);
    if (!key) {
      return std::unexpected(error(
          CurveError::Code::kMalformed,
          std::string(origin) + ":" + std::to_string(line_number) + ": " + key.error().message));
    }
    keys.push_back(*key);
  }
  return keys;
}

std::expected<std::vector<Key>, CurveError> load_allow_list(const std::string& path) {
  auto text = read_file(path);
  if (!text) return std::unexpected(text.error());
  auto keys = parse_key_lines(*text, path);
  if (keys && keys->empty()) {
    return std::unexpected(error(CurveError::Code::kMalformed,
                                 path + ": no public key in the allow list (one Z85 key a line)"));
  }
  return keys;
}

std::expected<Key, CurveError> load_public_key(const std::string& path) {
  auto text = read_file(path);
  if (!text) return std::unexpected(text.error());
  auto keys = parse_key_lines(*text, path);
  if (!keys) return std::unexpected(keys.error());
  if (keys->size() != 1) {
    return std::unexpected(
        error(CurveError::Code::kMalformed,
              path + ": a public key file holds one Z85 key, not " + std::to_string(keys->size())));
  }
  return keys->front();
}

std::expected<KeyPair, CurveError> load_key_pair(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return std::unexpected(
        error(CurveError::Code::kUnreadable, path + ": cannot read: " + std::strerror(errno)));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return std::unexpected(error(CurveError::Code::kTooOpen,
                                 path + ": secret key file is open to group or others (mode " +
                                     octal_mode(st.st_mode) + "); chmod 600 " + path));
  }
  auto text = read_file(path);
  if (!text) return std::unexpected(text.error());
  auto keys = parse_key_lines(*text, path);
  if (!keys) return std::unexpected(keys.error());
  if (keys->size() != 1) {
    return std::unexpected(
        error(CurveError::Code::kMalformed,
              path + ": a secret key file holds one Z85 key, not " + std::to_string(keys->size())));
  }
  KeyPair pair;
  pair.secret_key = keys->front();
  char secret_text[41];
  char public_text[41];
  zmq_z85_encode(secret_text, pair.secret_key.data(), pair.secret_key.size());
  if (zmq_curve_public(public_text, secret_text) != 0) {
    return std::unexpected(error(CurveError::Code::kMalformed,
                                 path + ": cannot derive the public key (libzmq without CURVE?)"));
  }
  zmq_z85_decode(pair.public_key.data(), public_text);
  return pair;
}

KeyPair generate_key_pair() {
  char public_text[41];
  char secret_text[41];
  const int rc = zmq_curve_keypair(public_text, secret_text);
  if (rc != 0) throw std::runtime_error("zmq_curve_keypair failed: libzmq built without CURVE");
  KeyPair pair;
  zmq_z85_decode(pair.public_key.data(), public_text);
  zmq_z85_decode(pair.secret_key.data(), secret_text);
  return pair;
}

namespace {

std::expected<void, CurveError> write_new(const std::string& path, mode_t mode,
                                          const std::string& text) {
  // O_EXCL with the final mode: the secret is never, even briefly, in a file others may open.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    const int saved = errno;
    return std::unexpected(
        error(saved == EEXIST ? CurveError::Code::kExists : CurveError::Code::kIo,
              path + (saved == EEXIST ? ": exists already (never overwritten; remove it first)"
                                      : ": cannot create: " + std::string(std::strerror(saved)))));
  }
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int saved = errno;
      ::close(fd);
      return std::unexpected(
          error(CurveError::Code::kIo, path + ": cannot write: " + std::strerror(saved)));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return std::unexpected(
        error(CurveError::Code::kIo, path + ": cannot write: " + std::strerror(errno)));
  }
  return {};
}

}  // namespace

std::expected<void, CurveError> write_key_files(const std::string& out, const KeyPair& keys) {
  const std::string secret_path = out + ".key";
  const std::string public_path = out + ".pub";
  if (::access(public_path.c_str(), F_OK) == 0) {
    return std::unexpected(error(CurveError::Code::kExists,
                                 public_path + ": exists already (never overwritten; remove it "
                                               "first)"));
  }
  if (auto ok = write_new(secret_path, S_IRUSR | S_IWUSR,
                          "# oddsbus CURVE secret key (odds-keys generate); keep it mode 0600\n" +
                              z85(keys.secret_key) + "\n");
      !ok) {
    return ok;
  }
  return write_new(public_path, S_IRUSR | S_IWUSR | S_IRGRP | S_IROTH, z85(keys.public_key) + "\n");
}

}  // namespace oddsbus::curve
