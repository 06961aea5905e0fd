// Boost.Math with a no-throw policy. Boost's default policy promotes double arguments to long
// double internally, which is kept: it buys accuracy in the far tails at a negligible cost.
#include "analytics/stats/distributions.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "boost/math/distributions/chi_squared.hpp"
#include "boost/math/distributions/normal.hpp"
#include "boost/math/distributions/students_t.hpp"

namespace cohort::analytics::stats {
namespace {

namespace bmp = boost::math::policies;
using NoThrowPolicy =
    bmp::policy<bmp::domain_error<bmp::ignore_error>, bmp::pole_error<bmp::ignore_error>,
                bmp::overflow_error<bmp::ignore_error>, bmp::underflow_error<bmp::ignore_error>,
                bmp::denorm_error<bmp::ignore_error>, bmp::evaluation_error<bmp::ignore_error>,
                bmp::rounding_error<bmp::ignore_error>,
                bmp::indeterminate_result_error<bmp::ignore_error>>;
using Normal = boost::math::normal_distribution<double, NoThrowPolicy>;
using StudentT = boost::math::students_t_distribution<double, NoThrowPolicy>;
using ChiSquared = boost::math::chi_squared_distribution<double, NoThrowPolicy>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool ValidDf(double df) { return std::isfinite(df) && df > 0; }

absl::Status CheckConfidence(double confidence) {
  if (!(confidence > 0 && confidence < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("confidence must be in (0, 1), got ", confidence));
  }
  return absl::OkStatus();
}

}  // namespace

double NormalTwoSidedPValue(double z) {
  if (std::isnan(z)) return kNaN;
  if (std::isinf(z)) return 0;
  return std::min(1.0, 2 * boost::math::cdf(boost::math::complement(Normal(), std::fabs(z))));
}

double StudentTTwoSidedPValue(double t, double df) {
  if (std::isnan(t) || !ValidDf(df)) return kNaN;
  if (std::isinf(t)) return 0;
  return std::min(1.0, 2 * boost::math::cdf(boost::math::complement(StudentT(df), std::fabs(t))));
}

double ChiSquaredSurvival(double x, double df) {
  if (std::isnan(x) || x < 0 || !ValidDf(df)) return kNaN;
  if (std::isinf(x)) return 0;
  return boost::math::cdf(boost::math::complement(ChiSquared(df), x));
}

absl::StatusOr<double> NormalCriticalValue(double confidence) {
  if (absl::Status s = CheckConfidence(confidence); !s.ok()) return s;
  const double alpha = 1 - confidence;
  return boost::math::quantile(boost::math::complement(Normal(), alpha / 2));
}

absl::StatusOr<double> StudentTCriticalValue(double confidence, double df) {
  if (absl::Status s = CheckConfidence(confidence); !s.ok()) return s;
  if (!ValidDf(df)) {
    return absl::InvalidArgumentError(absl::StrCat("df must be finite and > 0, got ", df));
  }
  const double alpha = 1 - confidence;
  return boost::math::quantile(boost::math::complement(StudentT(df), alpha / 2));
}

}  // namespace cohort::analytics::stats
