#include "feeds/betfair/stream_session.h"

#include <algorithm>
#include <utility>

#include <simdjson.h>

#include "feeds/json_line.h"
#include "schemas/state_json.h"

namespace oddsbus::feeds::betfair {

namespace ondemand = simdjson::ondemand;

namespace {

constexpr std::array<std::string_view, static_cast<size_t>(StreamErrorCode::kCount)> kCodeNames = {
    "NO_APP_KEY",
    "INVALID_APP_KEY",
    "NO_SESSION",
    "INVALID_SESSION_INFORMATION",
    "NOT_AUTHORIZED",
    "INVALID_INPUT",
    "INVALID_CLOCK",
    "UNEXPECTED_ERROR",
    "TIMEOUT",
    "SUBSCRIPTION_LIMIT_EXCEEDED",
    "INVALID_REQUEST",
    "CONNECTION_FAILED",
    "MAX_CONNECTION_LIMIT_EXCEEDED",
    "TOO_MANY_REQUESTS",
    "OTHER",
};

// Request ids, the same on every connection: the server echoes the subscription's id on every
// mcm, so redundant lines carry byte-identical changes (feeds/link/message_dedup.h).
constexpr int kAuthenticationId = 1;
constexpr int kSubscriptionId = 2;


}  // namespace

std::string_view to_string(StreamErrorCode code) { return kCodeNames[static_cast<size_t>(code)]; }

StreamErrorCode parse_error_code(std::string_view text) {
  for (size_t i = 0; i + 1 < kCodeNames.size(); ++i) {
    if (kCodeNames[i] == text) return static_cast<StreamErrorCode>(i);
  }
  return StreamErrorCode::kOther;
}

bool is_fatal(StreamErrorCode code) {
  switch (code) {
    case StreamErrorCode::kNoAppKey:
    case StreamErrorCode::kInvalidAppKey:
    case StreamErrorCode::kNoSession:
    case StreamErrorCode::kInvalidSessionInformation:
    case StreamErrorCode::kNotAuthorized:
    case StreamErrorCode::kInvalidInput:
    case StreamErrorCode::kInvalidRequest:
    case StreamErrorCode::kSubscriptionLimitExceeded:
      return true;
    default:
      return false;
  }
}

std::string_view to_string(SessionState state) {
  switch (state) {
    case SessionState::kDisconnected:
      return "disconnected";
    case SessionState::kConnected:
      return "connected";
    case SessionState::kAuthenticating:
      return "authenticating";
    case SessionState::kSubscribing:
      return "subscribing";
    case SessionState::kStreaming:
      return "streaming";
    case SessionState::kStopped:
      return "stopped";
  }
  return "unknown";
}

void SessionActions::clear() {
  send.clear();
  deliver.clear();
  restates = false;
  action = ConnectionAction::kKeep;
  retry_after_ns = 0;
  notices.clear();
}

// The top-level fields of a message that the session reads; mc is left to the adapter.
struct detail::SessionFields {
  std::string_view op;
  bool has_id = false;
  int64_t id = 0;
  bool failure = false;
  bool connection_closed = false;
  std::string_view error_code;
  std::string_view error_message;
  std::string_view connection_id;
  std::string_view ct;
  std::string_view segment_type;
  bool has_clk = false;
  std::string_view clk;
  bool has_initial_clk = false;
  std::string_view initial_clk;
};

struct detail::SessionParser {
  json::JsonLine line;
};

namespace {

// Reads the fields the session needs. False when the message is not a JSON object with a string
// `op`; fields of an unexpected type are left unset (the adapter rejects the message if it cares).
bool read_fields(detail::SessionParser& parser, std::string_view message, detail::SessionFields& f);

}  // namespace

StreamSession::StreamSession(StreamSessionConfig config)
    : config_(std::move(config)),
      parser_(std::make_unique<detail::SessionParser>()),
      jitter_(config_.jitter_seed) {
  config_.heartbeat_ms = std::clamp<uint32_t>(config_.heartbeat_ms, 500, 30000);
  config_.conflate_ms = std::min<uint32_t>(config_.conflate_ms, 120000);
  config_.ladder_levels = std::clamp<uint32_t>(config_.ladder_levels, 1, 10);
  if (config_.silence_limit_ns == 0) {
    config_.silence_limit_ns = 3ULL * config_.heartbeat_ms * 1'000'000 + 5'000'000'000ULL;
  }
  backoff_ns_ = config_.initial_backoff_ns;
}

StreamSession::~StreamSession() = default;
StreamSession::StreamSession(StreamSession&&) noexcept = default;
StreamSession& StreamSession::operator=(StreamSession&&) noexcept = default;

void StreamSession::on_connected(uint64_t now_ns, SessionActions& out) {
  if (stopped()) {
    out.action = ConnectionAction::kStop;
    return;
  }
  ++counters_.connects;
  state_ = SessionState::kConnected;
  connected_ns_ = now_ns;
  last_heard_ns_ = now_ns;
  resubscribed_ = false;
  reached_streaming_ = false;
  in_segment_ = false;
}

void StreamSession::on_message(std::string_view message, uint64_t now_ns, SessionActions& out) {
  if (stopped()) {
    out.action = ConnectionAction::kStop;
    return;
  }
  if (state_ == SessionState::kDisconnected) return;
  last_heard_ns_ = now_ns;
  detail::SessionFields f;
  if (!read_fields(*parser_, message, f)) {
    ++counters_.unexpected;
    out.notices.push_back({SessionNotice::Kind::kUnexpected, "not a stream message"});
    return;
  }
  if (f.op == "connection") {
    if (state_ != SessionState::kConnected) {
      ++counters_.unexpected;
      out.notices.push_back({SessionNotice::Kind::kUnexpected, "a second connection message"});
      return;
    }
    out.notices.push_back({SessionNotice::Kind::kConnected, std::string(f.connection_id)});
    send_authentication(out);
  } else if (f.op == "status") {
    on_status(f, out);
  } else if (f.op == "mcm") {
    on_change(message, f, out);
  } else {
    // ocm and anything newer: not ours (we never subscribe to orders).
    ++counters_.unexpected;
    out.notices.push_back({SessionNotice::Kind::kUnexpected, "op " + std::string(f.op)});
  }
}

void StreamSession::on_tick(uint64_t now_ns, SessionActions& out) {
  if (stopped()) {
    out.action = ConnectionAction::kStop;
    return;
  }
  if (state_ == SessionState::kDisconnected) return;
  if (state_ == SessionState::kConnected && now_ns - connected_ns_ >= config_.send_within_ns) {
    out.notices.push_back({SessionNotice::Kind::kLateConnection,
                           "no connection message yet: authenticating within 15 s of connecting"});
    send_authentication(out);
    return;
  }
  if (now_ns - last_heard_ns_ >= config_.silence_limit_ns) {
    ++counters_.silences;
    out.notices.push_back(
        {SessionNotice::Kind::kSilent, "nothing heard for " +
                                           std::to_string((now_ns - last_heard_ns_) / 1'000'000) +
                                           " ms in " + std::string(to_string(state_))});
    close(out);
  }
}

void StreamSession::on_disconnected(uint64_t, SessionActions& out) {
  if (in_segment_) {
    ++counters_.segments_discarded;
    out.notices.push_back(
        {SessionNotice::Kind::kSegmentDiscarded, "connection lost inside a segmented change"});
    in_segment_ = false;
  }
  if (stopped()) {
    out.action = ConnectionAction::kStop;
    return;
  }
  if (state_ != SessionState::kDisconnected) ++counters_.disconnects;
  state_ = SessionState::kDisconnected;
  if (reached_streaming_) backoff_ns_ = config_.initial_backoff_ns;
  reached_streaming_ = false;
  out.retry_after_ns =
      static_cast<uint64_t>(
          jitter_.draw(std::chrono::milliseconds(backoff_ns_ / 1'000'000)).count()) *
      1'000'000;
  backoff_ns_ = std::min(config_.max_backoff_ns, backoff_ns_ * 2);
}

void StreamSession::send_authentication(SessionActions& out) {
  out.send +=
      R"({"op":"authentication","id":)" + std::to_string(kAuthenticationId) + R"(,"appKey":)";
  append_json_string(out.send, config_.app_key);
  out.send += R"(,"session":)";
  append_json_string(out.send, config_.session_token);
  out.send += "}\r\n";
  state_ = SessionState::kAuthenticating;
}

void StreamSession::send_subscription(SessionActions& out) {
  std::string& s = out.send;
  s += R"({"op":"marketSubscription","id":)" + std::to_string(kSubscriptionId) +
       R"(,"marketFilter":{"marketIds":[)";
  for (size_t i = 0; i < config_.market_ids.size(); ++i) {
    if (i > 0) s += ',';
    append_json_string(s, config_.market_ids[i]);
  }
  // EX_BEST_OFFERS gives batb (the price DESIGN section 10 reads), EX_LTP the fallback, and
  // EX_MARKET_DEF the status and runners (ESASwaggerSchema.json, MarketDataFilter.fields).
  s += R"(]},"marketDataFilter":{"ladderLevels":)" + std::to_string(config_.ladder_levels) +
       R"(,"fields":["EX_BEST_OFFERS","EX_LTP","EX_MARKET_DEF"]},"heartbeatMs":)" +
       std::to_string(config_.heartbeat_ms) + R"(,"conflateMs":)" +
       std::to_string(config_.conflate_ms) + R"(,"segmentationEnabled":)" +
       (config_.segmentation ? "true" : "false");
  resubscribed_ = !initial_clk_.empty() && !clk_.empty();
  if (resubscribed_) {
    s += R"(,"initialClk":)";
    append_json_string(s, initial_clk_);
    s += R"(,"clk":)";
    append_json_string(s, clk_);
    ++counters_.resubscriptions;
  }
  s += "}\r\n";
  ++counters_.subscriptions;
  state_ = SessionState::kSubscribing;
}

void StreamSession::on_status(const detail::SessionFields& f, SessionActions& out) {
  if (!f.failure) {
    if (f.has_id && f.id == kAuthenticationId && state_ == SessionState::kAuthenticating) {
      ++counters_.authentications;
      out.notices.push_back({SessionNotice::Kind::kAuthenticated, {}});
      send_subscription(out);
    } else if (f.has_id && f.id == kSubscriptionId &&
               (state_ == SessionState::kSubscribing || state_ == SessionState::kStreaming)) {
      out.notices.push_back({SessionNotice::Kind::kSubscribed, resubscribed_ ? "resume" : "image"});
    } else if (f.connection_closed) {
      out.notices.push_back({SessionNotice::Kind::kUnexpected, "connection closed by the server"});
      close(out);
    }
    return;
  }
  const StreamErrorCode code = parse_error_code(f.error_code);
  ++counters_.status_errors[static_cast<size_t>(code)];
  std::string detail = std::string(f.error_code.empty() ? "FAILURE" : f.error_code);
  if (!f.error_message.empty()) detail += ": " + std::string(f.error_message);
  out.notices.push_back({SessionNotice::Kind::kStatusFailure, detail});
  if (is_fatal(code)) {
    stop(detail + " (fatal: not retrying; fix the credentials file or the mapping)", out);
    return;
  }
  if (code == StreamErrorCode::kInvalidClock) {
    // The server cannot resume from our tokens: the next subscription asks for a new image.
    initial_clk_.clear();
    clk_.clear();
  }
  close(out);
}

void StreamSession::on_change(std::string_view message, const detail::SessionFields& f,
                              SessionActions& out) {
  if (state_ != SessionState::kSubscribing && state_ != SessionState::kStreaming) {
    ++counters_.unexpected;
    out.notices.push_back({SessionNotice::Kind::kUnexpected, "mcm before the subscription"});
    return;
  }
  state_ = SessionState::kStreaming;
  if (f.segment_type.empty()) {
    if (in_segment_) {
      ++counters_.segments_discarded;
      out.notices.push_back(
          {SessionNotice::Kind::kSegmentDiscarded, "an unsegmented change inside a segmented one"});
      in_segment_ = false;
      close(out);
      return;
    }
    deliver(message, f, out);
    return;
  }
  const bool start = f.segment_type == "SEG_START";
  const bool end = f.segment_type == "SEG_END";
  if (start == in_segment_) {  // SEG_START inside a segment, or SEG / SEG_END outside one
    ++counters_.segments_discarded;
    out.notices.push_back({SessionNotice::Kind::kSegmentDiscarded,
                           "segment " + std::string(f.segment_type) +
                               (in_segment_ ? " inside" : " outside") + " a segmented change"});
    in_segment_ = false;
    close(out);
    return;
  }
  if (start) {
    in_segment_ = true;
    segment_.clear();
    segment_ends_.clear();
    segment_clk_.clear();
    segment_initial_clk_.clear();
    segment_ct_.clear();
  }
  segment_ += message;
  segment_ends_.push_back(segment_.size());
  if (f.has_clk) segment_clk_ = f.clk;
  if (f.has_initial_clk) segment_initial_clk_ = f.initial_clk;
  if (segment_ct_.empty()) segment_ct_ = f.ct;
  if (!end) return;
  in_segment_ = false;
  // Every message of the change goes out together, the tokens with the last (deliver() counts
  // the change once).
  size_t begin = 0;
  for (size_t i = 0; i + 1 < segment_ends_.size(); ++i) {
    out.deliver.push_back(std::string_view(segment_).substr(begin, segment_ends_[i] - begin));
    begin = segment_ends_[i];
  }
  detail::SessionFields whole = f;
  whole.has_clk = !segment_clk_.empty();
  whole.clk = segment_clk_;
  whole.has_initial_clk = !segment_initial_clk_.empty();
  whole.initial_clk = segment_initial_clk_;
  whole.ct = segment_ct_;
  deliver(std::string_view(segment_).substr(begin), whole, out);
}

void StreamSession::deliver(std::string_view message, const detail::SessionFields& f,
                            SessionActions& out) {
  out.deliver.push_back(message);
  ++counters_.changes;
  reached_streaming_ = true;
  if (f.has_initial_clk && !f.initial_clk.empty()) initial_clk_ = f.initial_clk;
  if (f.has_clk && !f.clk.empty()) clk_ = f.clk;
  if (f.ct == "SUB_IMAGE") {
    out.restates = true;
    ++counters_.images;
    if (resubscribed_) ++counters_.images_instead_of_resume;
    out.notices.push_back(
        {SessionNotice::Kind::kImage, resubscribed_ ? "instead of a resume" : "expected"});
  } else if (f.ct == "RESUB_DELTA") {
    out.restates = true;
    ++counters_.resumes;
    out.notices.push_back({SessionNotice::Kind::kResumed, {}});
  } else if (f.ct == "HEARTBEAT") {
    ++counters_.heartbeats;
  }
}

void StreamSession::close(SessionActions& out) {
  if (out.action == ConnectionAction::kKeep) out.action = ConnectionAction::kClose;
}

void StreamSession::stop(std::string reason, SessionActions& out) {
  state_ = SessionState::kStopped;
  stop_reason_ = std::move(reason);
  in_segment_ = false;
  out.action = ConnectionAction::kStop;
  out.notices.push_back({SessionNotice::Kind::kFatal, stop_reason_});
}

namespace {

bool read_string(ondemand::value& v, std::string_view& out) { return !v.get_string().get(out); }

bool read_fields(detail::SessionParser& parser, std::string_view message,
                 detail::SessionFields& f) {
  auto opened = parser.line.open(message);
  if (!opened) return false;
  ondemand::object object = *opened;
  for (auto member : object) {
    ondemand::field field;
    if (std::move(member).get(field)) return false;
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    ondemand::value v = field.value();
    if (key == "op") {
      read_string(v, f.op);
    } else if (key == "id") {
      f.has_id = !v.get_int64().get(f.id);
    } else if (key == "statusCode") {
      std::string_view code;
      if (read_string(v, code)) f.failure = code == "FAILURE";
    } else if (key == "errorCode") {
      read_string(v, f.error_code);
    } else if (key == "errorMessage") {
      read_string(v, f.error_message);
    } else if (key == "connectionClosed") {
      bool closed = false;
      if (!v.get_bool().get(closed)) f.connection_closed = closed;
    } else if (key == "connectionId") {
      read_string(v, f.connection_id);
    } else if (key == "ct") {
      read_string(v, f.ct);
    } else if (key == "segmentType") {
      read_string(v, f.segment_type);
    } else if (key == "clk") {
      f.has_clk = read_string(v, f.clk);
    } else if (key == "initialClk") {
      f.has_initial_clk = read_string(v, f.initial_clk);
    }
  }
  return !f.op.empty();
}

}  // namespace

}  // namespace oddsbus::feeds::betfair
