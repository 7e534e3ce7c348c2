// Writing and reading the plain binary records the engine keeps in its journal beside the frames
// (journal snapshots, engine/journal_snapshot.h; the desk ledger inside them,
// engine/desk_ledger.h): fixed-size values in host byte order (little-endian on every platform we
// build for), and texts as a u32 length then the bytes. Pure; safe from any thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace oddsbus::engine {

template <typename T>
void put_value(std::vector<uint8_t>& out, const T& value) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(&value);
  out.insert(out.end(), bytes, bytes + sizeof value);
}

inline void put_text(std::vector<uint8_t>& out, std::string_view text) {
  put_value(out, static_cast<uint32_t>(text.size()));
  out.insert(out.end(), text.begin(), text.end());
}

// Reads values off the front of a record; each call returns false (nullopt) once the record ran
// short, and then leaves it as it was.
class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  template <typename T>
  bool get(T& value) {
    if (bytes_.size() < sizeof value) return false;
    std::memcpy(&value, bytes_.data(), sizeof value);
    bytes_ = bytes_.subspan(sizeof value);
    return true;
  }
  std::optional<std::span<const uint8_t>> take(size_t size) {
    if (bytes_.size() < size) return std::nullopt;
    auto taken = bytes_.first(size);
    bytes_ = bytes_.subspan(size);
    return taken;
  }
  bool text(std::string& out) {
    uint32_t size = 0;
    if (bytes_.size() < sizeof size) return false;
    std::memcpy(&size, bytes_.data(), sizeof size);
    if (bytes_.size() - sizeof size < size) return false;
    bytes_ = bytes_.subspan(sizeof size);
    out.assign(bytes_.begin(), bytes_.begin() + size);
    bytes_ = bytes_.subspan(size);
    return true;
  }
  bool empty() const { return bytes_.empty(); }

 private:
  std::span<const uint8_t> bytes_;
};

}  // namespace oddsbus::engine
