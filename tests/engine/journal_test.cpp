#include "engine/journal.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "engine/journal_scan.h"
#include "engine/replay.h"
#include "engine/restore.h"
#include "engine/sequencer.h"
#include "schemas/state_digest.h"
#include "tests/engine/engine_test_support.h"

namespace oddsbus::engine {
namespace {

using namespace testing_support;
namespace fs = std::filesystem;

constexpr uint64_t kT0 = 1'800'000'000'000'000'000ull;

JournalConfig config_for(const std::string& dir) {
  JournalConfig config;
  config.dir = dir;
  config.durability = Durability::kNoSync;
  config.node = 4;
  config.channel = 0;
  return config;
}

std::unique_ptr<Journal> open_journal(const JournalConfig& config) {
  auto journal = Journal::open(config);
  EXPECT_TRUE(journal) << journal.error();
  return journal ? std::move(*journal) : nullptr;
}

SequencerConfig sequencer_config_for(const Journal& journal) {
  SequencerConfig config;
  config.channel = journal.info().channel;
  config.node = journal.info().node;
  config.epoch = journal.epoch();
  config.last_seq = journal.last_seq();
  return config;
}

// Sequences `events` into one batch at `now` and appends it; every event must be accepted.
std::expected<void, std::string> append_events(Journal& journal, Sequencer& sequencer,
                                               const std::vector<feeds::Event>& events,
                                               uint64_t now = kT0) {
  BatchWriter batch(4096);
  sequencer.begin_batch(batch);
  for (const feeds::Event& event : events) {
    auto seq = sequencer.sequence(event, now, batch);
    if (!seq) return std::unexpected("rejected: " + std::string(feeds::to_string(seq.error())));
  }
  return journal.append(batch.first_seq(), batch.first_seq() + batch.count() - 1, batch.bytes());
}

std::vector<feeds::Event> prices(uint64_t market, size_t n, size_t salt = 0) {
  std::vector<feeds::Event> events;
  for (size_t i = 0; i < n; ++i) {
    events.push_back(price_event(market, 1 + (i % 3), std::to_string(2 + (i + salt) % 50) + ".5"));
  }
  return events;
}

struct Record {
  uint64_t key;
  std::vector<uint8_t> bytes;
};

std::vector<Record> records_of(const Journal& journal) {
  std::vector<Record> records;
  JournalReader reader(journal);
  auto scanned = reader.scan(1, [&](uint64_t key, std::span<const uint8_t> bytes) {
    records.push_back({key, {bytes.begin(), bytes.end()}});
    return true;
  });
  EXPECT_TRUE(scanned) << scanned.error();
  return records;
}

// Offset of frame `index`'s bytes within a batch.
size_t frame_offset(const std::vector<uint8_t>& batch, size_t index) {
  size_t offset = kBatchHeaderSize;
  for (size_t i = 0;; ++i) {
    uint32_t len = 0;
    std::memcpy(&len, batch.data() + offset, 4);
    if (i == index) return offset + kRecordHeaderSize;
    offset += kRecordHeaderSize + ((len + 7) & ~size_t{7});
  }
}

// A journal with market 1001 defined and nine frames in three records: 1..3, 4..6, 7..9, sequenced
// at kT0, kT0 + 1000 and kT0 + 2000.
class FilledJournal : public ::testing::Test {
 protected:
  void SetUp() override {
    journal_ = open_journal(config_for(dir_.sub("journal")));
    ASSERT_TRUE(journal_);
    sequencer_ = std::make_unique<Sequencer>(sequencer_config_for(*journal_));
    std::vector<feeds::Event> first = {market_event(1001, 501, "Match Odds", home_draw_away())};
    first.push_back(price_event(1001, 1, "2.50"));
    first.push_back(price_event(1001, 2, "3.00"));
    ASSERT_TRUE(append_events(*journal_, *sequencer_, first, kT0));
    ASSERT_TRUE(append_events(*journal_, *sequencer_, prices(1001, 3, 1), kT0 + 1000));
    ASSERT_TRUE(append_events(*journal_, *sequencer_, prices(1001, 3, 7), kT0 + 2000));
    ASSERT_EQ(journal_->last_seq(), 9u);
  }

  // Rewrites record `key` with one byte flipped inside its frame `index`.
  void corrupt_frame(uint64_t key, size_t index) {
    for (Record& record : records_of(*journal_)) {
      if (record.key != key) continue;
      record.bytes[frame_offset(record.bytes, index) + 12] ^= 0x40;
      ASSERT_TRUE(journal_->put_raw_for_test(key, record.bytes));
      return;
    }
    FAIL() << "no record " << key;
  }

