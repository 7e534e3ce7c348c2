// The recovery protocol (DESIGN section 4): what a subscriber (edge or secondary) asks a node's
// recovery service, and what it answers. Transport: ZeroMQ; the service binds a ROUTER, a client
// connects a DEALER and sends one request at a time per connection (replies come back in order).
//
// Every request is one message part of ASCII text, so an operator can speak it by hand:
//   status                    -> status NODE EPOCH EPOCH_START LAST_SEQ ROLE
//   range FROM TO [WAIT_MS [replica]]
//                             -> range FROM SERVED_TO LAST_SEQ EPOCH EPOCH_START, then one part per
//                                batch (schemas/batch.h) covering FROM..SERVED_TO in order. A batch
//                                may begin below FROM (journal records are whole batches): the
//                                client drops what it already has. SERVED_TO < TO means the reply
//                                was capped (frames or bytes): ask again from SERVED_TO + 1.
//                                SERVED_TO 0 means nothing at FROM yet (FROM > LAST_SEQ); with
//                                WAIT_MS the service holds the request up to that long for FROM to
//                                be committed first (a replicating secondary's long poll).
//                                In sync replication a primary serves others, and says LAST_SEQ,
//                                only up to what its secondary acknowledged (what subscribers may
//                                see); the word `replica` marks the secondary's own requests,
//                                served up to the last committed seq, or replication could never
//                                get past the acknowledged seq it is meant to advance.
//                             -> gone FROM OLDEST: FROM is no longer held; take a snapshot.
//   snapshot                  -> snapshot SEQ EPOCH DIGEST CHUNKS, then CHUNKS parts, each one
//                                SnapshotChunk (schemas/snapshot.fbs): the state image at SEQ.
//                                A client checks each chunk's CRC32C and the image's digest
//                                (DESIGN section 7) against DIGEST before installing it.
//   ack SEQ                   -> no reply: a secondary says it journaled every frame up to SEQ
//                                (sync replication).
// Any request may instead be answered
//   busy RETRY_MS             the requester is over its rate; ask again after RETRY_MS
//   error REASON DETAIL...    REASON one of bad-request, internal; DETAIL is for the log.
//
// EPOCH_START is the seq of the current epoch's first frame (its EpochChange frame; 1 for epoch
// 1): frames at or past it belong to EPOCH, so a client that applied frames of an older epoch at
// or past EPOCH_START holds a history that lost, and must resynchronise.
//
// Thread safety: free functions on values.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace oddsbus::recovery {

enum class RequestKind : uint8_t { kStatus, kRange, kSnapshot, kAck };

struct Request {
  RequestKind kind = RequestKind::kStatus;
  uint64_t from = 0;  // kRange: first seq wanted; kAck: the acknowledged seq
  uint64_t to = 0;    // kRange: last seq wanted (inclusive)
  uint32_t wait_ms = 0;
  bool replica = false;  // kRange: the secondary replicating (served past the acknowledged seq)
};

// Parses one request part; the error says what is wrong (sent back as `error bad-request ...`).
std::expected<Request, std::string> parse_request(std::string_view text);
std::string format_request(const Request& request);

enum class ReplyKind : uint8_t { kStatus, kRange, kGone, kSnapshot, kBusy, kError };

struct ReplyHeader {
  ReplyKind kind = ReplyKind::kError;
  uint32_t node = 0;         // kStatus
  uint32_t epoch = 0;        // kStatus, kRange, kSnapshot
  uint64_t epoch_start = 0;  // kStatus, kRange
  uint64_t last_seq = 0;     // kStatus, kRange
  bool primary = false;      // kStatus: ROLE is "primary" (else "secondary")
  uint64_t from = 0;         // kRange, kGone
  uint64_t served_to = 0;    // kRange
  uint64_t oldest = 0;       // kGone
  uint64_t seq = 0;          // kSnapshot
  uint64_t digest = 0;       // kSnapshot (section 7, as a number)
  uint32_t chunks = 0;       // kSnapshot
  uint32_t retry_ms = 0;     // kBusy
  std::string reason;        // kError: "bad-request" or "internal"
  std::string detail;        // kError
};

// Parses the first part of a reply; the error says what is wrong.
std::expected<ReplyHeader, std::string> parse_reply_header(std::string_view text);
std::string format_reply_header(const ReplyHeader& header);

}  // namespace oddsbus::recovery
