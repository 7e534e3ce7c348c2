// Journal snapshots (issue 13) and retention (issue 15): a fold started at a snapshot gives exactly
// the answer of a fold from seq 1, damaged snapshots are detected and skipped, set-aside and
// retention keep snapshots and log consistent, and a pruned range is answered `gone`.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/journal.h"
#include "engine/journal_cursor.h"
#include "engine/journal_snapshot.h"
#include "engine/journal_snapshot_writer.h"
#include "engine/market_history.h"
#include "engine/recovery_service.h"
#include "engine/replay.h"
#include "engine/restore.h"
#include "engine/retention.h"
#include "schemas/recovery_protocol.h"
#include "schemas/state_digest.h"
#include "schemas/state_json.h"
#include "tests/engine/engine_test_support.h"
#include "tests/engine/incident_journal.h"
#include "tests/engine/seeded_journal.h"

namespace oddsbus::engine {
namespace {

using testing_support::create_journal;
using testing_support::FrameWriter;
using testing_support::kIncidentT0;
using testing_support::TempDir;
using testing_support::write_seeded;

constexpr uint64_t kMs = 1'000'000;

std::string state_text(const MarketState& state) {
  std::string out = std::to_string(state.seq()) + " " + digest_hex(state_digest(state)) + " ";
  append_state_json(out, state);
  return out;
}

std::string history_text(const MarketHistoryResult& result) {
  std::string out = std::to_string(result.to_seq) + " " + result.source_before + "\n";
  if (result.before) {
    MarketState one;
    one.load(0, 0, {{result.before->id, *result.before}});
    append_state_json(out, one);
  }
  for (const MarketChange& change : result.changes) {
    append_change_json(out, change);
    out += "\n";
  }
  return out;
}

// Runs the writer until it has followed the journal to its end.
void drain(SnapshotWriter& writer, uint64_t now_ns = 0, uint64_t wall_ns = 0) {
  for (int i = 0; i < 100000; ++i) {
    auto done = writer.do_work(now_ns, wall_ns);
    ASSERT_TRUE(done) << done.error();
    if (*done == 0) return;
  }
  FAIL() << "the snapshot writer never went idle";
}

TEST(JournalSnapshot, ARecordRoundTripsAndACorruptOneIsRefused) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  write_seeded({journal.get()}, 7, 300);
  SnapshotState folded;
  ASSERT_TRUE(scan_frames(*journal, 1, kNoLimit, [&](const fb::Frame& frame) {
    folded.apply(frame);
    return true;
  }));
  const std::vector<uint8_t> record = encode_snapshot_record(folded, 0);
  auto decoded = decode_snapshot_record(record, folded.state.seq());
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(state_text(decoded->state), state_text(folded.state));
  EXPECT_EQ(decoded->price_sources, folded.price_sources);
  EXPECT_EQ(decoded->epoch_start, folded.epoch_start);
  for (size_t at : {size_t{0}, size_t{5}, size_t{60}, record.size() / 2, record.size() - 1}) {
    std::vector<uint8_t> bad = record;
    bad[at] ^= 0x20;
    EXPECT_FALSE(decode_snapshot_record(bad, folded.state.seq())) << "byte " << at;
  }
  EXPECT_FALSE(decode_snapshot_record(record, folded.state.seq() + 1));  // another seq's key
}

// The property: for seeded journals and random targets, every answer started at a snapshot equals
// the answer folded from seq 1 (a twin journal with the same frames and no snapshots).
TEST(JournalSnapshot, ASnapshotStartedFoldEqualsTheFoldFromSeqOne) {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " (replay: run this test with it)");
    TempDir dir;
    auto with = create_journal(dir.sub("with"));
    auto without = create_journal(dir.sub("without"));
    write_seeded({with.get(), without.get()}, seed, 1500);
    SnapshotPolicy policy;
    policy.every_frames = 40 + seed * 13;
    policy.every_ns = 0;
    SnapshotWriter writer(*with, policy, {});
    drain(writer);
    auto seqs = snapshot_seqs(*with);
    ASSERT_TRUE(seqs);
    ASSERT_GT(seqs->size(), 5u);
    ASSERT_EQ(writer.counters().written.load(), seqs->size());