  TempDir dir_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Sequencer> sequencer_;
};

TEST(Journal, CreatesAndContinuesAfterReopen) {
  TempDir dir;
  const JournalConfig config = config_for(dir.sub("new/nested"));
  uint64_t digest = 0;
  {
    auto journal = open_journal(config);
    ASSERT_TRUE(journal);
    EXPECT_EQ(journal->last_seq(), 0u);
    EXPECT_EQ(journal->epoch(), 1u);
    EXPECT_EQ(journal->info().node, 4u);
    Sequencer sequencer(sequencer_config_for(*journal));
    ASSERT_TRUE(append_events(*journal, sequencer,
                              {market_event(1001, 501, "Match Odds", home_draw_away())}));
    ASSERT_TRUE(append_events(*journal, sequencer, prices(1001, 10)));
    EXPECT_EQ(journal->last_seq(), 11u);
    digest = state_digest(sequencer.state());
  }
  JournalConfig again = config;
  again.node = 99;  // the stored node id wins over the config of a later open
  auto journal = open_journal(again);
  ASSERT_TRUE(journal);
  EXPECT_EQ(journal->last_seq(), 11u);
  EXPECT_EQ(journal->info().node, 4u);
  EXPECT_EQ(journal->epoch(), 1u);

  auto restored = restore_sequencer(*journal);
  ASSERT_TRUE(restored) << restored.error();
  EXPECT_EQ((*restored)->last_seq(), 11u);
  EXPECT_EQ(state_digest((*restored)->state()), digest);
  ASSERT_TRUE(append_events(*journal, **restored, prices(1001, 5)));
  EXPECT_EQ(journal->last_seq(), 16u);
  const VerifyReport report = verify_journal(*journal);
  EXPECT_TRUE(report.ok) << report.fault.seq << ": " << report.fault.problem;
  EXPECT_EQ(report.stats.frames, 16u);
  EXPECT_EQ(report.stats.batches, 3u);
}

TEST(Journal, RefusesNonContiguousAppend) {
  TempDir dir;
  auto journal = open_journal(config_for(dir.sub("j")));
  ASSERT_TRUE(journal);
  Sequencer ahead(SequencerConfig{.channel = 0, .node = 4, .epoch = 1, .last_seq = 4});
  BatchWriter batch(1024);
  ahead.begin_batch(batch);
  ASSERT_TRUE(ahead.sequence(market_event(1, 1, "m", {{1, "a"}}), kT0, batch));
  auto refused = journal->append(5, 5, batch.bytes());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("refusing"), std::string::npos) << refused.error();
  EXPECT_EQ(journal->last_seq(), 0u);
  EXPECT_TRUE(records_of(*journal).empty()) << "a refused append writes nothing";

  Sequencer sequencer(sequencer_config_for(*journal));
  ASSERT_TRUE(append_events(*journal, sequencer, {market_event(1, 1, "m", home_draw_away())}));
  ASSERT_TRUE(append_events(*journal, sequencer, prices(1, 2)));
  ASSERT_EQ(journal->last_seq(), 3u);
  EXPECT_FALSE(journal->append(3, 3, batch.bytes())) << "seq 3 again";
  EXPECT_FALSE(journal->append(1, 1, batch.bytes())) << "from the start";
  EXPECT_FALSE(journal->append(5, 5, batch.bytes())) << "leaves seq 4 out";
  EXPECT_FALSE(journal->append(4, 3, batch.bytes())) << "last before first";
  EXPECT_EQ(journal->last_seq(), 3u);
  EXPECT_EQ(records_of(*journal).size(), 2u);
  EXPECT_TRUE(verify_journal(*journal).ok);
}

TEST(Journal, GroupCommitWritesOneRecordPerBatch) {
  TempDir dir;
  auto journal = open_journal(config_for(dir.sub("j")));
  ASSERT_TRUE(journal);
  Sequencer sequencer(sequencer_config_for(*journal));
  ASSERT_TRUE(append_events(*journal, sequencer, {market_event(1, 1, "m", home_draw_away())}));
  ASSERT_TRUE(append_events(*journal, sequencer, prices(1, 5)));
  ASSERT_TRUE(append_events(*journal, sequencer, prices(1, 100)));
  ASSERT_TRUE(append_events(*journal, sequencer, prices(1, 1)));

  const std::vector<Record> records = records_of(*journal);
  ASSERT_EQ(records.size(), 4u);
  const uint64_t keys[] = {1, 2, 7, 107};
  const uint32_t counts[] = {1, 5, 100, 1};
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].key, keys[i]);
    BatchReader reader;
    ASSERT_TRUE(reader.open(records[i].bytes)) << "record " << records[i].key;
    EXPECT_EQ(reader.header().first_seq, keys[i]);
    EXPECT_EQ(reader.header().count, counts[i]);
    for (size_t f = 0; f < reader.frames().size(); ++f) {
      EXPECT_EQ(reader.frames()[f]->seq(), keys[i] + f);
    }
  }
}

