#include "engine/journal_cursor.h"

#include <cstring>
#include <string>

namespace oddsbus::engine {

FrameCursor::FrameCursor(const Journal& journal) : journal_(journal), reader_(journal) {}

void FrameCursor::seek(uint64_t seq) {
  next_seq_ = seq == 0 ? 1 : seq;
  loaded_ = false;
  epoch_ = 0;
}

std::expected<bool, JournalFault> FrameCursor::load(uint64_t seq) {
  loaded_ = false;
  uint64_t key = 0;
  size_t size = 0;
  auto read = reader_.scan(seq, [&](uint64_t k, std::span<const uint8_t> bytes) {
    key = k;
    size = bytes.size();
    bytes_.resize((size + 7) / 8);
    std::memcpy(bytes_.data(), bytes.data(), size);
    return false;  // one record per read transaction
  });
  if (!read) return std::unexpected(JournalFault{seq, read.error()});
  if (size == 0 || key > seq) return false;  // none holds seq (yet)
  ++records_read_;
  auto opened = batch_.open({reinterpret_cast<const uint8_t*>(bytes_.data()), size});
  if (!opened && (batch_.frames().empty() || seq >= opened.error().seq)) {
    return std::unexpected(
        JournalFault{opened.error().seq,
                     "corrupt frame (" + std::string(to_string(opened.error().error)) + ")"});
  }
  if (batch_.header().first_seq != key || batch_.heartbeat() ||
      batch_.header().channel != journal_.info().channel) {
    return std::unexpected(JournalFault{key, "record header does not match its key or channel"});
  }
  if (key + batch_.frames().size() - 1 < seq) return false;  // the record before seq
  loaded_ = true;
  return true;
}

std::expected<const fb::Frame*, JournalFault> FrameCursor::next() {
  const uint64_t seq = next_seq_;
  const auto frames = batch_.frames();
  const bool in_loaded =
      loaded_ && !frames.empty() && frames.front()->seq() <= seq && seq <= frames.back()->seq();
  if (!in_loaded) {
    auto loaded = load(seq);
    if (!loaded) return std::unexpected(loaded.error());
    if (!*loaded) {
      // Either the end of the log, or a gap before a later record.
      uint64_t later = 0;
      auto read = reader_.scan(seq, [&](uint64_t k, std::span<const uint8_t>) {
        if (k > seq) later = k;
        return k < seq;  // at most the record before seq and the one after it
      });
      if (!read) return std::unexpected(JournalFault{seq, read.error()});
      if (later > seq) {
        return std::unexpected(JournalFault{seq, "gap: seq " + std::to_string(seq) +
                                                     " missing, next record starts at " +
                                                     std::to_string(later)});
      }
      return nullptr;
    }
  }
  const fb::Frame* frame = batch_.frames()[seq - batch_.frames().front()->seq()];
  if (frame->epoch() < epoch_) {
    return std::unexpected(JournalFault{seq, "epoch goes back from " + std::to_string(epoch_) +
                                                 " to " + std::to_string(frame->epoch())});
  }
  epoch_ = frame->epoch();
  ++next_seq_;
  return frame;
}

std::expected<std::span<const fb::Frame* const>, JournalFault> FrameCursor::record_holding(
    uint64_t seq) {
  auto loaded = load(seq);
  if (!loaded) return std::unexpected(loaded.error());
  if (!*loaded) return std::span<const fb::Frame* const>{};
  return batch_.frames();
}

}  // namespace oddsbus::engine
