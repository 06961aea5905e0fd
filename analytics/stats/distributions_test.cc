#include "analytics/stats/distributions.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::analytics::stats {
namespace {

using ::testing::HasSubstr;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(DistributionsTest, NormalTwoSidedPValue) {
  EXPECT_EQ(NormalTwoSidedPValue(0), 1);
  EXPECT_NEAR(NormalTwoSidedPValue(1.959963984540054), 0.05, 1e-15);
  EXPECT_EQ(NormalTwoSidedPValue(-1.5), NormalTwoSidedPValue(1.5));
  // 2·Q(10) = erfc(10/√2): a complement, not 1 − Φ, keeps the tail's digits.
  EXPECT_NEAR(NormalTwoSidedPValue(10) / 1.5239706048321052e-23, 1, 1e-13);
  EXPECT_GT(NormalTwoSidedPValue(37), 0);
  EXPECT_EQ(NormalTwoSidedPValue(kInf), 0);
  EXPECT_EQ(NormalTwoSidedPValue(-kInf), 0);
  EXPECT_TRUE(std::isnan(NormalTwoSidedPValue(kNaN)));
}

TEST(DistributionsTest, StudentTTwoSidedPValue) {
  // df = 1 is Cauchy: P(|T| ≥ 1) = 1/2. df = 2: P(|T| ≥ t) = 1 − t/sqrt(2 + t²)
  // = 2/(r(r + t)) with r = sqrt(2 + t²), the form without cancellation for large t.
  EXPECT_NEAR(StudentTTwoSidedPValue(1, 1), 0.5, 1e-15);
  EXPECT_NEAR(StudentTTwoSidedPValue(-2, 2), 1 - 2 / std::sqrt(6.0), 1e-15);
  const double r = std::sqrt(2 + 1e12);
  EXPECT_NEAR(StudentTTwoSidedPValue(1e6, 2) / (2 / (r * (r + 1e6))), 1, 1e-13);
  EXPECT_EQ(StudentTTwoSidedPValue(0, 7), 1);
  EXPECT_EQ(StudentTTwoSidedPValue(kInf, 7), 0);
  EXPECT_TRUE(std::isnan(StudentTTwoSidedPValue(1, 0)));
  EXPECT_TRUE(std::isnan(StudentTTwoSidedPValue(1, -1)));
  EXPECT_TRUE(std::isnan(StudentTTwoSidedPValue(1, kNaN)));
  EXPECT_TRUE(std::isnan(StudentTTwoSidedPValue(kNaN, 3)));
}

TEST(DistributionsTest, ChiSquaredSurvival) {
  // df = 2: P(X ≥ x) = exp(−x/2), also deep in the tail.
  EXPECT_NEAR(ChiSquaredSurvival(10, 2) / std::exp(-5.0), 1, 1e-14);
  EXPECT_NEAR(ChiSquaredSurvival(1000, 2) / std::exp(-500.0), 1, 1e-12);
  EXPECT_EQ(ChiSquaredSurvival(0, 3), 1);
  EXPECT_EQ(ChiSquaredSurvival(kInf, 3), 0);
  EXPECT_TRUE(std::isnan(ChiSquaredSurvival(-1, 3)));
  EXPECT_TRUE(std::isnan(ChiSquaredSurvival(1, 0)));
}

TEST(DistributionsTest, CriticalValues) {
  EXPECT_NEAR(*NormalCriticalValue(0.95), 1.959963984540054, 1e-15);
  EXPECT_NEAR(*NormalCriticalValue(0.5), 0.6744897501960817, 1e-15);
  // df = 1: the t quantile is tan(π/2 · confidence).
  EXPECT_NEAR(*StudentTCriticalValue(0.95, 1) / std::tan(M_PI / 2 * 0.95), 1, 1e-13);
  EXPECT_NEAR(*StudentTCriticalValue(0.95, 1e9), 1.959963984540054, 1e-8);
}

TEST(DistributionsTest, InvalidConfidenceAndDf) {
  for (double c : {0.0, 1.0, -0.5, 1.5, kNaN, kInf}) {
    absl::StatusOr<double> z = NormalCriticalValue(c);
    EXPECT_EQ(z.status().code(), absl::StatusCode::kInvalidArgument) << c;
    EXPECT_THAT(z.status().message(), HasSubstr("confidence"));
    EXPECT_EQ(StudentTCriticalValue(c, 5).status().code(), absl::StatusCode::kInvalidArgument);
  }
  for (double df : {0.0, -1.0, kNaN, kInf}) {
    absl::StatusOr<double> t = StudentTCriticalValue(0.95, df);
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << df;
    EXPECT_THAT(t.status().message(), HasSubstr("df"));
  }
}

}  // namespace
}  // namespace cohort::analytics::stats
