// Test support for the edge: a blocking HTTP GET, and a WebSocket client of /v1/stream on its
// own thread that checks what it is sent (DESIGN section 10) as it folds it:
//  - delta seqs strictly increase; an image may restart at any seq (it says so: a fresh image);
//  - every non-conflated delta entry's market_seq is the market's previous one + 1 (no frame of
//    that market was missed), unless an image or conflated delta reset what the client knew;
//  - folding the image and the deltas gives a state comparable with the edge's /v1/snapshot.
#pragma once

#include <simdjson.h>

#include <sys/socket.h>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace oddsbus::testing {

namespace beast = boost::beast;
using tcp = boost::asio::ip::tcp;

// {status code, body} of GET http://127.0.0.1:port/target; {0, error} when it fails.
inline std::pair<unsigned, std::string> http_get(uint16_t port, const std::string& target) {
  try {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(5));
    stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    beast::http::request<beast::http::empty_body> request(beast::http::verb::get, target, 11);
    request.set(beast::http::field::host, "127.0.0.1");
    beast::http::write(stream, request);
    beast::flat_buffer buffer;
    beast::http::response<beast::http::string_body> response;
    beast::http::read(stream, buffer, response);
    return {response.result_int(), response.body()};
  } catch (const std::exception& e) {
    return {0, e.what()};
  }
}

// A market as a client folds it: status, and price_e4 per selection.
struct FoldedMarket {
  std::string status;
  std::map<uint64_t, uint64_t> prices;
  bool operator==(const FoldedMarket&) const = default;
};
using FoldedState = std::map<uint64_t, FoldedMarket>;

// Reads the "markets" of a state document (/v1/snapshot, /v1/markets) or an image.
inline FoldedState fold_markets(simdjson::dom::array markets) {
  FoldedState state;
  for (simdjson::dom::element m : markets) {
    FoldedMarket& market = state[uint64_t(m["market"])];
    market.status = std::string(std::string_view(m["status"]));
    for (simdjson::dom::element s : simdjson::dom::array(m["selections"])) {
      market.prices[uint64_t(s["selection"])] = uint64_t(s["price_e4"]);
    }
  }
  return state;
}

struct StreamSummary {
  uint64_t last_seq = 0;        // of the last image, delta or heartbeat
  uint64_t last_delta_seq = 0;  // of the last image or delta
  uint64_t images = 0;
  uint64_t deltas = 0;
  uint64_t conflated = 0;
  uint64_t heartbeats = 0;
  std::vector<std::string> image_reasons;
  std::vector<std::string> violations;  // what broke the stream's promises (must stay empty)
  std::optional<std::string> closed;    // the close reason, when the edge closed it
  FoldedState state;
  std::map<uint64_t, uint64_t> market_seqs;  // what the client knows of each market
};

class StreamClient {
 public:
  using Summary = StreamSummary;

  // Connects to ws://127.0.0.1:port/v1/stream and sends `subscribe` (a JSON request). `resumed`:
  // what an earlier connection had folded, for a subscribe with resume_from.
  StreamClient(uint16_t port, const std::string& subscribe, const Summary& resumed = {})
      : ws_(io_) {
    summary_.state = resumed.state;
    summary_.market_seqs = resumed.market_seqs;
    summary_.last_delta_seq = resumed.last_delta_seq;
    summary_.last_seq = resumed.last_seq;
    tcp::resolver resolver(io_);
    boost::asio::connect(ws_.next_layer(), resolver.resolve("127.0.0.1", std::to_string(port)));
    ws_.handshake("127.0.0.1", "/v1/stream");
    ws_.write(boost::asio::buffer(subscribe));
    fd_ = ws_.next_layer().native_handle();
    thread_ = std::thread([this] { read_loop(); });
  }
  ~StreamClient() { stop(); }

  // Ends the connection from this side (unblocks the reader) and joins the reader.
  void stop() {
    if (thread_.joinable()) {
      ::shutdown(fd_, SHUT_RDWR);
      thread_.join();
    }
  }

  Summary summary() const {
    std::lock_guard lock(mutex_);
    return summary_;
  }
  uint64_t last_seq() const { return last_seq_.load(); }

 private:
  void read_loop() {
    simdjson::dom::parser parser;
    for (;;) {
      beast::flat_buffer buffer;
      beast::error_code ec;
      ws_.read(buffer, ec);
      if (ec) {
        std::lock_guard lock(mutex_);
        if (ec == beast::websocket::error::closed) summary_.closed = ws_.reason().reason.c_str();
        return;
      }
      const std::string text = beast::buffers_to_string(buffer.data());
      simdjson::dom::element message;
      std::lock_guard lock(mutex_);
      if (parser.parse(text).get(message) != simdjson::SUCCESS) {
        summary_.violations.push_back("not JSON: " + text.substr(0, 200));
        continue;
      }
      const std::string_view type = message["type"];
      if (type == "heartbeat") {
        ++summary_.heartbeats;
        summary_.last_seq = std::max<uint64_t>(summary_.last_seq, uint64_t(message["seq"]));
      } else if (type == "image") {
        ++summary_.images;
        summary_.image_reasons.emplace_back(std::string_view(message["reason"]));
        summary_.state = fold_markets(message["markets"]);
        summary_.market_seqs.clear();
        for (simdjson::dom::element m : simdjson::dom::array(message["markets"])) {
          summary_.market_seqs[uint64_t(m["market"])] = uint64_t(m["market_seq"]);
        }
        summary_.last_delta_seq = uint64_t(message["seq"]);
        summary_.last_seq = summary_.last_delta_seq;
      } else if (type == "delta") {
        fold_delta(message);
      }
      last_seq_.store(summary_.last_seq);
    }
  }

  void fold_delta(simdjson::dom::element message) {
    std::map<uint64_t, uint64_t>& market_seqs = summary_.market_seqs;
    uint64_t& last_delta_seq = summary_.last_delta_seq;
    ++summary_.deltas;
    const uint64_t seq = message["seq"];
    const bool conflated = bool(message["conflated"]);
    if (conflated) ++summary_.conflated;
    if (seq <= last_delta_seq) {
      summary_.violations.push_back("delta seq " + std::to_string(seq) + " after " +
                                    std::to_string(last_delta_seq));
    }
    last_delta_seq = seq;
    summary_.last_seq = seq;
    for (simdjson::dom::element entry : simdjson::dom::array(message["markets"])) {
      const uint64_t id = entry["market"];
      const uint64_t market_seq = entry["market_seq"];
      auto known = market_seqs.find(id);
      if (!conflated && known != market_seqs.end() && market_seq != known->second + 1) {
        summary_.violations.push_back(
            "market " + std::to_string(id) + " market_seq " + std::to_string(market_seq) +
            " after " + std::to_string(known->second) + " at seq " + std::to_string(seq));
      }
      market_seqs[id] = market_seq;
      FoldedMarket& market = summary_.state[id];
      simdjson::dom::element name;
      if (entry["name"].get(name) == simdjson::SUCCESS) market.prices.clear();  // full market
      market.status = std::string(std::string_view(entry["status"]));
      for (simdjson::dom::element s : simdjson::dom::array(entry["selections"])) {
        market.prices[uint64_t(s["selection"])] = uint64_t(s["price_e4"]);
      }
    }
  }

  boost::asio::io_context io_;
  beast::websocket::stream<tcp::socket> ws_;
  int fd_ = -1;
  std::thread thread_;
  mutable std::mutex mutex_;
  Summary summary_;
  std::atomic<uint64_t> last_seq_{0};
};

}  // namespace oddsbus::testing
