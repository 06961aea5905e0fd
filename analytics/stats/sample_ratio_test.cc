#include "analytics/stats/sample_ratio.h"

#include <cmath>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::analytics::stats {
namespace {

using ::testing::HasSubstr;

TEST(SampleRatioMismatchTest, EqualSplit) {
  absl::StatusOr<SampleRatioResult> r = SampleRatioMismatch(std::vector<int64_t>{50, 50});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->chi_squared, 0);
  EXPECT_EQ(r->p_value, 1);
  EXPECT_FALSE(r->mismatch);
  // 60/40: χ² = 10²/50 · 2 = 4 with df 1, p = 2·Q(2) = 0.0455002638963584.
  r = SampleRatioMismatch(std::vector<int64_t>{60, 40});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(r->chi_squared, 4);
  EXPECT_EQ(r->df, 1);
  EXPECT_NEAR(r->p_value, 0.0455002638963584, 1e-15);
  EXPECT_FALSE(r->mismatch);
}

TEST(SampleRatioMismatchTest, Weights) {
  // Weights 1:2:3 of 200: E = (33.3, 66.7, 100); χ² = (10/3)²/(100/3) + (10/3)²/(200/3) = 0.5;
  // df = 2, so p = exp(−0.25).
  absl::StatusOr<SampleRatioResult> r =
      SampleRatioMismatch(std::vector<int64_t>{30, 70, 100}, std::vector<double>{1, 2, 3});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->chi_squared, 0.5, 1e-14);
  EXPECT_EQ(r->df, 2);
  EXPECT_NEAR(r->p_value, std::exp(-0.25), 1e-14);
  ASSERT_EQ(r->expected.size(), 3u);
  EXPECT_NEAR(r->expected[0], 200.0 / 6, 1e-12);
  EXPECT_NEAR(r->expected[2], 100, 1e-12);
}

TEST(SampleRatioMismatchTest, FlagsABrokenSplit) {
  absl::StatusOr<SampleRatioResult> r =
      SampleRatioMismatch(std::vector<int64_t>{10'000, 10'500, 10'000});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(r->p_value, kSampleRatioMismatchAlpha);
  EXPECT_TRUE(r->mismatch);
}

TEST(SampleRatioMismatchTest, InvalidArgumentsNameTheField) {
  struct Case {
    std::vector<int64_t> observed;
    std::vector<double> weights;
    const char* field;
  };
  for (const Case& c :
       {Case{{5}, {}, "observed"}, Case{{}, {}, "observed"}, Case{{5, -1}, {}, "observed[1]"},
        Case{{0, 0, 0}, {}, "observed"}, Case{{5, 5}, {1}, "weights"},
        Case{{5, 5}, {1, 0}, "weights[1]"}, Case{{5, 5}, {NAN, 1}, "weights[0]"},
        Case{{INT64_MAX, 1}, {}, "observed"}}) {
    absl::StatusOr<SampleRatioResult> r = SampleRatioMismatch(c.observed, c.weights);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(r.status().message(), HasSubstr(c.field));
  }
}

}  // namespace
}  // namespace cohort::analytics::stats
