// Experiments (analytics.md, "Experiments") by brute force: the metric side (variants, exposure,
// conversion, per-actor values, n / mean / variance, multiple exposures) computed here, the tests
// by analytics/stats.
//
// Decisions (README.md):
// - An exposure is an exposure_event inside the range that carries the variant property (its
//   Label() names the variant); one without it is ignored.
// - Goal events: strictly after the first exposure (total order), time ≤ exposure time +
//   window_ms, and inside the range. `conversions` counts actors with a goal event in both
//   metrics; the mean metric sums NumericValue(sum_property) of those events (others add 0), per
//   actor in total order, then over actors in id order; variance by
//   stats::SampleMomentsFromSums(n, Σx, Σx²) (0 when n < 2).
// - Variants: those with at least one (single-variant) actor; the control first, the rest by
//   name. Tests need the control with n ≥ 1 (z-test) or n ≥ 2 in both arms (Welch); otherwise
//   their fields stay null. Bonferroni over the k − 1 comparisons when k > 2.
// - SRM over the variants in name order (the order of expected_split), when k ≥ 2.
// - The always-valid p-value is one mSPRT look at the whole range: min(1, 1/Λ).
#pragma once

#include "absl/status/statusor.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/reference/answer.h"
#include "analytics/reference/timeline.h"

namespace cohort::analytics::reference {

// Errors: kInvalidArgument naming "expected_split", "confidence" or "msprt_tau2" when the
// statistics reject them.
[[nodiscard]] absl::StatusOr<Answer<ExperimentResult>> AnalyzeExperiment(
    const ExperimentQuery& query, const Timelines& timelines);

}  // namespace cohort::analytics::reference
