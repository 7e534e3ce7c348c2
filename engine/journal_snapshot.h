// Journal snapshots (DESIGN section 4, issue 13): the folded market state at a seq, stored in the
// journal's "snapshots" database (engine/journal.h) so replay queries and a restarting node fold
// from the nearest snapshot at or below their target instead of from seq 1, and so retention can
// prune the log behind one.
//
// A snapshot record is the recovery service's state image (schemas/snapshot.fbs, one chunk per
// kMarketsPerChunk markets, each with its own CRC32C) wrapped in a header, plus each market's
// last price source (what `history` reports as a price's provenance, which the image lacks):
//   header, 48 bytes, little-endian: u32 magic "OBSR" | u32 crc32c of the whole record with
//     this field 0 | u64 seq | u64 digest (DESIGN section 7) | u64 epoch_start | u32 epoch |
//     u32 chunk count | u32 source count | u32 desk size (0 in records written before the desk
//     ledger was kept: they hold none)
//   chunk count times:  u32 size | chunk bytes (a SnapshotChunk)
//   source count times: u64 market | u32 size | source name bytes
//   desk size bytes:    the desk ledger (engine/desk_ledger.h, DeskLedger::encode)
// A reader checks the record's CRC, every chunk (verifier and CRC), the chunks' seq and epoch
// against the header, and the decoded state's digest against the header, before using it. A
// snapshot that fails any check is skipped with a warning and counted: the reader falls back to
// the previous snapshot, or to seq 1.
//
// Thread safety: free functions; each opens its own JournalReader, so call from any one thread.
// They hold no read transaction between calls.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/desk_ledger.h"
#include "engine/journal.h"
#include "engine/journal_scan.h"
#include "schemas/market_state.h"
#include "schemas/snapshot_image.h"

namespace oddsbus::engine {

inline constexpr uint32_t kSnapshotRecordMagic = 0x5253424F;  // "OBSR" read as little-endian u32

// The market state a snapshot holds, with what the state alone does not keep: the source of each
// market's last price (PriceUpdate::source), and the channel's epoch start. Folding a frame
// updates all three; it is what a snapshot writer keeps and what a reader restores.
struct SnapshotState {
  MarketState state;
  uint64_t epoch_start = 1;  // seq of the current epoch's first frame
  std::unordered_map<uint64_t, std::string> price_sources;
  DeskLedger desk;  // held desk overrides and recent desk requests

  void apply(const fb::Frame& frame);
  void clear();
};

// Encodes `snapshot` (at snapshot.state.seq()) as one record for Journal::put_snapshot().
std::vector<uint8_t> encode_snapshot_record(const SnapshotState& snapshot, uint32_t channel);

// Decodes and checks one record (see above); a one-line reason when any check fails.
std::expected<SnapshotState, std::string> decode_snapshot_record(std::span<const uint8_t> record,
                                                                 uint64_t key);

// What a reader found looking for a place to start folding.
struct SnapshotStart {
  std::optional<SnapshotState> snapshot;  // nullopt: fold from seq 1
  uint64_t corrupt_skipped = 0;           // snapshots that failed a check (each logged)
  ScanStart scan() const {
    return snapshot ? ScanStart{snapshot->state.seq(), snapshot->state.epoch()} : ScanStart{};
  }
};

// The newest snapshot at or below `seq` that passes every check. A snapshot that fails one is
// logged (a warning naming its seq and the problem), counted, and skipped for the one below it.
// Errors: the snapshot database could not be read.
std::expected<SnapshotStart, std::string> nearest_snapshot(const Journal& journal, uint64_t seq);

// The seqs of the journal's snapshots, ascending (not checked).
std::expected<std::vector<uint64_t>, std::string> snapshot_seqs(const Journal& journal);

// The first seq the log holds (1 unless retention pruned it; 0 when the log is empty), read from
// its first record. Reads nothing the journal's writer changes outside LMDB: any thread.
std::expected<uint64_t, std::string> log_first_seq(const Journal& journal);

// Where a fold that must reach `to_seq` starts: nearest_snapshot(to_seq), except that with no
// usable snapshot on a log that does not begin at seq 1 (pruned), it is an error naming the seq
// the log begins at.
std::expected<SnapshotStart, std::string> fold_start(const Journal& journal, uint64_t to_seq);

}  // namespace oddsbus::engine
