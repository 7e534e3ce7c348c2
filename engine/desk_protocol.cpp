#include "engine/desk_protocol.h"

#include <charconv>
#include <cinttypes>

#include "schemas/append_printf.h"

namespace oddsbus::desk {

namespace {

// Splits `text` on spaces into at most `max` words; returns false when there are more.
bool split_words(std::string_view text, size_t max, std::vector<std::string_view>& words) {
  words.clear();
  while (!text.empty()) {
    const size_t space = text.find(' ');
    const std::string_view word = text.substr(0, space);
    if (!word.empty()) {
      if (words.size() == max) return false;
      words.push_back(word);
    }
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return true;
}

template <typename T>
bool parse_number(std::string_view word, T& out) {
  const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), out);
  return ec == std::errc{} && end == word.data() + word.size() && !word.empty();
}

bool printable_token(std::string_view word, size_t max) {
  if (word.empty() || word.size() > max) return false;
  for (const char c : word) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

std::string quoted(std::string_view text) {
  return "'" + std::string(text.substr(0, 80)) + (text.size() > 80 ? "...'" : "'");
}

// Parses an optional trailing "for=MS"; returns false when the word is something else.
bool parse_for(std::string_view word, uint64_t& ms) {
  constexpr std::string_view kPrefix = "for=";
  if (!word.starts_with(kPrefix)) return false;
  return parse_number(word.substr(kPrefix.size()), ms) && ms > 0;
}

constexpr std::string_view kUsage =
    " (want CLIENT ID set-price MARKET SELECTION ODDS [for=MS], suspend MARKET [for=MS], reopen "
    "MARKET [for=MS], settle MARKET [WINNER...], release MARKET, suspend-event EVENT [for=MS] or "
    "held)";

}  // namespace

std::string_view to_string(Command command) {
  switch (command) {
    case Command::kSetPrice:
      return "set-price";
    case Command::kSuspend:
      return "suspend";
    case Command::kReopen:
      return "reopen";
    case Command::kSettle:
      return "settle";
    case Command::kRelease:
      return "release";
    case Command::kSuspendEvent:
      return "suspend-event";
    case Command::kHeld:
      return "held";
  }
  return "?";
}

std::string_view request_id_of(std::string_view text) {
  std::vector<std::string_view> w;
  split_words(text.substr(0, kMaxRequestBytes), 2, w);
  if (w.size() < 2 || !printable_token(w[1], kMaxTokenBytes)) return "-";
  return w[1];
}

std::expected<Request, std::string> parse_request(std::string_view text) {
  if (text.size() > kMaxRequestBytes) {
    return std::unexpected("request of " + std::to_string(text.size()) + " bytes is over " +
                           std::to_string(kMaxRequestBytes));
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  for (const char c : text) {
    if (c < ' ' || c > '~') return std::unexpected(std::string("request is not printable ASCII"));
  }
  std::vector<std::string_view> w;
  if (!split_words(text, 4 + kMaxWinners, w)) {
    return std::unexpected("too many words in " + quoted(text));
  }
  if (w.size() == 3 && w[2] == "held") {
    if (!printable_token(w[0], kMaxTokenBytes) || !printable_token(w[1], kMaxTokenBytes)) {
      return std::unexpected("CLIENT and ID must be 1 to 64 characters");
    }
    Request r;
    r.client = w[0];
    r.id = w[1];
    r.command = Command::kHeld;
    return r;
  }
  if (w.size() < 4)
    return std::unexpected("too few words in " + quoted(text) + std::string(kUsage));
  Request r;
  if (!printable_token(w[0], kMaxTokenBytes) || !printable_token(w[1], kMaxTokenBytes)) {
    return std::unexpected("CLIENT and ID must be 1 to 64 characters");
  }
  r.client = w[0];
  r.id = w[1];
  const std::string_view command = w[2];
  const size_t n = w.size();
  if (command == "suspend-event") {
    r.command = Command::kSuspendEvent;
    if (!parse_number(w[3], r.event)) return std::unexpected("bad EVENT " + quoted(w[3]));
    if (n > 5) return std::unexpected(std::string("suspend-event: want EVENT [for=MS]"));
    if (n == 5 && !parse_for(w[4], r.override_for_ms)) {
      return std::unexpected("suspend-event: want for=MS (MS > 0), got " + quoted(w[4]));
    }
    return r;
  }
  if (!parse_number(w[3], r.market)) return std::unexpected("bad MARKET " + quoted(w[3]));
  if (command == "set-price") {
    r.command = Command::kSetPrice;
    if (n != 6 && n != 7) {
      return std::unexpected(std::string("set-price: want MARKET SELECTION ODDS [for=MS]"));
    }
    if (!parse_number(w[4], r.selection)) {
      return std::unexpected("set-price: bad SELECTION " + quoted(w[4]));
    }
    if (w[5].size() > kMaxOddsBytes) return std::unexpected("set-price: ODDS too long");
    r.odds = w[5];
    if (n == 7 && !parse_for(w[6], r.override_for_ms)) {
      return std::unexpected("set-price: want for=MS (MS > 0), got " + quoted(w[6]));
    }
    return r;
  }
  if (command == "suspend" || command == "reopen") {
    r.command = command == "suspend" ? Command::kSuspend : Command::kReopen;
    if (n > 5) return std::unexpected(std::string(command) + ": want MARKET [for=MS]");
    if (n == 5 && !parse_for(w[4], r.override_for_ms)) {
      return std::unexpected(std::string(command) + ": want for=MS (MS > 0), got " + quoted(w[4]));
    }
    return r;
  }
  if (command == "settle") {
    r.command = Command::kSettle;
    for (size_t i = 4; i < n; ++i) {
      uint64_t winner = 0;
      if (!parse_number(w[i], winner)) return std::unexpected("settle: bad WINNER " + quoted(w[i]));
      r.winners.push_back(winner);
    }
    return r;
  }
  if (command == "release") {
    r.command = Command::kRelease;
    if (n != 4) return std::unexpected(std::string("release: want MARKET"));
    return r;
  }
  return std::unexpected("unknown command " + quoted(command) + std::string(kUsage));
}

std::string format_request(const Request& r) {
  std::string out = r.client + " " + r.id + " " + std::string(to_string(r.command));
  if (r.command == Command::kHeld) return out;
  append_printf(out, " %" PRIu64, r.command == Command::kSuspendEvent ? r.event : r.market);
  switch (r.command) {
    case Command::kSetPrice:
      append_printf(out, " %" PRIu64 " %s", r.selection, r.odds.c_str());
      break;
    case Command::kSettle:
      for (const uint64_t winner : r.winners) append_printf(out, " %" PRIu64, winner);
      break;
    case Command::kSuspend:
    case Command::kReopen:
    case Command::kRelease:
    case Command::kSuspendEvent:
    case Command::kHeld:
      break;
  }
  if (r.override_for_ms != 0 && r.command != Command::kSettle && r.command != Command::kRelease) {
    append_printf(out, " for=%" PRIu64, r.override_for_ms);
  }
  return out;
}

RejectReason from_sequencer(feeds::RejectReason reason) {
  switch (reason) {
    case feeds::RejectReason::kUnknownMarket:
      return RejectReason::kUnknownMarket;
    case feeds::RejectReason::kUnknownSelection:
      return RejectReason::kUnknownSelection;
    case feeds::RejectReason::kMarketSettled:
      return RejectReason::kMarketSettled;
    case feeds::RejectReason::kBadOdds:
      return RejectReason::kBadOdds;
    default:
      return RejectReason::kBadRequest;
  }
}

std::string format_reply(const Reply& reply) {
  std::string out;
  if (reply.ok && reply.held_list) {
    append_printf(out, "held %s %zu", reply.id.c_str(), reply.held.size());
    for (const HeldEntry& h : reply.held) {
      append_printf(out, "\n%" PRIu64 " %s %s %s %" PRIu64 " %" PRIu64, h.market,
                    h.identity.c_str(), h.client.c_str(), h.request_id.c_str(), h.since_ns,
                    h.expires_ns);
    }
    return out;
  }
  if (reply.ok) {
    append_printf(out, "ack %s %" PRIu64 " %u", reply.id.c_str(), reply.seq, reply.epoch);
    return out;
  }
  out = "reject " + reply.id + " " + std::string(to_string(reply.reason));
  if (!reply.detail.empty()) {
    out += ' ';
    // One line of printable text: anything else would break the one-part, one-line reply.
    for (const char c : reply.detail) out += (c < ' ' || c > '~') ? '?' : c;
  }
  return out;
}

std::expected<Reply, std::string> parse_reply(std::string_view text) {
  if (text.starts_with("held ")) {
    Reply r;
    r.ok = true;
    r.held_list = true;
    std::vector<std::string_view> w;
    size_t line_end = text.find('\n');
    std::string_view line = text.substr(0, line_end);
    size_t count = 0;
    if (!split_words(line, 3, w) || w.size() != 3 || !parse_number(w[2], count)) {
      return std::unexpected("bad held reply " + quoted(line));
    }
    r.id = w[1];
    while (line_end != std::string_view::npos) {
      text.remove_prefix(line_end + 1);
      line_end = text.find('\n');
      line = text.substr(0, line_end);
      HeldEntry h;
      if (!split_words(line, 6, w) || w.size() != 6 || !parse_number(w[0], h.market) ||
          !parse_number(w[4], h.since_ns) || !parse_number(w[5], h.expires_ns)) {
        return std::unexpected("bad held line " + quoted(line));
      }
      h.identity = w[1];
      h.client = w[2];
      h.request_id = w[3];
      r.held.push_back(std::move(h));
    }
    if (r.held.size() != count) return std::unexpected(std::string("held reply lines != COUNT"));
    return r;
  }
  std::vector<std::string_view> w;
  split_words(text, 3, w);  // a reject's DETAIL may have any number of words: read it whole
  Reply r;
  if (w.size() >= 3 && w[0] == "reject") {
    r.ok = false;
    r.id = w[1];
    size_t i = 0;
    while (i < kRejectReasonNames.size() && kRejectReasonNames[i] != w[2]) ++i;
    if (i == kRejectReasonNames.size()) return std::unexpected("unknown reason " + quoted(w[2]));
    r.reason = static_cast<RejectReason>(i);
    const size_t at = static_cast<size_t>(w[2].data() - text.data()) + w[2].size();
    std::string_view detail = text.substr(at);
    while (!detail.empty() && detail.front() == ' ') detail.remove_prefix(1);
    r.detail = detail;
    return r;
  }
  std::vector<std::string_view> a;
  if (split_words(text, 4, a) && a.size() == 4 && a[0] == "ack") {
    r.ok = true;
    r.id = a[1];
    if (!parse_number(a[2], r.seq) || !parse_number(a[3], r.epoch)) {
      return std::unexpected("bad ack " + quoted(text));
    }
    return r;
  }
  return std::unexpected("not a desk reply: " + quoted(text));
}

}  // namespace oddsbus::desk
