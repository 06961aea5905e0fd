// Always-valid p-values by the mixture sequential probability ratio test (mSPRT) of Johari,
// Pekelis and Walsh, "Always Valid Inference: Continuous Monitoring of A/B Tests" (2017; Operations
// Research 2022), for a difference of means or of proportions (analytics.md, "Experiments"). A
// dashboard may look at these p-values after every day and stop whenever one is small: the chance
// that the sequence ever drops below α under the null is at most α.
//
// The paper's normal mixture likelihood ratio, for X₁..X_n ~ N(θ, σ²), testing θ = θ₀ with the
// mixing distribution H = N(θ₀, τ²):
//   Λ_n = sqrt(σ² / (σ² + nτ²)) · exp( n²τ²(X̄_n − θ₀)² / (2σ²(σ² + nτ²)) ),
// and for two streams (n observations per arm, θ = μ_B − μ_A):
//   Λ_n = sqrt(2σ² / (2σ² + nτ²)) · exp( n²τ²(Ȳ_n − X̄_n − θ₀)² / (4σ²(2σ² + nτ²)) ).
// Both are, with θ̂_n the estimate of θ and V_n = Var(θ̂_n) (σ²/n, resp. 2σ²/n):
//   Λ_n = sqrt(V_n / (V_n + τ²)) · exp( τ²(θ̂_n − θ₀)² / (2V_n(V_n + τ²)) ),
// which is what is computed here, so unequal arms work too, with the plug-in variance
//   V_n = s1²/n1 + s2²/n2                 for means (Welch's SE², sample_moments.h), and
//   V_n = p1(1−p1)/n1 + p2(1−p2)/n2       for proportions (the unpooled SE² of the z-test's CI).
// The always-valid p-value sequence is p₀ = 1, p_n = min(p_{n−1}, 1/Λ_n).
//
// τ² is the prior variance of the effect, in the metric's units squared (for proportions, of the
// difference of rates); the query gives it. V_n = 0 (both arms constant) carries no information:
// Λ_n = 1 and the look is `degenerate`, so it leaves the running p-value unchanged.
//
// Pure and thread-safe.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "analytics/stats/proportion_ztest.h"
#include "analytics/stats/sample_moments.h"

namespace cohort::analytics::stats {

// θ̂_n (treatment − control) and its variance V_n at one look, from cumulative statistics.
struct DifferenceEstimate {
  double estimate = 0;
  double variance = 0;
};

// p2 − p1 and p1(1−p1)/n1 + p2(1−p2)/n2. Errors as TwoProportionZTest's.
[[nodiscard]] absl::StatusOr<DifferenceEstimate> DifferenceOfProportions(
    ProportionCounts control, ProportionCounts treatment);

// m2 − m1 and s1²/n1 + s2²/n2. Errors as WelchTTest's.
[[nodiscard]] absl::StatusOr<DifferenceEstimate> DifferenceOfMeans(const SampleMoments& control,
                                                                   const SampleMoments& treatment);

struct MixtureSprtLook {
  double log_likelihood_ratio = 0;  // ln Λ_n (Λ_n itself overflows early)
  double p_value = 1;               // min(1, 1/Λ_n): this look alone
  bool degenerate = false;          // V_n = 0
};

// One look. kInvalidArgument naming the field unless estimate is finite, variance is finite and
// ≥ 0, tau_squared is finite and > 0, and null_value (θ₀) is finite.
[[nodiscard]] absl::StatusOr<MixtureSprtLook> MixtureSprt(DifferenceEstimate look,
                                                          double tau_squared,
                                                          double null_value = 0);

// The always-valid p-values p_1..p_n of a sequence of looks at cumulative statistics (e.g. one per
// day, each over all data up to it), in order. Non-increasing. Errors as MixtureSprt's, naming the
// look ("looks[3].variance ...").
[[nodiscard]] absl::StatusOr<std::vector<double>> AlwaysValidPValues(
    absl::Span<const DifferenceEstimate> looks, double tau_squared, double null_value = 0);

}  // namespace cohort::analytics::stats
