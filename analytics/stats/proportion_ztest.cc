#include "analytics/stats/proportion_ztest.h"

#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "analytics/stats/distributions.h"

namespace cohort::analytics::stats {
namespace {

absl::Status CheckCounts(ProportionCounts c, const char* name) {
  if (c.n <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ".n must be > 0, got ", c.n));
  }
  if (c.conversions < 0 || c.conversions > c.n) {
    return absl::InvalidArgumentError(absl::StrCat(name, ".conversions must be in [0, ", name,
                                                   ".n = ", c.n, "], got ", c.conversions));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ProportionTestResult> TwoProportionZTest(ProportionCounts control,
                                                        ProportionCounts treatment,
                                                        double confidence) {
  if (absl::Status s = CheckCounts(control, "control"); !s.ok()) return s;
  if (absl::Status s = CheckCounts(treatment, "treatment"); !s.ok()) return s;
  if (control.n > std::numeric_limits<int64_t>::max() - treatment.n) {
    return absl::InvalidArgumentError("control.n + treatment.n overflows");
  }
  absl::StatusOr<double> critical = NormalCriticalValue(confidence);
  if (!critical.ok()) return critical.status();

  const double n1 = static_cast<double>(control.n);
  const double n2 = static_cast<double>(treatment.n);
  const double p1 = static_cast<double>(control.conversions) / n1;
  const double p2 = static_cast<double>(treatment.conversions) / n2;

  ProportionTestResult r;
  r.control_rate = p1;
  r.treatment_rate = p2;
  r.difference = p2 - p1;

  const int64_t pooled_x = control.conversions + treatment.conversions;
  const int64_t pooled_n = control.n + treatment.n;
  r.degenerate = pooled_x == 0 || pooled_x == pooled_n;
  if (r.degenerate) {
    r.z = 0;
    r.p_value = 1;
  } else {
    const double pooled = static_cast<double>(pooled_x) / static_cast<double>(pooled_n);
    r.z = r.difference / std::sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
    r.p_value = NormalTwoSidedPValue(r.z);
  }

  const double var1 = p1 * (1 - p1) / n1;
  const double var2 = p2 * (1 - p2) / n2;
  const double half = *critical * std::sqrt(var1 + var2);
  r.difference_ci = {r.difference - half, r.difference + half};

  if (control.conversions > 0) {
    const double lift = r.difference / p1;
    const double ratio = p2 / p1;
    const double se = std::sqrt(var2 / (p1 * p1) + ratio * ratio * var1 / (p1 * p1));
    r.relative_lift = lift;
    r.relative_lift_ci = Interval{lift - *critical * se, lift + *critical * se};
  }
  return r;
}

}  // namespace cohort::analytics::stats
