#include "engine/committed_queue.h"

#include <algorithm>
#include <cstring>

namespace oddsbus::engine {

namespace {

constexpr size_t kAlign = 64;  // every record, so a padding header always fits before the end

size_t aligned(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

void bump(std::atomic<uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace

CommittedQueue::CommittedQueue(const CommittedQueueConfig& config)
    : max_batches_(std::max<size_t>(config.max_batches, 1)),
      capacity_(aligned(std::max<size_t>(config.max_bytes, 4096))),
      ring_(std::make_unique<uint8_t[]>(capacity_)) {}

bool CommittedQueue::put(Kind kind, uint64_t first_seq, uint64_t last_seq,
                         std::span<const uint8_t> bytes) {
  const size_t total = aligned(sizeof(Header) + bytes.size());
  if (total > capacity_) return false;
  const uint64_t in = in_.load(std::memory_order_relaxed);
  if (in - out_.load(std::memory_order_acquire) >= max_batches_) return false;
  uint64_t head = head_.load(std::memory_order_relaxed);
  const uint64_t tail = tail_.load(std::memory_order_acquire);
  size_t offset = static_cast<size_t>(head % capacity_);
  const size_t to_end = capacity_ - offset;
  // A record never wraps: when it does not fit before the end, the rest is padding.
  const size_t pad = to_end < total ? to_end : 0;
  if (head - tail + pad + total > capacity_) return false;
  if (pad > 0) {
    const Header padding{0, 0, 0, 0, 0, pad};
    std::memcpy(ring_.get() + offset, &padding, sizeof padding);
    head += pad;
    offset = 0;
  }
  const Header header{static_cast<uint32_t>(kind),
                      static_cast<uint32_t>(bytes.size()),
                      first_seq,
                      last_seq,
                      generation_.load(std::memory_order_relaxed),
                      total};
  std::memcpy(ring_.get() + offset, &header, sizeof header);
  if (!bytes.empty()) std::memcpy(ring_.get() + offset + sizeof header, bytes.data(), bytes.size());
  in_.store(in + 1, std::memory_order_release);
  head_.store(head + total, std::memory_order_release);
  return true;
}

void CommittedQueue::begin_rewrite() { generation_.fetch_add(1, std::memory_order_acq_rel); }

void CommittedQueue::end_rewrite(uint64_t from_seq) {
  generation_.fetch_add(1, std::memory_order_acq_rel);
  if (rewrite_pending_) from_seq = std::min(from_seq, pending_from_);
  if (put(Kind::kRewritten, from_seq, 0, {})) {
    rewrite_pending_ = false;
  } else {
    rewrite_pending_ = true;
    pending_from_ = from_seq;
  }
  bump(counters_.rewrites);
}

bool CommittedQueue::push(uint64_t first_seq, uint64_t last_seq, std::span<const uint8_t> batch) {
  if (rewrite_pending_ && put(Kind::kRewritten, pending_from_, 0, {})) rewrite_pending_ = false;
  if (rewrite_pending_ || batch.size() > UINT32_MAX ||
      !put(Kind::kBatch, first_seq, last_seq, batch)) {
    bump(counters_.dropped);
    return false;
  }
  bump(counters_.pushed);
  return true;
}

std::optional<CommittedQueue::Item> CommittedQueue::front() {
  uint64_t tail = tail_.load(std::memory_order_relaxed);
  const uint64_t head = head_.load(std::memory_order_acquire);
  while (tail != head) {
    Header header;
    const uint8_t* at = ring_.get() + tail % capacity_;
    std::memcpy(&header, at, sizeof header);
    if (header.kind == 0) {  // padding: the next record is at the ring's start
      tail += header.total;
      tail_.store(tail, std::memory_order_release);
      continue;
    }
    return Item{static_cast<Kind>(header.kind), header.first_seq, header.last_seq,
                header.generation, std::span<const uint8_t>(at + sizeof header, header.size)};
  }
  return std::nullopt;
}

void CommittedQueue::pop() {
  const uint64_t tail = tail_.load(std::memory_order_relaxed);
  if (tail == head_.load(std::memory_order_acquire)) return;
  Header header;
  std::memcpy(&header, ring_.get() + tail % capacity_, sizeof header);
  if (header.kind == 0) return;  // front() first
  // Release the item before the bytes: depth() never counts an item whose bytes were reused.
  out_.store(out_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  tail_.store(tail + header.total, std::memory_order_release);
}

}  // namespace oddsbus::engine
