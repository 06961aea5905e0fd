#include "analytics/stats/bonferroni.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cohort::analytics::stats {

absl::StatusOr<double> BonferroniAdjust(double p_value, int64_t comparisons) {
  if (!(p_value >= 0 && p_value <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("p_value must be in [0, 1], got ", p_value));
  }
  if (comparisons < 1) {
    return absl::InvalidArgumentError(absl::StrCat("comparisons must be >= 1, got ", comparisons));
  }
  return std::min(1.0, p_value * static_cast<double>(comparisons));
}

absl::StatusOr<std::vector<double>> BonferroniAdjust(absl::Span<const double> p_values) {
  std::vector<double> adjusted;
  adjusted.reserve(p_values.size());
  for (size_t i = 0; i < p_values.size(); ++i) {
    absl::StatusOr<double> a = BonferroniAdjust(p_values[i], static_cast<int64_t>(p_values.size()));
    if (!a.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("p_values[", i, "] must be in [0, 1], got ", p_values[i]));
    }
    adjusted.push_back(*a);
  }
  return adjusted;
}

}  // namespace cohort::analytics::stats
