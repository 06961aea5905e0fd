// The embedded store's experiments against the brute-force reference on randomized datasets
// (issue 6, "Correctness"): the same events, appended in several batches so actors span segments
// and duplicates cross them, must give identical results — bit for bit, statistics included — for
// conversion and mean metrics, two to four variants, filtered goals, windows, confidences,
// expected splits and mSPRT, in both identity modes; plus hand-checked cases of each rule.
#include "analytics/store/experiment_query.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "analytics/reference/reference_engine.h"
#include "analytics/store/testing/stored_events_test_base.h"
#include "analytics/testing/describe.h"
#include "analytics/testing/random_events.h"
#include "analytics/testing/random_queries.h"

namespace cohort::analytics::store {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kT0 = 1'772'841'600'000;  // 2026-03-07 UTC

using ExperimentQueryTest = StoredEventsTest;

using ::cohort::analytics::testing::Describe;

TEST_F(ExperimentQueryTest, AgreesWithTheReferenceOnRandomData) {
  int compared = 0, errors = 0;
  // How much the comparisons exercised, so the test cannot pass on empty experiments.
  int two_arms = 0, tested = 0, welch = 0, adjusted = 0, always_valid = 0, lifted = 0,
      with_multiple = 0, mean_with_variance = 0, degenerate = 0;
  int drilled = 0;  // drill-down cells that exist, compared with the reference
  for (uint32_t seed = 1; seed <= 32; ++seed) {
    std::mt19937 rng(seed);
    testing::RandomEventsOptions options;
    std::vector<Event> events = testing::ExperimentEvents(seed, options);
    Snapshot snapshot = Store(events, 1 + static_cast<int>(rng() % 4), static_cast<int>(seed));
    ReferenceEngine reference(events);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      ActorView view = ActorView::Build(snapshot.segments, identity);
      for (int q = 0; q < 12; ++q) {
        ExperimentQuery query = testing::RandomExperimentQuery(rng, options, identity, seed);

        absl::StatusOr<ExperimentResult> embedded = RunExperiment(query, view);
        absl::StatusOr<Result> expected = reference.Run(query);
        std::string where = "seed " + std::to_string(seed) + " query " + std::to_string(q) +
                            " identity " + std::to_string(static_cast<int>(identity));
        drilled += ExpectDrillDownsAgree(query, view, reference, rng);
        ++compared;
        if (!expected.ok()) {
          ASSERT_EQ(embedded.status(), expected.status()) << where;
          ++errors;
          continue;
        }
        ASSERT_TRUE(embedded.ok()) << embedded.status() << " " << where;
        const auto& want = std::get<ExperimentResult>(*expected);
        ASSERT_EQ(*embedded, want)
            << where << "\ngot  " << Describe(*embedded) << "\nwant " << Describe(want);
        if (want.variants.size() >= 2) ++two_arms;
        if (want.multiple_exposures > 0) ++with_multiple;
        for (const VariantResult& v : want.variants) {
          if (v.p_value) ++tested;
          if (v.p_value && query.sum_property) ++welch;
          if (v.p_value_adjusted) ++adjusted;
          if (v.always_valid_p_value) ++always_valid;
          if (v.lift) ++lifted;
          if (v.degenerate) ++degenerate;
          if (query.sum_property && v.variance > 0) ++mean_with_variance;
        }
      }
    }
  }
  EXPECT_EQ(compared, 32 * 2 * 12);
  EXPECT_GT(drilled, compared / 5);
  EXPECT_GT(errors, 0);
  EXPECT_LT(errors, 100);
  EXPECT_GT(two_arms, 300);
  EXPECT_GT(tested, 300);
  EXPECT_GT(welch, 100);
  EXPECT_GT(adjusted, 50);
  EXPECT_GT(always_valid, 100);
  EXPECT_GT(lifted, 150);
  EXPECT_GT(with_multiple, 300);
  EXPECT_GT(mean_with_variance, 100);
  EXPECT_GT(degenerate, 50);
}

Event Make(std::string user, std::string type, int64_t time, std::string id) {
  Event e;
  e.project = "p";
  e.user_id = std::move(user);
  e.event_type = std::move(type);
  e.time_ms = time;
  e.insert_id = std::move(id);
  return e;
}

Event Exposure(std::string user, int64_t time, std::string id, std::string variant) {
  Event e = Make(std::move(user), "$exposure", time, std::move(id));
  e.event_properties["variant"] = PropertyValue::String(std::move(variant));
  return e;
}

Event Purchase(std::string user, int64_t time, std::string id, PropertyValue price) {
  Event e = Make(std::move(user), "purchase", time, std::move(id));
  e.event_properties["price"] = std::move(price);
  return e;
}

