// Test support: seeded journal histories for the snapshot, retention and backup suites. The same
// seed writes the same frames into every journal given, so a twin without snapshots (or a source
// and its copy) can be compared answer for answer.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/journal.h"
#include "tests/engine/incident_journal.h"

namespace oddsbus::engine::testing_support {

// Writes the same seeded history into every journal given: markets defined, priced from several
// sources (desk too), suspended and reopened one by one and event-wide, settled, and takeovers
// (epoch changes), committed in records of random size. Returns the stamp of the last frame.
inline uint64_t write_seeded(std::vector<Journal*> journals, uint32_t seed, uint64_t frames,
                             uint64_t t0 = kIncidentT0) {
  std::vector<FrameWriter> writers;
  for (Journal* journal : journals) writers.emplace_back(*journal, journal->epoch(), 1);
  std::mt19937_64 rng(seed);
  const uint64_t markets = 3 + rng() % 20;
  const std::vector<std::string> sources = {"feed-a", "feed-b", "desk"};
  const std::vector<std::string> odds = {"1.50", "2.00", "2.50", "3.10", "5/2", "+150", "-110"};
  uint64_t t = t0;
  uint64_t written = 0;
  uint64_t in_record = 0;
  uint64_t record_size = 1 + rng() % 12;
  std::vector<bool> defined(markets + 1, false);
  auto each = [&](auto&& f) {
    for (FrameWriter& w : writers) f(w);
  };
  while (written < frames) {
    t += (rng() % 50) * 1'000'000ull;
    const uint64_t market = 1 + rng() % markets;
    const uint64_t event = 500 + market % 3;
    const uint64_t dice = rng() % 100;
    if (!defined[market] || dice < 3) {
      defined[market] = true;
      each([&](FrameWriter& w) {
        w.define(t, market, event, "Market " + std::to_string(market),
                 {{1, "A"}, {2, "B"}, {3, "C"}});
      });
    } else if (dice < 70) {
      const uint64_t selection = 1 + rng() % 3;
      const std::string& o = odds[rng() % odds.size()];
      const std::string& source = sources[rng() % sources.size()];
      each([&](FrameWriter& w) { w.price(t, market, selection, o, source); });
    } else if (dice < 85) {
      const auto status = dice % 2 == 0 ? fb::MarketStatus::Suspended : fb::MarketStatus::Open;
      const auto reason = dice % 3 == 0 ? fb::StatusReason::Trader : fb::StatusReason::Provider;
      each([&](FrameWriter& w) { w.status(t, market, status, reason); });
    } else if (dice < 92) {
      each([&](FrameWriter& w) { w.event_suspension(t, event, fb::StatusReason::Provider); });
    } else if (dice < 96) {
      const uint64_t winner = 1 + rng() % 3;
      each([&](FrameWriter& w) { w.settle(t, market, {winner}); });
    } else {
      for (size_t i = 0; i < writers.size(); ++i) {
        const uint32_t epoch = journals[i]->epoch();
        writers[i].set_epoch(epoch + 1, 2);
        writers[i].epoch_change(t, epoch);
      }
    }
    ++written;
    if (++in_record >= record_size) {
      each([](FrameWriter& w) { w.commit(); });
      in_record = 0;
      record_size = 1 + rng() % 12;
    }
  }
  each([](FrameWriter& w) { w.commit(); });
  return t;
}

}  // namespace oddsbus::engine::testing_support
