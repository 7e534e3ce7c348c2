// The edge's TLS server context (`--tls-cert FILE --tls-key FILE`): OpenSSL through Boost.Asio's
// ssl::context, TLS 1.2 and later only. The certificate file is PEM, the server's certificate
// first and then any intermediates; the key file is its PEM private key.
//
// Built once at start-up; throws std::runtime_error with a one-line reason that names the file
// at fault and what OpenSSL found (not PEM, no such file, the key does not match the
// certificate). Used afterwards only by the serving thread.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

namespace oddsbus::edge {

struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  bool enabled() const { return !cert_file.empty(); }
};

std::unique_ptr<boost::asio::ssl::context> make_server_tls_context(const TlsFiles& files);

}  // namespace oddsbus::edge
