// The chaos mode's own small HTTP page (odds-cluster run --chaos): the running counts of updates
// lost and duplicated at each edge's WebSocket client, the faults so far, and each edge's live page
// in a frame beside them (the edge's page is the edge's own; this page only links to it).
//   GET /             HTML; refreshes the counters from /status.json every second
//   GET /status.json  whatever the owner's `status` function returns (a JSON object)
// One request at a time, on its own thread; plain sockets (loopback, a handful of requests).
//
// Thread safety: `status` is called on the page's thread; make it thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace oddsbus::cluster {

class StatusPage {
 public:
  // Listens on 127.0.0.1:port (a free port: tools/cluster/ports.h). `edge_pages`: each edge's
  // live page URL. ok() says whether it listens.
  StatusPage(uint16_t port, std::vector<std::string> edge_pages,
             std::function<std::string()> status);
  ~StatusPage();
  StatusPage(const StatusPage&) = delete;
  StatusPage& operator=(const StatusPage&) = delete;

  bool ok() const { return listener_ >= 0; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  void serve();
  std::string html() const;

  uint16_t port_;
  std::vector<std::string> edge_pages_;
  std::function<std::string()> status_;
  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace oddsbus::cluster