TEST(Journal, ReaderScanStartsAtTheRecordHoldingFromSeq) {
  TempDir dir;
  auto journal = open_journal(config_for(dir.sub("j")));
  ASSERT_TRUE(journal);
  Sequencer sequencer(sequencer_config_for(*journal));
  ASSERT_TRUE(append_events(*journal, sequencer, {market_event(1, 1, "m", home_draw_away())}));
  ASSERT_TRUE(append_events(*journal, sequencer, prices(1, 5)));  // 2..6
  ASSERT_TRUE(append_events(*journal, sequencer, prices(1, 5)));  // 7..11
  JournalReader reader(*journal);
  for (const auto& [from, first_key] : std::vector<std::pair<uint64_t, uint64_t>>{
           {1, 1}, {2, 2}, {4, 2}, {6, 2}, {7, 7}, {11, 7}, {50, 7}}) {
    std::vector<uint64_t> keys;
    ASSERT_TRUE(reader.scan(from, [&](uint64_t key, std::span<const uint8_t>) {
      keys.push_back(key);
      return true;
    }));
    ASSERT_FALSE(keys.empty()) << "from " << from;
    EXPECT_EQ(keys.front(), first_key) << "from " << from;
  }
}

TEST(Journal, ContinuesAfterUncleanShutdown) {
  TempDir dir;
  const JournalConfig config = config_for(dir.sub("j"));
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    // The child appends, tells the parent how far it got, and dies without closing anything.
    ::close(pipe_fds[0]);
    auto journal = Journal::open(config);
    if (!journal) ::_exit(2);
    Sequencer sequencer(sequencer_config_for(**journal));
    if (!append_events(**journal, sequencer, {market_event(1, 1, "m", home_draw_away())})) {
      ::_exit(3);
    }
    for (size_t i = 0; i < 40; ++i) {
      if (!append_events(**journal, sequencer, prices(1, 25, i))) ::_exit(4);
    }
    const uint64_t last_seq = (*journal)->last_seq();
    const uint64_t digest = state_digest(sequencer.state());
    const uint64_t report[2] = {last_seq, digest};
    if (::write(pipe_fds[1], report, sizeof report) != sizeof report) ::_exit(5);
    ::raise(SIGKILL);
    ::_exit(6);
  }
  ::close(pipe_fds[1]);
  uint64_t report[2] = {0, 0};
  const ssize_t got = ::read(pipe_fds[0], report, sizeof report);
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child exited with " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  ASSERT_EQ(got, static_cast<ssize_t>(sizeof report));
  EXPECT_EQ(report[0], 1u + 40 * 25);

  auto journal = open_journal(config);
  ASSERT_TRUE(journal);
  EXPECT_EQ(journal->last_seq(), report[0]);
  VerifyReport verified = verify_journal(*journal);
  EXPECT_TRUE(verified.ok) << verified.fault.seq << ": " << verified.fault.problem;
  auto restored = restore_sequencer(*journal);
  ASSERT_TRUE(restored) << restored.error();
  EXPECT_EQ(state_digest((*restored)->state()), report[1]);
  ASSERT_TRUE(append_events(*journal, **restored, prices(1, 10)));
  EXPECT_EQ(journal->last_seq(), report[0] + 10);
  verified = verify_journal(*journal);
  EXPECT_TRUE(verified.ok) << verified.fault.seq << ": " << verified.fault.problem;
}

TEST(Journal, ContinuesAfterAWriterDiedInsideATransaction) {
  TempDir dir;
  const JournalConfig config = config_for(dir.sub("j"));
  {
    auto journal = open_journal(config);
    ASSERT_TRUE(journal);
    Sequencer sequencer(sequencer_config_for(*journal));
    ASSERT_TRUE(append_events(*journal, sequencer, {market_event(1, 1, "m", home_draw_away())}));
  }
  const pid_t child = ::fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    // Dies holding LMDB's write lock, with an uncommitted record for seq 2.
    auto journal = Journal::open(config);
    if (!journal) ::_exit(2);
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin((*journal)->env(), nullptr, 0, &txn) != 0) ::_exit(3);
    uint64_t key = 2;
    char junk[64] = {};
    MDB_val k{sizeof key, &key};
    MDB_val v{sizeof junk, junk};
    if (mdb_put(txn, (*journal)->log_dbi(), &k, &v, 0) != 0) ::_exit(4);
    ::raise(SIGKILL);
    ::_exit(5);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status))
      << "child exited with " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);

  auto journal = open_journal(config);
  ASSERT_TRUE(journal);
  EXPECT_EQ(journal->last_seq(), 1u);
  auto restored = restore_sequencer(*journal);
  ASSERT_TRUE(restored) << restored.error();
  ASSERT_TRUE(append_events(*journal, **restored, prices(1, 3)));
  EXPECT_EQ(journal->last_seq(), 4u);
  EXPECT_TRUE(verify_journal(*journal).ok);
}