    std::mt19937_64 rng(seed * 7919);
    for (int i = 0; i < 25; ++i) {
      const uint64_t at = 1 + rng() % with->last_seq();
      StateQuery query;
      query.at_seq = at;
      auto a = state_at(*with, query);
      auto b = state_at(*without, query);
      ASSERT_TRUE(a && b);
      ASSERT_EQ(state_text(*a), state_text(*b)) << "at seq " << at;
      query.ignore_snapshots = true;
      auto c = state_at(*with, query);
      ASSERT_TRUE(c);
      ASSERT_EQ(state_text(*c), state_text(*b)) << "at seq " << at;

      const uint64_t market = 1 + rng() % 3;
      const uint64_t to = at + rng() % (with->last_seq() - at + 1);
      auto ha = market_history(*with, market, at, to);
      auto hb = market_history(*without, market, at, to);
      ASSERT_EQ(ha.has_value(), hb.has_value()) << "market " << market << " at " << at;
      if (ha) {
        ASSERT_EQ(history_text(*ha), history_text(*hb)) << "market " << market << " from " << at;
      }
    }
    StateQuery last;
    auto a = state_at(*with, last);
    auto b = state_at(*without, last);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(state_text(*a), state_text(*b));

    // A restarting node's sequencer: the same state, seq, epoch and epoch start either way.
    auto ra = restore_sequencer(*with);
    auto rb = restore_sequencer(*without);
    ASSERT_TRUE(ra && rb);
    EXPECT_EQ(state_text((*ra)->state()), state_text((*rb)->state()));
    EXPECT_EQ((*ra)->last_seq(), (*rb)->last_seq());
    EXPECT_EQ((*ra)->epoch(), (*rb)->epoch());
    EXPECT_EQ((*ra)->epoch_start(), (*rb)->epoch_start());

    const VerifyReport report = verify_journal(*with);
    EXPECT_TRUE(report.ok) << report.fault.seq << ": " << report.fault.problem;
    EXPECT_EQ(report.snapshots_checked, seqs->size());
  }
}

TEST(JournalSnapshot, AQueryStartsFromTheNearestSnapshotAtOrBelowItsTarget) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  write_seeded({journal.get()}, 3, 400);
  SnapshotWriter writer(*journal, {100, 0}, {});
  drain(writer);
  auto seqs = snapshot_seqs(*journal);
  ASSERT_TRUE(seqs);
  ASSERT_GE(seqs->size(), 3u);
  for (uint64_t s : *seqs) {
    auto at = nearest_snapshot(*journal, s);
    ASSERT_TRUE(at && at->snapshot);
    EXPECT_EQ(at->snapshot->state.seq(), s);
    auto below = nearest_snapshot(*journal, s - 1);
    ASSERT_TRUE(below);
    if (s == seqs->front()) {
      EXPECT_FALSE(below->snapshot);
    } else {
      ASSERT_TRUE(below->snapshot);
      EXPECT_LT(below->snapshot->state.seq(), s);
    }
  }
}

TEST(JournalSnapshot, ADamagedSnapshotIsSkippedWithACountedWarningAndVerifyNamesIt) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  auto twin = create_journal(dir.sub("twin"));
  write_seeded({journal.get(), twin.get()}, 11, 600);
  SnapshotWriter writer(*journal, {100, 0}, {});
  drain(writer);
  auto seqs = snapshot_seqs(*journal);
  ASSERT_TRUE(seqs);
  ASSERT_GE(seqs->size(), 3u);
  const uint64_t bad = seqs->back();
  const uint64_t previous = (*seqs)[seqs->size() - 2];

  // Damage the newest snapshot: one flipped byte in its chunks.
  JournalReader reader(*journal);
  std::vector<uint8_t> record;
  ASSERT_TRUE(reader.scan_snapshots(bad, JournalReader::Direction::kDown,
                                    [&](uint64_t, std::span<const uint8_t> bytes) {
                                      record.assign(bytes.begin(), bytes.end());
                                      return false;
                                    }));
  record[record.size() / 2] ^= 0x01;
  ASSERT_TRUE(journal->put_raw_snapshot_for_test(bad, record));

  auto start = nearest_snapshot(*journal, journal->last_seq());
  ASSERT_TRUE(start && start->snapshot);
  EXPECT_EQ(start->corrupt_skipped, 1u);
  EXPECT_EQ(start->snapshot->state.seq(), previous);

  StateQuery query;
  auto a = state_at(*journal, query);
  auto b = state_at(*twin, query);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(state_text(*a), state_text(*b));
  auto restored = restore_sequencer(*journal);
  ASSERT_TRUE(restored);
  EXPECT_EQ(state_text((*restored)->state()), state_text(*b));

  const VerifyReport report = verify_journal(*journal);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.fault.seq, bad);
  EXPECT_NE(report.fault.problem.find("snapshot at seq " + std::to_string(bad)), std::string::npos)
      << report.fault.problem;

  // The writer, restarting, passes over it too and counts it.
  SnapshotWriter again(*journal, {100, 0}, {});
  ASSERT_TRUE(again.do_work(0, 0));
  EXPECT_EQ(again.counters().corrupt_skipped.load(), 1u);
}

