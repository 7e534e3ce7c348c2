// Test support for /metrics bodies: one sample's value, and `promtool check metrics`. promtool
// comes from Debian's `prometheus` package, fetched and unpacked into the build tree on first use
// (tests/tools/fetch_promtool.sh); a test that cannot get it fails saying why, never skips.
// Needs ODDSBUS_PROMTOOL_DIR and ODDSBUS_FETCH_PROMTOOL defined by the test's CMake target.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace oddsbus::testing {

// The value of the sample `series` (name and labels exactly as rendered, e.g.
// `oddsbus_engine_desk_replies_total{outcome="applied"}`); nullopt when absent.
inline std::optional<double> metric_sample(const std::string& metrics, const std::string& series) {
  size_t at = 0;
  while ((at = metrics.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || metrics[at - 1] == '\n')
      return std::stod(metrics.substr(at + series.size() + 1));
    at += series.size();
  }
  return std::nullopt;
}

struct PromtoolResult {
  bool ran = false;    // promtool was there and ran
  int exit_code = -1;  // its exit code
  std::string output;  // what it (or the fetch) printed
};

inline std::string read_whole_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline PromtoolResult promtool_check_metrics(const std::string& metrics) {
  PromtoolResult result;
  const std::string dir = ODDSBUS_PROMTOOL_DIR;
  const std::string tool = dir + "/usr/bin/promtool";
  const std::string scratch = dir + "/check_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  if (::access(tool.c_str(), X_OK) != 0) {
    const std::string fetch =
        std::string("sh ") + ODDSBUS_FETCH_PROMTOOL + " " + dir + " > " + scratch + ".log 2>&1";
    const int fetched = std::system(fetch.c_str());
    if (fetched != 0 || ::access(tool.c_str(), X_OK) != 0) {
      result.output = "could not get promtool: " + read_whole_file(scratch + ".log");
      std::remove((scratch + ".log").c_str());
      return result;
    }
  }
  {
    std::ofstream out(scratch + ".prom");
    out << metrics;
  }
  const std::string check =
      tool + " check metrics < " + scratch + ".prom > " + scratch + ".log 2>&1";
  const int status = std::system(check.c_str());
  result.ran = true;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.output = read_whole_file(scratch + ".log");
  std::remove((scratch + ".prom").c_str());
  std::remove((scratch + ".log").c_str());
  return result;
}

}  // namespace oddsbus::testing
