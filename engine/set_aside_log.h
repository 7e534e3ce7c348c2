// Reading what a fenced node set aside (DESIGN section 4, "Takeover"; issue 13): when a node's
// history lost to a higher epoch, Journal::set_aside_from moved its frames from the divergence
// point on out of the log into DIR/set-aside/epoch-E-from-S.batches (engine/replica.cpp names
// them: E the losing epoch, S the first seq set aside), as length-prefixed batches (u64
// little-endian byte count, then one batch of schemas/batch.h). Nothing else reads them; these
// functions let an investigator see what the losing history contained (`odds-replay verify
// --set-aside`, `events --set-aside`).
//
// Every batch is checked as the journal's are (header, CRC32C, FlatBuffers verifier, seq
// continuity within its file), and nothing past the first bad frame of a file is reported as
// read. Files are read in order of (epoch, from seq), each streamed in one pass, so a large file
// is never held whole.
//
// Thread safety: plain functions; the views they pass to `visit` are valid during the call only.
#pragma once

#include <cstdint>
#include <cstdio>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "engine/journal.h"
#include "engine/replay.h"
#include "schemas/frame_generated.h"

namespace oddsbus::engine {

// The set-aside files of the journal in `journal_dir`, in order of (epoch, from seq) as their
// names say (other names after them, by name). Empty when nothing was ever set aside.
std::vector<std::string> set_aside_files(const std::string& journal_dir);

struct SetAsideReport {
  std::string path;
  bool ok = false;
  uint64_t frames = 0;
  uint64_t batches = 0;
  uint64_t first_seq = 0;  // 0: no frame read
  uint64_t last_seq = 0;
  uint32_t last_epoch = 0;
  uint64_t bad_seq = 0;  // when !ok: the first seq that could not be read whole and in order
  std::string problem;   // when !ok
};

// Checks one set-aside file. Fails only when it cannot be opened or read at all.
std::expected<SetAsideReport, std::string> verify_set_aside(const std::string& path);

// Calls visit(ctx, path, frame) for each frame of each set-aside file of `journal_dir`, in file
// order then seq order, until it returns false. Fails, naming the file and seq, at the first frame
// that does not check (the frames before it were visited).
using SetAsideVisit = bool (*)(void* ctx, const std::string& path, const fb::Frame& frame);
std::expected<void, std::string> scan_set_aside(const std::string& journal_dir, SetAsideVisit visit,
                                                void* ctx);

template <typename F>
std::expected<void, std::string> scan_set_aside(const std::string& journal_dir, F&& f) {
  return scan_set_aside(
      journal_dir,
      [](void* ctx, const std::string& path, const fb::Frame& frame) {
        return (*static_cast<std::remove_reference_t<F>*>(ctx))(path, frame);
      },
      &f);
}

// `odds-replay events --set-aside`: one JSON line per set-aside frame (schemas/frame_json.h, plus
// "set_aside": the file's name), for the frames in `query` and stamped within `times` (a linear
// read: set-aside files have no time index), with --market matching as write_events does (an
// event suspension of the market's event counts; events are learned from the journal's and the
// set-aside definitions). Returns how many it wrote.
std::expected<uint64_t, std::string> write_set_aside_events(const Journal& journal,
                                                            const EventsQuery& query, FILE* out,
                                                            const TimeRange& times = {});

}  // namespace oddsbus::engine
