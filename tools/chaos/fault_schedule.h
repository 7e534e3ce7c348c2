// The seeded fault schedule of a chaos run (issue 12). Sans-I/O: a seed and a count in, a list of
// faults out, the same list for the same seed, so a failing run is replayed with its seed.
//
// Faults happen one at a time: each is applied, held for hold_ms, healed, and the runner waits
// for the cluster to recover before the next. What each kind does (tools/chaos/chaos_run.h
// carries it out):
//  - kKill:    kill -9 the target process, wait hold_ms, start it again (same arguments);
//  - kPause:   SIGSTOP the target, wait hold_ms, SIGCONT;
//  - kDelay, kStall, kReset, kBlackHole: the fault on every fault proxy of the target link group
//    (tools/faultproxy/fault_proxy.h) for hold_ms, then heal (a reset is one-shot);
//  - kFeedStall: the feed simulator's own stall (SIGUSR1: stops sending, keeps its sockets, a
//    fresh image when it ends) for hold_ms.
// Targets: processes "primary", "secondary" (whichever node has that role when the fault is
// applied), "edge-a", "edge-b", "feed"; link groups "engine<->engine" (both directions of
// replication and peer watching), "engine->edge-a", "engine->edge-b", "feed->primary",
// "feed->secondary", "feed->engines" (both).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace oddsbus::chaos {

enum class ChaosFaultKind { kKill, kPause, kDelay, kStall, kReset, kBlackHole, kFeedStall };

const char* chaos_fault_name(ChaosFaultKind kind);  // "kill -9", "SIGSTOP", "delay", ...

struct ChaosFault {
  ChaosFaultKind kind = ChaosFaultKind::kKill;
  std::string target;
  uint32_t hold_ms = 0;
  uint32_t delay_ms = 0;  // kDelay

  // "kill -9 primary", "delay 120ms engine->edge-a", ... (the summary table's row name omits
  // the numbers: see row()).
  std::string describe() const;
  std::string row() const;
};

struct ScheduleConfig {
  uint64_t seed = 1;
  size_t faults = 20;
  uint32_t min_hold_ms = 200;
  uint32_t max_hold_ms = 2500;
  // Faults that silence the feed (silences_feed) may last this much longer, so that some outlast
  // stale_after and the stale check has outages to look at.
  uint32_t long_silence_ms = 3000;
};

std::vector<ChaosFault> make_schedule(const ScheduleConfig& config);

// A fault during which the feed is unheard by every engine (the stale check's outages): the feed
// simulator paused, killed or stalled, or both engines' feed links stalled or black-holed.
bool silences_feed(const ChaosFault& fault);

}  // namespace oddsbus::chaos
