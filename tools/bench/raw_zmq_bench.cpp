// The baseline: how many small messages ZeroMQ itself carries PUB -> SUB over tcp loopback, one
// message per send, with no sequencing, journaling or verification.
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "tools/bench/bench.h"

namespace oddsbus::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Warm-up messages are one byte, so the subscriber can tell them from the load.
constexpr size_t kProbeSize = 1;
constexpr auto kStallTimeout = std::chrono::seconds(10);

struct SubscriberResult {
  uint64_t received = 0;
  uint64_t out_of_order = 0;
  Clock::time_point last_receive{};
  std::string error;
};

void subscribe(const std::string& url, const RawZmqOptions& options, std::atomic<bool>& joined,
               SubscriberResult& result) {
  name_this_thread("bench-zmq-sub");
  try {
    zmq::context_t context(1);
    zmq::socket_t socket(context, zmq::socket_type::sub);
    socket.set(zmq::sockopt::rcvhwm, 1'000'000);
    socket.set(zmq::sockopt::rcvtimeo, 100);
    socket.set(zmq::sockopt::subscribe, "");
    socket.connect(url);
    zmq::message_t message;
    auto last_progress = Clock::now();
    while (result.received < options.messages) {
      if (!socket.recv(message)) {
        if (Clock::now() - last_progress > kStallTimeout) {
          result.error = "raw zmq subscriber stalled";
          return;
        }
        continue;
      }
      last_progress = Clock::now();
      if (message.size() == kProbeSize) {
        joined.store(true, std::memory_order_release);
        continue;
      }
      uint64_t index = 0;
      std::memcpy(&index, message.data(), sizeof index);
      if (index != result.received) ++result.out_of_order;
      ++result.received;
    }
    result.last_receive = Clock::now();
  } catch (const zmq::error_t& e) {
    result.error = std::string("raw zmq subscriber: ") + e.what();
  }
}

}  // namespace

std::expected<Measurement, std::string> run_raw_zmq(const RawZmqOptions& options) {
  if (options.message_size < sizeof(uint64_t)) {
    return std::unexpected("raw zmq: messages must hold at least 8 bytes");
  }
  auto port = free_tcp_port();
  if (!port) return std::unexpected(port.error());
  const std::string url = "tcp://127.0.0.1:" + std::to_string(*port);

  std::atomic<bool> joined{false};
  SubscriberResult sub;
  Clock::time_point first_send;
  std::string pub_error;
  try {
    zmq::context_t context(1);
    zmq::socket_t socket(context, zmq::socket_type::pub);
    // No send limit: N is bounded, and a PUB past its high-water mark drops silently.
    socket.set(zmq::sockopt::sndhwm, 0);
    socket.set(zmq::sockopt::linger, 0);
    socket.bind(url);
    std::thread subscriber([&] { subscribe(url, options, joined, sub); });

    // Slow joiner: probe until the subscription has reached the publisher.
    const uint8_t probe = 0;
    const auto join_deadline = Clock::now() + std::chrono::seconds(5);
    while (!joined.load(std::memory_order_acquire) && Clock::now() < join_deadline) {
      socket.send(zmq::const_buffer(&probe, kProbeSize), zmq::send_flags::none);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (joined.load(std::memory_order_acquire)) {
      std::vector<uint8_t> body(options.message_size, 0x5a);
      first_send = Clock::now();
      for (uint64_t i = 0; i < options.messages; ++i) {
        std::memcpy(body.data(), &i, sizeof i);
        socket.send(zmq::const_buffer(body.data(), body.size()), zmq::send_flags::none);
      }
    } else {
      pub_error = "raw zmq: the subscriber never joined (no probe arrived in 5 s)";
    }
    subscriber.join();
  } catch (const zmq::error_t& e) {
    return std::unexpected(std::string("raw zmq publisher: ") + e.what());
  }
  if (!pub_error.empty()) return std::unexpected(pub_error);
  if (!sub.error.empty()) {
    return std::unexpected(sub.error + " after " + std::to_string(sub.received) + " of " +
                           std::to_string(options.messages) + " messages");
  }
  if (sub.out_of_order != 0) {
    return std::unexpected("raw zmq: " + std::to_string(sub.out_of_order) +
                           " messages arrived out of order or after a drop");
  }
  Measurement m;
  m.frames = sub.received;
  m.bytes = sub.received * options.message_size;
  m.batches = sub.received;
  m.seconds = std::chrono::duration<double>(sub.last_receive - first_send).count();
  return m;
}

}  // namespace oddsbus::bench
