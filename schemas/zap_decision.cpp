#include "schemas/zap_decision.h"

#include <cstring>

namespace oddsbus::curve {

size_t ZapPolicy::KeyHash::operator()(const Key& key) const {
  // Keys are uniformly random: their first bytes are a good hash.
  size_t h = 0;
  std::memcpy(&h, key.data(), sizeof h);
  return h;
}

ZapPolicy::ZapPolicy(const std::vector<Key>& allowed) : allowed_(allowed.begin(), allowed.end()) {}

ZapDecision ZapPolicy::decide(std::span<const std::string_view> frames) const {
  ZapDecision d;
  // RFC 27: at least version, request id, domain, address, identity, mechanism.
  if (frames.size() >= 2) d.request_id = std::string(frames[1]);
  if (frames.size() >= 4) d.address = std::string(frames[3]);
  if (frames.size() < 6 || frames[0] != kZapVersion) {
    d.outcome = ZapOutcome::kMalformed;
    d.status_code = "500";
    d.status_text = "malformed ZAP request";
    return d;
  }
  const std::string_view mechanism = frames[5];
  if (mechanism != "CURVE") {
    d.outcome = ZapOutcome::kNotCurve;
    d.status_code = "400";
    d.status_text = "CURVE required";
    return d;
  }
  // CURVE: exactly one credential, the 32-byte client public key.
  if (frames.size() != 7 || frames[6].size() != sizeof(Key)) {
    d.outcome = ZapOutcome::kMalformed;
    d.status_code = "500";
    d.status_text = "malformed CURVE credentials";
    return d;
  }
  Key key;
  std::memcpy(key.data(), frames[6].data(), key.size());
  d.client_key = z85(key);
  if (!allowed_.contains(key)) {
    d.outcome = ZapOutcome::kUnknownKey;
    d.status_code = "400";
    d.status_text = "key not allowed";
    return d;
  }
  d.outcome = ZapOutcome::kAccepted;
  d.status_code = "200";
  d.status_text = "OK";
  d.user_id = d.client_key;
  return d;
}

}  // namespace oddsbus::curve
