// Metrics in the Prometheus text exposition format 0.0.4, serialised by prometheus-cpp: the one
// writer behind the edge's /metrics and the engine's. The caller reads its counters (relaxed
// atomic loads: no lock on anybody's hot path) and adds them family by family; text() renders.
//
// Conventions (https://prometheus.io/docs/practices/naming/): names carry the `oddsbus_` prefix,
// counters end in `_total`, values are in base units (`_seconds`, `_bytes`). Metrics of one family
// are added one after the other (a labelled metric joins the family added last when the names
// match). Not thread-safe: build one per scrape.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace oddsbus {

using MetricLabel = std::pair<std::string_view, std::string_view>;

class MetricText {
 public:
  MetricText();
  ~MetricText();
  MetricText(const MetricText&) = delete;
  MetricText& operator=(const MetricText&) = delete;

  void counter(std::string_view name, std::string_view help, double value,
               std::initializer_list<MetricLabel> labels = {});
  void gauge(std::string_view name, std::string_view help, double value,
             std::initializer_list<MetricLabel> labels = {});
  // `bucket_counts[i]` observations fell at or below `upper_bounds[i]` and above the bound before
  // (not cumulative); `bucket_counts` has one more entry, for the observations above every bound.
  void histogram(std::string_view name, std::string_view help, std::span<const double> upper_bounds,
                 std::span<const uint64_t> bucket_counts, double sum,
                 std::initializer_list<MetricLabel> labels = {});

  std::string text() const;

 private:
  struct Families;
  std::unique_ptr<Families> families_;
};

}  // namespace oddsbus
