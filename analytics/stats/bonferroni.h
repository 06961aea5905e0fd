// The Bonferroni adjustment for multiple comparisons (analytics.md, "Experiments": with more than
// two variants each is compared with the control, and p-values are reported raw and adjusted).
//
//   p_adjusted = min(1, p·m) for m comparisons.
//
// Pure and thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace cohort::analytics::stats {

// kInvalidArgument naming the field unless 0 ≤ p ≤ 1 and comparisons ≥ 1.
[[nodiscard]] absl::StatusOr<double> BonferroniAdjust(double p_value, int64_t comparisons);

// Adjusts each of `p_values` for m = p_values.size() comparisons (an empty input gives an empty
// output). kInvalidArgument naming the first p-value outside [0, 1].
[[nodiscard]] absl::StatusOr<std::vector<double>> BonferroniAdjust(
    absl::Span<const double> p_values);

}  // namespace cohort::analytics::stats