TEST(Journal, RefusesADirectoryWithForeignFilesAndLeavesThemAlone) {
  TempDir dir;
  const std::string target = dir.sub("precious");
  fs::create_directory(target);
  { std::ofstream(target + "/notes.txt") << "do not touch\n"; }
  fs::create_directory(target + "/sub");
  auto journal = Journal::open(config_for(target));
  ASSERT_FALSE(journal);
  EXPECT_NE(journal.error().find("not empty"), std::string::npos) << journal.error();

  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(target)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"notes.txt", "sub"}));
  std::ifstream in(target + "/notes.txt");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "do not touch\n");
}

TEST(Journal, RefusesAPathThatIsAFile) {
  TempDir dir;
  const std::string file = dir.sub("file");
  std::ofstream(file) << "x";
  EXPECT_FALSE(Journal::open(config_for(file)));
  EXPECT_EQ(fs::file_size(file), 1u);
}

// Writes key -> value into an LMDB environment in `dir`, in database `db` (nullptr: the main one).
void write_foreign_env(const std::string& dir, const char* db, const std::string& key,
                       const std::string& value) {
  fs::create_directories(dir);
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 4);
  ASSERT_EQ(mdb_env_open(env, dir.c_str(), 0, 0644), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi dbi;
  ASSERT_EQ(mdb_dbi_open(txn, db, MDB_CREATE, &dbi), 0);
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v{value.size(), const_cast<char*>(value.data())};
  ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

std::string read_foreign_env(const std::string& dir, const char* db, const std::string& key) {
  MDB_env* env = nullptr;
  mdb_env_create(&env);
  mdb_env_set_maxdbs(env, 4);
  std::string value = "<unreadable>";
  if (mdb_env_open(env, dir.c_str(), MDB_RDONLY, 0644) == 0) {
    MDB_txn* txn = nullptr;
    MDB_dbi dbi;
    if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0) {
      MDB_val k{key.size(), const_cast<char*>(key.data())};
      MDB_val v;
      if (mdb_dbi_open(txn, db, 0, &dbi) == 0 && mdb_get(txn, dbi, &k, &v) == 0) {
        value.assign(static_cast<const char*>(v.mv_data), v.mv_size);
      } else {
        value = "<missing>";
      }
      mdb_txn_abort(txn);
    }
  }
  mdb_env_close(env);
  return value;
}

TEST(Journal, RefusesAnLmdbEnvironmentThatIsNotOurs) {
  TempDir dir;
  const std::string plain = dir.sub("plain");
  write_foreign_env(plain, nullptr, "hello", "world");
  auto journal = Journal::open(config_for(plain));
  ASSERT_FALSE(journal);
  EXPECT_NE(journal.error().find("not an oddsbus journal"), std::string::npos) << journal.error();
  EXPECT_EQ(read_foreign_env(plain, nullptr, "hello"), "world");
  EXPECT_EQ(read_foreign_env(plain, "meta", "format"), "<missing>") << "nothing created";

  // Has a "meta" database, but not ours.
  const std::string other = dir.sub("other");
  write_foreign_env(other, "meta", "format", "someone-else/7");
  journal = Journal::open(config_for(other));
  ASSERT_FALSE(journal);
  EXPECT_NE(journal.error().find("refusing"), std::string::npos) << journal.error();
  EXPECT_EQ(read_foreign_env(other, "meta", "format"), "someone-else/7");
  EXPECT_EQ(read_foreign_env(other, "log", "x"), "<missing>");
}

TEST(Journal, DoesNotCreateWhenToldNotTo) {
  TempDir dir;
  JournalConfig config = config_for(dir.sub("absent"));
  config.create = false;
  EXPECT_FALSE(Journal::open(config));
  EXPECT_FALSE(fs::exists(config.dir));

  config.create = true;
  config.read_only = true;  // replay never creates a journal
  EXPECT_FALSE(Journal::open(config));
  EXPECT_FALSE(fs::exists(config.dir));

  fs::create_directory(config.dir);  // empty
  EXPECT_FALSE(Journal::open(config));
  EXPECT_TRUE(fs::is_empty(config.dir));
}

TEST(Journal, ReadOnlyJournalReadsButRefusesAppends) {
  TempDir dir;
  JournalConfig config = config_for(dir.sub("j"));
  {
    auto journal = open_journal(config);
    ASSERT_TRUE(journal);
    Sequencer sequencer(sequencer_config_for(*journal));
    ASSERT_TRUE(append_events(*journal, sequencer, {market_event(1, 1, "m", home_draw_away())}));
  }
  config.read_only = true;
  auto journal = open_journal(config);
  ASSERT_TRUE(journal);
  EXPECT_EQ(journal->last_seq(), 1u);
  EXPECT_TRUE(verify_journal(*journal).ok);
  Sequencer sequencer(sequencer_config_for(*journal));
  EXPECT_FALSE(append_events(*journal, sequencer, prices(1, 1)));
  EXPECT_EQ(journal->last_seq(), 1u);
}

