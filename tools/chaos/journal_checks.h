// The chaos checks that hold the run's journals to each other, to the edges and to what the
// feeds sent (issue 12). Each reads journals through the engine library (the functions behind
// odds-replay and odds-engine ingest), never through the binaries.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/journal.h"
#include "feeds/mapping.h"
#include "tools/chaos/check_result.h"

namespace oddsbus::chaos {

// Where an edge ended: its /v1/snapshot's seq and digest.
struct EdgeEnd {
  std::string name;
  uint64_t seq = 0;
  std::string digest;  // 16 hex digits
};

// Each edge's digest equals the survivor's digest at the same seq (what `odds-replay digest
// --at-seq` prints); with `require_last`, each edge also ended at the survivor's last seq.
CheckResult check_edge_digests(const engine::Journal& survivor, std::span<const EdgeEnd> edges,
                               bool require_last);

// Every journal passes verify, and every pair agrees frame for frame where both hold frames
// (engine/journal_compare.h: no first_difference; one may be a prefix of the other).
struct NamedJournal {
  std::string name;
  const engine::Journal* journal = nullptr;
};
CheckResult check_journals(std::span<const NamedJournal> journals);

// The survivor's final state equals that of `odds-engine ingest` of `feed_files` (the oddsjson
// lines the deterministic feeds sent, in order) into a fresh journal under `scratch_dir`, with
// the same mapping and feed name as the cluster's engines. A violation names up to a few
// markets that differ.
struct IngestReference {
  std::vector<std::string> feed_files;
  std::string format = "oddsjson";
  const feeds::Mapping* mapping = nullptr;
  std::string feed_name;
  std::string scratch_dir;  // created; the reference journal is left there
  // The run ended by stopping the feeds, so the engines rightly suspended every market
  // feed-stale afterwards: a market suspended for feed-stale in the journal then counts as equal
  // to the same market open in the reference when its prices agree.
  bool feeds_stopped = false;
};
CheckResult check_final_state(const engine::Journal& survivor, const IngestReference& reference);

// A time when a feed was unheard by every engine (wall clock, ns since the Unix epoch).
struct FeedOutage {
  std::string feed;
  uint64_t from_ns = 0;
  uint64_t to_ns = 0;
};

// No market stays open while every one of its sources (the mapping's `sources`) was in an outage
// for longer than stale_after: for each such stretch [s, e] with e - s > stale_after + grace,
// the survivor's state at time s + stale_after + grace (the frames stamped by then) has the
// market not open. `grace` covers the engine's tick and commit. The caller keeps takeovers out of
// those stretches (no node could suspend anything without a primary).
CheckResult check_stale_markets(const engine::Journal& survivor, const feeds::Mapping& mapping,
                                std::span<const FeedOutage> outages, uint64_t stale_after_ns,
                                uint64_t grace_ns);

}  // namespace oddsbus::chaos
