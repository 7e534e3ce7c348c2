#include "tools/cluster/stream_counter.h"

#include <simdjson.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <optional>

namespace oddsbus::cluster {

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr size_t kMaxFindings = 20;
}  // namespace

// Everything runs on the counter's thread: one connection at a time, one read and at most one
// write in flight.
struct StreamCounter::Connection {
  explicit Connection(StreamCounter& owner) : owner(owner), reconnect(io), ping(io) {}

  void connect() {
    ws.emplace(io);
    writing = false;
    ws->next_layer().async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), owner.port_),
        [this](beast::error_code ec) {
          if (ec) return retry();
          ws->async_handshake("127.0.0.1", "/v1/stream", [this](beast::error_code ec) {
            if (ec) return retry();
            const auto [seq, epoch] = owner.resume_point();
            std::string subscribe = R"({"op": "subscribe", "markets": "all")";
            if (seq > 0) {
              subscribe += ", \"resume_from\": " + std::to_string(seq) +
                           ", \"resume_epoch\": " + std::to_string(epoch);
            }
            subscribe += "}";
            owner.on_connected(seq > 0);
            write(std::move(subscribe));
            read();
          });
        });
  }

  void read() {
    ws->async_read(buffer, [this](beast::error_code ec, size_t) {
      if (ec) return retry();
      const std::string text = beast::buffers_to_string(buffer.data());
      buffer.consume(buffer.size());
      owner.on_message(text);
      read();
    });
  }

  void write(std::string text) {
    if (writing) return;  // a ping is dropped when the subscribe is still being written
    writing = true;
    outgoing = std::move(text);
    ws->async_write(asio::buffer(outgoing), [this](beast::error_code, size_t) { writing = false; });
  }

  void retry() {
    if (ws && ws->next_layer().is_open()) {
      beast::error_code ignored;
      ws->next_layer().close(ignored);
    }
    if (connected) owner.on_disconnected();
    connected = false;
    reconnect.expires_after(std::chrono::milliseconds(200));
    reconnect.async_wait([this](beast::error_code ec) {
      if (!ec) connect();
    });
  }

  void schedule_ping() {
    ping.expires_after(std::chrono::seconds(5));
    ping.async_wait([this](beast::error_code ec) {
      if (ec) return;
      if (connected && ws && ws->is_open()) write(R"({"op": "ping"})");
      schedule_ping();
    });
  }

  StreamCounter& owner;
  asio::io_context io;
  std::optional<beast::websocket::stream<tcp::socket>> ws;
  beast::flat_buffer buffer;
  std::string outgoing;
  bool writing = false;
  bool connected = false;
  asio::steady_timer reconnect;
  asio::steady_timer ping;
};

StreamCounter::StreamCounter(uint16_t port)
    : port_(port), connection_(std::make_unique<Connection>(*this)) {
  connection_->connect();
  connection_->schedule_ping();
  thread_ = std::thread([this] { connection_->io.run(); });
}

StreamCounter::~StreamCounter() { stop(); }

void StreamCounter::stop() {
  connection_->io.stop();
  if (thread_.joinable()) thread_.join();
}

StreamCounts StreamCounter::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

std::pair<uint64_t, uint32_t> StreamCounter::resume_point() const {
  std::lock_guard lock(mutex_);
  return {counts_.last_seq, counts_.epoch};
}

void StreamCounter::on_connected(bool) {
  connection_->connected = true;
  std::lock_guard lock(mutex_);
  ++counts_.connects;
  counts_.connected = true;
}

void StreamCounter::on_disconnected() {
  std::lock_guard lock(mutex_);
  counts_.connected = false;
}

void StreamCounter::finding(std::string text) {
  if (counts_.findings.size() < kMaxFindings) counts_.findings.push_back(std::move(text));
}

void StreamCounter::on_message(std::string_view text) {
  // One parser per message: messages are few (a demo's rate), and this keeps the class simple.
  simdjson::dom::parser parser;
  simdjson::dom::element message;
  std::lock_guard lock(mutex_);
  if (parser.parse(text.data(), text.size()).get(message) != simdjson::SUCCESS) {
    finding("not JSON: " + std::string(text.substr(0, 120)));
    return;
  }
  std::string_view type;
  if (message["type"].get(type) != simdjson::SUCCESS) return;
  uint64_t seq = 0, epoch = 0;
  if (type == "image") {
    // A large image comes in parts 1..k ("part", "parts"); part 1 starts the view over.
    uint64_t part = 1, parts = 1;
    if (message["part"].get(part) != simdjson::SUCCESS) part = 1;
    if (message["parts"].get(parts) != simdjson::SUCCESS) parts = 1;
    if (part == 1) market_seqs_.clear();
    simdjson::dom::array markets;
    if (message["markets"].get(markets) == simdjson::SUCCESS) {
      for (simdjson::dom::element m : markets) {
        uint64_t id = 0, market_seq = 0;
        if (m["market"].get(id) == simdjson::SUCCESS &&
            m["market_seq"].get(market_seq) == simdjson::SUCCESS) {
          market_seqs_[id] = market_seq;
        }
      }
    }
    if (part < parts) return;
    if (counts_.images++ > 0) ++counts_.reimages;
    if (message["seq"].get(seq) == simdjson::SUCCESS) counts_.last_seq = seq;
    if (message["epoch"].get(epoch) == simdjson::SUCCESS) counts_.epoch = uint32_t(epoch);
  } else if (type == "resumed") {
    ++counts_.resumes;
  } else if (type == "delta") {
    ++counts_.deltas;
    if (message["seq"].get(seq) != simdjson::SUCCESS) return;
    bool conflated = false;
    if (message["conflated"].get(conflated) != simdjson::SUCCESS) conflated = false;
    if (conflated) ++counts_.conflated;
    if (seq <= counts_.last_seq) {
      ++counts_.duplicated;
      finding("delta seq " + std::to_string(seq) + " after " + std::to_string(counts_.last_seq));
      return;
    }
    counts_.last_seq = seq;
    if (message["epoch"].get(epoch) == simdjson::SUCCESS) counts_.epoch = uint32_t(epoch);
    simdjson::dom::array markets;
    if (message["markets"].get(markets) != simdjson::SUCCESS) return;
    for (simdjson::dom::element entry : markets) {
      uint64_t id = 0, market_seq = 0;
      if (entry["market"].get(id) != simdjson::SUCCESS) continue;
      if (entry["removed"].error() == simdjson::SUCCESS) {
        market_seqs_.erase(id);
        continue;
      }
      if (entry["market_seq"].get(market_seq) != simdjson::SUCCESS) continue;
      auto known = market_seqs_.find(id);
      if (known != market_seqs_.end() && !conflated) {
        if (market_seq <= known->second) {
          ++counts_.duplicated;
          finding("market " + std::to_string(id) + " market_seq " + std::to_string(market_seq) +
                  " again (holds " + std::to_string(known->second) + ") at seq " +
                  std::to_string(seq));
        } else if (market_seq > known->second + 1) {
          counts_.lost += market_seq - known->second - 1;
          finding("market " + std::to_string(id) + " market_seq " + std::to_string(market_seq) +
                  " after " + std::to_string(known->second) + " at seq " + std::to_string(seq));
        }
      }
      market_seqs_[id] = std::max(market_seq, known != market_seqs_.end() ? known->second : 0);
    }
  }
}

}  // namespace oddsbus::cluster
