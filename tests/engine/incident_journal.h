// Test support for the incident-replay suites (issue 13): writes journals frame by frame with
// chosen stamps, epochs, sources and reasons, and one known incident history to check every
// odds-replay command against.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/journal.h"
#include "schemas/batch.h"
#include "schemas/frame_builder.h"
#include "schemas/odds.h"

namespace oddsbus::engine::testing_support {

// 2026-11-23T09:30:00Z in ns since the Unix epoch.
inline constexpr uint64_t kIncidentT0 = 1'795'426'200'000'000'000ull;
inline constexpr uint64_t kSecond = 1'000'000'000ull;

// Appends frames to a journal, one record per commit(). Stamps come from the caller.
class FrameWriter {
 public:
  explicit FrameWriter(Journal& journal, uint32_t epoch = 1, uint32_t publisher = 1)
      : journal_(journal), epoch_(epoch), publisher_(publisher) {}

  void set_epoch(uint32_t epoch, uint32_t publisher) {
    commit();
    epoch_ = epoch;
    publisher_ = publisher;
    ASSERT_TRUE(journal_.set_epoch(epoch));
  }

  struct Selection {
    uint64_t id;
    std::string name;
  };
  void define(uint64_t time_ns, uint64_t market, uint64_t event, std::string_view name,
              const std::vector<Selection>& selections) {
    add(builder_.market_definition(header(time_ns), market, event, name, fb::MarketStatus::Open,
                                   selections));
  }
  void price(uint64_t time_ns, uint64_t market, uint64_t selection, std::string_view odds,
             std::string_view source) {
    auto parsed = parse_odds(odds);
    ASSERT_TRUE(parsed) << odds;
    add(builder_.price(header(time_ns), market, selection, *parsed, odds, source));
  }
  void status(uint64_t time_ns, uint64_t market, fb::MarketStatus status, fb::StatusReason reason) {
    add(builder_.status(header(time_ns), market, status, reason));
  }
  void event_suspension(uint64_t time_ns, uint64_t event, fb::StatusReason reason) {
    add(builder_.event_suspension(header(time_ns), event, reason));
  }
  void epoch_change(uint64_t time_ns, uint32_t previous_epoch) {
    add(builder_.epoch_change(header(time_ns), previous_epoch));
  }
  void settle(uint64_t time_ns, uint64_t market, std::vector<uint64_t> winners) {
    add(builder_.settlement(header(time_ns), market, winners));
  }

  // Writes the frames added since the last commit as one record.
  void commit() {
    if (batch_.empty()) return;
    auto appended = journal_.append(batch_.first_seq(), batch_.first_seq() + batch_.count() - 1,
                                    batch_.bytes());
    ASSERT_TRUE(appended) << appended.error();
    batch_.begin(journal_.info().channel, next_seq_);
  }

  uint64_t last_seq() const { return next_seq_ - 1; }

 private:
  FrameHeader header(uint64_t time_ns) {
    if (batch_.empty()) batch_.begin(journal_.info().channel, next_seq_);
    return FrameHeader{next_seq_++, epoch_, journal_.info().channel, publisher_, time_ns, 0, 0};
  }
  void add(std::span<const uint8_t> frame) { batch_.add(frame); }

  Journal& journal_;
  uint32_t epoch_;
  uint32_t publisher_;
  uint64_t next_seq_ = journal_.last_seq() + 1;
  FrameBuilder builder_;
  BatchWriter batch_{1 << 16};
};

inline std::unique_ptr<Journal> create_journal(const std::string& dir) {
  JournalConfig config;
  config.dir = dir;
  config.node = 1;
  auto journal = Journal::open(config);
  EXPECT_TRUE(journal) << journal.error();
  return journal ? std::move(*journal) : nullptr;
}

// Market 1001 "Match Odds" (event 501; selections 1 Home, 2 Draw, 3 Away) and market 1002
// "Total Goals" (event 501; selections 1 Over, 2 Under), through a feed outage, a feed failover,
// a desk override and a takeover (times are seconds after kIncidentT0):
//   seq 1-2    t0    definitions                               (record 1)
//   seq 3-5    t1    1001 prices 2.50 3.20 2.90 from feed-a     (record 2)
//   seq 6      t2    1002 Over 1.80 from feed-a
//   seq 7      t3    1001 Home 2.60 from feed-a                 (record 3: 6-7)
//   seq 8      t5    1001 suspended feed-stale                  (record 4)
//   seq 9      t8    1001 Home 2.70 from feed-b (failover)
//   seq 10     t8    1001 open (provider)                       (record 5: 9-10)
//   seq 11     t10   1001 Draw 3.00 from desk (override)        (record 6)
//   seq 12     t12   1001 suspended trader                      (record 7)
//   seq 13     t13   1001 open trader                           (record 8)
//   -- node 2 takes over: epoch 2 --
//   seq 14     t20   epoch change 1 -> 2
//   seq 15     t20   1001 Draw 3.10 from feed-b (desk released) (record 9: 14-15)
//   seq 16     t21   1001 Home 2.80 from feed-b                 (record 10)
//   seq 17     t22   event 501 suspended (provider): 1001 and 1002
//   seq 18     t25   1001 open (provider)                       (record 11: 17-18)
inline void write_incident(Journal& journal) {
  const uint64_t t0 = kIncidentT0;
  auto at = [&](uint64_t seconds) { return t0 + seconds * kSecond; };
  FrameWriter w(journal, 1, 1);
  w.define(at(0), 1001, 501, "Match Odds", {{1, "Home"}, {2, "Draw"}, {3, "Away"}});
  w.define(at(0), 1002, 501, "Total Goals", {{1, "Over"}, {2, "Under"}});
  w.commit();
  w.price(at(1), 1001, 1, "2.50", "feed-a");
  w.price(at(1), 1001, 2, "3.20", "feed-a");
  w.price(at(1), 1001, 3, "2.90", "feed-a");
  w.commit();
  w.price(at(2), 1002, 1, "1.80", "feed-a");
  w.price(at(3), 1001, 1, "2.60", "feed-a");
  w.commit();
  w.status(at(5), 1001, fb::MarketStatus::Suspended, fb::StatusReason::FeedStale);
  w.commit();
  w.price(at(8), 1001, 1, "2.70", "feed-b");
  w.status(at(8), 1001, fb::MarketStatus::Open, fb::StatusReason::Provider);
  w.commit();
  w.price(at(10), 1001, 2, "3.00", "desk");
  w.commit();
  w.status(at(12), 1001, fb::MarketStatus::Suspended, fb::StatusReason::Trader);
  w.commit();
  w.status(at(13), 1001, fb::MarketStatus::Open, fb::StatusReason::Trader);
  w.commit();
  w.set_epoch(2, 2);
  w.epoch_change(at(20), 1);
  w.price(at(20), 1001, 2, "3.10", "feed-b");
  w.commit();
  w.price(at(21), 1001, 1, "2.80", "feed-b");
  w.commit();
  w.event_suspension(at(22), 501, fb::StatusReason::Provider);
  w.status(at(25), 1001, fb::MarketStatus::Open, fb::StatusReason::Provider);
  w.commit();
}

}  // namespace oddsbus::engine::testing_support
