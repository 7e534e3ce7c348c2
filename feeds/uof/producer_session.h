// The producer half of a Sportradar Unified Odds Feed session (DESIGN section 10,
// `uof-xml@amqp(s)`): which producers are up, when to ask the recovery API for what they sent while
// down, and which `snapshot_complete` ends that recovery. The transport (feeds/uof/amqp_session.h)
// feeds it every message before the adapter reads it, the HTTP answers of its recovery requests,
// connection loss and the passing of time; it says what the adapter should read and which requests
// to send.
//
// The rules, all from Sportradar's public UOF documentation:
//  - Every producer sends `alive` every 10 s; one not heard for more than 15 s is down, and so is
//    one whose alive says subscribed="0"
//    (docs.sportradar.com/uof/data-and-features/messages/system/ alive; docs.sportradar.tv "UOF -
//    Alive": "If you do not receive an alive message for more than 15 seconds ...").
//  - A producer is down from the start of a session (the first run needs a recovery: "MG -
//    Disconnection handling and recovery", "First run (subscription to a producer)") and after a
//    lost connection (the same page, "Connection issues"; the Java SDK's RecoveryManagerImpl flags
//    every producer down on a channel shutdown).
//  - Recovery is requested only once alive messages come again ("if you start issuing recovery
//    requests before you start receiving alive messages, the requests will not be successful",
//    "UOF - Alive"), with `after` = the timestamp of the last alive received while the producer was
//    up ("A client should always store the last successfully received alive message (or its
//    timestamp) from each producer", "MG - Disconnection handling and recovery"). Without one, or
//    when it is older than the producer's maximum recovery period ("UOF - Recovery using API": Live
//    Odds 10 hours, gaming producers 3 hours, all others 72 hours), the request has no `after`: a
//    full odds recovery ("Full odds recovery (only used for initial connection or in case of a
//    disconnection longer than 72 hours)").
//  - The request carries request_id=N (N of our choice) and node_id when configured; the producer
//    is up again only after the `snapshot_complete` with that request_id ("UOF - Recovery using
//    API": "The recovery sequence ends with a snapshot_complete message", "it will be included in
//    the snapshot_complete message once all messages have been sent").
//  - Requests are rate-limited per producer (min_request_interval, the Java SDK's
//    MinIntervalBetweenRecoveryRequests, default 30 s) and a recovery that has not completed within
//    max_recovery is abandoned and asked again (the SDK's MaxRecoveryTime, default 1200 s).
//
// How the adapter learns it (the smallest hook into the existing source selection): the adapter
// already suspends a producer's markets on `alive subscribed="0"` (and the whole source feed-stale
// when every producer is down) and brings them back on `snapshot_complete` (uof_adapter.h). So the
// session passes every message on but for `snapshot_complete`s that do not end its pending
// recovery (dropped, counted), and when it takes a producer down for a reason the adapter cannot
// see (silence, start, lost connection) it hands the adapter a synthetic
// `<alive product="P" timestamp="T" subscribed="0"/>` first.
//
// Sans-I/O: no socket, thread or clock; `now` carries both clocks (wall ms for the provider's
// timestamps, monotonic ns for durations). Not thread-safe: owned by the feed's thread. Memory:
// one small record per producer id heard of (ids are the provider's small integers; at most
// kMaxProducers are tracked, the rest are passed through untracked and counted).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/mapping.h"

