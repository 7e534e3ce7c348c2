// Test support for the edge: a blocking HTTP request, and a WebSocket client of /v1/stream on its
// own thread that checks what it is sent (DESIGN section 10) as it folds it:
//  - delta seqs strictly increase; an image may restart at any seq (it says so: a fresh image);
//  - every non-conflated delta entry's market_seq is the market's previous one + 1 (no frame of
//    that market was missed), unless an image or conflated delta reset what the client knew;
//  - folding the image and the deltas gives a state comparable with the edge's /v1/snapshot;
//  - images (whole, or in parts 1..k applied at the last), deltas and heartbeats carry an epoch; an
//  entry {"market": ID, "removed": true} takes
//    the market out of the client's view; "resumed" acknowledges a resume with the stale flag.
// The client can also play a slow reader (a sleep after each message) or a client that never
// reads at all, with a small receive buffer so that the edge's writes to it back up quickly.
#pragma once

#include <simdjson.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace oddsbus::testing {

namespace beast = boost::beast;
using tcp = boost::asio::ip::tcp;

// {status code, body} of `method` http://127.0.0.1:port/target with `body`; {0, error} when it
// fails (connection refused or reset, no answer within 5 s).
inline std::pair<unsigned, std::string> http_request(uint16_t port, beast::http::verb method,
                                                     const std::string& target,
                                                     const std::string& body = {}) {
  // Asynchronous, so that tcp_stream's 5 s expiry bounds every step (a sync read would wait
  // forever on an edge too busy to answer).
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  beast::http::request<beast::http::string_body> request(method, target, 11);
  request.set(beast::http::field::host, "127.0.0.1");
  if (!body.empty()) {
    request.set(beast::http::field::content_type, "application/json");
    request.body() = body;
  }
  request.prepare_payload();
  beast::flat_buffer buffer;
  beast::http::response<beast::http::string_body> response;
  std::pair<unsigned, std::string> result{0, "no answer"};
  auto failed = [&](beast::error_code ec) {
    if (ec) result = {0, ec.message()};
    return static_cast<bool>(ec);
  };
  stream.expires_after(std::chrono::seconds(5));
  stream.async_connect(
      tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), [&](beast::error_code ec) {
        if (failed(ec)) return;
        beast::http::async_write(stream, request, [&](beast::error_code ec, size_t) {
          if (failed(ec)) return;
          beast::http::async_read(stream, buffer, response, [&](beast::error_code ec, size_t) {
            if (!failed(ec)) result = {response.result_int(), response.body()};
          });
        });
      });
  io.run();
  return result;
}

inline std::pair<unsigned, std::string> http_get(uint16_t port, const std::string& target) {
  return http_request(port, beast::http::verb::get, target);
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
  uint32_t last_epoch = 0;      // ... and its epoch: with last_delta_seq, where to resume from
  uint64_t resumes = 0;         // "resumed" acknowledgements
  bool stale = false;           // what the edge last said (image, resumed or stale message)
  uint64_t stale_messages = 0;
  uint64_t told_stale = 0;  // images, resumed and stale messages that said "stale": true
  uint64_t images = 0;
  uint64_t image_parts = 0;  // messages that were parts of an image sent in parts
  uint64_t deltas = 0;
  uint64_t conflated = 0;
  uint64_t heartbeats = 0;
  std::vector<std::string> image_reasons;
  std::vector<std::string> errors;      // the edge's {"type": "error"} messages, as sent
  std::vector<std::string> violations;  // what broke the stream's promises (must stay empty)
  std::optional<std::string> closed;    // the close reason, when the edge closed it
  std::optional<uint16_t> close_code;   // ... and its close code
  std::string ended;                    // why reading ended (empty while it goes on)
  FoldedState state;
  std::map<uint64_t, uint64_t> market_seqs;  // what the client knows of each market
};

struct StreamOptions {
  int receive_buffer_bytes = 0;             // SO_RCVBUF, set before connecting; 0: the default
  std::chrono::microseconds read_delay{0};  // a sleep after each message: a slow reader
  bool read = true;  // false: never reads a byte after the handshake (a stuck client)
};

class StreamClient {
 public:
  using Summary = StreamSummary;

  // Connects to ws://127.0.0.1:port/v1/stream and sends `subscribe` (a JSON request). `resumed`:
  // what an earlier connection had folded, for a subscribe with resume_from. Throws when the
  // connection or the handshake fails.
  StreamClient(uint16_t port, const std::string& subscribe, const Summary& resumed = {},
               const StreamOptions& options = {})
      : ws_(io_), read_delay_us_(options.read_delay.count()) {
    summary_.state = resumed.state;
    summary_.market_seqs = resumed.market_seqs;
    summary_.last_delta_seq = resumed.last_delta_seq;
    summary_.last_epoch = resumed.last_epoch;
    summary_.last_seq = resumed.last_seq;
    tcp::socket& socket = ws_.next_layer();
    socket.open(tcp::v4());
    if (options.receive_buffer_bytes > 0) {
      socket.set_option(
          boost::asio::socket_base::receive_buffer_size(options.receive_buffer_bytes));
    }
    socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    ws_.handshake("127.0.0.1", "/v1/stream");
    ws_.write(boost::asio::buffer(subscribe));
    if (options.read) {
      thread_ = std::thread([this] {
        read_next();
        io_.run();
      });
    }
  }
  ~StreamClient() { stop(); }

  // Sends a text message (after any still being sent) from the client's thread; ignored once the
  // connection is gone, and by a client that does not read (it has no thread).
  void send(std::string text) {
    boost::asio::post(io_, [this, text = std::move(text)]() mutable {
      outgoing_.push_back(std::move(text));
      if (outgoing_.size() == 1) write_next();
    });
  }