TEST(Journal, GrowsTheMapWhenFull) {
  TempDir dir;
  JournalConfig config = config_for(dir.sub("j"));
  config.map_size = size_t{1} << 20;
  auto journal = open_journal(config);
  ASSERT_TRUE(journal);
  Sequencer sequencer(sequencer_config_for(*journal));
  ASSERT_TRUE(append_events(*journal, sequencer, {market_event(1, 1, "m", home_draw_away())}));
  // About 4 MiB of frames into a 1 MiB map.
  for (size_t i = 0; i < 200; ++i) {
    auto appended = append_events(*journal, sequencer, prices(1, 150, i));
    ASSERT_TRUE(appended) << "batch " << i << ": " << appended.error();
  }
  EXPECT_EQ(journal->last_seq(), 1u + 200 * 150);
  EXPECT_TRUE(verify_journal(*journal).ok);
}

// Record `seq` for the map-growth tests: 16 KiB whose every byte depends on seq (the journal does
// not look inside what it appends).
std::vector<uint8_t> patterned_record(uint64_t seq) {
  std::vector<uint8_t> bytes(16 * 1024);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(seq * 131 + i / 7);
  return bytes;
}

bool is_patterned_record(uint64_t seq, std::span<const uint8_t> bytes) {
  const std::vector<uint8_t> expected = patterned_record(seq);
  return bytes.size() == expected.size() &&
         std::equal(bytes.begin(), bytes.end(), expected.begin());
}

size_t map_size_of(const Journal& journal) {
  MDB_envinfo info;
  mdb_env_info(journal.env(), &info);
  return info.me_mapsize;
}

