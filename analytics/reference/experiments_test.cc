#include "analytics/reference/experiments.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "analytics/reference/reference_engine.h"
#include "analytics/reference/test_events.h"
#include "analytics/stats/bonferroni.h"
#include "analytics/stats/proportion_ztest.h"
#include "analytics/stats/sample_ratio.h"

namespace cohort::analytics {
namespace {

using ::cohort::analytics::testing::At;
using ::cohort::analytics::testing::CellActors;
using ::cohort::analytics::testing::Ev;
using ::cohort::analytics::testing::kDay;
using ::cohort::analytics::testing::RunAs;
using ::cohort::analytics::testing::Scope;
using ::cohort::analytics::testing::With;
using ::testing::DoubleNear;
using ::testing::ElementsAre;

const int64_t kExposed = At(2026, 1, 2, 10);

Event Exposure(const std::string& user, const char* variant, int64_t t = kExposed,
               std::string insert_id = "") {
  Event e = Ev("$exposure", t, user, "", std::move(insert_id));
  return variant ? With(std::move(e), "variant", PropertyValue::String(variant)) : e;
}

Event Buy(const std::string& user, int64_t t, std::optional<PropertyValue> amount = {},
          std::string insert_id = "") {
  Event e = Ev("buy", t, user, "", std::move(insert_id));
  return amount ? With(std::move(e), "amount", *amount) : e;
}

// Window 1 day. control: c1 converts (amounts 10 and "5"); c2's goal is 1 ms late; c3's goal
// (amount 100) precedes its exposure; c4's goal has the exposure's millisecond but an earlier
// insert_id. treatment: t1's goal is exactly at the window end (amount 2); t2's at the exposure's
// millisecond with a later insert_id (amount 4); t3 is exposed twice and converts (amount "abc");
// t4 does not. m1 saw both variants; n1's exposure has no variant.
ReferenceEngine Data() {
  return ReferenceEngine({
      Exposure("c1", "control"),
      Buy("c1", kExposed + 3600'000, PropertyValue::Number(10)),
      Buy("c1", kExposed + 7200'000, PropertyValue::String("5")),
      Exposure("c2", "control"),
      Buy("c2", kExposed + kDay + 1),
      Buy("c3", At(2026, 1, 1), PropertyValue::Number(100)),
      Exposure("c3", "control"),
      Exposure("c4", "control", kExposed, "x2"),
      Buy("c4", kExposed, {}, "x1"),
      Exposure("t1", "treatment"),
      Buy("t1", kExposed + kDay, PropertyValue::Number(2)),
      Exposure("t2", "treatment", kExposed, "y1"),
      Buy("t2", kExposed, PropertyValue::Number(4), "y2"),
      Exposure("t3", "treatment"),
      Exposure("t3", "treatment", kExposed + 60'000),
      Buy("t3", kExposed + 120'000, PropertyValue::String("abc")),
      Exposure("t4", "treatment"),
      Exposure("m1", "control"),
      Exposure("m1", "treatment", kExposed + 1),
      Exposure("n1", nullptr),
      Buy("n1", kExposed + 1),
  });
}

ExperimentQuery Experiment() {
  ExperimentQuery query;
  query.scope = Scope(At(2026, 1, 1), At(2026, 2, 1));
  query.goal = {"buy", {}};
  query.window_ms = kDay;
  return query;
}

TEST(ExperimentTest, ConversionPerVariantWithTheZTest) {
  ReferenceEngine engine = Data();
  auto result = RunAs<ExperimentResult>(engine, Experiment());
  EXPECT_EQ(result.multiple_exposures, 1);
  ASSERT_EQ(result.variants.size(), 2u);
  const VariantResult& control = result.variants[0];
  const VariantResult& treatment = result.variants[1];
  EXPECT_EQ(control.variant, "control");
  EXPECT_EQ(control.actors, 4);
  EXPECT_EQ(control.conversions, 1);
  EXPECT_EQ(control.mean, 0.25);
  EXPECT_EQ(control.variance, 0.25);  // (1 − 4·0.0625) / 3
  EXPECT_EQ(control.p_value, std::nullopt);
  EXPECT_EQ(treatment.variant, "treatment");
  EXPECT_EQ(treatment.actors, 4);
  EXPECT_EQ(treatment.conversions, 3);
  EXPECT_EQ(treatment.mean, 0.75);
  // p̂ = 0.5, z = 0.5 / sqrt(0.25 · 0.5) = √2, p = 2Φ(−√2) ≈ 0.157299.
  ASSERT_TRUE(treatment.p_value.has_value());
  EXPECT_THAT(*treatment.p_value, DoubleNear(0.157299, 1e-6));
  absl::StatusOr<stats::ProportionTestResult> z = stats::TwoProportionZTest({1, 4}, {3, 4}, 0.95);
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(treatment.p_value, z->p_value);
  EXPECT_EQ(treatment.difference, 0.5);
  EXPECT_EQ(treatment.difference_low, z->difference_ci.lower);
  EXPECT_EQ(treatment.lift, 2.0);
  EXPECT_EQ(treatment.p_value_adjusted, std::nullopt);  // two variants
  EXPECT_EQ(treatment.always_valid_p_value, std::nullopt);
  EXPECT_FALSE(treatment.degenerate);
  EXPECT_EQ(result.srm_chi_squared, 0.0);
  EXPECT_EQ(result.srm_p_value, 1.0);
  EXPECT_FALSE(result.sample_ratio_mismatch);

  EXPECT_THAT(CellActors(engine, Experiment(), {0, 0}), ElementsAre("c1", "c2", "c3", "c4"));
  EXPECT_THAT(CellActors(engine, Experiment(), {0, 1}), ElementsAre("c1"));
  EXPECT_THAT(CellActors(engine, Experiment(), {1, 1}), ElementsAre("t1", "t2", "t3"));
}

TEST(ExperimentTest, MeanMetricSumsTheNumericPropertyPerActorZerosIncluded) {
  ExperimentQuery query = Experiment();
  query.sum_property = "amount";
  auto result = RunAs<ExperimentResult>(Data(), query);
  ASSERT_EQ(result.variants.size(), 2u);
  // control [15, 0, 0, 0]; treatment [2, 4, 0, 0].
  EXPECT_EQ(result.variants[0].mean, 3.75);
  EXPECT_EQ(result.variants[0].variance, 56.25);
  EXPECT_EQ(result.variants[1].mean, 1.5);
  EXPECT_THAT(result.variants[1].variance, DoubleNear(11.0 / 3, 1e-12));
  EXPECT_EQ(result.variants[1].difference, -2.25);
  EXPECT_EQ(result.variants[1].lift, -0.6);
  ASSERT_TRUE(result.variants[1].p_value.has_value());
  EXPECT_GT(*result.variants[1].p_value, 0.0);
  EXPECT_LT(*result.variants[1].p_value, 1.0);
}

TEST(ExperimentTest, MoreVariantsGetBonferroniAndTheExpectedSplitDrivesSrm) {
  std::vector<Event> events = {Exposure("c1", "control"), Buy("c1", kExposed + 1),
                               Exposure("c2", "control"), Exposure("b1", "b"),
                               Buy("b1", kExposed + 1),   Exposure("b2", "b"),
                               Buy("b2", kExposed + 1),   Exposure("a1", "a")};
  ExperimentQuery query = Experiment();
  query.msprt_tau2 = 0.01;
  auto result = RunAs<ExperimentResult>(ReferenceEngine(events), query);
  std::vector<std::string> names;
  for (const VariantResult& v : result.variants) names.push_back(v.variant);
  EXPECT_THAT(names, ElementsAre("control", "a", "b"));
  for (int v : {1, 2}) {
    ASSERT_TRUE(result.variants[v].p_value.has_value());
    absl::StatusOr<double> adjusted = stats::BonferroniAdjust(*result.variants[v].p_value, 2);
    EXPECT_EQ(result.variants[v].p_value_adjusted, *adjusted);
    ASSERT_TRUE(result.variants[v].always_valid_p_value.has_value());
    EXPECT_GE(*result.variants[v].always_valid_p_value, 0.0);
    EXPECT_LE(*result.variants[v].always_valid_p_value, 1.0);
  }
  // SRM over a, b, control (name order) = 1, 2, 2 against weights 1, 1, 2: E = 1.25, 1.25, 2.5.
  query.expected_split = {1, 1, 2};
  result = RunAs<ExperimentResult>(ReferenceEngine(events), query);
  absl::StatusOr<stats::SampleRatioResult> srm =
      stats::SampleRatioMismatch(std::vector<int64_t>{1, 2, 2}, std::vector<double>{1, 1, 2});
  ASSERT_TRUE(srm.ok());
  EXPECT_THAT(result.srm_chi_squared, DoubleNear(0.05 + 0.45 + 0.1, 1e-12));
  EXPECT_EQ(result.srm_p_value, srm->p_value);

  query.expected_split = {1, 2};
  absl::StatusOr<Result> bad = ReferenceEngine(events).Run(query);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExperimentTest, NoExposuresGiveAnEmptyResult) {
  auto result = RunAs<ExperimentResult>(ReferenceEngine({Buy("u", kExposed)}), Experiment());
  EXPECT_EQ(result, ExperimentResult{});
}

}  // namespace
}  // namespace cohort::analytics
