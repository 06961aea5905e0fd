#include "analytics/stats/proportion_ztest.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::analytics::stats {
namespace {

using ::testing::HasSubstr;

TEST(TwoProportionZTestTest, HandCheckedExample) {
  // 200/1000 vs 250/1000: p̂ = 0.225, SE = sqrt(0.225·0.775·0.002) = 0.0186748..., z = 0.05/SE;
  // unpooled SE = sqrt(0.16/1000 + 0.1875/1000) = 0.0186413...; c = 1.959964.
  absl::StatusOr<ProportionTestResult> r = TwoProportionZTest({200, 1000}, {250, 1000});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(r->control_rate, 0.2);
  EXPECT_DOUBLE_EQ(r->treatment_rate, 0.25);
  EXPECT_NEAR(r->difference, 0.05, 1e-16);
  EXPECT_NEAR(r->z, 2.677397763008329, 1e-14);
  EXPECT_NEAR(r->p_value, 0.007419649261025687, 1e-16);
  EXPECT_FALSE(r->degenerate);
  EXPECT_NEAR(r->difference_ci.lower, 0.013463621687539826, 1e-15);
  EXPECT_NEAR(r->difference_ci.upper, 0.08653637831246015, 1e-15);
  // Lift 0.25; SE(L) = sqrt(0.1875/1000/0.04 + (0.25/0.04)²·0.16/1000) = 0.104582503...
  ASSERT_TRUE(r->relative_lift.has_value());
  EXPECT_NEAR(*r->relative_lift, 0.25, 1e-15);
  ASSERT_TRUE(r->relative_lift_ci.has_value());
  EXPECT_NEAR(r->relative_lift_ci->lower, 0.25 - 1.959963984540054 * 0.10458250331675943, 1e-14);
  EXPECT_NEAR(r->relative_lift_ci->upper, 0.25 + 1.959963984540054 * 0.10458250331675943, 1e-14);
}

TEST(TwoProportionZTestTest, SwappingArmsNegatesZAndKeepsP) {
  absl::StatusOr<ProportionTestResult> a = TwoProportionZTest({31, 400}, {52, 410}, 0.9);
  absl::StatusOr<ProportionTestResult> b = TwoProportionZTest({52, 410}, {31, 400}, 0.9);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_DOUBLE_EQ(a->z, -b->z);
  EXPECT_DOUBLE_EQ(a->p_value, b->p_value);
  EXPECT_DOUBLE_EQ(a->difference_ci.lower, -b->difference_ci.upper);
}

TEST(TwoProportionZTestTest, WiderConfidenceWiderInterval) {
  absl::StatusOr<ProportionTestResult> narrow = TwoProportionZTest({31, 400}, {52, 410}, 0.8);
  absl::StatusOr<ProportionTestResult> wide = TwoProportionZTest({31, 400}, {52, 410}, 0.99);
  ASSERT_TRUE(narrow.ok() && wide.ok());
  EXPECT_LT(wide->difference_ci.lower, narrow->difference_ci.lower);
  EXPECT_GT(wide->difference_ci.upper, narrow->difference_ci.upper);
  EXPECT_EQ(wide->p_value, narrow->p_value);
}

TEST(TwoProportionZTestTest, DegenerateWhenNobodyOrEverybodyConverts) {
  for (auto [x1, x2] : {std::pair<int64_t, int64_t>{0, 0}, {50, 70}}) {
    absl::StatusOr<ProportionTestResult> r = TwoProportionZTest({x1, 50}, {x2, 70});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->degenerate);
    EXPECT_EQ(r->z, 0);
    EXPECT_EQ(r->p_value, 1);
    EXPECT_EQ(r->difference_ci, (Interval{0, 0}));
  }
  // Nobody converts: no lift. Everybody converts: lift 0 with a zero-width interval.
  EXPECT_FALSE(TwoProportionZTest({0, 50}, {0, 70})->relative_lift.has_value());
  EXPECT_EQ(*TwoProportionZTest({50, 50}, {70, 70})->relative_lift_ci, (Interval{0, 0}));
}

TEST(TwoProportionZTestTest, ControlRateZeroHasNoLiftButATest) {
  absl::StatusOr<ProportionTestResult> r = TwoProportionZTest({0, 1000}, {30, 1000});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->degenerate);
  EXPECT_LT(r->p_value, 1e-6);
  EXPECT_FALSE(r->relative_lift.has_value());
  EXPECT_FALSE(r->relative_lift_ci.has_value());
}

TEST(TwoProportionZTestTest, InvalidArgumentsNameTheField) {
  struct Case {
    ProportionCounts control, treatment;
    double confidence;
    const char* field;
  };
  for (const Case& c :
       {Case{{0, 0}, {1, 10}, 0.95, "control.n"}, Case{{1, 10}, {0, -5}, 0.95, "treatment.n"},
        Case{{11, 10}, {1, 10}, 0.95, "control.conversions"},
        Case{{1, 10}, {-1, 10}, 0.95, "treatment.conversions"},
        Case{{1, 10}, {1, 10}, 1.0, "confidence"}, Case{{1, 10}, {1, 10}, 0.0, "confidence"}}) {
    absl::StatusOr<ProportionTestResult> r =
        TwoProportionZTest(c.control, c.treatment, c.confidence);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(r.status().message(), HasSubstr(c.field));
  }
}

}  // namespace
}  // namespace cohort::analytics::stats
