// The two-proportion z-test of a conversion metric (analytics.md, "Experiments"): a treatment
// variant against the control, from the counts alone.
//
// Definitions, with p1 = x1/n1 (control), p2 = x2/n2 (treatment), p̂ = (x1+x2)/(n1+n2):
//   z          = (p2 − p1) / sqrt(p̂(1−p̂)(1/n1 + 1/n2))           pooled SE
//   p          = P(|Z| ≥ |z|) = 2·Φ(−|z|)                          two-sided
//   CI(p2−p1)  = (p2 − p1) ± c·sqrt(p1(1−p1)/n1 + p2(1−p2)/n2)     unpooled SE, c = Φ⁻¹(1 − α/2)
//   lift L     = (p2 − p1) / p1                                    absent when p1 = 0
//   CI(L)      = L ± c·SE(L), by the delta method on g(p1, p2) = p2/p1 − 1:
//                SE(L)² = (1/p1)²·p2(1−p2)/n2 + (p2/p1²)²·p1(1−p1)/n1
//                (the linear, symmetric interval; its normal quantile c is the one above).
// When p̂ is 0 or 1 the test is undefined: z = 0, p = 1 and `degenerate` (the intervals are then
// [0, 0], and the lift is absent for p̂ = 0 or 0 with a [0, 0] interval for p̂ = 1).
//
// Pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "analytics/stats/interval.h"

namespace cohort::analytics::stats {

// One variant's conversion counts: `conversions` of `n` exposed actors converted.
struct ProportionCounts {
  int64_t conversions = 0;
  int64_t n = 0;
};

struct ProportionTestResult {
  double control_rate = 0;                   // p1
  double treatment_rate = 0;                 // p2
  double difference = 0;                     // p2 − p1
  double z = 0;                              // 0 when degenerate
  double p_value = 1;                        // two-sided; 1 when degenerate
  bool degenerate = false;                   // p̂ is 0 or 1
  Interval difference_ci;                    // at the requested confidence, unpooled SE
  std::optional<double> relative_lift;       // (p2 − p1)/p1; absent when p1 = 0
  std::optional<Interval> relative_lift_ci;  // delta method; present with relative_lift
};

// kInvalidArgument naming the field ("control.n", "treatment.conversions", "confidence") when
// an n ≤ 0, conversions < 0 or > n, or confidence is outside (0, 1). n1 + n2 must not overflow.
[[nodiscard]] absl::StatusOr<ProportionTestResult> TwoProportionZTest(ProportionCounts control,
                                                                      ProportionCounts treatment,
                                                                      double confidence = 0.95);

}  // namespace cohort::analytics::stats
