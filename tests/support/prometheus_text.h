// Parsing the Prometheus text exposition format 0.0.4, strictly enough to catch what a scraper
// would reject: HELP/TYPE comments, metric and label names, escaped label values, float values.
// For tests that scrape /metrics.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cohort::testing {

struct MetricSample {
  std::string name;
  std::map<std::string, std::string> labels;  // values unescaped
  double value = 0;
};

// Every sample line of `text`, in order. DataLoss naming the line for anything malformed
// (including text that does not end with a newline).
[[nodiscard]] absl::StatusOr<std::vector<MetricSample>> ParsePrometheusText(std::string_view text);

// The value of the first sample named `name` whose labels include `labels`; nullopt-like NotFound
// otherwise.
[[nodiscard]] absl::StatusOr<double> FindSample(
    const std::vector<MetricSample>& samples, std::string_view name,
    const std::map<std::string, std::string>& labels = {});

}  // namespace cohort::testing
