#include "analytics/stats/sample_moments.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::analytics::stats {
namespace {

using ::testing::HasSubstr;

TEST(SampleMomentsFromSumsTest, SmallSample) {
  // {1, 2, 3, 4}: mean 2.5, Σ(x − 2.5)² = 5, variance 5/3.
  absl::StatusOr<SampleMoments> m = SampleMomentsFromSums(4, 10, 30);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->n, 4);
  EXPECT_EQ(m->mean, 2.5);
  EXPECT_DOUBLE_EQ(m->variance, 5.0 / 3);
}

TEST(SampleMomentsFromSumsTest, NoCancellationNearALargeOffset) {
  // 60 values 1e7 + (i mod 11) − 5: the sums are exact, but (Σx)² ≈ 3.6e17 is not representable,
  // so the textbook Σx² − (Σx)²/n loses most digits of Σ(x − mean)² (= a few hundred).
  double sum = 0, sum_of_squares = 0, shifted_sum = 0, shifted_squares = 0;
  for (int i = 0; i < 60; ++i) {
    const double d = i % 11 - 5;
    sum += 1e7 + d;
    sum_of_squares += (1e7 + d) * (1e7 + d);
    shifted_sum += d;
    shifted_squares += d * d;
  }
  const double exact_m2 = shifted_squares - shifted_sum * shifted_sum / 60;  // exact in doubles
  absl::StatusOr<SampleMoments> m = SampleMomentsFromSums(60, sum, sum_of_squares);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_NEAR(m->variance, exact_m2 / 59, 1e-12 * exact_m2);
  const double textbook = (sum_of_squares - sum * sum / 60) / 59;
  EXPECT_GT(std::fabs(textbook - exact_m2 / 59), 1e-6 * exact_m2)
      << "the example no longer shows the cancellation";
}

TEST(SampleMomentsFromSumsTest, DeficitWithinRoundingIsZeroVariance) {
  absl::StatusOr<SampleMoments> m = SampleMomentsFromSums(3, 3 * 0.1, 3 * 0.1 * 0.1 * (1 - 1e-13));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->variance, 0);
}

TEST(SampleMomentsFromSumsTest, InvalidArgumentsNameTheField) {
  struct Case {
    int64_t n;
    double sum, sum_of_squares;
    const char* field;
  };
  for (const Case& c : {Case{1, 1, 1, "n"}, Case{0, 0, 0, "n"}, Case{5, NAN, 1, "sum"},
                        Case{5, 1, INFINITY, "sum_of_squares"}, Case{5, 1, -1, "sum_of_squares"},
                        Case{5, 10, 19, "sum_of_squares"}}) {
    absl::StatusOr<SampleMoments> m = SampleMomentsFromSums(c.n, c.sum, c.sum_of_squares);
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(m.status().message(), HasSubstr(c.field));
  }
}

}  // namespace
}  // namespace cohort::analytics::stats