namespace oddsbus::feeds::uof {

// The clocks a call happens at.
struct SessionClock {
  uint64_t wall_ms = 0;  // ms since the Unix epoch (compared with the provider's timestamps)
  uint64_t mono_ns = 0;  // monotonic (durations only)
};

// What the root element of a UOF message says, as much as the session needs. Views point into the
// message. Attributes absent or not numeric are nullopt.
struct MessageHead {
  std::string_view name;
  std::optional<uint64_t> product;
  std::optional<uint64_t> timestamp_ms;
  std::optional<uint64_t> subscribed;  // alive: 0 or 1
  std::optional<uint64_t> request_id;  // snapshot_complete (and recovered messages)
};
// Reads the root element's start tag (after an XML declaration, comments and whitespace). nullopt
// when there is none to read; the adapter then rejects the message itself.
std::optional<MessageHead> read_head(std::string_view message);

struct ProducerSessionConfig {
  uint64_t inactivity_ns = 15'000'000'000;            // "UOF - Alive": more than 15 s
  uint64_t min_request_interval_ns = 30'000'000'000;  // SDK MinIntervalBetweenRecoveryRequests
  uint64_t max_recovery_ns = 1'200'000'000'000;       // SDK MaxRecoveryTime
  std::optional<uint64_t> node_id;                    // sent as node_id= when given
  uint64_t first_request_id = 1;
  // While some producer is up, on_tick injects an alive of it (subscribed="1") this often, which
  // the adapter turns into a heartbeat: the source selector's staleness (a few seconds) then means
  // "connected with a producer up", not "an alive came in the last few seconds" (they come every
  // 10 s). 0: never.
  uint64_t heartbeat_interval_ns = 1'000'000'000;
};

// One producer as the recovery API names it (docs.sportradar.com/uof/introduction/key-concepts/
// producers, producers.xml: api_url ".../v1/<path>/") and how far back it can recover.
struct ProducerProfile {
  std::string_view path;  // "" when the producer is not one the documentation lists
  uint64_t max_recovery_ms = 0;
};
ProducerProfile producer_profile(uint64_t product);

// POST <api_url>/<path>/recovery/initiate_request?[after=A&]request_id=N[&node_id=Y]
struct RecoveryRequest {
  uint64_t product = 0;
  std::string path;  // the producer's path segment (producer_profile)
  uint64_t request_id = 0;
  uint64_t after_ms = 0;  // 0: full odds recovery (no `after`)
  std::optional<uint64_t> node_id;
  // The request's target relative to api_url: "liveodds/recovery/initiate_request?after=...".
  std::string target() const;
};

struct ProducerNotice {
  enum class Kind : uint8_t {
    kDown,           // detail: why
    kRecovering,     // a request was issued
    kUp,             // its recovery completed
    kRequestFailed,  // the API refused or could not be reached
    kUnroutable,     // no recovery path for this producer id
  };
  Kind kind;
  uint64_t product = 0;
  std::string detail;
};

// What to do after a call: hand `inject` (in order) to the adapter, then the message itself when
// `deliver`; send `requests`; log `notices`. Cleared by the session at the start of every call.
struct ProducerActions {
  std::vector<std::string> inject;
  bool deliver = false;
  std::vector<RecoveryRequest> requests;
  std::vector<ProducerNotice> notices;
  void clear() {
    inject.clear();
    deliver = false;
    requests.clear();
    notices.clear();
  }
};

struct ProducerSessionCounters {
  uint64_t producer_down = 0;      // transitions to down, any reason
  uint64_t producer_up = 0;        // recoveries completed
  uint64_t inactivity_down = 0;    // downs for silence beyond inactivity_ns
  uint64_t unsubscribed_down = 0;  // downs for alive subscribed="0"
  uint64_t recovery_requests = 0;  // requests issued
  uint64_t recovery_failures = 0;  // requests the API refused or that did not reach it
  uint64_t recovery_timeouts = 0;  // recoveries abandoned after max_recovery_ns
  uint64_t snapshots_ignored = 0;  // snapshot_complete not ending a pending recovery (dropped)
  uint64_t unroutable = 0;         // producers without a recovery path (stay down)
  uint64_t untracked = 0;          // messages of producers beyond kMaxProducers
  uint64_t disconnects = 0;        // on_disconnected calls
};

class ProducerSession {
 public:
  static constexpr size_t kMaxProducers = 256;
  enum class State : uint8_t { kDown, kRecovering, kUp };

  explicit ProducerSession(const ProducerSessionConfig& config);

  // One message from the feed, in arrival order.
  void on_message(std::string_view message, SessionClock now, ProducerActions& out);
  // Time passed: producers silent beyond inactivity_ns go down; stuck recoveries are abandoned;
  // the heartbeat (heartbeat_interval_ns) is injected when due.
  void on_tick(SessionClock now, ProducerActions& out);
  // The connection (and its exclusive queue) is gone: every producer is down, pending recoveries
  // are abandoned (their messages went with the queue).
  void on_disconnected(SessionClock now, ProducerActions& out);
  // The recovery API's answer to a request: accepted (HTTP 2xx) or not. A refused request leaves
  // the producer down; the next alive after min_request_interval_ns asks again.
  void on_request_result(uint64_t product, uint64_t request_id, bool accepted, std::string_view why,
                         SessionClock now, ProducerActions& out);

  // nullopt for a producer never heard of.
  std::optional<State> state(uint64_t product) const;
  const ProducerSessionCounters& counters() const { return counters_; }

 private:
  struct Producer {
    State state = State::kDown;
    bool adapter_down = false;   // the adapter was told (alive subscribed="0") it is down
    uint64_t last_alive_ns = 0;  // monotonic, any alive
    uint64_t after_ms = 0;       // timestamp of the last alive received while up (0: none)
    uint64_t request_id = 0;     // the pending recovery (kRecovering)
    uint64_t requested_ns = 0;   // when the last request was issued
    bool requested = false;      // some request was issued (requested_ns is meaningful)
  };

  Producer* producer(uint64_t product, SessionClock now, ProducerActions& out);
  void go_down(uint64_t product, Producer& p, std::string_view why, SessionClock now,
               ProducerActions& out);
  void maybe_request(uint64_t product, Producer& p, SessionClock now, ProducerActions& out);
  void on_alive(const MessageHead& head, uint64_t product, Producer& p, SessionClock now,
                ProducerActions& out);

  ProducerSessionConfig config_;
  std::map<uint64_t, Producer> producers_;  // ordered: ticks act in producer order
  uint64_t next_request_id_;
  uint64_t last_heartbeat_ns_ = 0;
  ProducerSessionCounters counters_;
};

// AMQP binding keys for a feed (docs.sportradar.com/uof/data-and-features/messages/
// amqp-topic-filtering: eight dot-separated words, the sport event's URN in words 6 and 7, system
// messages starting "-.-.-"): "-.-.-.#" for alive and snapshot_complete plus one
// "*.*.*.*.*.<urn type>.<id>.*" per event the mapping gives `feed`; just "#" when the mapping names
// none, or an event id that is not "<prefix>:<type>:<id>".
std::vector<std::string> binding_keys(const Mapping& mapping, std::string_view feed);

}  // namespace oddsbus::feeds::uof
