// The chaos check of what WebSocket clients saw (issue 12; DESIGN section 10, "The WebSocket
// stream"), against the surviving primary's journal.
//
// A client log is a text file with one JSON object per line: every message the edge sent, in the
// order received, as sent; and a line {"type": "client-connect"} written by the client before
// each connection's first message (a reconnect follows one, and then the stream goes on with
// "resumed" or an image). Only clients subscribed to "all" can be checked: they must see every
// frame that touches a market.
//
// What the check holds a client to:
//  - no duplication, no disorder: within a client's history, delta seqs strictly increase; only
//    an image may restart the count (an image is an announcement: "subscribe", "resync",
//    "resume-unavailable"; every image after the first is counted as an announced re-image);
//  - no loss: between two consecutive deltas (or an image and the next delta) every frame of the
//    journal that touches a market reached the client, unless the later delta is flagged
//    conflated (it folds them, and says so);
//  - only the surviving history, or an announced departure from it: a delta whose (seq, epoch)
//    is not the journal's frame at that seq, or an image whose state is not the journal's at its
//    seq, is from a history lost at a takeover (async replication may lose the unreplicated
//    tail). That is allowed, and counted, only when an image brings the client back before any
//    delta of the surviving history and before the log ends;
//  - what it folded is right: the state folded from its last image and the deltas after it
//    digests (DESIGN section 7) to the journal's digest at its last seq; and, when the caller
//    says where the client's edge ended, it reached that seq.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "engine/journal.h"
#include "tools/chaos/check_result.h"

namespace oddsbus::chaos {

// The surviving history, read once: per seq the frame's epoch and whether it touched a market,
// and the state digest at the seqs asked for.
struct JournalHistory {
  uint64_t last_seq = 0;
  std::vector<uint32_t> epoch;  // [seq], 0 unused
  std::vector<bool> touches;    // [seq]: a subscriber to "all" gets a delta for it
  std::map<uint64_t, uint64_t> digests;
};

// Errors: the journal is damaged (names the seq) or a seq asked for is beyond its end (then it
// is left out of `digests`, not an error).
std::expected<JournalHistory, std::string> read_history(const engine::Journal& journal,
                                                        const std::set<uint64_t>& digest_at);

struct ClientLog {
  std::string name;
  std::string path;
  std::optional<uint64_t> final_seq;  // where its edge ended: the client must have reached it
};

struct StreamTotals {
  uint64_t clients = 0;
  uint64_t messages = 0;
  uint64_t deltas = 0;
  uint64_t conflated = 0;
  uint64_t images = 0;
  uint64_t reimages = 0;             // images after a client's first: each an announcement
  uint64_t lost_history_frames = 0;  // deltas of a lost history, each followed by a re-image
  uint64_t lost_history_images = 0;  // images of a lost history, each followed by a re-image
  uint64_t connections = 0;
  uint64_t resumes = 0;
  std::map<std::string, uint64_t> reimage_reasons;
};

CheckResult check_client_streams(const engine::Journal& survivor,
                                 std::span<const ClientLog> clients, StreamTotals& totals);

}  // namespace oddsbus::chaos
