#include "analytics/stats/sample_moments.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cohort::analytics::stats {
namespace {

// Dekker/Knuth error-free transformations: a ⊕ b = s + e and a ⊗ b = p + e exactly.
struct DoubleDouble {
  double hi;
  double lo;
};

DoubleDouble TwoSum(double a, double b) {
  const double s = a + b;
  const double bb = s - a;
  return {s, (a - (s - bb)) + (b - bb)};
}

DoubleDouble TwoProduct(double a, double b) {
  const double p = a * b;
  return {p, std::fma(a, b, -p)};
}

}  // namespace

absl::StatusOr<SampleMoments> SampleMomentsFromSums(int64_t n, double sum, double sum_of_squares) {
  if (n < 2) return absl::InvalidArgumentError(absl::StrCat("n must be >= 2, got ", n));
  if (!std::isfinite(sum)) {
    return absl::InvalidArgumentError(absl::StrCat("sum must be finite, got ", sum));
  }
  if (!std::isfinite(sum_of_squares) || sum_of_squares < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sum_of_squares must be finite and >= 0, got ", sum_of_squares));
  }
  const double nd = static_cast<double>(n);
  // m2 = sum_of_squares − sum²/n. With sum² = p + e exactly and p = q·n + r exactly (the remainder
  // of a correctly rounded division is representable), sum²/n = q + (r + e)/n.
  const DoubleDouble square = TwoProduct(sum, sum);
  const double q = square.hi / nd;
  const double r = std::fma(-q, nd, square.hi);
  const DoubleDouble head = TwoSum(sum_of_squares, -q);
  double m2 = head.hi + (head.lo - (r + square.lo) / nd);
  if (m2 < 0) {
    if (-m2 > 1e-9 * sum_of_squares) {
      return absl::InvalidArgumentError(absl::StrCat("sum_of_squares (", sum_of_squares,
                                                     ") is less than sum^2/n (", sum, "^2/", n,
                                                     "): not the sums of one sample"));
    }
    m2 = 0;
  }
  return SampleMoments{.n = n, .mean = sum / nd, .variance = m2 / (nd - 1)};
}

}  // namespace cohort::analytics::stats
