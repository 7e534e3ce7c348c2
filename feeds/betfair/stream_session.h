// One Betfair Exchange Stream API session on one line, as a sans-I/O core: fed the connection's
// events and received messages, it returns the messages to send, the market change messages to
// hand to the StreamAdapter, and what the transport should do with the connection.
//
// The protocol, from Betfair's public documentation ("Exchange Stream API",
// https://betfair-developer-docs.atlassian.net/wiki/x/BRAp, sections "Connection",
// "Authentication", "Subscription", "Heartbeat" and "Re-connection / Re-subscription"; the message
// schema ESASwaggerSchema.json in https://github.com/betfair/stream-api-sample-code):
//  - TLS socket, CRLF-delimited JSON. The server speaks first: {"op":"connection",...}. The client
//    must send a message within 15 s of connecting or the server answers TIMEOUT and closes.
//  - The client sends {"op":"authentication","id":N,"appKey":..,"session":..}; the server answers
//    {"op":"status","id":N,"statusCode":"SUCCESS"|"FAILURE","errorCode":..,"connectionClosed":..}.
//  - Then {"op":"marketSubscription","id":M,"marketFilter":{"marketIds":[..]},
//    "marketDataFilter":{"fields":[..]},"heartbeatMs":..,"conflateMs":..,"segmentationEnabled":..,
//    "initialClk":..,"clk":..}; answered with a status for id M, then `mcm` messages carrying id M.
//  - mcm `ct`: SUB_IMAGE (the state of every subscribed market), RESUB_DELTA (the patch after a
//    resubscription with initialClk and clk), HEARTBEAT (nothing changed for heartbeatMs), absent
//    for an ordinary delta. `initialClk` (on the image) and `clk` (on every mcm) "should be stored
//    and passed in a MarketSubscriptionMessage to resume subscription (in case of disconnect)".
//    After a resubscription with them the server sends "one message with ct=RESUB_DELTA" that
//    "patches you to the latest version" (Betfair support, "Market Streaming - how do I manage
//    re-connections", https://support.developer.betfair.com/hc/en-us/articles/360000391612).
//  - With segmentationEnabled a large change is split over messages with segmentType SEG_START,
//    SEG..., SEG_END.
//  - errorCode values (ESASwaggerSchema.json, StatusMessage): NO_APP_KEY, INVALID_APP_KEY,
//    NO_SESSION, INVALID_SESSION_INFORMATION, NOT_AUTHORIZED, INVALID_INPUT, INVALID_CLOCK,
//    UNEXPECTED_ERROR, TIMEOUT, SUBSCRIPTION_LIMIT_EXCEEDED, INVALID_REQUEST, CONNECTION_FAILED,
//    MAX_CONNECTION_LIMIT_EXCEEDED, and TOO_MANY_REQUESTS (Betfair Developer Program, "Exchange
//    Stream API Release - Connection Throttling", February 2020).
//
// What this core decides:
//  - Credentials and requests the server refuses as such (NO_APP_KEY, INVALID_APP_KEY, NO_SESSION,
//    INVALID_SESSION_INFORMATION, NOT_AUTHORIZED, INVALID_INPUT, INVALID_REQUEST,
//    SUBSCRIPTION_LIMIT_EXCEEDED) are fatal: sending the same again cannot succeed, so the session
//    stops (kStop) and says why; it never reconnects. INVALID_CLOCK forgets the clk tokens (the
//    next subscription asks for a new image); every other failure closes and reconnects after a
//    backoff.
//  - A segmented change is held until its SEG_END and delivered whole; a connection lost in the
//    middle discards it. A segment out of order (SEG or SEG_END without SEG_START, or a SEG_START
//    inside a segment) closes the connection: the resubscription resends from the last whole
//    change.
//  - The clk tokens are taken only from delivered messages (a whole segmented change's last), so a
//    resubscription resumes exactly after the last change the adapter applied: nothing is skipped,
//    nothing is applied twice.
//  - 15-second rule: authentication is sent on the `connection` message, or `send_within` after the
//    connect if it has not come. A connection that says nothing for `silence_limit` (no heartbeat,
//    or no answer to a request) is closed and reconnected.
//  - Reconnects back off exponentially with full jitter (feeds/backoff_jitter.h), from
//    initial_backoff again after a connection that reached streaming.
//
// Thread safety: none; one session per line, owned by the line's transport thread. Performs no
// I/O; `now_ns` (monotonic) is the only clock.
// Invariants: at most one connection at a time (on_connected after on_disconnected); after kStop
// the session ignores everything and stopped() stays true; the clk tokens only move forward along
// delivered messages, or are forgotten on INVALID_CLOCK.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/backoff_jitter.h"

