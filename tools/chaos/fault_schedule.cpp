#include "tools/chaos/fault_schedule.h"

#include <array>
#include <random>

namespace oddsbus::chaos {

const char* chaos_fault_name(ChaosFaultKind kind) {
  switch (kind) {
    case ChaosFaultKind::kKill:
      return "kill -9";
    case ChaosFaultKind::kPause:
      return "SIGSTOP";
    case ChaosFaultKind::kDelay:
      return "delay";
    case ChaosFaultKind::kStall:
      return "stall";
    case ChaosFaultKind::kReset:
      return "reset";
    case ChaosFaultKind::kBlackHole:
      return "black-hole";
    case ChaosFaultKind::kFeedStall:
      return "feed stall";
  }
  return "?";
}

std::string ChaosFault::describe() const {
  std::string out = chaos_fault_name(kind);
  if (kind == ChaosFaultKind::kDelay) out += " " + std::to_string(delay_ms) + "ms";
  out += " " + target;
  if (kind != ChaosFaultKind::kReset) out += " for " + std::to_string(hold_ms) + "ms";
  return out;
}

std::string ChaosFault::row() const { return std::string(chaos_fault_name(kind)) + " " + target; }

bool silences_feed(const ChaosFault& fault) {
  if (fault.target == "feed") {
    return fault.kind == ChaosFaultKind::kKill || fault.kind == ChaosFaultKind::kPause ||
           fault.kind == ChaosFaultKind::kFeedStall;
  }
  return fault.target == "feed->engines" &&
         (fault.kind == ChaosFaultKind::kStall || fault.kind == ChaosFaultKind::kBlackHole);
}

std::vector<ChaosFault> make_schedule(const ScheduleConfig& config) {
  struct Choice {
    ChaosFaultKind kind;
    const char* target;
    uint32_t weight;
  };
  using K = ChaosFaultKind;
  // Weights: the faults betting platforms fear most (a primary dying, a feed going quiet) come
  // up most often.
  static constexpr std::array kChoices{
      Choice{K::kKill, "primary", 6},
      Choice{K::kKill, "secondary", 3},
      Choice{K::kKill, "edge-a", 2},
      Choice{K::kKill, "edge-b", 2},
      Choice{K::kKill, "feed", 2},
      Choice{K::kPause, "primary", 3},
      Choice{K::kPause, "secondary", 2},
      Choice{K::kPause, "edge-a", 2},
      Choice{K::kPause, "edge-b", 1},
      Choice{K::kPause, "feed", 2},
      Choice{K::kFeedStall, "feed", 2},
      Choice{K::kDelay, "engine<->engine", 2},
      Choice{K::kStall, "engine<->engine", 2},
      Choice{K::kReset, "engine<->engine", 2},
      Choice{K::kBlackHole, "engine<->engine", 2},
      Choice{K::kDelay, "engine->edge-a", 2},
      Choice{K::kStall, "engine->edge-a", 2},
      Choice{K::kReset, "engine->edge-b", 2},
      Choice{K::kBlackHole, "engine->edge-b", 2},
      Choice{K::kDelay, "feed->primary", 1},
      Choice{K::kReset, "feed->primary", 2},
      Choice{K::kBlackHole, "feed->primary", 1},
      Choice{K::kStall, "feed->secondary", 1},
      Choice{K::kReset, "feed->secondary", 1},
      Choice{K::kStall, "feed->engines", 2},
      Choice{K::kBlackHole, "feed->engines", 2},
  };
  uint32_t total = 0;
  for (const Choice& c : kChoices) total += c.weight;
  std::mt19937_64 rng(config.seed);
  auto uniform = [&](uint32_t lo, uint32_t hi) {
    return lo + static_cast<uint32_t>(rng() % (uint64_t{hi} - lo + 1));
  };
  std::vector<ChaosFault> schedule;
  schedule.reserve(config.faults);
  for (size_t i = 0; i < config.faults; ++i) {
    uint32_t pick = uniform(0, total - 1);
    const Choice* choice = &kChoices[0];
    for (const Choice& c : kChoices) {
      if (pick < c.weight) {
        choice = &c;
        break;
      }
      pick -= c.weight;
    }
    ChaosFault fault;
    fault.kind = choice->kind;
    fault.target = choice->target;
    fault.hold_ms = uniform(config.min_hold_ms, config.max_hold_ms);
    if (silences_feed(fault)) {
      fault.hold_ms = uniform(config.min_hold_ms, config.max_hold_ms + config.long_silence_ms);
    }
    if (fault.kind == K::kDelay) fault.delay_ms = uniform(20, 400);
    schedule.push_back(std::move(fault));
  }
  return schedule;
}

}  // namespace oddsbus::chaos
