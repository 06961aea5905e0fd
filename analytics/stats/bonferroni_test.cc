#include "analytics/stats/bonferroni.h"

#include <cmath>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::analytics::stats {
namespace {

using ::testing::DoubleEq;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(BonferroniTest, MultipliesByTheComparisonsCappedAtOne) {
  EXPECT_DOUBLE_EQ(*BonferroniAdjust(0.01, 3), 0.03);
  EXPECT_EQ(*BonferroniAdjust(0.4, 3), 1);
  EXPECT_EQ(*BonferroniAdjust(0.4, 1), 0.4);
  EXPECT_EQ(*BonferroniAdjust(0, 5), 0);
  EXPECT_THAT(*BonferroniAdjust(std::vector<double>{0.001, 0.02, 0.5}),
              ElementsAre(DoubleEq(0.003), DoubleEq(0.06), 1));
  EXPECT_TRUE(BonferroniAdjust(std::vector<double>{})->empty());
}

TEST(BonferroniTest, InvalidArgumentsNameTheField) {
  EXPECT_THAT(BonferroniAdjust(1.5, 2).status().message(), HasSubstr("p_value"));
  EXPECT_THAT(BonferroniAdjust(NAN, 2).status().message(), HasSubstr("p_value"));
  EXPECT_THAT(BonferroniAdjust(0.5, 0).status().message(), HasSubstr("comparisons"));
  absl::StatusOr<std::vector<double>> v = BonferroniAdjust(std::vector<double>{0.1, -0.1});
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("p_values[1]"));
}

}  // namespace
}  // namespace cohort::analytics::stats
