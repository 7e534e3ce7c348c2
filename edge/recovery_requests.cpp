#include "edge/recovery_requests.h"

namespace oddsbus::edge {

RecoveryRequests::RecoveryRequests(size_t services, uint64_t request_timeout_ns)
    : services_(services), request_timeout_ns_(request_timeout_ns) {}

const RecoveryRequest& RecoveryRequests::send(RecoveryRequestKind kind, uint64_t from, uint64_t to,
                                              uint64_t now_ns) {
  request_ = RecoveryRequest{true, kind, service_, from, to, now_ns};
  return request_;
}

bool RecoveryRequests::expire(uint64_t now_ns) {
  if (!request_.active || now_ns - request_.sent_ns < request_timeout_ns_) return false;
  request_.active = false;
  service_ = next_service(request_.service);
  ready_at_ns_ = now_ns;
  return true;
}

void RecoveryRequests::retry_at(size_t service, uint64_t at_ns) {
  service_ = service;
  ready_at_ns_ = at_ns;
}

void RecoveryRequests::move_on(size_t service, uint64_t at_ns) {
  service_ = next_service(service);
  ready_at_ns_ = at_ns;
}

size_t RecoveryRequests::next_service(size_t service) const {
  return services_ == 0 ? 0 : (service + 1) % services_;
}

void RecoveryRequests::reset() {
  request_ = RecoveryRequest{};
  ready_at_ns_ = 0;
}

}  // namespace oddsbus::edge