TEST(JournalSnapshot, VerifyRefusesASnapshotWhoseStateIsNotWhatItsFramesFoldTo) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  write_seeded({journal.get()}, 5, 300);
  // A whole, well-formed snapshot (CRCs and digest agree) of the wrong state: seq 200's state
  // stored at seq 250.
  SnapshotState folded;
  ASSERT_TRUE(scan_frames(*journal, 1, 200, [&](const fb::Frame& frame) {
    folded.apply(frame);
    return true;
  }));
  SnapshotState wrong;
  wrong.state.load(250, folded.state.epoch(), folded.state.markets());
  wrong.epoch_start = folded.epoch_start;
  wrong.price_sources = folded.price_sources;
  ASSERT_TRUE(journal->put_raw_snapshot_for_test(250, encode_snapshot_record(wrong, 0)));
  const VerifyReport report = verify_journal(*journal);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.fault.seq, 250u);
  EXPECT_NE(report.fault.problem.find("differs"), std::string::npos) << report.fault.problem;
}

TEST(JournalSnapshot, ASetAsideDeletesTheSnapshotsPastTheNewEndAndRefusesStaleOnes) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  write_seeded({journal.get()}, 9, 500);
  SnapshotWriter writer(*journal, {50, 0}, {});
  drain(writer);
  const uint64_t generation = journal->generation();
  auto before = snapshot_seqs(*journal);
  ASSERT_TRUE(before);
  ASSERT_GE(before->size(), 5u);
  const uint64_t cut = (*before)[before->size() / 2];  // a snapshot's seq: it goes too

  auto moved = journal->set_aside_from(cut, dir.sub("aside/epoch-1.batches"));
  ASSERT_TRUE(moved) << moved.error();
  EXPECT_GT(journal->generation(), generation);
  auto after = snapshot_seqs(*journal);
  ASSERT_TRUE(after);
  ASSERT_FALSE(after->empty());
  EXPECT_LT(after->back(), cut);

  // A snapshot folded before the set-aside is refused, even at a seq the log holds again.
  write_seeded({journal.get()}, 10, 200, kIncidentT0 + 3'600'000 * kMs);
  ASSERT_GE(journal->last_seq(), cut);
  auto stale = journal->put_snapshot(cut, generation, std::vector<uint8_t>{1, 2, 3});
  ASSERT_TRUE(stale);
  EXPECT_EQ(*stale, Journal::SnapshotPut::kStale);

  // The writer notices, folds again from the newest surviving snapshot, and its new snapshots
  // agree with the log (verify compares each with the fold).
  drain(writer);
  EXPECT_GE(writer.counters().refolds.load(), 1u);
  EXPECT_GT(writer.counters().last_snapshot_seq.load(), cut);
  const VerifyReport report = verify_journal(*journal);
  EXPECT_TRUE(report.ok) << report.fault.seq << ": " << report.fault.problem;
}