// The range is [kT0, kT0 + 1 day). Control: u1 (converts at +1h for 2, again at +2h for "3"),
// u2 (only a click). Treatment: u3 (a purchase in the same millisecond as its exposure, before it
// in the total order, does not count; the one after it does, for 4), u5 (its first exposure has no
// variant; the purchase before its real first exposure does not count), u6 (exposed to control
// before the range, so treatment; converts for 1, and again after the range). u4 sees both
// variants.
std::vector<Event> HandEvents() {
  return {
      Exposure("u1", kT0, "u1a", "control"),
      Purchase("u1", kT0 + kHour, "u1b", PropertyValue::Number(2)),
      Purchase("u1", kT0 + 2 * kHour, "u1c", PropertyValue::String("3")),
      Exposure("u2", kT0, "u2a", "control"),
      Make("u2", "click", kT0 + kHour, "u2b"),
      Purchase("u3", kT0 + kHour, "u3a", PropertyValue::Number(100)),
      Exposure("u3", kT0 + kHour, "u3b", "treatment"),
      Purchase("u3", kT0 + kHour, "u3c", PropertyValue::Number(4)),
      Exposure("u4", kT0, "u4a", "control"),
      Exposure("u4", kT0 + kHour, "u4b", "treatment"),
      Purchase("u4", kT0 + 2 * kHour, "u4c", PropertyValue::Number(9)),
      Make("u5", "$exposure", kT0, "u5a"),
      Purchase("u5", kT0 + 30 * kMinute, "u5b", PropertyValue::Number(7)),
      Exposure("u5", kT0 + kHour, "u5c", "treatment"),
      Exposure("u6", kT0 - kHour, "u6a", "control"),
      Exposure("u6", kT0 + kHour, "u6b", "treatment"),
      Purchase("u6", kT0 + 2 * kHour, "u6c", PropertyValue::Number(1)),
      Purchase("u6", kT0 + kDay + kHour, "u6d", PropertyValue::Number(50)),
  };
}

ExperimentQuery HandQuery() {
  ExperimentQuery query;
  query.scope.project = "p";
  query.scope.from_ms = kT0;
  query.scope.to_ms = kT0 + kDay;
  query.goal.event_type = "purchase";
  query.window_ms = 90 * kMinute;
  return query;
}

TEST_F(ExperimentQueryTest, HandCheckedConversion) {
  Snapshot snapshot = Store(HandEvents(), 3, 0);
  ActorView view = ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser);
  absl::StatusOr<ExperimentResult> result = RunExperiment(HandQuery(), view);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->multiple_exposures, 1);
  ASSERT_EQ(result->variants.size(), 2u);
  const VariantResult& control = result->variants[0];
  EXPECT_EQ(control.variant, "control");
  EXPECT_EQ(control.actors, 2);
  EXPECT_EQ(control.conversions, 1);
  EXPECT_DOUBLE_EQ(control.mean, 0.5);
  EXPECT_DOUBLE_EQ(control.variance, 0.5);  // {1, 0}
  EXPECT_FALSE(control.p_value.has_value());
  const VariantResult& treatment = result->variants[1];
  EXPECT_EQ(treatment.variant, "treatment");
  EXPECT_EQ(treatment.actors, 3);
  EXPECT_EQ(treatment.conversions, 2);  // u3 and u6
  EXPECT_DOUBLE_EQ(treatment.mean, 2.0 / 3);
  EXPECT_DOUBLE_EQ(treatment.variance, 1.0 / 3);  // {1, 0, 1}
  ASSERT_TRUE(treatment.p_value.has_value());
  EXPECT_GT(*treatment.p_value, 0.5);  // 1 of 2 against 2 of 3: nowhere near significant
  EXPECT_DOUBLE_EQ(*treatment.difference, 2.0 / 3 - 0.5);
  EXPECT_DOUBLE_EQ(*treatment.lift, (2.0 / 3 - 0.5) / 0.5);
  EXPECT_FALSE(treatment.p_value_adjusted.has_value());      // two variants
  EXPECT_FALSE(treatment.always_valid_p_value.has_value());  // no tau²
  EXPECT_DOUBLE_EQ(result->srm_chi_squared, 0.2);            // 2 and 3 against 2.5 each
  EXPECT_FALSE(result->sample_ratio_mismatch);
}

