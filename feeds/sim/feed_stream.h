// One provider's simulated message stream: the market simulator, a writer for the provider's
// format, and heartbeats when the stream is idle. Every line of the provider carries this one
// stream (the same bytes, the same seqs); faults are applied per line afterwards (fault_plan.h).
//
// Sans-I/O: advance() is given sim time (ns since the stream started) and returns what is due.
// Provider timestamps are epoch_ms + sim time, so the bytes are a pure function of the config.
//
// Heartbeats: a heartbeat message when nothing was produced for heartbeat_ns; for uof-xml also an
// alive at least every alive_ns even while busy (Sportradar's producers send alives regardless).
// Once the simulator's update count is reached the stream is over: no more messages, heartbeats
// included. When every market has settled and none may start, only heartbeats remain.
//
// Thread safety: none; one owner.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "feeds/sim/market_simulator.h"
#include "feeds/sim/writer.h"

namespace oddsbus::feeds::sim {

struct FeedStreamConfig {
  SimConfig sim;
  Format format = Format::kOddsJson;
  std::string provider = "oj";  // the feed name oddsjson lines carry in "provider"
  uint64_t heartbeat_ns = 500'000'000;
  uint64_t alive_ns = 1'000'000'000;  // uof-xml only
  uint64_t epoch_ms = 0;              // provider time at sim time 0, ms since the Unix epoch
};

class FeedStream {
 public:
  explicit FeedStream(const FeedStreamConfig& config);

  // Appends every message due at or before `now_ns` (sim time), in order.
  void advance(uint64_t now_ns, std::vector<SimMessage>& out);
  // Sim time of the next message (update or heartbeat); UINT64_MAX once over().
  uint64_t next_due_ns() const;
  // The image a client connecting at `now_ns` gets before the live stream (seq 0 messages).
  void image(uint64_t now_ns, std::vector<SimMessage>& out) const;

  // The update count was reached: nothing more will be produced.
  bool over() const { return simulator_.count_reached(); }
  const MarketSimulator& simulator() const { return simulator_; }
  const FeedStreamConfig& config() const { return config_; }
  uint64_t last_seq() const { return writer_->last_seq(); }
  uint64_t ts_ms(uint64_t now_ns) const { return config_.epoch_ms + now_ns / 1'000'000; }
  // Moves provider time (before the first advance, e.g. once the clients the run waited for are
  // connected); the bytes stay a pure function of the config with its final epoch_ms.
  void set_epoch_ms(uint64_t epoch_ms) { config_.epoch_ms = epoch_ms; }

 private:
  uint64_t next_heartbeat_ns() const;

  FeedStreamConfig config_;
  MarketSimulator simulator_;
  std::unique_ptr<Writer> writer_;
  std::vector<SimEvent> events_;  // reused
  uint64_t last_message_ns_ = 0;
  uint64_t last_alive_ns_ = 0;
};

}  // namespace oddsbus::feeds::sim
