// What one chaos check found (tools/chaos/chaos_checks.h): how much it looked at, and every
// violation of the promise it checks, the first few of them spelled out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace oddsbus::chaos {

inline constexpr size_t kMaxViolationTexts = 20;

struct CheckResult {
  std::string name;                   // "client streams", "edge digests", ...
  uint64_t checked = 0;               // the units it looked at (frames, edges, journals, markets)
  std::string unit;                   // what `checked` counts
  uint64_t violations = 0;            // 0: passed
  std::vector<std::string> examples;  // the first kMaxViolationTexts violations, for a person
  std::string note;  // counts that belong in the summary (announced re-images, ...)

  bool passed() const { return violations == 0; }
  void violation(std::string text) {
    ++violations;
    if (examples.size() < kMaxViolationTexts) examples.push_back(std::move(text));
  }
};

}  // namespace oddsbus::chaos