namespace oddsbus::feeds::betfair {

namespace detail {
struct SessionFields;  // the fields of one received message that the session reads
struct SessionParser;
}  // namespace detail

// A status message's errorCode. kOther: a code this build does not know.
enum class StreamErrorCode : uint8_t {
  kNoAppKey,
  kInvalidAppKey,
  kNoSession,
  kInvalidSessionInformation,
  kNotAuthorized,
  kInvalidInput,
  kInvalidClock,
  kUnexpectedError,
  kTimeout,
  kSubscriptionLimitExceeded,
  kInvalidRequest,
  kConnectionFailed,
  kMaxConnectionLimitExceeded,
  kTooManyRequests,
  kOther,
  kCount
};

std::string_view to_string(StreamErrorCode code);  // Betfair's spelling; "OTHER" for kOther
StreamErrorCode parse_error_code(std::string_view text);
// True for the codes that retrying with the same credentials and request cannot cure.
bool is_fatal(StreamErrorCode code);

enum class SessionState : uint8_t {
  kDisconnected,    // no connection (waiting to reconnect)
  kConnected,       // connected, waiting for the `connection` message
  kAuthenticating,  // authentication sent
  kSubscribing,     // subscription sent, no market change yet
  kStreaming,       // market changes arriving
  kStopped,         // a fatal error: no more connections
};
std::string_view to_string(SessionState state);

struct StreamSessionConfig {
  std::string app_key;
  std::string session_token;
  std::vector<std::string> market_ids;  // the marketFilter's marketIds
  uint32_t heartbeat_ms = 5000;         // 500..30000 per the schema; clamped
  uint32_t conflate_ms = 0;             // 0..120000 per the schema; clamped
  uint32_t ladder_levels = 3;           // EX_BEST_OFFERS depth (1..10)
  bool segmentation = true;             // segmentationEnabled
  // The 15-second rule: authentication goes out this long after the connect at the latest.
  uint64_t send_within_ns = 10'000'000'000;
  // A connection silent this long is dead: 0 means 3 heartbeats plus 5 s.
  uint64_t silence_limit_ns = 0;
  uint64_t initial_backoff_ns = 100'000'000;
  uint64_t max_backoff_ns = 5'000'000'000;
  uint64_t jitter_seed = 1;
};

// What the transport does with the connection after a call.
enum class ConnectionAction : uint8_t {
  kKeep,   // carry on
  kClose,  // close it; call on_disconnected, then reconnect after its retry_after_ns
  kStop,   // close it and never reconnect: stopped() and stop_reason() say why
};

// A state change or fault worth a log line; the shell logs it, rate-limited.
struct SessionNotice {
  enum class Kind : uint8_t {
    kConnected,  // the server's connection message (detail: connectionId)
    kAuthenticated,
    kSubscribed,        // subscription SUCCESS (detail: "resume" or "image")
    kImage,             // a SUB_IMAGE arrived (detail: "expected" or "instead of a resume")
    kResumed,           // a RESUB_DELTA arrived
    kStatusFailure,     // detail: "CODE: message"
    kFatal,             // detail: why the session stops
    kSegmentDiscarded,  // a segmented change lost with its connection, or out of order
    kSilent,            // nothing heard for silence_limit
    kLateConnection,    // no connection message within send_within: authenticated anyway
    kUnexpected,        // a message the session did not expect (detail says which)
  };
  Kind kind;
  std::string detail;
};

struct SessionActions {
  std::string send;  // CRLF-terminated messages to write, in order; empty: nothing
  // Whole market change messages (mcm) for the adapter, in order. Each view is valid until the
  // next call into the session.
  std::vector<std::string_view> deliver;
  // `deliver` is an image (SUB_IMAGE) or a resume (RESUB_DELTA): the whole state of the markets
  // it names as of now, rather than the next change. The transport may skip it when another line
  // of the provider is streaming and so has delivered that state already (tls_stream_link.h).
  bool restates = false;
  ConnectionAction action = ConnectionAction::kKeep;
  uint64_t retry_after_ns = 0;  // after on_disconnected: wait this long before connecting again
  std::vector<SessionNotice> notices;

