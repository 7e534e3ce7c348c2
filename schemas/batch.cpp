#include "schemas/batch.h"

#include <cassert>

#include "schemas/crc32c.h"

namespace oddsbus {
namespace {

constexpr size_t pad8(size_t n) { return (n + 7) & ~size_t{7}; }

bool aligned_u64_vectors(const fb::Frame& frame) {
  if (const auto* settlement = frame.payload_as_Settlement()) {
    if (const auto* winners = settlement->winners()) {
      return reinterpret_cast<uintptr_t>(winners->data()) % alignof(uint64_t) == 0;
    }
  }
  return true;
}

}  // namespace

BatchWriter::BatchWriter(size_t reserve_bytes) { buffer_.resize(pad8(reserve_bytes) / 8 + 3); }

void BatchWriter::grow(size_t bytes) {
  if (bytes > buffer_.size() * 8) buffer_.resize(std::max(buffer_.size() * 2, pad8(bytes) / 8));
}

void BatchWriter::begin(uint32_t channel, uint64_t first_seq, uint32_t flags) {
  BatchHeader h;
  h.channel = channel;
  h.first_seq = first_seq;
  h.flags = flags;
  std::memcpy(data(), &h, sizeof h);
  size_ = kBatchHeaderSize;
}

void BatchWriter::add(std::span<const uint8_t> frame) {
  assert(size_ >= kBatchHeaderSize && "begin() first");
  assert(frame.size() <= kMaxFrameSize);
  const size_t padded = pad8(frame.size());
  grow(size_ + kRecordHeaderSize + padded);
  uint8_t* p = data() + size_;
  const uint32_t len = static_cast<uint32_t>(frame.size());
  const uint32_t crc = crc32c(frame.data(), frame.size());
  std::memcpy(p, &len, 4);
  std::memcpy(p + 4, &crc, 4);
  std::memcpy(p + kRecordHeaderSize, frame.data(), frame.size());
  std::memset(p + kRecordHeaderSize + frame.size(), 0, padded - frame.size());
  size_ += kRecordHeaderSize + padded;
  BatchHeader h = header();
  ++h.count;
  std::memcpy(data(), &h, sizeof h);
}

std::string_view to_string(BatchError error) {
  switch (error) {
    case BatchError::kTruncated:
      return "truncated";
    case BatchError::kBadMagic:
      return "bad_magic";
    case BatchError::kBadCrc:
      return "bad_crc";
    case BatchError::kBadFrame:
      return "bad_frame";
    case BatchError::kSeqMismatch:
      return "seq_mismatch";
    case BatchError::kEmpty:
      return "empty";
  }
  return "unknown";
}

std::expected<void, BatchFault> BatchReader::open(std::span<const uint8_t> bytes) {
  frames_.clear();
  frame_bytes_.clear();
  header_ = BatchHeader{};
  if (bytes.size() < kBatchHeaderSize)
    return std::unexpected(BatchFault{BatchError::kTruncated, 0});
  if (reinterpret_cast<uintptr_t>(bytes.data()) % 8 != 0) {
    scratch_.resize(pad8(bytes.size()) / 8);
    std::memcpy(scratch_.data(), bytes.data(), bytes.size());
    bytes = {reinterpret_cast<const uint8_t*>(scratch_.data()), bytes.size()};
  }
  std::memcpy(&header_, bytes.data(), sizeof header_);
  if (header_.magic != kBatchMagic) {
    return std::unexpected(BatchFault{BatchError::kBadMagic, header_.first_seq});
  }
  if (header_.count == 0) return std::unexpected(BatchFault{BatchError::kEmpty, header_.first_seq});
  size_t offset = kBatchHeaderSize;
  for (uint32_t i = 0; i < header_.count; ++i) {
    const uint64_t seq = header_.first_seq + i;
    if (bytes.size() - offset < kRecordHeaderSize) {
      return std::unexpected(BatchFault{BatchError::kTruncated, seq});
    }
    uint32_t len = 0;
    uint32_t crc = 0;
    std::memcpy(&len, bytes.data() + offset, 4);
    std::memcpy(&crc, bytes.data() + offset + 4, 4);
    offset += kRecordHeaderSize;
    if (len > kMaxFrameSize || bytes.size() - offset < pad8(len)) {
      return std::unexpected(BatchFault{BatchError::kTruncated, seq});
    }
    const uint8_t* frame = bytes.data() + offset;
    if (crc32c(frame, len) != crc) return std::unexpected(BatchFault{BatchError::kBadCrc, seq});
    flatbuffers::Verifier verifier(frame, len);
    if (!fb::VerifyFrameBuffer(verifier)) {
      return std::unexpected(BatchFault{BatchError::kBadFrame, seq});
    }
    const fb::Frame* f = fb::GetFrame(frame);
    // The verifier accepts an absent table and checks vectors to 4 bytes only: a payload type
    // without its payload, or a u64 vector off its 8-byte boundary, would be read as UB later.
    if ((f->payload_type() != fb::Payload::NONE && f->payload() == nullptr) ||
        !aligned_u64_vectors(*f)) {
      return std::unexpected(BatchFault{BatchError::kBadFrame, seq});
    }
    if (f->seq() != seq || f->channel() != header_.channel) {
      return std::unexpected(BatchFault{BatchError::kSeqMismatch, seq});
    }
    frames_.push_back(f);
    frame_bytes_.emplace_back(frame, len);
    offset += pad8(len);
  }
  if (offset != bytes.size()) {
    return std::unexpected(BatchFault{BatchError::kTruncated, header_.first_seq + header_.count});
  }
  return {};
}

}  // namespace oddsbus
