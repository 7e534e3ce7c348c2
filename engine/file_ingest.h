// Batch ingest: sequences captured feed files into a journal (odds-engine ingest, DESIGN section
// 10). Files are split into messages by LineSplitter (LF or CRLF; one oddsjson object, one
// betfair-stream message or one uof-xml document per line), read in the order given. Each
// message goes through the same path a running node (engine/node.cpp) takes for one provider:
// the format's adapter (feeds::make_adapter) -> feeds::SourceSelector -> Sequencer. With a
// mapping the mapping's markets are defined first (suspended feed-stale until their source is
// heard), as a node starting as primary does. Accepted events are journaled in batches of up to
// batch_frames frames (one write transaction each). Rejected messages are counted by reason,
// logged rate-limited with file and line, and skipped.
//
// Time: a file has no silence. The selector is fed one fixed instant (kIngestClockNs) for every
// event, so a source that was heard is always healthy: no feed-stale suspension, no disagreement
// timer, whatever the gaps between provider timestamps and however long the ingest takes. The
// journal's state therefore does not depend on when ingest ran; only frames' sequenced_ns stamps
// are taken from the wall clock (as a node's are). The provider timestamps are kept in each
// frame's source_ns.
//
// Thread safety: runs on the calling thread; the journal must not be written by anyone else.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <vector>

#include "engine/journal.h"
#include "feeds/mapping.h"
#include "feeds/rejection.h"

namespace oddsbus::engine {

struct IngestSummary {
  uint64_t lines = 0;        // non-empty lines (messages) read
  uint64_t accepted = 0;     // messages understood none of whose events was rejected
  uint64_t heartbeats = 0;   // liveness messages among them (they make no frame)
  uint64_t definitions = 0;  // markets defined from the mapping before the files
  // Rejected messages (adapter) and events (sequencer), by reason.
  std::array<uint64_t, static_cast<size_t>(feeds::RejectReason::kCount)> rejected{};
  uint64_t unknown_markets = 0;          // provider market references the mapping does not know
  uint64_t unknown_selections = 0;       // provider selection references the mapping does not know
  std::vector<std::string> unknown_ids;  // a sample of them (feeds::Adapter::unknown_ids)
  std::string feed_name;                 // the feed name events were read as
  uint64_t first_seq = 0;                // first seq written by this ingest (0 when none)
  uint64_t last_seq = 0;                 // the journal's last seq afterwards

  uint64_t rejected_total() const;
};

// The one instant the source selector sees during an ingest (see above).
inline constexpr uint64_t kIngestClockNs = 0;

struct IngestOptions {
  std::string format = "oddsjson";  // oddsjson, betfair-stream or uof-xml
  // The mapping (owned by the caller); required for betfair-stream and uof-xml.
  const feeds::Mapping* mapping = nullptr;
  // The feed name the events come from (the mapping's `sources` and [market.provider.NAME]).
  // Empty: resolve_ingest_feed_name's default.
  std::string feed_name;
  size_t batch_frames = 1024;
  size_t max_line = 16u << 20;
};

// The feed name to ingest as. Without a mapping: `requested` ("" for none; oddsjson lines then
// keep their own "provider"). With one: `requested` when the mapping has a provider section for
// it (oddsjson: any `requested`, it carries canonical ids), else the only feed of the mapping whose
// provider sections fit the format (uof-xml names an event, betfair-stream and oddsjson do not).
// Errors say which names there are and what to pass.
std::expected<std::string, std::string> resolve_ingest_feed_name(const IngestOptions& options);

// Checks the options as ingest_files would (format, mapping present when needed, feed name)
// without touching a journal: returns the feed name, or a one-line error.
std::expected<std::string, std::string> check_ingest_options(const IngestOptions& options);

// Returns the summary, or an error when the options are unusable (nothing is written then), a
// file cannot be read or the journal cannot be written (what was committed before stays
// committed).
std::expected<IngestSummary, std::string> ingest_files(Journal& journal,
                                                       std::span<const std::string> files,
                                                       const IngestOptions& options);

}  // namespace oddsbus::engine
