// A WebSocket client of one edge's /v1/stream (DESIGN section 10, "The WebSocket stream") that
// subscribes to all markets and counts what it is sent, for the chaos mode of odds-cluster:
//  - lost: market_seq values skipped. Every non-conflated delta entry must carry its market's
//    previous market_seq + 1; a jump of k counts k - 1 lost updates of that market;
//  - duplicated: a delta whose seq is not above the last one applied, and a delta entry whose
//    market_seq is not above what the client holds for that market;
//  - re-images: images after the first. An image (after a failed resume, a resynchronisation of
//    the edge, a restarted edge) announces that the client's view starts over: it replaces what
//    the client knew, and nothing it skipped counts as lost.
// When the connection drops (the edge was killed, or closed it) it reconnects every 200 ms with
// resume_from/resume_epoch of the last seq it applied; it sends {"op": "ping"} every 5 s so an idle
// timeout never closes it.
//
// Thread safety: owns one thread (its io_context); counts() may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace oddsbus::cluster {

struct StreamCounts {
  uint64_t connects = 0;  // successful subscribes (the first, and every reconnect)
  uint64_t images = 0;
  uint64_t reimages = 0;  // images after the first: announced, not loss
  uint64_t resumes = 0;   // reconnects the edge resumed without an image
  uint64_t deltas = 0;
  uint64_t conflated = 0;
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  uint64_t last_seq = 0;  // of the last image or delta applied
  uint32_t epoch = 0;
  bool connected = false;
  std::vector<std::string> findings;  // the first few losses and duplicates, for the summary
};

class StreamCounter {
 public:
  // Starts connecting to ws://127.0.0.1:port/v1/stream at once (and keeps trying).
  explicit StreamCounter(uint16_t port);
  ~StreamCounter();
  StreamCounter(const StreamCounter&) = delete;
  StreamCounter& operator=(const StreamCounter&) = delete;

  StreamCounts counts() const;
  // Stops the client and joins its thread; idempotent.
  void stop();

 private:
  struct Connection;
  void on_message(std::string_view text);
  void on_connected(bool resumed_request);
  void on_disconnected();
  // Where to resume from: {seq, epoch} of the last image or delta applied (0: never applied).
  std::pair<uint64_t, uint32_t> resume_point() const;
  void finding(std::string text);

  uint16_t port_;
  std::unique_ptr<Connection> connection_;
  std::thread thread_;
  mutable std::mutex mutex_;
  StreamCounts counts_;
  std::map<uint64_t, uint64_t> market_seqs_;  // market id -> the market_seq the client holds
};

}  // namespace oddsbus::cluster
