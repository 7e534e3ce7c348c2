// The record file: what each line actually sent (after faults), one JSON object per fact, so a
// test can compare what arrived with what was sent:
//   {"line":0,"seq":12,"kind":"price","market":1001,"selection":2,"price_e4":24800,"ns":...}
//   {"line":0,"seq":13,"kind":"status","market":1001,"status":"suspended","ns":...}
//   {"line":0,"seq":14,"kind":"settle","market":1001,"status":"settled","winners":[2],"ns":...}
//   {"line":0,"seq":15,"kind":"heartbeat","ns":...}
//   {"line":0,"seq":16,"kind":"market","market":1007,"event":507,"status":"open","ns":...}
//   {"line":1,"seq":17,"kind":"corrupt","bytes":143,"ns":...}
// seq is the provider seq (the same message has the same seq on every line; 0 for the image a
// connecting client gets). A message conveying several facts (a new market and its prices, an
// image) gives one record per fact with the same seq. Optional flags: "image":true for image
// records, "dup":true for the second copy of a duplicated message. ns is the wall clock (ns since
// the Unix epoch) when the bytes were handed to the socket(s). Dropped messages, and messages
// nobody was connected to receive, are not recorded.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "feeds/sim/writer.h"

namespace oddsbus::feeds::sim {

void append_record(std::string& out, uint32_t line, uint64_t seq, const SimFact& fact, bool image,
                   bool duplicate, uint64_t ns);
void append_corrupt_record(std::string& out, uint32_t line, uint64_t seq, size_t bytes,
                           uint64_t ns);

}  // namespace oddsbus::feeds::sim
