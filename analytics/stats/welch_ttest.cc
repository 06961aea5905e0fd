#include "analytics/stats/welch_ttest.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "analytics/stats/distributions.h"

namespace cohort::analytics::stats {
namespace {

absl::Status CheckSampleMoments(const SampleMoments& m, const char* name) {
  if (m.n < 2) {
    return absl::InvalidArgumentError(absl::StrCat(name, ".n must be >= 2, got ", m.n));
  }
  if (!std::isfinite(m.mean)) {
    return absl::InvalidArgumentError(absl::StrCat(name, ".mean must be finite, got ", m.mean));
  }
  if (!std::isfinite(m.variance) || m.variance < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ".variance must be finite and >= 0, got ", m.variance));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<WelchTestResult> WelchTTest(const SampleMoments& control,
                                           const SampleMoments& treatment, double confidence) {
  if (absl::Status s = CheckSampleMoments(control, "control"); !s.ok()) return s;
  if (absl::Status s = CheckSampleMoments(treatment, "treatment"); !s.ok()) return s;
  absl::StatusOr<double> normal_critical = NormalCriticalValue(confidence);
  if (!normal_critical.ok()) return normal_critical.status();

  const double n1 = static_cast<double>(control.n);
  const double n2 = static_cast<double>(treatment.n);
  const double m1 = control.mean;
  const double m2 = treatment.mean;
  const double v1 = control.variance / n1;  // the squared standard errors of the means
  const double v2 = treatment.variance / n2;

  WelchTestResult r;
  r.difference = m2 - m1;
  const double se = std::sqrt(v1 + v2);
  r.degenerate = !(se > 0);
  if (r.degenerate) {
    r.difference_ci = {r.difference, r.difference};
  } else {
    r.t = r.difference / se;
    const double se2 = v1 + v2;
    r.df = se2 * se2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1));
    r.p_value = StudentTTwoSidedPValue(r.t, r.df);
    absl::StatusOr<double> t_critical = StudentTCriticalValue(confidence, r.df);
    if (!t_critical.ok()) return t_critical.status();
    r.difference_ci = {r.difference - *t_critical * se, r.difference + *t_critical * se};
  }

  if (m1 != 0) {
    const double lift = r.difference / m1;
    const double ratio = m2 / m1;
    const double lift_se = std::sqrt(v2 / (m1 * m1) + ratio * ratio * v1 / (m1 * m1));
    r.relative_lift = lift;
    r.relative_lift_ci =
        Interval{lift - *normal_critical * lift_se, lift + *normal_critical * lift_se};
  }
  return r;
}

}  // namespace cohort::analytics::stats
