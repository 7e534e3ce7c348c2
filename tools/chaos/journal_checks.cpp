#include "tools/chaos/journal_checks.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "engine/file_ingest.h"
#include "engine/journal_compare.h"
#include "engine/journal_scan.h"
#include "engine/replay.h"
#include "schemas/state_digest.h"

namespace oddsbus::chaos {

namespace {

std::string describe(const MarketRecord& m) {
  std::string out = std::string(to_string(m.status)) + " [";
  for (const SelectionState& s : m.selections) {
    out += std::to_string(s.id) + ":" + std::to_string(s.price_e4) + " ";
  }
  if (!m.selections.empty()) out.pop_back();
  return out + "]";
}

// `a` from the reference, `b` from the journal.
bool same_market(const MarketRecord& a, const MarketRecord& b, bool feeds_stopped) {
  const bool stale_at_end = feeds_stopped && a.status == fb::MarketStatus::Open &&
                            b.status == fb::MarketStatus::Suspended &&
                            b.reason == fb::StatusReason::FeedStale;
  if ((a.status != b.status && !stale_at_end) || a.selections.size() != b.selections.size()) {
    return false;
  }
  for (size_t i = 0; i < a.selections.size(); ++i) {
    if (a.selections[i].id != b.selections[i].id ||
        a.selections[i].price_e4 != b.selections[i].price_e4) {
      return false;
    }
  }
  return true;
}

}  // namespace

CheckResult check_edge_digests(const engine::Journal& survivor, std::span<const EdgeEnd> edges,
                               bool require_last) {
  CheckResult result;
  result.name = "edge digests";
  result.unit = "edges";
  for (const EdgeEnd& edge : edges) {
    ++result.checked;
    if (edge.seq > survivor.last_seq()) {
      result.violation(edge.name + " is at seq " + std::to_string(edge.seq) +
                       ", beyond the journal's last " + std::to_string(survivor.last_seq()));
      continue;
    }
    if (require_last && edge.seq != survivor.last_seq()) {
      result.violation(edge.name + " ended at seq " + std::to_string(edge.seq) +
                       ", the journal at " + std::to_string(survivor.last_seq()));
    }
    auto state = engine::state_at(survivor, {.at_seq = edge.seq, .at_time_ns = std::nullopt});
    if (!state) {
      result.violation(edge.name + ": " + state.error());
      continue;
    }
    const std::string expected = digest_hex(state_digest(*state));
    if (expected != edge.digest) {
      result.violation(edge.name + " digest " + edge.digest + " at seq " +
                       std::to_string(edge.seq) + ", odds-replay digest " + expected);
    }
  }
  return result;
}

CheckResult check_journals(std::span<const NamedJournal> journals) {
  CheckResult result;
  result.name = "journals";
  result.unit = "journals";
  for (const NamedJournal& j : journals) {
    ++result.checked;
    const engine::VerifyReport report = engine::verify_journal(*j.journal);
    if (!report.ok) {
      result.violation(j.name + " fails verify at seq " + std::to_string(report.fault.seq) + ": " +
                       report.fault.problem);
    }
  }
  uint64_t compared = 0;
  for (size_t a = 0; a < journals.size(); ++a) {
    for (size_t b = a + 1; b < journals.size(); ++b) {
      auto report = engine::compare_journals(*journals[a].journal, *journals[b].journal);
      if (!report) {
        result.violation(journals[a].name + " vs " + journals[b].name + ": " + report.error());
        continue;
      }
      compared = std::max(compared, report->common_last_seq);
      if (report->first_difference) {
        result.violation(journals[a].name + " and " + journals[b].name + " diverge at seq " +
                         std::to_string(*report->first_difference) + ": " + report->frame_a +
                         " vs " + report->frame_b);
      }
    }
  }
  result.note = "agree on " + std::to_string(compared) + " common frames";
  return result;
}

CheckResult check_final_state(const engine::Journal& survivor, const IngestReference& reference) {
  CheckResult result;
  result.name = "final state = ingest";
  result.unit = "markets";
  std::error_code ec;
  std::filesystem::remove_all(reference.scratch_dir, ec);
  std::filesystem::create_directories(reference.scratch_dir, ec);
  auto fresh = engine::Journal::open({.dir = reference.scratch_dir});
  if (!fresh) {
    result.violation("cannot open a reference journal in " + reference.scratch_dir + ": " +
                     fresh.error());
    return result;
  }
  engine::IngestOptions options;
  options.format = reference.format;
  options.mapping = reference.mapping;
  options.feed_name = reference.feed_name;
  auto ingested = engine::ingest_files(**fresh, reference.feed_files, options);
  if (!ingested) {
    result.violation("ingest of the feed record failed: " + ingested.error());
    return result;
  }
  auto expected = engine::state_at(**fresh, {});
  auto actual = engine::state_at(survivor, {});
  if (!expected || !actual) {
    result.violation(!expected ? expected.error() : actual.error());
    return result;
  }
  // Bounded live state (issue 15): the cluster evicts a market finished for --evict-after (a run
  // longer than that); ingest of a recorded file never does. A market the survivor's journal
  // evicted, that ingest ends settled or closed and the survivor no longer holds, agrees.
  std::set<uint64_t> evicted;
  auto scanned = engine::scan_frames(survivor, 1, survivor.last_seq(), [&](const fb::Frame& f) {
    if (f.payload_type() == fb::Payload::MarketEviction) {
      evicted.insert(f.payload_as_MarketEviction()->market());
    }
    return true;
  });
  if (!scanned) {
    result.violation("cannot read the survivor's journal for its evictions: " +
                     scanned.error().problem);
    return result;
  }
  std::set<uint64_t> ids;
  for (const auto& [id, m] : expected->markets()) ids.insert(id);
  for (const auto& [id, m] : actual->markets()) ids.insert(id);
  result.checked = ids.size();
  std::map<uint64_t, MarketRecord> expected_live;
  for (const uint64_t id : ids) {
    const MarketRecord* want = expected->find(id);
    const MarketRecord* got = actual->find(id);
    if (want && !got && evicted.contains(id) &&
        (want->status == fb::MarketStatus::Settled || want->status == fb::MarketStatus::Closed)) {
      continue;  // evicted by the cluster
    }
    if (want) expected_live.emplace(id, *want);
    if (want && got && same_market(*want, *got, reference.feeds_stopped)) continue;
    result.violation("market " + std::to_string(id) + ": ingest " +
                     (want ? describe(*want) : "absent") + ", journal " +
                     (got ? describe(*got) : "absent"));
  }
  expected->load(expected->seq(), expected->epoch(), std::move(expected_live));
  if (!reference.feeds_stopped && state_digest(*expected) != state_digest(*actual) &&
      result.passed()) {
    result.violation("digests differ: ingest " + digest_hex(state_digest(*expected)) +
                     ", journal " + digest_hex(state_digest(*actual)));
  }
  result.note = std::to_string(ingested->lines) + " feed lines ingested";
  if (!evicted.empty()) result.note += ", " + std::to_string(evicted.size()) + " markets evicted";
  return result;
}

CheckResult check_stale_markets(const engine::Journal& survivor, const feeds::Mapping& mapping,
                                std::span<const FeedOutage> outages, uint64_t stale_after_ns,
                                uint64_t grace_ns) {
  CheckResult result;
  result.name = "stale markets suspended";
  result.unit = "market outages";
  for (const feeds::MarketMapping& market : mapping.markets()) {
    if (market.sources.empty()) continue;
    // Stretches when every source is out: intersect the sources' outages.
    std::vector<std::pair<uint64_t, uint64_t>> all_out;
    for (size_t i = 0; i < market.sources.size(); ++i) {
      std::vector<std::pair<uint64_t, uint64_t>> mine;
      for (const FeedOutage& o : outages) {
        if (o.feed == market.sources[i] && o.to_ns > o.from_ns)
          mine.push_back({o.from_ns, o.to_ns});
      }
      if (i == 0) {
        all_out = std::move(mine);
        continue;
      }
      std::vector<std::pair<uint64_t, uint64_t>> both;
      for (const auto& [a0, a1] : all_out) {
        for (const auto& [b0, b1] : mine) {
          const uint64_t from = std::max(a0, b0), to = std::min(a1, b1);
          if (from < to) both.push_back({from, to});
        }
      }
      all_out = std::move(both);
    }
    for (const auto& [from, to] : all_out) {
      if (to - from <= stale_after_ns + grace_ns) continue;
      const uint64_t by = from + stale_after_ns + grace_ns;
      auto state = engine::state_at(survivor, {.at_seq = std::nullopt, .at_time_ns = by});
      if (!state) {
        result.violation("market " + std::to_string(market.id) + ": " + state.error());
        continue;
      }
      const MarketRecord* record = state->find(market.id);
      if (record == nullptr) continue;  // not defined yet: nothing to suspend
      ++result.checked;
      if (record->status == fb::MarketStatus::Open) {
        result.violation("market " + std::to_string(market.id) + " still open " +
                         std::to_string((by - from) / 1'000'000) +
                         " ms into an outage of all its sources (journal seq " +
                         std::to_string(state->seq()) + ")");
      }
    }
  }
  return result;
}

}  // namespace oddsbus::chaos
