// The ZAP decision (ZeroMQ Authentication Protocol, RFC 27: https://rfc.zeromq.org/spec/27/):
// given one ZAP request as its frames, the reply a ZAP handler sends. Sans-I/O: the handler's
// thread (schemas/zap_handler.h) moves the frames; this decides.
//
// RFC 27, as implemented here:
//  - a request is version ("1.0"), request id, domain, address, routing id (identity),
//    mechanism, then the mechanism's credentials; for CURVE one credential frame, the client's
//    32-byte long-term public key;
//  - a reply is version ("1.0"), the request id echoed, status code ("200" accepted, "400"
//    refused, "500" the request could not be handled), status text, user id, metadata (empty).
// We accept a CURVE client whose public key is on the allow list; its user id is that key in Z85,
// which the server side reads from every message of the connection with
// zmq_msg_gets(msg, "User-Id") (the desk's rights key on it: keep it exactly that). Everything
// else (another mechanism, a key not listed, a malformed request) is refused and counted by the
// handler.
//
// Thread safety: immutable after construction; decide() may run on any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "schemas/curve_keys.h"

namespace oddsbus::curve {

enum class ZapOutcome : uint8_t {
  kAccepted,
  kUnknownKey,  // CURVE, with a public key not on the allow list
  kNotCurve,    // another mechanism (NULL, PLAIN): our servers speak CURVE only
  kMalformed,   // not an RFC 27 request (version, frame count, key size)
};

struct ZapDecision {
  ZapOutcome outcome = ZapOutcome::kMalformed;
  // The reply frames after the version: request id, status code, status text, user id.
  std::string request_id;
  std::string_view status_code;  // "200", "400" or "500"
  std::string_view status_text;
  std::string user_id;     // the client's public key, Z85 (accepted only)
  std::string address;     // the client's address as the request gave it (for logs)
  std::string client_key;  // Z85 of the client's key, when the request carried one (for logs)
};

class ZapPolicy {
 public:
  explicit ZapPolicy(const std::vector<Key>& allowed);

  // The decision for the request `frames` (the delimiter a REP socket strips already gone).
  ZapDecision decide(std::span<const std::string_view> frames) const;

  size_t allowed() const { return allowed_.size(); }

 private:
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };
  std::unordered_set<Key, KeyHash> allowed_;
};

// "1.0", the reply's first frame.
inline constexpr std::string_view kZapVersion = "1.0";
// Where a context's ZAP handler binds (RFC 27).
inline constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

}  // namespace oddsbus::curve
