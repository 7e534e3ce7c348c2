// What one WebSocket client of an edge was shown at a given time (issue 13, "What a client saw";
// `odds-replay client-view`, DESIGN section 10), from the edge's client audit log (its records are
// specified in edge/session_audit.h) and the channel's journal.
//
// The rule: at T the client was showing the state at the seq of the last image, delta, conflated
// delta or resume written to it at or before T, restricted to its subscription. This is exact
// because frames are state-setting and the edge sends a delta for every frame that touched a
// subscribed market, in seq order, or, once the client fell behind, one conflated delta with those
// markets' values at its seq (the values in between were never shown): so after the message at
// seq N the client's markets hold the journal's values at N, and nothing later until the next
// message. A market is shown when both the subscription that message was rendered for and the one
// in force at T want it (an unsubscribe takes markets out of the view at once; a subscribe adds
// them only with the image it brings). A market is wanted by id, by "all", or by its event as of N.
//
// Pure over its inputs: the log is read from the files given, the journal through replay.h.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/journal.h"
#include "engine/read_progress.h"
#include "schemas/market_state.h"

namespace oddsbus::engine {

struct AuditSubscription {
  bool all = false;
  std::vector<uint64_t> markets;  // ascending
  std::vector<uint64_t> events;   // ascending
  bool wants(const MarketRecord& market) const;
};

// What the audit log says about one session at a time.
struct ClientViewPoint {
  std::string session;
  std::string remote;
  uint64_t connected_ns = 0;
  std::optional<uint64_t> disconnected_ns;  // at or before the time asked about
  std::string disconnect_reason;
  // The last message with a seq written at or before the time; none: the client held nothing yet.
  bool received = false;
  std::string shown_by;  // "image", "delta", "conflated" or "resumed"
  uint64_t seq = 0;
  uint32_t epoch = 0;
  uint64_t shown_ns = 0;                          // when it was written
  std::optional<AuditSubscription> rendered_for;  // the subscription that message was rendered for
  AuditSubscription subscription;                 // the subscription in force at the time
  uint64_t conflations = 0;                       // conflated deltas written up to the time
  uint64_t resumes = 0;                           // resumes acknowledged up to the time
  // Lines the log lost while the session was open ("hole" records after its connect): then the
  // answer may be older than what the client was shown.
  uint64_t lost_lines = 0;
};

// The audit log `path` and its rotated files that exist, oldest first (path.N .. path.1, path).
std::vector<std::string> audit_log_files(const std::string& path);

// Reads `files` (oldest first) for `session` at `at_ns` (ns since the Unix epoch). Fails, with a
// reason a user can act on, when no file can be read, a record is malformed (file and line named),
// the session is not in the log, or it connected after `at_ns`.
std::expected<ClientViewPoint, std::string> find_client_view_point(
    const std::vector<std::string>& files, std::string_view session, uint64_t at_ns);

struct ClientView {
  ClientViewPoint point;
  MarketState state;  // at point.seq, only the markets the client was shown
};

// The state the point names, from the journal. Fails when the journal does not reach point.seq,
// or holds another epoch at it than the edge served (a history that lost a takeover).
std::expected<ClientView, std::string> client_view(const Journal& journal,
                                                   const ClientViewPoint& point,
                                                   const ReadProgress& progress = {});

// The state JSON of DESIGN section 10 ({"seq": N, "markets": [...]}) with, before "seq":
// "session", "at" (ISO 8601), "epoch", "shown_by", "shown_at" (null when nothing was shown yet),
// "connected_at", "disconnected_at" (null while connected), "subscription" {"all", "markets",
// "events"}, "conflations", "resumes" and "lost_lines".
void append_client_view_json(std::string& out, const ClientView& view, uint64_t at_ns);
// The same as a few lines of text and the state table.
void append_client_view_text(std::string& out, const ClientView& view, uint64_t at_ns);

}  // namespace oddsbus::engine
