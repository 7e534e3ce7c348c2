// Test support for `--set-aside` (issue 13): the incident journal (tests/engine/incident_journal.h)
// after a split brain that its takeover lost. Node 2's epoch-2 history from seq 14 on is set aside
// exactly as fencing does it (Journal::set_aside_from into set-aside/epoch-2-from-14.batches,
// the name engine/replica.cpp gives it), and the winner's epoch-3 history follows:
//   set aside (epoch 2): seq 14-15 (record), 16 (record), 17-18 (record): the incident's own frames
//   journal  (epoch 3):  seq 14 epoch change 1 -> 3, seq 15 1001 Home 2.40 from feed-c (t30),
//                        seq 16 1002 Under 2.05 from feed-c (t31)
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "engine/journal.h"
#include "tests/engine/incident_journal.h"

namespace oddsbus::engine::testing_support {

inline std::string set_aside_path(const Journal& journal) {
  return journal.dir() + "/set-aside/epoch-2-from-14.batches";
}

inline void write_fenced_incident(Journal& journal) {
  write_incident(journal);
  auto moved = journal.set_aside_from(14, set_aside_path(journal));
  ASSERT_TRUE(moved) << moved.error();
  ASSERT_EQ(*moved, 5u);
  FrameWriter w(journal, 3, 3);
  w.set_epoch(3, 3);
  w.epoch_change(kIncidentT0 + 30 * kSecond, 1);
  w.price(kIncidentT0 + 30 * kSecond, 1001, 1, "2.40", "feed-c");
  w.commit();
  w.price(kIncidentT0 + 31 * kSecond, 1002, 2, "2.05", "feed-c");
  w.commit();
}

}  // namespace oddsbus::engine::testing_support
