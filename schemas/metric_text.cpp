#include "schemas/metric_text.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <sstream>
#include <vector>

namespace oddsbus {

struct MetricText::Families {
  std::vector<prometheus::MetricFamily> list;

  prometheus::ClientMetric& add(std::string_view name, std::string_view help,
                                prometheus::MetricType type,
                                std::initializer_list<MetricLabel> labels) {
    if (list.empty() || list.back().name != name) {
      list.push_back(prometheus::MetricFamily{std::string(name), std::string(help), type, {}});
    }
    prometheus::ClientMetric& metric = list.back().metric.emplace_back();
    for (const auto& [label, value] : labels) {
      metric.label.push_back({std::string(label), std::string(value)});
    }
    return metric;
  }
};

MetricText::MetricText() : families_(std::make_unique<Families>()) {}
MetricText::~MetricText() = default;

void MetricText::counter(std::string_view name, std::string_view help, double value,
                         std::initializer_list<MetricLabel> labels) {
  families_->add(name, help, prometheus::MetricType::Counter, labels).counter.value = value;
}

void MetricText::gauge(std::string_view name, std::string_view help, double value,
                       std::initializer_list<MetricLabel> labels) {
  families_->add(name, help, prometheus::MetricType::Gauge, labels).gauge.value = value;
}

void MetricText::histogram(std::string_view name, std::string_view help,
                           std::span<const double> upper_bounds,
                           std::span<const uint64_t> bucket_counts, double sum,
                           std::initializer_list<MetricLabel> labels) {
  prometheus::ClientMetric& metric =
      families_->add(name, help, prometheus::MetricType::Histogram, labels);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bucket_counts.size(); ++i) {
    cumulative += bucket_counts[i];
    const double bound =
        i < upper_bounds.size() ? upper_bounds[i] : std::numeric_limits<double>::infinity();
    metric.histogram.bucket.push_back({cumulative, bound});
  }
  metric.histogram.sample_count = cumulative;
  metric.histogram.sample_sum = sum;
}

std::string MetricText::text() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families_->list);
  return out.str();
}

}  // namespace oddsbus
