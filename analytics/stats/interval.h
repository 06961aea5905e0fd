// A confidence interval, the value type shared by the experiment tests.
#pragma once

namespace cohort::analytics::stats {

// [lower, upper], lower ≤ upper; both ends equal when the standard error is 0.
struct Interval {
  double lower = 0;
  double upper = 0;

  friend bool operator==(const Interval&, const Interval&) = default;
};

}  // namespace cohort::analytics::stats