TEST_F(ExperimentQueryTest, HandCheckedMeanMetricAndWindow) {
  Snapshot snapshot = Store(HandEvents(), 2, 0);
  ActorView view = ActorView::Build(snapshot.segments, IdentityMerge::kNone);
  ExperimentQuery query = HandQuery();
  query.sum_property = "price";
  query.msprt_tau2 = 1;
  absl::StatusOr<ExperimentResult> result = RunExperiment(query, view);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->variants.size(), 2u);
  EXPECT_EQ(result->variants[0].conversions, 1);             // filled for mean metrics too
  EXPECT_DOUBLE_EQ(result->variants[0].mean, 1);             // {2, 0}
  EXPECT_DOUBLE_EQ(result->variants[0].variance, 2);         // ((2-1)² + (0-1)²) / 1
  EXPECT_DOUBLE_EQ(result->variants[1].mean, 5.0 / 3);       // {4, 0, 1}
  EXPECT_DOUBLE_EQ(result->variants[1].variance, 13.0 / 3);  // (17 - 25/3) / 2
  EXPECT_DOUBLE_EQ(*result->variants[1].difference, 5.0 / 3 - 1);
  EXPECT_TRUE(result->variants[1].p_value.has_value());
  EXPECT_TRUE(result->variants[1].always_valid_p_value.has_value());

  // A 14-day window takes u1's "3" too; u6's purchase after the range still does not count.
  query.window_ms = 14 * kDay;
  result = RunExperiment(query, view);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_DOUBLE_EQ(result->variants[0].mean, 2.5);      // {5, 0}
  EXPECT_DOUBLE_EQ(result->variants[1].mean, 5.0 / 3);  // unchanged
  // A zero window: only goal events in the exposure's millisecond (u3's second purchase).
  query.window_ms = 0;
  result = RunExperiment(query, view);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->variants[0].conversions, 0);
  EXPECT_EQ(result->variants[1].conversions, 1);
  EXPECT_DOUBLE_EQ(result->variants[1].mean, 4.0 / 3);
  EXPECT_TRUE(result->variants[1].p_value.has_value());  // control {0, 0}: variance 0, one arm
  EXPECT_FALSE(result->variants[1].lift.has_value());    // the control's mean is 0
}

TEST_F(ExperimentQueryTest, ThreeVariantsControlFirstAndBonferroni) {
  std::vector<Event> events = HandEvents();
  events.push_back(Exposure("u7", kT0, "u7a", "b"));
  events.push_back(Exposure("u8", kT0, "u8a", "b"));
  events.push_back(Purchase("u8", kT0 + kMinute, "u8b", PropertyValue::Number(1)));
  Snapshot snapshot = Store(events, 1, 0);
  ActorView view = ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser);
  ExperimentQuery query = HandQuery();
  query.expected_split = {1, 1, 1};  // b, control, treatment
  absl::StatusOr<ExperimentResult> result = RunExperiment(query, view);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->variants.size(), 3u);
  EXPECT_EQ(result->variants[0].variant, "control");
  EXPECT_EQ(result->variants[1].variant, "b");
  EXPECT_EQ(result->variants[2].variant, "treatment");
  for (int v : {1, 2}) {
    ASSERT_TRUE(result->variants[v].p_value.has_value());
    ASSERT_TRUE(result->variants[v].p_value_adjusted.has_value());
    EXPECT_DOUBLE_EQ(*result->variants[v].p_value_adjusted,
                     std::min(1.0, 2 * *result->variants[v].p_value));
  }
  // 2, 2, 3 against 7/3 each.
  EXPECT_NEAR(result->srm_chi_squared, (1.0 / 9 + 1.0 / 9 + 4.0 / 9) / (7.0 / 3), 1e-12);

  // Without the control among the variants: by name, no tests, SRM still.
  query.control = "nobody";
  result = RunExperiment(query, view);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->variants.size(), 3u);
  EXPECT_EQ(result->variants[0].variant, "b");
  for (const VariantResult& v : result->variants) EXPECT_FALSE(v.p_value.has_value());
  EXPECT_GT(result->srm_chi_squared, 0);

  // A split of the wrong size is rejected by the SRM check.
  query.expected_split = {1, 1};
  EXPECT_EQ(RunExperiment(query, view).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ExperimentQueryTest, EmptyAndInvalid) {
  Snapshot snapshot = Store(HandEvents(), 1, 0);
  ActorView view = ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser);
  ExperimentQuery query = HandQuery();
  query.scope.from_ms = kT0 + 10 * kDay;  // no exposure in range
  query.scope.to_ms = kT0 + 11 * kDay;
  absl::StatusOr<ExperimentResult> result = RunExperiment(query, view);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, ExperimentResult());
  query.scope.time_zone = "Not/AZone";
  EXPECT_EQ(RunExperiment(query, view).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::analytics::store
