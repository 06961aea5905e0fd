// The distribution functions behind the experiment statistics (analytics.md, "Experiments"): the
// normal, Student's t and chi-squared tails and quantiles, over Boost.Math with an error policy
// that never throws (a domain error gives NaN, an overflow ±inf, an underflow 0).
//
// Tails are computed as complements (upper-tail functions), never as 1 − cdf, so p-values keep
// their relative precision far into the tails, down to the smallest double. All functions are
// pure and thread-safe.
#pragma once

#include "absl/status/statusor.h"

namespace cohort::analytics::stats {

// P(|Z| ≥ |z|) for a standard normal Z: 2·Φ(−|z|), at most 1. ±inf gives 0; NaN gives NaN.
double NormalTwoSidedPValue(double z);

// P(|T| ≥ |t|) for Student's t with `df` degrees of freedom (finite, > 0; else NaN), at most 1.
// ±inf gives 0; NaN gives NaN.
double StudentTTwoSidedPValue(double t, double df);

// P(X ≥ x) for a chi-squared X with `df` degrees of freedom (finite, > 0; else NaN); x ≥ 0.
double ChiSquaredSurvival(double x, double df);

// The two-sided critical value of a `confidence` interval: the c with P(|Z| ≤ c) = confidence,
// i.e. Φ⁻¹(1 − α/2) with α = 1 − confidence. kInvalidArgument naming "confidence" unless
// 0 < confidence < 1.
[[nodiscard]] absl::StatusOr<double> NormalCriticalValue(double confidence);

// As NormalCriticalValue for Student's t with `df` degrees of freedom (finite, > 0; else
// kInvalidArgument naming "df").
[[nodiscard]] absl::StatusOr<double> StudentTCriticalValue(double confidence, double df);

}  // namespace cohort::analytics::stats
