// A circuit breaker for one line (DESIGN section 3: "a misbehaving connection trips a breaker").
//
// States:
//   closed    - attempts allowed (the caller's own backoff still paces them).
//   open      - no attempt until open_until(); entered when the line trips: failure_threshold
//               consecutive connect failures, or disconnect_threshold disconnects within
//               disconnect_window (a peer that accepts and drops us at once).
//   half-open - after open_for has passed, exactly one attempt is allowed. A connect success closes
//               the breaker on probation; a connect failure re-opens it with open_for doubled
//               (capped at max_open_for). While on probation (disconnect_window after the success)
//               a disconnect also re-opens it with open_for doubled, so a peer that accepts and
//               drops is backed off ever longer; once probation passes, open_for is back to its
//               initial value.
//
// Thread safety: none; owned by the link thread. Performs no I/O; time comes in as `now`, which
// must not go backwards between calls.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>

namespace oddsbus::feeds::link {

struct CircuitBreakerConfig {
  uint32_t failure_threshold = 5;  // consecutive connect failures that trip it (0: never)
  uint32_t disconnect_threshold =
      5;  // disconnects within disconnect_window that trip it (0: never)
  std::chrono::milliseconds disconnect_window{10000};
  std::chrono::milliseconds open_for{1000};       // first open period
  std::chrono::milliseconds max_open_for{60000};  // cap on the doubled open period
};

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { kClosed, kOpen, kHalfOpen };

  // The most disconnects remembered for the window check; larger thresholds are clamped to it.
  static constexpr uint32_t kMaxDisconnectThreshold = 16;

  explicit CircuitBreaker(CircuitBreakerConfig config = {})
      : config_(config),
        disconnect_threshold_(std::min(config.disconnect_threshold, kMaxDisconnectThreshold)),
        open_for_(std::max(config.open_for, std::chrono::milliseconds{1})),
        max_open_for_(std::max(config.max_open_for, open_for_)),
        next_open_for_(open_for_) {}

  // Whether a connect attempt may start now. In the open state, once open_until() has passed, moves
  // to half-open and allows that one attempt; further calls return false until its outcome is
  // reported.
  bool allow_attempt(Clock::time_point now) {
    switch (state_) {
      case State::kClosed:
        return true;
      case State::kOpen:
        if (now < open_until_) return false;
        state_ = State::kHalfOpen;
        probe_in_flight_ = true;
        return true;
      case State::kHalfOpen:
        if (probe_in_flight_) return false;
        probe_in_flight_ = true;
        return true;
    }
    return false;
  }

  void on_connect_failure(Clock::time_point now) {
    end_probation_if_over(now);
    if (state_ == State::kHalfOpen) {
      trip(now);
      return;
    }
    if (state_ == State::kOpen) return;  // an attempt that began before the trip
    ++consecutive_failures_;
    if (config_.failure_threshold > 0 && consecutive_failures_ >= config_.failure_threshold) {
      trip(now);
    }
  }

  void on_connected(Clock::time_point now) {
    end_probation_if_over(now);
    consecutive_failures_ = 0;
    if (state_ == State::kHalfOpen) {
      state_ = State::kClosed;
      probe_in_flight_ = false;
      probation_until_ = now + config_.disconnect_window;
      on_probation_ = true;
    }
  }

  void on_disconnect(Clock::time_point now) {
    end_probation_if_over(now);
    if (state_ != State::kClosed) return;
    if (on_probation_) {
      trip(now);
      return;
    }
    if (disconnect_threshold_ == 0) return;
    disconnects_[disconnect_next_] = now;
    disconnect_next_ = (disconnect_next_ + 1) % disconnect_threshold_;
    disconnect_count_ = std::min(disconnect_count_ + 1, disconnect_threshold_);
    // The oldest of the last `threshold` disconnects is the slot about to be overwritten.
    if (disconnect_count_ == disconnect_threshold_ &&
        now - disconnects_[disconnect_next_] <= config_.disconnect_window) {
      trip(now);
    }
  }

  State state() const { return state_; }
  // When the open state ends; meaningful in the open state.
  Clock::time_point open_until() const { return open_until_; }
  uint64_t trips() const { return trips_; }

 private:
  void trip(Clock::time_point now) {
    ++trips_;
    state_ = State::kOpen;
    probe_in_flight_ = false;
    on_probation_ = false;
    open_until_ = now + next_open_for_;
    next_open_for_ = std::min(next_open_for_ * 2, max_open_for_);
    consecutive_failures_ = 0;
    disconnect_count_ = 0;
    disconnect_next_ = 0;
  }

  void end_probation_if_over(Clock::time_point now) {
    if (on_probation_ && now >= probation_until_) {
      on_probation_ = false;
      next_open_for_ = open_for_;
    }
  }

  CircuitBreakerConfig config_;
  uint32_t disconnect_threshold_;
  std::chrono::milliseconds open_for_;
  std::chrono::milliseconds max_open_for_;
  std::chrono::milliseconds next_open_for_;  // the period the next trip opens for
  State state_ = State::kClosed;
  bool probe_in_flight_ = false;
  bool on_probation_ = false;
  Clock::time_point open_until_{};
  Clock::time_point probation_until_{};
  uint32_t consecutive_failures_ = 0;
  std::array<Clock::time_point, kMaxDisconnectThreshold> disconnects_{};
  uint32_t disconnect_next_ = 0;
  uint32_t disconnect_count_ = 0;
  uint64_t trips_ = 0;
};

}  // namespace oddsbus::feeds::link
