#include "schemas/recovery_protocol.h"

#include <array>
#include <charconv>
#include <cinttypes>

#include "schemas/append_printf.h"

namespace oddsbus::recovery {

namespace {

// Splits `text` on single spaces into at most N words; returns the count, or N + 1 when there
// are more.
template <size_t N>
size_t split_words(std::string_view text, std::array<std::string_view, N>& words) {
  size_t count = 0;
  while (!text.empty()) {
    const size_t space = text.find(' ');
    const std::string_view word = text.substr(0, space);
    if (!word.empty()) {
      if (count == N) return N + 1;
      words[count++] = word;
    }
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return count;
}

template <typename T>
bool parse_number(std::string_view word, T& out) {
  const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), out);
  return ec == std::errc{} && end == word.data() + word.size();
}

std::string quoted(std::string_view text) {
  return "'" + std::string(text.substr(0, 80)) + (text.size() > 80 ? "...'" : "'");
}

}  // namespace

std::expected<Request, std::string> parse_request(std::string_view text) {
  std::array<std::string_view, 5> w;
  const size_t n = split_words(text, w);
  Request r;
  if (n == 0) return std::unexpected(std::string("empty request"));
  if (w[0] == "status" && n == 1) {
    r.kind = RequestKind::kStatus;
    return r;
  }
  if (w[0] == "snapshot" && n == 1) {
    r.kind = RequestKind::kSnapshot;
    return r;
  }
  if (w[0] == "ack" && n == 2) {
    r.kind = RequestKind::kAck;
    if (!parse_number(w[1], r.from)) return std::unexpected("ack: bad seq " + quoted(w[1]));
    return r;
  }
  if (w[0] == "range" && n >= 3 && n <= 5) {
    r.kind = RequestKind::kRange;
    if (!parse_number(w[1], r.from) || !parse_number(w[2], r.to) || r.from == 0 || r.to < r.from) {
      return std::unexpected(
          "range: want 'range FROM TO [WAIT_MS [replica]]' with 1 <= FROM <= TO, got " +
          quoted(text));
    }
    if (n >= 4 && !parse_number(w[3], r.wait_ms)) {
      return std::unexpected("range: bad WAIT_MS " + quoted(w[3]));
    }
    if (n == 5 && w[4] != "replica") {
      return std::unexpected("range: after WAIT_MS only 'replica' may follow, got " + quoted(w[4]));
    }
    r.replica = n == 5;
    return r;
  }
  return std::unexpected("unknown request " + quoted(text) +
                         " (want status, range FROM TO [WAIT_MS [replica]], snapshot or ack SEQ)");
}

std::string format_request(const Request& r) {
  std::string out;
  switch (r.kind) {
    case RequestKind::kStatus:
      return "status";
    case RequestKind::kSnapshot:
      return "snapshot";
    case RequestKind::kAck:
      append_printf(out, "ack %" PRIu64, r.from);
      return out;
    case RequestKind::kRange:
      append_printf(out, "range %" PRIu64 " %" PRIu64, r.from, r.to);
      if (r.wait_ms != 0 || r.replica) append_printf(out, " %u", r.wait_ms);
      if (r.replica) out += " replica";
      return out;
  }
  return out;
}

std::expected<ReplyHeader, std::string> parse_reply_header(std::string_view text) {
  std::array<std::string_view, 8> w;
  const size_t n = split_words(text, w);
  ReplyHeader h;
  const auto bad = [&] { return std::unexpected("malformed reply " + quoted(text)); };
  if (n == 0) return bad();
  if (w[0] == "status" && n == 6) {
    h.kind = ReplyKind::kStatus;
    if (!parse_number(w[1], h.node) || !parse_number(w[2], h.epoch) ||
        !parse_number(w[3], h.epoch_start) || !parse_number(w[4], h.last_seq) ||
        (w[5] != "primary" && w[5] != "secondary")) {
      return bad();
    }
    h.primary = w[5] == "primary";
    return h;
  }
  if (w[0] == "range" && n == 6) {
    h.kind = ReplyKind::kRange;
    if (!parse_number(w[1], h.from) || !parse_number(w[2], h.served_to) ||
        !parse_number(w[3], h.last_seq) || !parse_number(w[4], h.epoch) ||
        !parse_number(w[5], h.epoch_start)) {
      return bad();
    }
    return h;
  }
  if (w[0] == "gone" && n == 3) {
    h.kind = ReplyKind::kGone;
    if (!parse_number(w[1], h.from) || !parse_number(w[2], h.oldest)) return bad();
    return h;
  }
  if (w[0] == "snapshot" && n == 5) {
    h.kind = ReplyKind::kSnapshot;
    if (!parse_number(w[1], h.seq) || !parse_number(w[2], h.epoch) || w[3].size() != 16 ||
        std::from_chars(w[3].data(), w[3].data() + 16, h.digest, 16).ptr != w[3].data() + 16 ||
        !parse_number(w[4], h.chunks)) {
      return bad();
    }
    return h;
  }
  if (w[0] == "busy" && n == 2) {
    h.kind = ReplyKind::kBusy;
    if (!parse_number(w[1], h.retry_ms)) return bad();
    return h;
  }
  if (w[0] == "error" && n >= 2) {
    h.kind = ReplyKind::kError;
    h.reason = std::string(w[1]);
    // w[1] is a view into text: its end is where the detail begins.
    const size_t at = static_cast<size_t>(w[1].data() - text.data()) + w[1].size();
    h.detail = at < text.size() ? std::string(text.substr(at + 1)) : std::string();
    return h;
  }
  return bad();
}

std::string format_reply_header(const ReplyHeader& h) {
  std::string out;
  switch (h.kind) {
    case ReplyKind::kStatus:
      append_printf(out, "status %u %u %" PRIu64 " %" PRIu64 " %s", h.node, h.epoch, h.epoch_start,
                    h.last_seq, h.primary ? "primary" : "secondary");
      break;
    case ReplyKind::kRange:
      append_printf(out, "range %" PRIu64 " %" PRIu64 " %" PRIu64 " %u %" PRIu64, h.from,
                    h.served_to, h.last_seq, h.epoch, h.epoch_start);
      break;
    case ReplyKind::kGone:
      append_printf(out, "gone %" PRIu64 " %" PRIu64, h.from, h.oldest);
      break;
    case ReplyKind::kSnapshot:
      append_printf(out, "snapshot %" PRIu64 " %u %016" PRIx64 " %u", h.seq, h.epoch, h.digest,
                    h.chunks);
      break;
    case ReplyKind::kBusy:
      append_printf(out, "busy %u", h.retry_ms);
      break;
    case ReplyKind::kError:
      append_printf(out, "error %s %s", h.reason.empty() ? "internal" : h.reason.c_str(),
                    h.detail.c_str());
      break;
  }
  return out;
}

}  // namespace oddsbus::recovery
