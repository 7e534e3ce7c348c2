#include "tools/chaos/stream_recorder.h"

#include <pthread.h>
#include <simdjson.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <optional>

namespace oddsbus::chaos {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

class StreamRecorder::Impl {
 public:
  Impl(StreamRecorder& owner, uint16_t port, std::chrono::milliseconds retry)
      : owner_(owner), port_(port), retry_interval_(retry), retry_(io_) {
    log_ = std::fopen(owner.log_path_.c_str(), "w");
  }
  ~Impl() {
    if (log_ != nullptr) std::fclose(log_);
  }

  void run() {
    pthread_setname_np(pthread_self(), "chaos-client");
    connect();
    io_.run();
    if (log_ != nullptr) std::fflush(log_);
  }

  void stop() {
    asio::post(io_, [this] {
      stopping_ = true;
      retry_.cancel();
      if (ws_) {
        beast::error_code ignored;
        beast::get_lowest_layer(*ws_).close(ignored);
      }
    });
  }

 private:
  void connect() {
    if (stopping_) return;
    ws_.emplace(io_);
    beast::get_lowest_layer(*ws_).async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), [this](beast::error_code ec) {
          if (ec) return retry();
          ws_->async_handshake("127.0.0.1", "/v1/stream", [this](beast::error_code ec) {
            if (ec) return retry();
            write_line(R"({"type":"client-connect"})");
            subscribe_ = R"({"op":"subscribe","markets":"all")";
            if (positioned_) {
              subscribe_ += R"(,"resume_from":)" + std::to_string(last_delta_seq_) +
                            R"(,"resume_epoch":)" + std::to_string(last_epoch_);
            }
            subscribe_ += "}";
            ws_->async_write(asio::buffer(subscribe_), [this](beast::error_code ec, size_t) {
              if (ec) return retry();
              owner_.connected_.store(true);
              read();
            });
          });
        });
  }

  void retry() {
    owner_.connected_.store(false);
    if (stopping_) return;
    if (ws_) {
      beast::error_code ignored;
      beast::get_lowest_layer(*ws_).close(ignored);
    }
    retry_.expires_after(retry_interval_);
    retry_.async_wait([this](beast::error_code ec) {
      if (!ec) connect();
    });
  }

  void read() {
    ws_->async_read(buffer_, [this](beast::error_code ec, size_t) {
      if (ec) return retry();
      const std::string text = beast::buffers_to_string(buffer_.data());
      buffer_.consume(buffer_.size());
      write_line(text);
      note(text);
      owner_.messages_.fetch_add(1);
      read();
    });
  }

  void write_line(const std::string& text) {
    if (log_ == nullptr) return;
    std::fwrite(text.data(), 1, text.size(), log_);
    std::fputc('\n', log_);
  }

  // Where to resume from, and how far the edge has told it.
  void note(const std::string& text) {
    simdjson::dom::element doc;
    if (parser_.parse(text).get(doc) != simdjson::SUCCESS) return;
    std::string_view type;
    uint64_t seq = 0, epoch = 0, part = 0, parts = 0;
    if (doc["type"].get(type) != simdjson::SUCCESS || doc["seq"].get(seq) != simdjson::SUCCESS) {
      return;
    }
    if (doc["epoch"].get(epoch) != simdjson::SUCCESS) epoch = 0;
    const bool partial = doc["parts"].get(parts) == simdjson::SUCCESS &&
                         doc["part"].get(part) == simdjson::SUCCESS && part < parts;
    if ((type == "image" && !partial) || type == "delta") {
      positioned_ = true;
      last_delta_seq_ = seq;
      last_epoch_ = static_cast<uint32_t>(epoch);
    }
    if (type == "image" || type == "delta" || type == "heartbeat") owner_.last_seq_.store(seq);
  }

  StreamRecorder& owner_;
  uint16_t port_;
  std::chrono::milliseconds retry_interval_;
  asio::io_context io_;
  asio::steady_timer retry_;
  std::optional<beast::websocket::stream<tcp::socket>> ws_;
  beast::flat_buffer buffer_;
  std::string subscribe_;
  simdjson::dom::parser parser_;
  FILE* log_ = nullptr;
  bool stopping_ = false;
  bool positioned_ = false;
  uint64_t last_delta_seq_ = 0;
  uint32_t last_epoch_ = 0;
};

StreamRecorder::StreamRecorder(uint16_t port, std::string log_path, std::chrono::milliseconds retry)
    : log_path_(std::move(log_path)), impl_(std::make_unique<Impl>(*this, port, retry)) {
  thread_ = std::thread([this] { impl_->run(); });
}

StreamRecorder::~StreamRecorder() { stop(); }

void StreamRecorder::stop() {
  if (!thread_.joinable()) return;
  impl_->stop();
  thread_.join();
  connected_.store(false);
}

}  // namespace oddsbus::chaos
