// The sufficient statistics of a mean metric in one variant: n, the mean and the sample variance
// of the per-actor values (analytics.md, "Experiments": zeros included).
//
// Stores give them as sums; SampleMomentsFromSums turns (n, Σx, Σx²) into moments without the
// cancellation of the textbook formula Σx² − (Σx)²/n: it evaluates that expression in
// double-double arithmetic (error-free products and sums via fma), so the result is the exact
// value for the given (rounded) sums, rounded once. What it cannot undo is rounding already in the
// sums; a store should sum in a fixed order (or exactly) so both backends pass identical sums.
//
// Pure and thread-safe.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"

namespace cohort::analytics::stats {

struct SampleMoments {
  int64_t n = 0;
  double mean = 0;
  double variance = 0;  // the unbiased sample variance, Σ(x − mean)²/(n − 1)
};

// kInvalidArgument naming the field when n < 2 (a sample variance needs two values), a sum is
// not finite, or sum_of_squares < sum²/n by more than rounding (1e-9·sum_of_squares: the sums
// cannot come from one sample). A deficit within rounding gives variance 0.
[[nodiscard]] absl::StatusOr<SampleMoments> SampleMomentsFromSums(int64_t n, double sum,
                                                                  double sum_of_squares);

}  // namespace cohort::analytics::stats