// lmdb.h, mdb_env_set_mapsize: it "may be called at later times if no transactions are active in
// this process". A reader inside a scan holds a read transaction, so the map must not grow under
// it.
TEST(Journal, GrowingTheMapWaitsForAReaderInsideAScan) {
  TempDir dir;
  JournalConfig config = config_for(dir.sub("j"));
  config.map_size = size_t{1} << 20;
  auto journal = open_journal(config);
  ASSERT_TRUE(journal);
  for (uint64_t seq = 1; seq <= 8; ++seq)
    ASSERT_TRUE(journal->append(seq, seq, patterned_record(seq)));

  std::atomic<bool> inside{false};
  std::atomic<bool> grower_started{false};
  std::atomic<bool> grown{false};
  bool grown_while_inside = true;
  bool intact = false;
  std::thread reader_thread([&] {
    JournalReader reader(*journal);
    auto scanned = reader.scan(1, [&](uint64_t key, std::span<const uint8_t> bytes) {
      inside = true;
      while (!grower_started) std::this_thread::yield();
      // Give the grower every chance to grow the map under this read transaction.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
      while (!grown && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      grown_while_inside = grown;
      intact = is_patterned_record(key, bytes);  // `bytes` points into the map
      return false;
    });
    EXPECT_TRUE(scanned) << scanned.error();
  });
  while (!inside) std::this_thread::yield();
  std::string grow_error;
  std::thread grower([&] {
    const size_t before = map_size_of(*journal);
    grower_started = true;
    for (uint64_t seq = 9; map_size_of(*journal) == before && seq < 1000; ++seq) {
      if (auto appended = journal->append(seq, seq, patterned_record(seq)); !appended) {
        grow_error = appended.error();
        break;
      }
    }
    grown = map_size_of(*journal) > before;
  });
  reader_thread.join();
  grower.join();
  EXPECT_EQ(grow_error, "");
  EXPECT_TRUE(grown);
  EXPECT_FALSE(grown_while_inside);
  EXPECT_TRUE(intact);
}

TEST(Journal, ReadersSeeEveryRecordIntactWhileTheMapGrows) {
  TempDir dir;
  JournalConfig config = config_for(dir.sub("j"));
  config.map_size = size_t{1} << 20;
  auto journal = open_journal(config);
  ASSERT_TRUE(journal);
  ASSERT_TRUE(journal->append(1, 1, patterned_record(1)));
  const size_t initial_map = map_size_of(*journal);
  constexpr uint64_t kRecords = 600;  // about 10 MiB: the map doubles four times
  std::atomic<uint64_t> appended_to{1};
  std::atomic<bool> writing{true};
  std::atomic<uint64_t> bad_records{0};
  std::atomic<uint64_t> scans{0};
  std::string scan_error;
  std::thread reader_thread([&] {
    JournalReader reader(*journal);
    uint64_t from = 1;
    while (writing) {
      const uint64_t last = appended_to.load();
      from = from % last + 1;
      uint64_t visited = 0;
      auto scanned = reader.scan(from, [&](uint64_t key, std::span<const uint8_t> bytes) {
        if (!is_patterned_record(key, bytes)) ++bad_records;
        return ++visited < 20;
      });
      if (!scanned) {
        scan_error = scanned.error();
        return;
      }
      ++scans;
    }
  });
  std::string write_error;
  size_t map_at_end = initial_map;
  for (uint64_t seq = 2; seq <= kRecords; ++seq) {
    if (auto appended = journal->append(seq, seq, patterned_record(seq)); !appended) {
      write_error = appended.error();
      break;
    }
    appended_to = seq;
    // Let the reader in between appends, so growth meets it mid-scan.
    if (seq % 16 == 0) std::this_thread::yield();
  }
  map_at_end = map_size_of(*journal);
  writing = false;
  reader_thread.join();
  EXPECT_EQ(write_error, "");
  EXPECT_EQ(scan_error, "");
  EXPECT_GT(map_at_end, initial_map * 4);
  EXPECT_GT(scans.load(), 0u);
  EXPECT_EQ(bad_records.load(), 0u);
  EXPECT_EQ(records_of(*journal).size(), kRecords);
}

TEST(Journal, EpochIsStoredAndFramesAboveItAreReported) {
  TempDir dir;
  const JournalConfig config = config_for(dir.sub("j"));
  {
    auto journal = open_journal(config);
    ASSERT_TRUE(journal);
    ASSERT_TRUE(journal->set_epoch(3));
  }
  auto journal = open_journal(config);
  ASSERT_TRUE(journal);
  EXPECT_EQ(journal->epoch(), 3u);

  SequencerConfig ahead = sequencer_config_for(*journal);
  ahead.epoch = 4;
  Sequencer sequencer(ahead);
  ASSERT_TRUE(append_events(*journal, sequencer, {market_event(1, 1, "m", home_draw_away())}));
  const VerifyReport report = verify_journal(*journal);
  EXPECT_FALSE(report.ok) << "a frame of epoch 4 in a journal at epoch 3";
  EXPECT_EQ(report.fault.seq, 1u);
}

TEST(Journal, VerifyReportsEpochGoingBack) {
  TempDir dir;
  auto journal = open_journal(config_for(dir.sub("j")));
  ASSERT_TRUE(journal);
  ASSERT_TRUE(journal->set_epoch(5));
  SequencerConfig at5 = sequencer_config_for(*journal);
  Sequencer sequencer5(at5);
  ASSERT_TRUE(append_events(*journal, sequencer5, {market_event(1, 1, "m", home_draw_away())}));
  SequencerConfig at4 = sequencer_config_for(*journal);
  at4.epoch = 4;
  Sequencer sequencer4(at4);
  ASSERT_TRUE(append_events(*journal, sequencer4, {market_event(2, 1, "m", home_draw_away())}));
  const VerifyReport report = verify_journal(*journal);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.fault.seq, 2u);
  EXPECT_NE(report.fault.problem.find("epoch"), std::string::npos) << report.fault.problem;
}

TEST_F(FilledJournal, VerifyPassesAWholeJournal) {
  const VerifyReport report = verify_journal(*journal_);
  EXPECT_TRUE(report.ok) << report.fault.seq << ": " << report.fault.problem;
  EXPECT_EQ(report.stats.frames, 9u);
  EXPECT_EQ(report.stats.batches, 3u);
  EXPECT_EQ(report.stats.last_seq, 9u);
  EXPECT_EQ(report.stats.last_epoch, 1u);
}

TEST_F(FilledJournal, VerifyNamesTheFirstBadSeqOfACorruptFrame) {
  corrupt_frame(4, 1);  // seq 5
  const VerifyReport report = verify_journal(*journal_);
  ASSERT_FALSE(report.ok);
  EXPECT_EQ(report.fault.seq, 5u);
  EXPECT_NE(report.fault.problem.find("bad_crc"), std::string::npos) << report.fault.problem;
  EXPECT_FALSE(restore_sequencer(*journal_)) << "a node never continues a damaged journal";
}

