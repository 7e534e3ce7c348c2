// CurveZMQ on a ZeroMQ link (issue 14, DESIGN section 10): how a server socket and a client
// socket are made CURVE sockets, from the flags' files (schemas/curve_keys.h).
//  - Server (--curve-key FILE --curve-allow FILE): CurveServer loads both, starts the context's
//    ZAP handler (schemas/zap_handler.h: only keys on the allow list get in; everyone else
//    receives nothing and is counted and logged), and secure() makes a socket ZMQ_CURVE_SERVER
//    with the node's secret key. Call secure() before bind().
//  - Client (--curve-key FILE --curve-server-key FILE[,FILE...]): CurveClient holds our key pair
//    and the server key for each URL it connects to; secure() sets ZMQ_CURVE_SERVERKEY,
//    PUBLICKEY and SECRETKEY before connect(). A client learns of a server that is not the one
//    its key names through schemas/curve_handshake_watch.h.
// Without these, links run in the clear (the binaries say so once at start-up).
//
// Thread safety: CurveServer::secure() and CurveClient are read-only after construction and may be
// used from any thread, each on a socket that thread owns. CurveServer counters from any thread.
#pragma once

#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "schemas/curve_keys.h"
#include "schemas/zap_handler.h"

namespace oddsbus::curve {

class CurveServer {
 public:
  // Loads the secret key file and the allow list and starts the ZAP handler in `context`, before
  // any server socket of it binds. An unusable file is an error naming it; a second handler in
  // the same context throws zmq::error_t.
  static std::expected<std::unique_ptr<CurveServer>, CurveError> start(
      zmq::context_t& context, const std::string& key_file, const std::string& allow_file);
  CurveServer(zmq::context_t& context, const KeyPair& keys, const std::vector<Key>& allowed);

  // Makes `socket` a CURVE server (ZMQ_CURVE_SERVER, our secret key, ZAP domain "oddsbus").
  void secure(zmq::socket_t& socket) const;

  const KeyPair& keys() const { return keys_; }
  uint64_t refused() const { return zap_.refused(); }
  uint64_t accepted() const { return zap_.accepted(); }

 private:
  KeyPair keys_;
  ZapHandler zap_;
};

// Makes `socket` a CURVE server when `server` is set; leaves it in the clear otherwise.
inline void secure_server(zmq::socket_t& socket, const CurveServer* server) {
  if (server != nullptr) server->secure(socket);
}

struct CurveClient {
  KeyPair own;
  std::vector<std::pair<std::string, Key>> servers;  // the server's public key for each URL

  // The key for `url`; nullptr when none was given for it.
  const Key* server_for(std::string_view url) const;
  // Makes `socket` a CURVE client of the server at `url`. Throws std::invalid_argument when no
  // key was given for `url` (a wiring bug: load_curve_client covers every URL it is given).
  void secure(zmq::socket_t& socket, std::string_view url) const;
};

// Makes `socket` a CURVE client of `url` when `client` is set; leaves it in the clear otherwise.
inline void secure_client(zmq::socket_t& socket, const CurveClient* client, std::string_view url) {
  if (client != nullptr) client->secure(socket, url);
}

// Loads --curve-key and the --curve-server-key files, pairing the server keys with `urls` in
// order: one file serves every URL, else there must be one per URL.
std::expected<CurveClient, CurveError> load_curve_client(
    const std::string& key_file, const std::vector<std::string>& server_key_files,
    const std::vector<std::string>& urls);

}  // namespace oddsbus::curve
