// What a WebSocket client may ask of the stream (DESIGN section 10): subscribe (markets by id,
// "all", or an event), unsubscribe, ping; with optional resume_from (and resume_epoch, the epoch
// of the state the client holds) on a subscribe. Parsing is
// strict: unknown ops, ill-typed fields and oversized id lists are refused with a reason the
// client is sent back, never guessed at.
//
// Not thread-safe: one parser per serving thread (it reuses its buffers).
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oddsbus::edge {

struct ClientRequest {
  enum class Op : uint8_t { kSubscribe, kUnsubscribe, kPing };
  Op op = Op::kPing;
  bool all = false;               // "markets": "all"
  std::vector<uint64_t> markets;  // "markets": [ID, ...]
  std::vector<uint64_t> events;   // "event": ID, or "events": [ID, ...]
  std::optional<uint64_t> resume_from;
  std::optional<uint32_t> resume_epoch;  // without it a resume cannot be checked: it gets an image
};

class ClientRequestParser {
 public:
  // `max_ids`: the most market and event ids one request may name.
  explicit ClientRequestParser(size_t max_ids);
  ~ClientRequestParser();
  ClientRequestParser(const ClientRequestParser&) = delete;
  ClientRequestParser& operator=(const ClientRequestParser&) = delete;

  // The request, or a one-line reason it was refused.
  std::expected<ClientRequest, std::string> parse(std::string_view text);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace oddsbus::edge
