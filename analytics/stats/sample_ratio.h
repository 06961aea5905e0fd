// The sample ratio mismatch check (analytics.md, "Experiments"): do the exposed actors split
// across variants as the experiment intended? A mismatch means assignment or logging is broken
// and the experiment's other numbers cannot be trusted.
//
//   Eᵢ = N·wᵢ/Σw (N = ΣOᵢ),  χ² = Σ (Oᵢ − Eᵢ)²/Eᵢ,  df = k − 1,  p = P(χ²_df ≥ χ²),
//   mismatch when p < kSampleRatioMismatchAlpha.
//
// Pure and thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace cohort::analytics::stats {

inline constexpr double kSampleRatioMismatchAlpha = 0.001;

struct SampleRatioResult {
  double chi_squared = 0;
  int df = 0;  // k − 1
  double p_value = 1;
  bool mismatch = false;         // p_value < kSampleRatioMismatchAlpha
  std::vector<double> expected;  // Eᵢ, in the order of `observed`
};

// `observed[i]` is variant i's count of exposed actors; `weights[i]` its intended share (any
// positive scale; empty means an equal split). kInvalidArgument naming the field when there are
// fewer than 2 variants, a count is negative, the total is 0 (or overflows), `weights` is neither
// empty nor of the same size, or a weight is not finite and > 0.
[[nodiscard]] absl::StatusOr<SampleRatioResult> SampleRatioMismatch(
    absl::Span<const int64_t> observed, absl::Span<const double> weights = {});

}  // namespace cohort::analytics::stats