  void clear();
};

struct StreamSessionCounters {
  uint64_t connects = 0;
  uint64_t disconnects = 0;
  uint64_t authentications = 0;           // SUCCESS answers to authentication
  uint64_t subscriptions = 0;             // subscriptions sent
  uint64_t resubscriptions = 0;           // of which with initialClk and clk
  uint64_t images = 0;                    // SUB_IMAGE changes delivered
  uint64_t images_instead_of_resume = 0;  // SUB_IMAGE after a resubscription with clk
  uint64_t resumes = 0;                   // RESUB_DELTA changes delivered
  uint64_t heartbeats = 0;                // ct HEARTBEAT
  uint64_t changes = 0;             // mcm messages delivered (whole segmented changes count each)
  uint64_t segments_discarded = 0;  // segmented changes dropped: connection lost or out of order
  uint64_t silences = 0;            // connections closed for silence
  uint64_t unexpected = 0;          // messages out of place or not understood, dropped
  std::array<uint64_t, static_cast<size_t>(StreamErrorCode::kCount)> status_errors{};
};

class StreamSession {
 public:
  explicit StreamSession(StreamSessionConfig config);
  ~StreamSession();
  StreamSession(StreamSession&&) noexcept;
  StreamSession& operator=(StreamSession&&) noexcept;

  // The transport connected (TLS handshake done).
  void on_connected(uint64_t now_ns, SessionActions& out);
  // One received message, without its line terminator.
  void on_message(std::string_view message, uint64_t now_ns, SessionActions& out);
  // Time passes: the 15-second rule and silence. Call at least every few hundred ms.
  void on_tick(uint64_t now_ns, SessionActions& out);
  // The connection is gone (closed by either side, or failed to connect): out.retry_after_ns says
  // when to try again (kStop when the session stopped).
  void on_disconnected(uint64_t now_ns, SessionActions& out);

  SessionState state() const { return state_; }
  bool stopped() const { return state_ == SessionState::kStopped; }
  const std::string& stop_reason() const { return stop_reason_; }
  // The tokens a resubscription passes; empty until the stream sent them.
  const std::string& initial_clk() const { return initial_clk_; }
  const std::string& clk() const { return clk_; }
  const StreamSessionCounters& counters() const { return counters_; }
  const StreamSessionConfig& config() const { return config_; }

 private:
  void send_authentication(SessionActions& out);
  void send_subscription(SessionActions& out);
  void on_status(const detail::SessionFields& f, SessionActions& out);
  void on_change(std::string_view message, const detail::SessionFields& f, SessionActions& out);
  void deliver(std::string_view message, const detail::SessionFields& f, SessionActions& out);
  void close(SessionActions& out);
  void stop(std::string reason, SessionActions& out);

  StreamSessionConfig config_;
  std::unique_ptr<detail::SessionParser> parser_;
  SessionState state_ = SessionState::kDisconnected;
  std::string stop_reason_;
  std::string initial_clk_;
  std::string clk_;
  bool resubscribed_ = false;       // this connection's subscription carried the tokens
  bool reached_streaming_ = false;  // this connection delivered a change
  uint64_t connected_ns_ = 0;
  uint64_t last_heard_ns_ = 0;
  uint64_t backoff_ns_ = 0;  // the current backoff bound
  BackoffJitter jitter_;
  // A segmented change being received: its messages, concatenated, and where each ends.
  bool in_segment_ = false;
  std::string segment_;
  std::vector<size_t> segment_ends_;
  std::string segment_clk_;
  std::string segment_initial_clk_;
  std::string segment_ct_;  // the first `ct` the change's messages carry
  StreamSessionCounters counters_;
};

}  // namespace oddsbus::feeds::betfair
