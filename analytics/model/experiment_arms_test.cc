#include "analytics/model/experiment_arms.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::analytics {
namespace {

TEST(ExperimentArmsTest, ControlFirstAndOnlyOthersCompared) {
  ExperimentQuery query;
  ExperimentArm a{"a", 10, 5, 0, 0}, control{"control", 10, 2, 0, 0}, z{"z", 10, 2, 0, 0};
  std::vector<const ExperimentArm*> by_name = {&a, &control, &z};
  EXPECT_THAT(ExperimentArmsInResultOrder(query, by_name), testing::ElementsAre(&control, &a, &z));
  ExperimentResult result;
  ASSERT_TRUE(SummarizeExperimentArms(query, by_name, &result).ok());
  ASSERT_EQ(result.variants.size(), 3u);
  const VariantResult& c = result.variants[0];
  EXPECT_EQ(c.variant, "control");
  EXPECT_DOUBLE_EQ(c.mean, 0.2);
  EXPECT_NEAR(c.variance, 0.2 * 0.8 * 10 / 9, 1e-12);  // sample variance of 0/1 values
  EXPECT_FALSE(c.p_value.has_value());
  const VariantResult& t = result.variants[1];
  EXPECT_EQ(t.variant, "a");
  ASSERT_TRUE(t.p_value.has_value());
  ASSERT_TRUE(t.difference.has_value());
  EXPECT_NEAR(*t.difference, 0.3, 1e-12);
  ASSERT_TRUE(t.p_value_adjusted.has_value());  // two comparisons
  EXPECT_NEAR(*t.p_value_adjusted, std::min(1.0, 2 * *t.p_value), 1e-12);
  EXPECT_FALSE(t.always_valid_p_value.has_value());
  EXPECT_NEAR(*result.variants[2].difference, 0, 1e-12);
  EXPECT_NEAR(result.srm_chi_squared, 0, 1e-12);  // equal arms
  EXPECT_FALSE(result.sample_ratio_mismatch);
}

TEST(ExperimentArmsTest, WithoutControlNothingIsCompared) {
  ExperimentQuery query;
  query.control = "none";
  ExperimentArm a{"a", 4, 1, 0, 0}, b{"b", 6, 3, 0, 0};
  ExperimentResult result;
  ASSERT_TRUE(SummarizeExperimentArms(query, {&a, &b}, &result).ok());
  ASSERT_EQ(result.variants.size(), 2u);
  EXPECT_EQ(result.variants[0].variant, "a");
  EXPECT_FALSE(result.variants[1].p_value.has_value());
  EXPECT_GT(result.srm_chi_squared, 0);
}

TEST(ExperimentArmsTest, MeanMetricNeedsTwoActorsPerArm) {
  ExperimentQuery query;
  query.sum_property = "price";
  query.msprt_tau2 = 1.0;
  // Values 1, 3 (control) and 5 (treatment, one actor).
  ExperimentArm control{"control", 2, 2, 4, 10}, t{"t", 1, 1, 5, 25};
  ExperimentResult result;
  ASSERT_TRUE(SummarizeExperimentArms(query, {&control, &t}, &result).ok());
  EXPECT_DOUBLE_EQ(result.variants[0].mean, 2);
  EXPECT_NEAR(result.variants[0].variance, 2, 1e-12);
  EXPECT_FALSE(result.variants[1].p_value.has_value());
  t = {"t", 2, 2, 10, 52};  // values 4, 6
  result = {};
  ASSERT_TRUE(SummarizeExperimentArms(query, {&control, &t}, &result).ok());
  ASSERT_TRUE(result.variants[1].difference.has_value());
  EXPECT_NEAR(*result.variants[1].difference, 3, 1e-12);
  EXPECT_TRUE(result.variants[1].always_valid_p_value.has_value());
}

TEST(ExperimentArmsTest, ErrorsNameTheQueryField) {
  ExperimentQuery query;
  query.confidence = 2;
  ExperimentArm control{"control", 10, 2, 0, 0}, t{"t", 10, 5, 0, 0};
  ExperimentResult result;
  absl::Status status = SummarizeExperimentArms(query, {&control, &t}, &result);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(status.message()).rfind("confidence: ", 0), 0u) << status;
}

}  // namespace
}  // namespace cohort::analytics
