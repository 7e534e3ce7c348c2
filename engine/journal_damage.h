// How every replay query (odds-replay) says it cannot read past damage: one line naming the
// journal, the first bad seq and the problem, and what to run to learn more.
#pragma once

#include <string>

#include "engine/journal.h"
#include "engine/journal_scan.h"

namespace oddsbus::engine {

inline std::string damage_message(const Journal& journal, const JournalFault& fault) {
  return "journal " + journal.dir() + " is damaged at seq " + std::to_string(fault.seq) + " (" +
         fault.problem + "); nothing past seq " + std::to_string(fault.seq - 1) +
         " can be read (odds-replay verify names the fault)";
}

}  // namespace oddsbus::engine
