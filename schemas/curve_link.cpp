#include "schemas/curve_link.h"

#include <stdexcept>

namespace oddsbus::curve {

std::expected<std::unique_ptr<CurveServer>, CurveError> CurveServer::start(
    zmq::context_t& context, const std::string& key_file, const std::string& allow_file) {
  auto keys = load_key_pair(key_file);
  if (!keys) return std::unexpected(keys.error());
  auto allowed = load_allow_list(allow_file);
  if (!allowed) return std::unexpected(allowed.error());
  return std::make_unique<CurveServer>(context, *keys, *allowed);
}

CurveServer::CurveServer(zmq::context_t& context, const KeyPair& keys,
                         const std::vector<Key>& allowed)
    : keys_(keys), zap_(context, allowed) {}

void CurveServer::secure(zmq::socket_t& socket) const {
  socket.set(zmq::sockopt::curve_server, true);
  socket.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(keys_.secret_key.data(), 32));
  socket.set(zmq::sockopt::zap_domain, "oddsbus");
}

const Key* CurveClient::server_for(std::string_view url) const {
  for (const auto& [server_url, key] : servers) {
    if (server_url == url) return &key;
  }
  return nullptr;
}

void CurveClient::secure(zmq::socket_t& socket, std::string_view url) const {
  const Key* server = server_for(url);
  if (server == nullptr) {
    throw std::invalid_argument("CURVE: no server key for " + std::string(url));
  }
  socket.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server->data(), 32));
  socket.set(zmq::sockopt::curve_publickey, zmq::const_buffer(own.public_key.data(), 32));
  socket.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(own.secret_key.data(), 32));
}

std::expected<CurveClient, CurveError> load_curve_client(
    const std::string& key_file, const std::vector<std::string>& server_key_files,
    const std::vector<std::string>& urls) {
  if (server_key_files.size() != 1 && server_key_files.size() != urls.size()) {
    return std::unexpected(
        CurveError{CurveError::Code::kMalformed,
                   "--curve-server-key: " + std::to_string(server_key_files.size()) +
                       " files for " + std::to_string(urls.size()) +
                       " URLs: give one for all, or one per URL in the order they are given"});
  }
  auto own = load_key_pair(key_file);
  if (!own) return std::unexpected(own.error());
  CurveClient client;
  client.own = *own;
  for (size_t i = 0; i < urls.size(); ++i) {
    auto key = load_public_key(server_key_files[server_key_files.size() == 1 ? 0 : i]);
    if (!key) return std::unexpected(key.error());
    client.servers.emplace_back(urls[i], *key);
  }
  return client;
}

}  // namespace oddsbus::curve
