// Admission of new connections to the edge (DESIGN section 5, "Limits"): at most max_connections
// open at once, and per remote address a token bucket of new connections per second. Refusals are
// counted by reason; the transport answers them (503 when full, 429 when too fast) and closes.
//
// Bounded: at most max_tracked_addresses buckets are kept; when full, buckets that have refilled
// (idle addresses) are forgotten first, and if none has, the new address is refused as too fast.
// That sweep runs at most once a second, so a flood of new addresses costs O(1) per connection.
// Sans-I/O: `now_ns` is the only clock. Not thread-safe: owned by the serving thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace oddsbus::edge {

struct ConnectionLimitsConfig {
  size_t max_connections = 20000;
  double per_address_per_second = 50;  // sustained new connections per address
  double per_address_burst = 200;      // bucket size
  size_t max_tracked_addresses = 65536;
};

enum class Admission : uint8_t { kAdmitted, kTooManyConnections, kTooFast };

struct ConnectionLimitsCounters {
  uint64_t admitted = 0;
  uint64_t refused_full = 0;      // max_connections reached
  uint64_t refused_too_fast = 0;  // the address exceeded its rate
};

class ConnectionLimits {
 public:
  explicit ConnectionLimits(const ConnectionLimitsConfig& config) : config_(config) {}

  // A new connection from `address`. When admitted, it counts as open until release().
  Admission admit(std::string_view address, uint64_t now_ns);
  void release();

  size_t open() const { return open_; }
  size_t tracked_addresses() const { return buckets_.size(); }
  const ConnectionLimitsCounters& counters() const { return counters_; }

 private:
  struct Bucket {
    double tokens = 0;
    uint64_t updated_ns = 0;
  };
  void refill(Bucket& bucket, uint64_t now_ns) const;
  bool make_room(uint64_t now_ns);

  ConnectionLimitsConfig config_;
  size_t open_ = 0;
  uint64_t last_sweep_ns_ = 0;
  std::unordered_map<std::string, Bucket> buckets_;
  ConnectionLimitsCounters counters_;
};

}  // namespace oddsbus::edge
