// Numbers for benchmark reports: medians of repeated runs, ratios, and digit grouping.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

namespace oddsbus::bench {

inline double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

// 1234567.8 -> "1,234,568".
inline std::string grouped(double value) {
  std::string digits = std::to_string(static_cast<unsigned long long>(value + 0.5));
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

inline double ratio(double numerator, double denominator) {
  return denominator > 0 ? numerator / denominator : 0;
}

}  // namespace oddsbus::bench
