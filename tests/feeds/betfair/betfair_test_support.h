// Test data for the betfair tests: where the files are, reading a capture line by line, loading a
// mapping. A target that includes this defines ODDSBUS_TEST_DATA_DIR and ODDSBUS_SHARED_DATA_DIR
// (tests/feeds/betfair/CMakeLists.txt).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "feeds/mapping.h"

namespace oddsbus::feeds::betfair::testing {

inline std::string test_data(std::string_view name) {
  return std::string(ODDSBUS_TEST_DATA_DIR) + "/betfair/" + std::string(name);
}

inline std::string shared_data(std::string_view name) {
  return std::string(ODDSBUS_SHARED_DATA_DIR) + "/betfair/" + std::string(name);
}

// The file's messages without their line endings (CRLF or LF), or nullopt when unreadable.
inline std::optional<std::vector<std::string>> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

inline Mapping must_load(const std::string& path) {
  auto mapping = Mapping::load(path);
  if (!mapping) {
    ADD_FAILURE() << mapping.error();
    return Mapping{};
  }
  return std::move(*mapping);
}

}  // namespace oddsbus::feeds::betfair::testing
