#include "analytics/stats/welch_ttest.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::analytics::stats {
namespace {

using ::testing::HasSubstr;

TEST(WelchTTestTest, FromSumsMatchesScipyOnRawData) {
  // scipy.stats.ttest_ind([3,4,5,6,9,10], [1,2,3,4,5], equal_var=False):
  // t = 2.363944858518838, p = 0.04530776925708371, df = 8.098317136026331.
  absl::StatusOr<SampleMoments> control = SampleMomentsFromSums(5, 15, 55);
  absl::StatusOr<SampleMoments> treatment = SampleMomentsFromSums(6, 37, 267);
  ASSERT_TRUE(control.ok() && treatment.ok());
  absl::StatusOr<WelchTestResult> r = WelchTTest(*control, *treatment);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->difference, 37.0 / 6 - 3, 1e-15);
  EXPECT_NEAR(r->t, 2.363944858518838, 1e-14);
  EXPECT_NEAR(r->df, 8.098317136026331, 1e-13);
  EXPECT_NEAR(r->p_value, 0.04530776925708371, 1e-15);
  EXPECT_FALSE(r->degenerate);
  EXPECT_LT(r->difference_ci.lower, r->difference);
  EXPECT_NEAR(r->difference_ci.upper - r->difference, r->difference - r->difference_ci.lower,
              1e-14);
  ASSERT_TRUE(r->relative_lift.has_value());
  EXPECT_NEAR(*r->relative_lift, (37.0 / 6 - 3) / 3, 1e-15);
}

TEST(WelchTTestTest, OneConstantArmTakesTheOthersDf) {
  // s1² = 0: df = (s2²/n2)² / ((s2²/n2)²/(n2 − 1)) = n2 − 1.
  absl::StatusOr<WelchTestResult> r = WelchTTest({10, 3, 0}, {12, 3.5, 1});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->degenerate);
  EXPECT_DOUBLE_EQ(r->df, 11);
  EXPECT_NEAR(r->t, 0.5 / std::sqrt(1.0 / 12), 1e-14);
}

TEST(WelchTTestTest, BothConstantIsDegenerate) {
  for (double treatment_mean : {2.0, 3.0}) {
    absl::StatusOr<WelchTestResult> r = WelchTTest({5, 2, 0}, {7, treatment_mean, 0});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->degenerate);
    EXPECT_EQ(r->t, 0);
    EXPECT_EQ(r->df, 0);
    EXPECT_EQ(r->p_value, 1);
    EXPECT_EQ(r->difference, treatment_mean - 2);
    EXPECT_EQ(r->difference_ci, (Interval{treatment_mean - 2, treatment_mean - 2}));
  }
}

TEST(WelchTTestTest, ZeroControlMeanHasNoLift) {
  absl::StatusOr<WelchTestResult> r = WelchTTest({100, 0, 2}, {100, 0.3, 2});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->relative_lift.has_value());
  EXPECT_FALSE(r->relative_lift_ci.has_value());
}

TEST(WelchTTestTest, InvalidArgumentsNameTheField) {
  struct Case {
    SampleMoments control, treatment;
    double confidence;
    const char* field;
  };
  for (const Case& c : {Case{{1, 0, 1}, {5, 0, 1}, 0.95, "control.n"},
                        Case{{5, 0, 1}, {0, 0, 1}, 0.95, "treatment.n"},
                        Case{{5, NAN, 1}, {5, 0, 1}, 0.95, "control.mean"},
                        Case{{5, 0, 1}, {5, 0, -1}, 0.95, "treatment.variance"},
                        Case{{5, 0, INFINITY}, {5, 0, 1}, 0.95, "control.variance"},
                        Case{{5, 0, 1}, {5, 0, 1}, 1.5, "confidence"}}) {
    absl::StatusOr<WelchTestResult> r = WelchTTest(c.control, c.treatment, c.confidence);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(r.status().message(), HasSubstr(c.field));
  }
}

}  // namespace
}  // namespace cohort::analytics::stats