TEST_F(FilledJournal, VerifyNamesTheFirstMissingSeqOfAGap) {
  // A valid record for seq 15..16 written past the end, leaving 10..14 out.
  Sequencer far(SequencerConfig{.channel = 0, .node = 4, .epoch = 1, .last_seq = 14});
  BatchWriter batch(1024);
  far.begin_batch(batch);
  ASSERT_TRUE(far.sequence(market_event(7, 7, "far", {{1, "a"}}), kT0 + 5000, batch));
  ASSERT_TRUE(far.sequence(price_event(7, 1, "2.0"), kT0 + 5000, batch));
  ASSERT_TRUE(journal_->put_raw_for_test(15, batch.bytes()));

  VerifyReport report = verify_journal(*journal_);
  ASSERT_FALSE(report.ok);
  EXPECT_EQ(report.fault.seq, 10u);
  EXPECT_NE(report.fault.problem.find("gap"), std::string::npos) << report.fault.problem;

  // Reopened, the journal takes its last seq from the last record, and still names seq 10.
  journal_.reset();
  journal_ = open_journal(config_for(dir_.sub("journal")));
  ASSERT_TRUE(journal_);
  EXPECT_EQ(journal_->last_seq(), 16u);
  report = verify_journal(*journal_);
  ASSERT_FALSE(report.ok);
  EXPECT_EQ(report.fault.seq, 10u);
  EXPECT_FALSE(state_at(*journal_, StateQuery{.at_seq = 16, .at_time_ns = {}}));
}

TEST_F(FilledJournal, VerifyReportsARecordWhoseKeyDisagreesWithItsHeader) {
  std::vector<Record> records = records_of(*journal_);
  ASSERT_TRUE(journal_->put_raw_for_test(10, records[2].bytes));  // holds 7..9, keyed 10
  const VerifyReport report = verify_journal(*journal_);
  ASSERT_FALSE(report.ok);
  EXPECT_EQ(report.fault.seq, 10u);
}

TEST_F(FilledJournal, StateAtRefusesToGoPastTheBadSeq) {
  corrupt_frame(4, 1);  // seq 5
  auto at_5 = state_at(*journal_, StateQuery{.at_seq = 5, .at_time_ns = {}});
  ASSERT_FALSE(at_5);
  EXPECT_NE(at_5.error().find("seq 5"), std::string::npos) << at_5.error();
  EXPECT_FALSE(state_at(*journal_, StateQuery{}));
  EXPECT_FALSE(state_at(*journal_, StateQuery{.at_seq = 9, .at_time_ns = {}}));
  EXPECT_FALSE(state_at(*journal_, StateQuery{.at_seq = {}, .at_time_ns = kT0 + 5000}));
  FILE* sink = std::fopen("/dev/null", "w");
  ASSERT_NE(sink, nullptr);
  EXPECT_FALSE(write_events(*journal_, EventsQuery{}, sink));
  std::fclose(sink);
}

// The damaged record starts at seq 4; every state before it is whole and must be readable.
TEST_F(FilledJournal, StateAtWorksBeforeTheBadSeq) {
  corrupt_frame(4, 0);  // seq 4, the first frame of the second record
  auto at_3 = state_at(*journal_, StateQuery{.at_seq = 3, .at_time_ns = {}});
  ASSERT_TRUE(at_3) << at_3.error();
  EXPECT_EQ(at_3->seq(), 3u);
  EXPECT_EQ(at_3->find(1001)->find_selection(2)->price_e4, 30000u);
  // By time it may refuse: whether seq 4 was sequenced by then cannot be read.
}

// Seq 4 is whole even though seq 5, in the same record, is not.
TEST_F(FilledJournal, StateAtWorksUpToTheFrameBeforeTheBadOneInTheSameRecord) {
  corrupt_frame(4, 1);  // seq 5
  auto at_4 = state_at(*journal_, StateQuery{.at_seq = 4, .at_time_ns = {}});
  ASSERT_TRUE(at_4) << at_4.error();
  EXPECT_EQ(at_4->seq(), 4u);
  EXPECT_EQ(at_4->find(1001)->market_seq, 4u);
  const VerifyReport report = verify_journal(*journal_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.fault.seq, 5u);
}

TEST_F(FilledJournal, StateAtBeforeAGapWorks) {
  Sequencer far(SequencerConfig{.channel = 0, .node = 4, .epoch = 1, .last_seq = 14});
  BatchWriter batch(1024);
  far.begin_batch(batch);
  ASSERT_TRUE(far.sequence(market_event(7, 7, "far", {{1, "a"}}), kT0 + 5000, batch));
  ASSERT_TRUE(journal_->put_raw_for_test(15, batch.bytes()));
  auto at_9 = state_at(*journal_, StateQuery{.at_seq = 9, .at_time_ns = {}});
  ASSERT_TRUE(at_9) << at_9.error();
  EXPECT_EQ(at_9->seq(), 9u);
}

TEST_F(FilledJournal, StateAtSeqFoldsExactlyThatFar) {
  for (uint64_t seq = 1; seq <= 9; ++seq) {
    auto state = state_at(*journal_, StateQuery{.at_seq = seq, .at_time_ns = {}});
    ASSERT_TRUE(state) << state.error();
    EXPECT_EQ(state->seq(), seq);
    EXPECT_EQ(state->find(1001)->market_seq, seq);
  }
  auto whole = state_at(*journal_, StateQuery{});
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->seq(), 9u);
  EXPECT_EQ(state_digest(*whole), state_digest(sequencer_->state()));

  auto past_end = state_at(*journal_, StateQuery{.at_seq = 10, .at_time_ns = {}});
  ASSERT_FALSE(past_end);
  EXPECT_NE(past_end.error().find("ends at seq 9"), std::string::npos) << past_end.error();
}

