// The state digest of DESIGN sections 7 and 10, exactly: for each market in ascending id, u64 id,
// u8 status (open 0, suspended 1, closed 2, settled 3), u32 selection count, then for each
// selection in ascending id u64 id and u32 price_e4; little-endian, concatenated, hashed with XXH64
// seed 0. An empty state hashes the empty string. Pure functions, safe from any thread for a state
// that is not being modified.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "schemas/market_state.h"

namespace oddsbus {

uint64_t state_digest(const MarketState& state);

// The digest of the part of `state` held by `markets` (ascending ids; ids the state does not hold
// are skipped): the digest a state holding only those markets would have.
uint64_t state_digest(const MarketState& state, std::span<const uint64_t> markets);

// 16 lower-case hex digits.
std::string digest_hex(uint64_t digest);

}  // namespace oddsbus
