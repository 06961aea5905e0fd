#include "analytics/stats/sample_ratio.h"

#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "analytics/stats/distributions.h"

namespace cohort::analytics::stats {

absl::StatusOr<SampleRatioResult> SampleRatioMismatch(absl::Span<const int64_t> observed,
                                                      absl::Span<const double> weights) {
  const size_t k = observed.size();
  if (k < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("observed must have at least 2 variants, got ", k));
  }
  if (!weights.empty() && weights.size() != k) {
    return absl::InvalidArgumentError(absl::StrCat(
        "weights must be empty or have ", k, " entries (one per variant), got ", weights.size()));
  }
  int64_t total = 0;
  for (size_t i = 0; i < k; ++i) {
    if (observed[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("observed[", i, "] must be >= 0, got ", observed[i]));
    }
    if (observed[i] > std::numeric_limits<int64_t>::max() - total) {
      return absl::InvalidArgumentError("observed: the total overflows");
    }
    total += observed[i];
  }
  if (total == 0) return absl::InvalidArgumentError("observed: the total must be > 0");
  double weight_sum = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights[i]) || weights[i] <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("weights[", i, "] must be finite and > 0, got ", weights[i]));
    }
    weight_sum += weights[i];
  }

  SampleRatioResult r;
  r.df = static_cast<int>(k - 1);
  r.expected.reserve(k);
  const double n = static_cast<double>(total);
  for (size_t i = 0; i < k; ++i) {
    const double e = weights.empty() ? n / static_cast<double>(k) : n * (weights[i] / weight_sum);
    const double d = static_cast<double>(observed[i]) - e;
    r.expected.push_back(e);
    r.chi_squared += d * d / e;
  }
  r.p_value = ChiSquaredSurvival(r.chi_squared, r.df);
  r.mismatch = r.p_value < kSampleRatioMismatchAlpha;
  return r;
}

}  // namespace cohort::analytics::stats
