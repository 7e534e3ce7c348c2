#include "schemas/snapshot_image.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "flatbuffers/flatbuffers.h"
#include "schemas/crc32c.h"
#include "schemas/snapshot_generated.h"
#include "schemas/state_digest.h"

namespace oddsbus {

namespace {

flatbuffers::Offset<fb::MarketImage> build_market(
    flatbuffers::FlatBufferBuilder& fbb, const MarketRecord& market,
    std::vector<flatbuffers::Offset<fb::SelectionImage>>& scratch) {
  scratch.clear();
  for (const SelectionState& s : market.selections) {
    const auto name = fbb.CreateString(s.name);
    const auto odds =
        s.odds.empty() ? flatbuffers::Offset<flatbuffers::String>() : fbb.CreateString(s.odds);
    scratch.push_back(fb::CreateSelectionImage(fbb, s.id, name, s.price_e4, odds, s.void_factor_e4,
                                               s.dead_heat_factor_e4));
  }
  const auto selections = fbb.CreateVector(scratch);
  const auto winners = market.winners.empty() ? flatbuffers::Offset<flatbuffers::Vector<uint64_t>>()
                                              : fbb.CreateVector(market.winners);
  const auto name = fbb.CreateString(market.name);
  return fb::CreateMarketImage(fbb, market.id, market.event, name, market.status, market.reason,
                               selections, winners, market.market_seq, market.last_seq,
                               market.updated_ns, market.voided);
}

constexpr uint32_t kSnapshotCrcPlaceholder = 0xFFFFFFFF;  // snapshot.fbs, SnapshotChunk.crc

// Where a verified chunk's crc field lies, as an offset into its bytes; nullopt when it has none.
// (The generated table hides flatbuffers::Table's accessors; the table is one, at one address.)
std::optional<size_t> crc_offset(std::span<const uint8_t> bytes) {
  const auto* table =
      reinterpret_cast<const flatbuffers::Table*>(fb::GetSnapshotChunk(bytes.data()));
  const uint8_t* at = table->GetAddressOf(fb::SnapshotChunk::VT_CRC);
  if (at == nullptr) return std::nullopt;
  return static_cast<size_t>(at - bytes.data());
}

// CRC32C of `bytes` with the crc field at `offset` holding the placeholder.
uint32_t chunk_crc(std::span<const uint8_t> bytes, size_t offset, std::vector<uint8_t>& scratch) {
  scratch.assign(bytes.begin(), bytes.end());
  flatbuffers::WriteScalar<uint32_t>(scratch.data() + offset, kSnapshotCrcPlaceholder);
  return crc32c(scratch.data(), scratch.size());
}

std::string describe(size_t index, std::string_view problem) {
  return "snapshot chunk " + std::to_string(index) + ": " + std::string(problem);
}

// Reads one market image into a record, checking what MarketState's invariants need.
std::expected<MarketRecord, std::string> read_market(const fb::MarketImage& image) {
  MarketRecord record;
  record.id = image.market();
  record.event = image.event();
  record.name = image.name() ? image.name()->str() : std::string();
  record.status = image.status();
  record.reason = image.reason();
  if (record.status > fb::MarketStatus::MAX || record.reason > fb::StatusReason::MAX) {
    return std::unexpected("market " + std::to_string(record.id) + " has an unknown status");
  }
  if (image.selections()) {
    record.selections.reserve(image.selections()->size());
    for (const fb::SelectionImage* s : *image.selections()) {
      if (!record.selections.empty() && record.selections.back().id >= s->selection()) {
        return std::unexpected("market " + std::to_string(record.id) +
                               ": selections not ascending by id");
      }
      SelectionState& selection = record.selections.emplace_back();
      selection.id = s->selection();
      selection.name = s->name() ? s->name()->str() : std::string();
      selection.price_e4 = s->price_e4();
      selection.odds = s->odds() ? s->odds()->str() : std::string();
      selection.void_factor_e4 = s->void_factor_e4();
      selection.dead_heat_factor_e4 = s->dead_heat_factor_e4();
    }
  }
  if (image.winners()) record.winners.assign(image.winners()->begin(), image.winners()->end());
  record.voided = image.voided();
  record.market_seq = image.market_seq();
  record.last_seq = image.last_seq();
  record.updated_ns = image.updated_ns();
  return record;
}

}  // namespace

std::vector<std::vector<uint8_t>> encode_snapshot(const MarketState& state, uint32_t channel,
                                                  uint32_t epoch, uint64_t epoch_start,
                                                  size_t markets_per_chunk) {
  markets_per_chunk = std::max<size_t>(markets_per_chunk, 1);
  const auto& markets = state.markets();
  const size_t count =
      std::max<size_t>(1, (markets.size() + markets_per_chunk - 1) / markets_per_chunk);
  std::vector<std::vector<uint8_t>> chunks;
  chunks.reserve(count);
  flatbuffers::FlatBufferBuilder fbb(64 * 1024);
  std::vector<flatbuffers::Offset<fb::MarketImage>> images;
  std::vector<flatbuffers::Offset<fb::SelectionImage>> selections;
  auto it = markets.begin();
  for (size_t index = 0; index < count; ++index) {
    fbb.Clear();
    images.clear();
    for (size_t i = 0; i < markets_per_chunk && it != markets.end(); ++i, ++it) {
      images.push_back(build_market(fbb, it->second, selections));
    }
    const auto vector = fbb.CreateVector(images);
    fb::SnapshotChunkBuilder chunk(fbb);
    chunk.add_channel(channel);
    chunk.add_epoch(epoch);
    chunk.add_epoch_start(epoch_start);
    chunk.add_seq(state.seq());
    chunk.add_index(static_cast<uint32_t>(index));
    chunk.add_count(static_cast<uint32_t>(count));
    chunk.add_markets(vector);
    chunk.add_crc(kSnapshotCrcPlaceholder);
    fb::FinishSnapshotChunkBuffer(fbb, chunk.Finish());
    std::vector<uint8_t>& bytes =
        chunks.emplace_back(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
    const size_t offset = crc_offset(bytes).value();  // just written
    flatbuffers::WriteScalar<uint32_t>(bytes.data() + offset, crc32c(bytes.data(), bytes.size()));
  }
  return chunks;
}

namespace {

std::expected<SnapshotImage, SnapshotRejection> decode(
    std::span<const std::span<const uint8_t>> chunks) {
  const auto malformed = [](std::string detail) {
    return std::unexpected(SnapshotRejection{SnapshotRefusal::kMalformed, std::move(detail)});
  };
  if (chunks.empty()) return malformed("snapshot has no chunks");
  std::vector<uint8_t> scratch;
  SnapshotImage image;
  std::map<uint64_t, MarketRecord> markets;
  std::vector<uint64_t> aligned;  // chunks from ZeroMQ or LMDB need not be 8-byte aligned
  for (size_t index = 0; index < chunks.size(); ++index) {
    std::span<const uint8_t> bytes = chunks[index];
    if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(uint64_t) != 0) {
      aligned.assign((bytes.size() + 7) / 8, 0);
      std::memcpy(aligned.data(), bytes.data(), bytes.size());
      bytes = {reinterpret_cast<const uint8_t*>(aligned.data()), bytes.size()};
    }
    flatbuffers::Verifier verifier(bytes.data(), bytes.size());
    if (!fb::VerifySnapshotChunkBuffer(verifier)) {
      return malformed(describe(index, "fails the FlatBuffers verifier"));
    }
    if (const std::optional<size_t> offset = crc_offset(bytes)) {
      const uint32_t stated = flatbuffers::ReadScalar<uint32_t>(bytes.data() + *offset);
      if (chunk_crc(bytes, *offset, scratch) != stated) {
        return std::unexpected(SnapshotRejection{
            SnapshotRefusal::kBadCrc, describe(index, "its CRC32C does not match its bytes")});
      }
    }
    const fb::SnapshotChunk& chunk = *fb::GetSnapshotChunk(bytes.data());
    if (index == 0) {
      image.channel = chunk.channel();
      image.epoch = chunk.epoch();
      image.epoch_start = chunk.epoch_start();
      image.seq = chunk.seq();
    } else if (chunk.channel() != image.channel || chunk.epoch() != image.epoch ||
               chunk.epoch_start() != image.epoch_start || chunk.seq() != image.seq) {
      return malformed(describe(index, "belongs to a different snapshot"));
    }
    if (chunk.count() != chunks.size()) {
      return malformed(describe(index, "says the snapshot has " + std::to_string(chunk.count()) +
                                           " chunks, got " + std::to_string(chunks.size())));
    }
    if (chunk.index() != index) {
      return malformed(describe(index, "is chunk " + std::to_string(chunk.index()) +
                                           " (missing, repeated or out of order)"));
    }
    if (chunk.markets() == nullptr) continue;
    for (const fb::MarketImage* market : *chunk.markets()) {
      auto record = read_market(*market);
      if (!record) return malformed(describe(index, record.error()));
      if (!markets.empty() && markets.rbegin()->first >= record->id) {
        return malformed(
            describe(index, "markets not ascending by id at market " + std::to_string(record->id)));
      }
      const uint64_t id = record->id;
      markets.emplace_hint(markets.end(), id, std::move(*record));
    }
  }
  image.state.load(image.seq, image.epoch, std::move(markets));
  return image;
}

}  // namespace

std::expected<SnapshotImage, std::string> decode_snapshot(
    std::span<const std::span<const uint8_t>> chunks) {
  auto image = decode(chunks);
  if (!image) return std::unexpected(std::move(image.error().detail));
  return std::move(*image);
}

std::expected<SnapshotImage, SnapshotRejection> decode_checked_snapshot(
    std::span<const std::span<const uint8_t>> chunks, uint64_t seq, uint32_t epoch, uint64_t digest,
    uint32_t chunk_count) {
  if (chunks.size() != chunk_count) {
    return std::unexpected(SnapshotRejection{SnapshotRefusal::kHeaderMismatch,
                                             "the reply says " + std::to_string(chunk_count) +
                                                 " chunks, " + std::to_string(chunks.size()) +
                                                 " came"});
  }
  auto image = decode(chunks);
  if (!image) return image;
  if (image->seq != seq || image->epoch != epoch) {
    return std::unexpected(SnapshotRejection{SnapshotRefusal::kHeaderMismatch,
                                             "the image is at seq " + std::to_string(image->seq) +
                                                 " epoch " + std::to_string(image->epoch) +
                                                 ", the reply says seq " + std::to_string(seq) +
                                                 " epoch " + std::to_string(epoch)});
  }
  if (const uint64_t actual = state_digest(image->state); actual != digest) {
    return std::unexpected(SnapshotRejection{
        SnapshotRefusal::kDigestMismatch,
        "the image's digest is " + digest_hex(actual) + ", the reply says " + digest_hex(digest)});
  }
  return image;
}

}  // namespace oddsbus