TEST_F(FilledJournal, StateAtTimeFoldsFramesSequencedByThen) {
  const std::pair<uint64_t, uint64_t> cases[] = {{kT0 - 1, 0},    {kT0, 3},        {kT0 + 999, 3},
                                                 {kT0 + 1000, 6}, {kT0 + 2000, 9}, {kT0 * 2, 9}};
  for (const auto& [time, seq] : cases) {
    auto state = state_at(*journal_, StateQuery{.at_seq = {}, .at_time_ns = time});
    ASSERT_TRUE(state) << state.error();
    EXPECT_EQ(state->seq(), seq) << "at " << time;
  }
}

// The seq of every JSON line write_events printed.
std::vector<uint64_t> event_seqs(const Journal& journal, const EventsQuery& query) {
  char* buffer = nullptr;
  size_t size = 0;
  FILE* out = ::open_memstream(&buffer, &size);
  EXPECT_NE(out, nullptr);
  auto written = write_events(journal, query, out);
  std::fclose(out);
  std::string text(buffer, size);
  std::free(buffer);
  EXPECT_TRUE(written) << written.error();
  std::vector<uint64_t> seqs;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    EXPECT_NE(end, std::string::npos) << "every line ends in a newline";
    const std::string line = text.substr(pos, end - pos);
    EXPECT_EQ(line.rfind("{\"seq\": ", 0), 0u) << line;
    seqs.push_back(std::stoull(line.substr(8)));
    pos = end + 1;
  }
  EXPECT_EQ(written.value_or(0), seqs.size());
  return seqs;
}

TEST(Journal, WriteEventsFiltersByRangeAndMarket) {
  TempDir dir;
  auto journal = open_journal(config_for(dir.sub("j")));
  ASSERT_TRUE(journal);
  Sequencer sequencer(sequencer_config_for(*journal));
  ASSERT_TRUE(append_events(*journal, sequencer,
                            {market_event(1001, 501, "A", home_draw_away()),   // 1
                             market_event(1002, 501, "B", home_draw_away()),   // 2
                             market_event(2001, 600, "C", home_draw_away()),   // 3
                             price_event(1001, 1, "2.0"),                      // 4
                             price_event(1002, 1, "2.0"),                      // 5
                             price_event(2001, 1, "2.0"),                      // 6
                             status_event(1002, fb::MarketStatus::Suspended),  // 7
                             settle_event(2001, {1})}));                       // 8
  // Seq 9: a bet stop for event 501, which touches 1001 and 1002 but names neither.
  FrameBuilder builder;
  FrameHeader h;
  h.seq = 9;
  h.epoch = 1;
  h.publisher = 4;
  h.sequenced_ns = kT0;
  BatchWriter batch(1024);
  batch.begin(0, 9);
  batch.add(builder.event_suspension(h, 501, fb::StatusReason::Provider));
  ASSERT_TRUE(journal->append(9, 9, batch.bytes()));
  auto restored = restore_sequencer(*journal);
  ASSERT_TRUE(restored) << restored.error();
  ASSERT_TRUE(append_events(*journal, **restored, {price_event(1002, 2, "3.0")}));  // 10

  EXPECT_EQ(event_seqs(*journal, EventsQuery{}),
            (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(event_seqs(*journal, EventsQuery{.from_seq = 3, .to_seq = 5, .market = {}}),
            (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(event_seqs(*journal, EventsQuery{.from_seq = 8, .to_seq = kNoLimit, .market = {}}),
            (std::vector<uint64_t>{8, 9, 10}));
  EXPECT_EQ(event_seqs(*journal, EventsQuery{.from_seq = 1, .to_seq = kNoLimit, .market = 1002}),
            (std::vector<uint64_t>{2, 5, 7, 9, 10}));
  EXPECT_EQ(event_seqs(*journal, EventsQuery{.from_seq = 1, .to_seq = kNoLimit, .market = 2001}),
            (std::vector<uint64_t>{3, 6, 8}));
  EXPECT_EQ(event_seqs(*journal, EventsQuery{.from_seq = 3, .to_seq = 9, .market = 1001}),
            (std::vector<uint64_t>{4, 9}));
  EXPECT_TRUE(
      event_seqs(*journal, EventsQuery{.from_seq = 11, .to_seq = kNoLimit, .market = {}}).empty());
  EXPECT_TRUE(
      event_seqs(*journal, EventsQuery{.from_seq = 1, .to_seq = kNoLimit, .market = 77}).empty());
}

}  // namespace
}  // namespace oddsbus::engine
