#include "engine/journal_snapshot.h"

#include <cinttypes>
#include <cstring>

#include "engine/byte_record.h"
#include "schemas/batch.h"
#include "schemas/crc32c.h"
#include "schemas/log.h"
#include "schemas/state_digest.h"

namespace oddsbus::engine {
namespace {

constexpr size_t kMarketsPerChunk = 1024;

struct RecordHeader {
  uint32_t magic = kSnapshotRecordMagic;
  uint32_t crc = 0;
  uint64_t seq = 0;
  uint64_t digest = 0;
  uint64_t epoch_start = 1;
  uint32_t epoch = 0;
  uint32_t chunk_count = 0;
  uint32_t source_count = 0;
  uint32_t desk_size = 0;  // reserved (0) in records written before the desk ledger
};
static_assert(sizeof(RecordHeader) == 48);

}  // namespace

void SnapshotState::apply(const fb::Frame& frame) {
  desk.apply(frame, state);
  state.apply(frame);
  if (frame.payload_type() == fb::Payload::EpochChange) {
    epoch_start = frame.seq();
  } else if (frame.payload_type() == fb::Payload::PriceUpdate) {
    const auto* update = frame.payload_as_PriceUpdate();
    price_sources[update->market()] = update->source() ? update->source()->str() : std::string();
  } else if (frame.payload_type() == fb::Payload::MarketEviction) {
    price_sources.erase(frame.payload_as_MarketEviction()->market());
  }
}

void SnapshotState::clear() {
  state.clear();
  epoch_start = 1;
  price_sources.clear();
  desk.clear();
}

std::vector<uint8_t> encode_snapshot_record(const SnapshotState& snapshot, uint32_t channel) {
  const auto chunks = encode_snapshot(snapshot.state, channel, snapshot.state.epoch(),
                                      snapshot.epoch_start, kMarketsPerChunk);
  RecordHeader header;
  header.seq = snapshot.state.seq();
  header.digest = state_digest(snapshot.state);
  header.epoch_start = snapshot.epoch_start;
  header.epoch = snapshot.state.epoch();
  header.chunk_count = static_cast<uint32_t>(chunks.size());
  header.source_count = static_cast<uint32_t>(snapshot.price_sources.size());
  std::vector<uint8_t> desk;  // none for an empty ledger: the record is as it was before the desk's
  if (!snapshot.desk.held().empty() || snapshot.desk.requests() > 0) snapshot.desk.encode(desk);
  header.desk_size = static_cast<uint32_t>(desk.size());
  std::vector<uint8_t> out;
  size_t size = sizeof header;
  for (const auto& chunk : chunks) size += 4 + chunk.size();
  out.reserve(size + snapshot.price_sources.size() * 24);
  put_value(out, header);
  for (const auto& chunk : chunks) {
    put_value(out, static_cast<uint32_t>(chunk.size()));
    out.insert(out.end(), chunk.begin(), chunk.end());
  }
  // Ascending by market, so equal states encode to equal records.
  std::map<uint64_t, const std::string*> sources;
  for (const auto& [market, source] : snapshot.price_sources) sources[market] = &source;
  for (const auto& [market, source] : sources) {
    put_value(out, market);
    put_value(out, static_cast<uint32_t>(source->size()));
    out.insert(out.end(), source->begin(), source->end());
  }
  out.insert(out.end(), desk.begin(), desk.end());
  const uint32_t crc = crc32c(out.data(), out.size());  // crc field is 0 here
  std::memcpy(out.data() + offsetof(RecordHeader, crc), &crc, sizeof crc);
  return out;
}

std::expected<SnapshotState, std::string> decode_snapshot_record(std::span<const uint8_t> record,
                                                                 uint64_t key) {
  RecordHeader header;
  if (record.size() < sizeof header) return std::unexpected("record is too short");
  std::memcpy(&header, record.data(), sizeof header);
  if (header.magic != kSnapshotRecordMagic) return std::unexpected("not a snapshot record");
  std::vector<uint8_t> copy(record.begin(), record.end());
  std::memset(copy.data() + offsetof(RecordHeader, crc), 0, sizeof header.crc);
  if (crc32c(copy.data(), copy.size()) != header.crc) {
    return std::unexpected("CRC32C does not match the record");
  }
  if (header.seq != key) return std::unexpected("record's seq does not match its key");
  ByteReader reader(std::span<const uint8_t>(copy).subspan(sizeof header));
  // u64 storage keeps each chunk 8-byte aligned for the FlatBuffers verifier.
  std::vector<std::vector<uint64_t>> storage(header.chunk_count);
  std::vector<std::span<const uint8_t>> chunks;
  for (uint32_t i = 0; i < header.chunk_count; ++i) {
    uint32_t size = 0;
    if (!reader.get(size)) return std::unexpected("record ends inside its chunks");
    auto bytes = reader.take(size);
    if (!bytes) return std::unexpected("record ends inside its chunks");
    storage[i].resize((size + 7) / 8);
    std::memcpy(storage[i].data(), bytes->data(), size);
    chunks.emplace_back(reinterpret_cast<const uint8_t*>(storage[i].data()), size);
  }
  auto image =
      decode_checked_snapshot(chunks, header.seq, header.epoch, header.digest, header.chunk_count);
  if (!image) return std::unexpected(image.error().detail);
  SnapshotState snapshot;
  snapshot.state = std::move(image->state);
  snapshot.epoch_start = image->epoch_start;
  for (uint32_t i = 0; i < header.source_count; ++i) {
    uint64_t market = 0;
    uint32_t size = 0;
    if (!reader.get(market) || !reader.get(size)) return std::unexpected("record ends early");
    auto bytes = reader.take(size);
    if (!bytes) return std::unexpected("record ends early");
    snapshot.price_sources[market].assign(bytes->begin(), bytes->end());
  }
  if (header.desk_size > 0) {
    auto bytes = reader.take(header.desk_size);
    if (!bytes) return std::unexpected("record ends inside its desk ledger");
    auto desk = DeskLedger::decode(*bytes);
    if (!desk) return std::unexpected(desk.error());
    snapshot.desk = std::move(*desk);
  }
  if (!reader.empty()) return std::unexpected("record has bytes after its sources");
  return snapshot;
}

std::expected<SnapshotStart, std::string> nearest_snapshot(const Journal& journal, uint64_t seq) {
  SnapshotStart start;
  if (seq == 0) return start;
  JournalReader reader(journal);
  auto scanned = reader.scan_snapshots(seq, JournalReader::Direction::kDown,
                                       [&](uint64_t key, std::span<const uint8_t> record) {
                                         auto decoded = decode_snapshot_record(record, key);
                                         if (decoded) {
                                           start.snapshot = std::move(*decoded);
                                           return false;
                                         }
                                         ++start.corrupt_skipped;
                                         log(LogLevel::kWarn,
                                             "journal %s: snapshot at seq %" PRIu64
                                             " is damaged (%s); skipped, folding from an "
                                             "earlier point",
                                             journal.dir().c_str(), key, decoded.error().c_str());
                                         return true;
                                       });
  if (!scanned) return std::unexpected(scanned.error());
  return start;
}

std::expected<std::vector<uint64_t>, std::string> snapshot_seqs(const Journal& journal) {
  std::vector<uint64_t> seqs;
  JournalReader reader(journal);
  auto scanned = reader.scan_snapshots(0, JournalReader::Direction::kUp,
                                       [&](uint64_t key, std::span<const uint8_t>) {
                                         seqs.push_back(key);
                                         return true;
                                       });
  if (!scanned) return std::unexpected(scanned.error());
  return seqs;
}

std::expected<uint64_t, std::string> log_first_seq(const Journal& journal) {
  uint64_t first = 0;
  JournalReader reader(journal);
  auto scanned = reader.scan(1, [&](uint64_t key, std::span<const uint8_t>) {
    first = key;
    return false;
  });
  if (!scanned) return std::unexpected(scanned.error());
  return first;
}

std::expected<SnapshotStart, std::string> fold_start(const Journal& journal, uint64_t to_seq) {
  auto start = nearest_snapshot(journal, to_seq);
  if (!start) return start;
  if (start->snapshot) return start;
  auto first = log_first_seq(journal);
  if (!first) return std::unexpected(first.error());
  if (*first > 1 && to_seq > 0) {
    return std::unexpected("journal " + journal.dir() + " was pruned: its log begins at seq " +
                           std::to_string(*first) +
                           " and no usable snapshot lies at or below seq " +
                           std::to_string(to_seq) +
                           (start->corrupt_skipped > 0 ? " (damaged snapshots were skipped)" : ""));
  }
  return start;
}

}  // namespace oddsbus::engine
