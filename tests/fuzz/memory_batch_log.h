// Test support: the journal of a recovery service under test, every committed batch in memory
// (engine/recovery_service.h BatchLog). Not thread-safe; header-only (tests only).
#pragma once

#include <cstdint>
#include <cstring>
#include <expected>
#include <string>
#include <vector>

#include "engine/recovery_service.h"
#include "schemas/batch.h"

namespace oddsbus::fuzzing {

// The journal of a recovery service under test: every committed batch, in memory.
class MemoryBatchLog final : public engine::BatchLog {
 public:
  std::vector<std::vector<uint8_t>> batches;
  std::expected<void, std::string> scan_records(uint64_t from_seq,
                                                engine::JournalReader::Visit visit,
                                                void* ctx) override {
    for (const auto& batch : batches) {
      BatchHeader header;
      std::memcpy(&header, batch.data(), sizeof header);
      if (header.first_seq + header.count - 1 < from_seq) continue;
      if (!visit(ctx, header.first_seq, batch)) break;
    }
    return {};
  }
};

}  // namespace oddsbus::fuzzing
