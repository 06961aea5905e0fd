// Welch's unequal-variances t-test of a mean metric (analytics.md, "Experiments"): a treatment
// variant against the control, from each arm's (n, mean, variance) (sample_moments.h).
//
// Definitions, with arm 1 = control, arm 2 = treatment, sᵢ² the sample variances:
//   SE         = sqrt(s1²/n1 + s2²/n2)
//   t          = (m2 − m1) / SE
//   df         = SE⁴ / ((s1²/n1)²/(n1 − 1) + (s2²/n2)²/(n2 − 1))   Welch–Satterthwaite
//   p          = P(|T_df| ≥ |t|)                                    two-sided
//   CI(m2−m1)  = (m2 − m1) ± t_{df, 1−α/2}·SE
//   lift L     = (m2 − m1) / m1                                     absent when m1 = 0
//   CI(L)      = L ± c·SE(L), c = Φ⁻¹(1 − α/2) (the delta method is a large-sample result, so the
//                normal quantile), by the delta method on g(m1, m2) = m2/m1 − 1:
//                SE(L)² = (1/m1)²·s2²/n2 + (m2/m1²)²·s1²/n1
// The lift is relative to m1 as signed; for a metric with a negative control mean read it with
// care.
// Both variances 0 (SE = 0): the test is undefined, as the z-test's p̂ ∈ {0, 1}: t = 0, df = 0,
// p = 1 and `degenerate`, whether or not the means differ (a constant metric in both arms is
// almost always an artefact of tiny samples or a capped metric, and a degenerate test must never
// page anyone); the intervals then have zero width.
//
// Pure and thread-safe.
#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "analytics/stats/interval.h"
#include "analytics/stats/sample_moments.h"

namespace cohort::analytics::stats {

struct WelchTestResult {
  double difference = 0;  // m2 − m1
  double t = 0;           // 0 when degenerate
  double df = 0;          // Welch–Satterthwaite; 0 when degenerate
  double p_value = 1;     // two-sided; 1 when degenerate
  bool degenerate = false;
  Interval difference_ci;
  std::optional<double> relative_lift;       // (m2 − m1)/m1; absent when m1 = 0
  std::optional<Interval> relative_lift_ci;  // delta method; present with relative_lift
};

// kInvalidArgument naming the field ("control.n", "treatment.variance", "confidence", ...) when
// an n < 2, a mean is not finite, a variance is negative or not finite, or confidence is
// outside (0, 1).
[[nodiscard]] absl::StatusOr<WelchTestResult> WelchTTest(const SampleMoments& control,
                                                         const SampleMoments& treatment,
                                                         double confidence = 0.95);

}  // namespace cohort::analytics::stats