TEST(Retention, ParsesDurations) {
  EXPECT_EQ(parse_duration_ns("500ms").value(), 500 * kMs);
  EXPECT_EQ(parse_duration_ns("90s").value(), 90'000 * kMs);
  EXPECT_EQ(parse_duration_ns("90").value(), 90'000 * kMs);
  EXPECT_EQ(parse_duration_ns("15m").value(), 900'000 * kMs);
  EXPECT_EQ(parse_duration_ns("2h").value(), 7'200'000 * kMs);
  EXPECT_EQ(parse_duration_ns("7d").value(), 604'800'000 * kMs);
  for (const char* bad : {"", "0s", "-1s", "5w", "s", "1.5h", "99999999999999999d"}) {
    EXPECT_FALSE(parse_duration_ns(bad)) << bad;
  }
}

TEST(Retention, PrunesOnlyBehindASnapshotOlderThanEveryLimit) {
  Retention by_count({100, 0, 16});
  by_count.note_snapshot(50, 0);
  by_count.note_snapshot(120, 0);
  by_count.note_snapshot(200, 0);
  EXPECT_EQ(by_count.prune_target(149, 0), 0u);
  EXPECT_EQ(by_count.prune_target(150, 0), 50u);
  EXPECT_EQ(by_count.prune_target(299, 0), 120u);
  by_count.pruned_through(120);
  EXPECT_EQ(by_count.prune_target(1000, 0), 200u);

  Retention both({10, 60 * 1000 * kMs, 16});
  both.note_snapshot(50, 1000 * kMs);
  both.note_snapshot(80, 50'000 * kMs);
  EXPECT_EQ(both.prune_target(1000, 60'999 * kMs), 0u);  // old enough by count, not by age
  EXPECT_EQ(both.prune_target(1000, 61'000 * kMs), 50u);
  EXPECT_EQ(both.prune_target(60, 200'000 * kMs), 50u);  // 80 is within the last 10 frames
  Retention off({0, 0, 16});
  off.note_snapshot(5, 0);
  EXPECT_EQ(off.prune_target(1'000'000, UINT64_MAX), 0u);
}

// A long run: the journal stays bounded while verify, state and a restart keep working, and give
// what the unpruned twin gives.
TEST(Retention, ALongRunKeepsTheJournalBoundedWhileVerifyStateAndRestartWork) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  auto twin = create_journal(dir.sub("twin"));
  constexpr uint64_t kRetain = 300;
  constexpr uint64_t kEvery = 100;
  SnapshotWriter writer(*journal, {kEvery, 0}, {kRetain, 0, 8});
  uint64_t t = kIncidentT0;
  uint64_t max_held = 0;
  for (uint32_t round = 0; round < 40; ++round) {
    t = write_seeded({journal.get(), twin.get()}, 100 + round, 137, t + kMs);
    drain(writer);
    auto first = log_first_seq(*journal);
    ASSERT_TRUE(first);
    max_held = std::max(max_held, journal->last_seq() - *first + 1);
  }
  const SnapshotWriterCounters& c = writer.counters();
  EXPECT_GT(c.records_pruned.load(), 0u);
  auto first = log_first_seq(*journal);
  ASSERT_TRUE(first);
  EXPECT_GT(*first, 1u);
  // Held: at least kRetain frames, at most kRetain + a snapshot interval + one record drained.
  EXPECT_GE(journal->last_seq() - *first + 1, kRetain);
  EXPECT_LE(max_held, kRetain + kEvery + 137 + 12);
  auto seqs = snapshot_seqs(*journal);
  ASSERT_TRUE(seqs);
  EXPECT_EQ(seqs->front(), *first - 1);  // pruned exactly behind a snapshot, older ones gone

  const VerifyReport report = verify_journal(*journal);
  EXPECT_TRUE(report.ok) << report.fault.seq << ": " << report.fault.problem;
  EXPECT_EQ(report.first_seq, *first);
  StateQuery query;
  auto a = state_at(*journal, query);
  auto b = state_at(*twin, query);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(state_text(*a), state_text(*b));
  query.at_seq = *first + 5;
  a = state_at(*journal, query);
  b = state_at(*twin, query);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(state_text(*a), state_text(*b));
  query.at_seq = *first - 2;  // pruned, and no snapshot below it: said plainly
  auto gone = state_at(*journal, query);
  ASSERT_FALSE(gone);
  EXPECT_NE(gone.error().find("pruned"), std::string::npos) << gone.error();

  auto restored = restore_sequencer(*journal);
  ASSERT_TRUE(restored) << restored.error();
  auto whole = state_at(*twin, {});
  ASSERT_TRUE(whole);
  EXPECT_EQ(state_text((*restored)->state()), state_text(*whole));
  EXPECT_EQ((*restored)->last_seq(), twin->last_seq());
}

TEST(Retention, ByAgePrunesOnlyFramesOlderThanTheAge) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  const uint64_t end = write_seeded({journal.get()}, 21, 2000);
  SnapshotWriter writer(*journal, {200, 0}, {0, 30'000 * kMs, 64});
  drain(writer, 0, end);
  auto first = log_first_seq(*journal);
  ASSERT_TRUE(first);
  ASSERT_GT(*first, 1u);
  // Everything stamped within the last 30 s is still there.
  FrameCursor cursor(*journal);
  cursor.seek(*first);
  auto frame = cursor.next();
  ASSERT_TRUE(frame && *frame != nullptr);
  uint64_t last_pruned_stamp = 0;
  auto pruned_end = nearest_snapshot(*journal, *first - 1);
  ASSERT_TRUE(pruned_end && pruned_end->snapshot);
  EXPECT_EQ(pruned_end->snapshot->state.seq(), *first - 1);
  for (const auto& [id, market] : pruned_end->snapshot->state.markets()) {
    last_pruned_stamp = std::max(last_pruned_stamp, market.updated_ns);
  }
  EXPECT_LE(last_pruned_stamp + 30'000 * kMs, end);
  EXPECT_TRUE(verify_journal(*journal).ok);
}

TEST(Retention, ARangeThatWasPrunedIsAnsweredGone) {
  TempDir dir;
  auto journal = create_journal(dir.sub("j"));
  write_seeded({journal.get()}, 31, 1200);
  SnapshotWriter writer(*journal, {100, 0}, {400, 0, 1000});
  drain(writer);
  auto first = log_first_seq(*journal);
  ASSERT_TRUE(first);
  ASSERT_GT(*first, 1u);

  // The recovery service of a node restarted on the pruned journal starts at the snapshot the
  // log begins after, then follows the log.
  auto start = nearest_snapshot(*journal, *first - 1);
  ASSERT_TRUE(start && start->snapshot);
  JournalBatchLog log(*journal);
  RecoveryService service({}, &log);
  service.start_at(std::move(start->snapshot->state), start->snapshot->epoch_start);
  RecoveryOutbox outbox;
  JournalReader reader(*journal);
  std::vector<std::vector<uint8_t>> records;
  ASSERT_TRUE(reader.scan(*first, [&](uint64_t, std::span<const uint8_t> bytes) {
    records.emplace_back(bytes.begin(), bytes.end());
    return true;
  }));
  for (const auto& record : records) {
    auto fed = service.on_committed(record, outbox);
    ASSERT_TRUE(fed) << fed.error();
  }
  EXPECT_EQ(service.last_seq(), journal->last_seq());
  auto folded = state_at(*journal, {});
  ASSERT_TRUE(folded);
  EXPECT_EQ(state_text(service.state()), state_text(*folded));

  RecoveryReply reply;
  service.handle("edge", "range 1 " + std::to_string(journal->last_seq()), 0, reply);
  auto header = recovery::parse_reply_header(reply.header());
  ASSERT_TRUE(header) << reply.header();
  ASSERT_EQ(header->kind, recovery::ReplyKind::kGone) << reply.header();
  EXPECT_EQ(header->from, 1u);
  EXPECT_EQ(header->oldest, *first);
  EXPECT_EQ(service.counters().gone.load(), 1u);

  // What is still held is served, and a snapshot answers at the last seq.
  service.handle("edge", "range " + std::to_string(*first) + " " + std::to_string(*first), 0,
                 reply);
  header = recovery::parse_reply_header(reply.header());
  ASSERT_TRUE(header);
  EXPECT_EQ(header->kind, recovery::ReplyKind::kRange) << reply.header();
  service.handle("edge", "snapshot", 0, reply);
  header = recovery::parse_reply_header(reply.header());
  ASSERT_TRUE(header);
  ASSERT_EQ(header->kind, recovery::ReplyKind::kSnapshot) << reply.header();
  EXPECT_EQ(header->seq, journal->last_seq());
  EXPECT_EQ(header->digest, state_digest(*folded));
}

}  // namespace
}  // namespace oddsbus::engine
