#include "edge/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <fstream>
#include <stdexcept>

#include "schemas/log.h"

namespace oddsbus::edge {

namespace ssl = boost::asio::ssl;

namespace {

// OpenSSL's reason for the last failure (its error queue, emptied), or `fallback`.
std::string openssl_reason(const std::string& fallback) {
  std::string reason;
  while (const unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    reason = text;  // the last is the most specific
  }
  return reason.empty() ? fallback : reason;
}

void readable(const std::string& flag, const std::string& path) {
  if (path.empty()) throw std::runtime_error(flag + " is required with the other TLS flag");
  if (!std::ifstream(path)) throw std::runtime_error(flag + " " + path + ": cannot read the file");
}

}  // namespace

std::unique_ptr<ssl::context> make_server_tls_context(const TlsFiles& files) {
  readable("--tls-cert", files.cert_file);
  readable("--tls-key", files.key_file);
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use | ssl::context::no_compression);
  SSL_CTX* native = context->native_handle();
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(native, files.cert_file.c_str()) != 1) {
    throw std::runtime_error("--tls-cert " + files.cert_file + ": not a PEM certificate (" +
                             openssl_reason("unreadable") + ")");
  }
  if (SSL_CTX_use_PrivateKey_file(native, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::runtime_error("--tls-key " + files.key_file + ": not a PEM private key (" +
                             openssl_reason("unreadable") + ")");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    throw std::runtime_error("--tls-key " + files.key_file +
                             ": does not match the certificate in " + files.cert_file + " (" +
                             openssl_reason("mismatch") + ")");
  }
  struct stat st {};
  if (::stat(files.key_file.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
    log(LogLevel::kWarn, "edge: %s (the TLS private key) is readable by others: chmod 600 it",
        files.key_file.c_str());
  }
  return context;
}

}  // namespace oddsbus::edge
