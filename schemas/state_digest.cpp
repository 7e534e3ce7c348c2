#include "schemas/state_digest.h"

#include <xxhash.h>

#include <bit>
#include <cstdio>
#include <cstring>

namespace oddsbus {
namespace {

static_assert(std::endian::native == std::endian::little, "the digest encoding is little-endian");

template <typename T>
void put(XXH64_state_t* state, T value) {
  unsigned char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  XXH64_update(state, bytes, sizeof(T));
}

void put_market(XXH64_state_t* hash, uint64_t id, const MarketRecord& market) {
  put<uint64_t>(hash, id);
  put<uint8_t>(hash, static_cast<uint8_t>(market.status));
  put<uint32_t>(hash, static_cast<uint32_t>(market.selections.size()));
  for (const SelectionState& s : market.selections) {
    put<uint64_t>(hash, s.id);
    put<uint32_t>(hash, s.price_e4);
  }
}

}  // namespace

uint64_t state_digest(const MarketState& state) {
  XXH64_state_t* hash = XXH64_createState();
  XXH64_reset(hash, 0);
  for (const auto& [id, market] : state.markets()) put_market(hash, id, market);
  const uint64_t digest = XXH64_digest(hash);
  XXH64_freeState(hash);
  return digest;
}

uint64_t state_digest(const MarketState& state, std::span<const uint64_t> markets) {
  XXH64_state_t* hash = XXH64_createState();
  XXH64_reset(hash, 0);
  for (const uint64_t id : markets) {
    if (const MarketRecord* market = state.find(id)) put_market(hash, id, *market);
  }
  const uint64_t digest = XXH64_digest(hash);
  XXH64_freeState(hash);
  return digest;
}

std::string digest_hex(uint64_t digest) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(digest));
  return text;
}

}  // namespace oddsbus
