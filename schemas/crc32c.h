// CRC32C (Castagnoli), as used on every frame before it is applied. Uses the SSE4.2 instruction
// when the CPU has it, else a table. Pure function, safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace oddsbus {

uint32_t crc32c(const void* data, size_t size);

}  // namespace oddsbus