  // Ends the connection from this side (unblocks the reader) and joins the reader.
  void stop() {
    if (thread_.joinable()) {
      // On the client's thread: a socket Beast closed after a close frame is not touched again.
      boost::asio::post(io_, [this] {
        beast::error_code ignored;
        ws_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
      });
      thread_.join();
    } else if (ws_.next_layer().is_open()) {
      beast::error_code ignored;
      ws_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    }
  }

  void set_read_delay(std::chrono::microseconds delay) { read_delay_us_.store(delay.count()); }

  Summary summary() const {
    std::lock_guard lock(mutex_);
    return summary_;
  }
  uint64_t last_seq() const { return last_seq_.load(); }

 private:
  // Runs on the client's thread, as does every handler: one read and one write at a time.
  void read_next() {
    ws_.async_read(buffer_, [this](beast::error_code ec, size_t) { on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      std::lock_guard lock(mutex_);
      summary_.ended = ec.message();
      // A close frame was received, even if what followed it failed (a reset after the close).
      if (ws_.reason().code != beast::websocket::close_code::none) {
        summary_.closed = ws_.reason().reason.c_str();
        summary_.close_code = static_cast<uint16_t>(ws_.reason().code);
      }
      return;
    }
    on_message(beast::buffers_to_string(buffer_.data()));
    buffer_.consume(buffer_.size());
    if (const int64_t delay = read_delay_us_.load(); delay > 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(delay));
    }
    read_next();
  }

  void write_next() {
    ws_.async_write(boost::asio::buffer(outgoing_.front()), [this](beast::error_code ec, size_t) {
      if (ec) {
        outgoing_.clear();
        return;
      }
      outgoing_.pop_front();
      if (!outgoing_.empty()) write_next();
    });
  }

  void on_message(const std::string& text) {
    simdjson::dom::element message;
    std::lock_guard lock(mutex_);
    if (parser_.parse(text).get(message) != simdjson::SUCCESS) {
      summary_.violations.push_back("not JSON: " + text.substr(0, 200));
      return;
    }
    const std::string_view type = message["type"];
    if (type == "heartbeat") {
      ++summary_.heartbeats;
      summary_.last_seq = std::max<uint64_t>(summary_.last_seq, uint64_t(message["seq"]));
    } else if (type == "image") {
      // A large image comes in parts 1..k ("part", "parts"): applied once the last arrives; a
      // part 1 starts over (the rest of an earlier image was dropped for a newer one).
      uint64_t parts = 0;
      if (message["parts"].get(parts) == simdjson::SUCCESS) {
        const uint64_t part = message["part"];
        ++summary_.image_parts;
        if (part == 1) pending_parts_.clear();
        if (part != pending_parts_.size() + 1) {
          summary_.violations.push_back("image part " + std::to_string(part) + " after " +
                                        std::to_string(pending_parts_.size()));
        }
        pending_parts_.push_back(text);
        if (part < parts) {
          last_seq_.store(summary_.last_seq);
          return;
        }
      } else {
        pending_parts_.assign(1, text);
      }
      ++summary_.images;
      summary_.image_reasons.emplace_back(std::string_view(message["reason"]));
      summary_.state.clear();
      summary_.market_seqs.clear();
      simdjson::dom::parser part_parser;
      for (const std::string& part_text : pending_parts_) {
        simdjson::dom::element part;
        if (part_parser.parse(part_text).get(part) != simdjson::SUCCESS) continue;
        for (auto& [id, market] : fold_markets(part["markets"])) summary_.state[id] = market;
        for (simdjson::dom::element m : simdjson::dom::array(part["markets"])) {
          summary_.market_seqs[uint64_t(m["market"])] = uint64_t(m["market_seq"]);
        }
      }
      pending_parts_.clear();
      summary_.last_delta_seq = uint64_t(message["seq"]);
      summary_.last_seq = summary_.last_delta_seq;
      summary_.last_epoch = epoch_of(message);
      summary_.stale = bool(message["stale"]);
      summary_.told_stale += summary_.stale;
    } else if (type == "delta") {
      fold_delta(message);
    } else if (type == "resumed") {
      pending_parts_.clear();  // a resume drops what was left of an image
      ++summary_.resumes;
      summary_.stale = bool(message["stale"]);
      summary_.told_stale += summary_.stale;
    } else if (type == "stale") {
      ++summary_.stale_messages;
      summary_.stale = bool(message["stale"]);
      summary_.told_stale += summary_.stale;
    } else if (type == "error") {
      summary_.errors.push_back(text);
    }
    last_seq_.store(summary_.last_seq);
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
    summary_.last_epoch = epoch_of(message);
    for (simdjson::dom::element entry : simdjson::dom::array(message["markets"])) {
      const uint64_t id = entry["market"];
      if (entry["removed"].error() == simdjson::SUCCESS) {
        market_seqs.erase(id);
        summary_.state.erase(id);
        continue;
      }
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

  uint32_t epoch_of(simdjson::dom::element message) {
    uint64_t epoch = 0;
    if (message["epoch"].get(epoch) != simdjson::SUCCESS) {
      summary_.violations.push_back("a message without an epoch");
    }
    return static_cast<uint32_t>(epoch);
  }

  boost::asio::io_context io_;
  beast::websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outgoing_;  // front is being written
  simdjson::dom::parser parser_;
  std::vector<std::string> pending_parts_;  // parts of an image not yet complete
  std::atomic<int64_t> read_delay_us_;
  std::thread thread_;
  mutable std::mutex mutex_;
  Summary summary_;
  std::atomic<uint64_t> last_seq_{0};
};

}  // namespace oddsbus::testing
