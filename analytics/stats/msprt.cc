#include "analytics/stats/msprt.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "analytics/stats/welch_ttest.h"

namespace cohort::analytics::stats {
namespace {

absl::Status CheckParameters(double tau_squared, double null_value) {
  if (!std::isfinite(tau_squared) || tau_squared <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tau_squared must be finite and > 0, got ", tau_squared));
  }
  if (!std::isfinite(null_value)) {
    return absl::InvalidArgumentError(absl::StrCat("null_value must be finite, got ", null_value));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DifferenceEstimate> DifferenceOfProportions(ProportionCounts control,
                                                           ProportionCounts treatment) {
  // The z-test validates the counts and computes the same rates; reuse it so the two can never
  // disagree on what a valid input is.
  absl::StatusOr<ProportionTestResult> z = TwoProportionZTest(control, treatment);
  if (!z.ok()) return z.status();
  const double p1 = z->control_rate;
  const double p2 = z->treatment_rate;
  return DifferenceEstimate{.estimate = z->difference,
                            .variance = p1 * (1 - p1) / static_cast<double>(control.n) +
                                        p2 * (1 - p2) / static_cast<double>(treatment.n)};
}

absl::StatusOr<DifferenceEstimate> DifferenceOfMeans(const SampleMoments& control,
                                                     const SampleMoments& treatment) {
  absl::StatusOr<WelchTestResult> t = WelchTTest(control, treatment);
  if (!t.ok()) return t.status();
  return DifferenceEstimate{.estimate = t->difference,
                            .variance = control.variance / static_cast<double>(control.n) +
                                        treatment.variance / static_cast<double>(treatment.n)};
}

absl::StatusOr<MixtureSprtLook> MixtureSprt(DifferenceEstimate look, double tau_squared,
                                            double null_value) {
  if (!std::isfinite(look.estimate)) {
    return absl::InvalidArgumentError(absl::StrCat("estimate must be finite, got ", look.estimate));
  }
  if (!std::isfinite(look.variance) || look.variance < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("variance must be finite and >= 0, got ", look.variance));
  }
  if (absl::Status s = CheckParameters(tau_squared, null_value); !s.ok()) return s;
  MixtureSprtLook r;
  const double v = look.variance;
  if (!(v > 0)) {
    r.degenerate = true;
    return r;
  }
  const double d = look.estimate - null_value;
  // ln Λ = ½·ln(V/(V+τ²)) + τ²d²/(2V(V+τ²)), with ln(V/(V+τ²)) = −ln(1 + τ²/V).
  r.log_likelihood_ratio =
      -0.5 * std::log1p(tau_squared / v) + tau_squared * d * d / (2 * v * (v + tau_squared));
  r.p_value = std::min(1.0, std::exp(-r.log_likelihood_ratio));
  return r;
}

absl::StatusOr<std::vector<double>> AlwaysValidPValues(absl::Span<const DifferenceEstimate> looks,
                                                       double tau_squared, double null_value) {
  if (absl::Status s = CheckParameters(tau_squared, null_value); !s.ok()) return s;
  std::vector<double> p_values;
  p_values.reserve(looks.size());
  double running = 1;
  for (size_t i = 0; i < looks.size(); ++i) {
    absl::StatusOr<MixtureSprtLook> look = MixtureSprt(looks[i], tau_squared, null_value);
    if (!look.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("looks[", i, "].", look.status().message()));
    }
    running = std::min(running, look->p_value);
    p_values.push_back(running);
  }
  return p_values;
}

}  // namespace cohort::analytics::stats
