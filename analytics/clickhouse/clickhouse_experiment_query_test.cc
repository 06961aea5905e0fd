// The ClickHouse experiments against the brute-force reference on randomized datasets (issue 6,
// "Correctness"), on Debian's 18.16 or on chdb (testing/query_test_base.h): conversion and mean
// metrics, two to four variants (a number 1 and a string "1" being one), multiple exposures,
// exposures without the variant property, confidences, expected splits, mSPRT, rejected
// parameters, both identity modes. Goals with user-property filters must be refused
// (kUnimplemented); their event-only reduction is compared instead.
#include "analytics/clickhouse/clickhouse_experiment_query.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/testing/query_test_base.h"
#include "analytics/reference/reference_engine.h"
#include "analytics/testing/describe.h"
#include "analytics/testing/random_events.h"

namespace cohort::analytics::clickhouse {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

using ClickHouseExperimentQueryTest = testing::ClickHouseQueryTest;

using ::cohort::analytics::testing::Describe;

// A goal of the random dataset's types (purchase more often), sometimes filtered.
EventSelector RandomGoal(std::mt19937& rng) {
  return analytics::testing::RandomSelector(
      rng, {"purchase", "purchase", "click", "view", "signup", "_active", "_all", "$exposure",
            "resent", "purchase", "dify.message", "$identify"});
}

// Reshapes the random dataset's exposures per seed: as generated (a coin per exposure, so most
// exposed actors see both variants), sticky per storage group (arms of useful size), three or
// four variants (Bonferroni; a number 1 and a string "1" share the label "1"), and exposures
// without the variant property.
void ReshapeExposures(uint32_t seed, std::vector<Event>* events) {
  const int mode = static_cast<int>(seed % 4);
  if (mode == 0) return;
  std::mt19937 rng(seed * 7919);
  for (Event& e : *events) {
    if (e.event_type != "$exposure") continue;
    const std::string& who = e.user_id.empty() ? e.device_id : e.user_id;
    size_t h = std::hash<std::string>()(who);
    if (rng() % 10 == 0) h = rng();  // a stray exposure to another variant
    switch (mode) {
      case 1:
        e.event_properties["variant"] = PropertyValue::String(h % 2 ? "control" : "treatment");
        break;
      case 2:
        switch (h % 4) {
          case 0:
            e.event_properties["variant"] = PropertyValue::String("control");
            break;
          case 1:
            e.event_properties["variant"] = PropertyValue::String("treatment");
            break;
          case 2:
            e.event_properties["variant"] = PropertyValue::String("b");
            break;
          default:
            e.event_properties["variant"] =
                rng() % 2 ? PropertyValue::Number(1) : PropertyValue::String("1");
        }
        break;
      default:
        e.event_properties["variant"] = PropertyValue::String(h % 3 ? "control" : "treatment");
        if (rng() % 5 == 0) e.event_properties.erase("variant");
    }
  }
}

TEST_F(ClickHouseExperimentQueryTest, AgreesWithTheReferenceOnRandomData) {
  const int64_t kWindows[] = {0, kMinute, kHour, kDay, 3 * kDay, 14 * kDay};
  const double kConfidences[] = {0.9, 0.95, 0.99};
  const double kTau2[] = {0.0001, 0.01, 1, 25};
  constexpr uint32_t kSeeds = 12;
  constexpr int kQueries = 8;
  int compared = 0, errors = 0, refused = 0;
  int two_arms = 0, tested = 0, welch = 0, adjusted = 0, always_valid = 0, lifted = 0,
      with_multiple = 0, mean_with_variance = 0;
  for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
    std::mt19937 rng(seed);
    analytics::testing::RandomEventsOptions options;
    options.project = absl::StrCat("experiment-", seed);
    if (seed % 3 == 0) {  // more actors, bigger arms
      options.actors = 80;
      options.events = 900;
    }
    std::vector<Event> events = analytics::testing::RandomEvents(seed, options);
    ReshapeExposures(seed, &events);
    Insert(events, 1 + static_cast<int>(rng() % 4));
    ReferenceEngine reference(events);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      for (int q = 0; q < kQueries; ++q) {
        ExperimentQuery query;
        query.scope.project = options.project;
        query.scope.identity = identity;
        if (rng() % 4 == 0) {
          query.scope.from_ms = options.start_ms - kHour;
          query.scope.to_ms = options.start_ms + options.span_ms + kHour;
        } else {
          query.scope.from_ms =
              options.start_ms - kHour + static_cast<int64_t>(rng() % (options.span_ms / 2));
          query.scope.to_ms =
              query.scope.from_ms + kHour + static_cast<int64_t>(rng() % options.span_ms);
        }
        if (rng() % 3 == 0) query.scope.inactive_event_types = {"view"};
        if (rng() % 10 == 0) {  // another exposure event and variant property
          query.exposure_event = "click";
          query.variant_property = "button";
          query.control = "buy";
        }
        if (rng() % 8 == 0) query.control = rng() % 2 ? "treatment" : "nobody";
        query.goal = RandomGoal(rng);
        query.window_ms = kWindows[rng() % std::size(kWindows)];
        if (rng() % 2) query.window_ms += static_cast<int64_t>(rng() % kDay);
        if (rng() % 2) {
          static const char* kSums[] = {"price", "price", "price", "button", "variant"};
          query.sum_property = kSums[rng() % std::size(kSums)];
        }
        query.confidence = kConfidences[rng() % std::size(kConfidences)];
        if (rng() % 4 == 0) {  // sized for the seed's variants, rarely not
          size_t variants = seed % 4 == 2 && query.exposure_event == "$exposure" ? 4 : 2;
          if (rng() % 10 == 0) variants = 5 - variants;
          for (size_t v = 0; v < variants; ++v) {
            query.expected_split.push_back(1 + static_cast<double>(rng() % 3));
          }
        }
        if (rng() % 2) query.msprt_tau2 = kTau2[rng() % std::size(kTau2)];
        // Rarely, parameters the statistics reject: both engines must fail alike.
        if (rng() % 40 == 0) query.confidence = 1.5;
        if (rng() % 40 == 0) query.msprt_tau2 = -1;
        if (rng() % 80 == 0) query.scope.time_zone = "Not/AZone";

        std::string where = absl::StrCat(EngineName(), " seed ", seed, " query ", q, " identity ",
                                         static_cast<int>(identity));
        const ExperimentQuery original = query;
        std::erase_if(query.goal.filters, [](const PropertyFilter& filter) {
          return filter.property.scope == PropertyRef::Scope::kUser;
        });
        if (query.goal.filters.size() < original.goal.filters.size() &&
            query.scope.time_zone != "Not/AZone") {
          absl::StatusOr<ExperimentResult> refusal = RunExperiment(original, Sql(), Table());
          ASSERT_EQ(refusal.status().code(), absl::StatusCode::kUnimplemented) << refusal.status();
          ++refused;
        }
        absl::StatusOr<ExperimentResult> got = RunExperiment(query, Sql(), Table());
        absl::StatusOr<Result> expected = reference.Run(query);
        ++compared;
        if (!expected.ok()) {
          ASSERT_EQ(got.status(), expected.status()) << where;
          ++errors;
          continue;
        }
        ASSERT_TRUE(got.ok()) << got.status() << " " << where;
        const auto& want = std::get<ExperimentResult>(*expected);
        ASSERT_EQ(*got, want) << where << "\ngot  " << Describe(*got) << "\nwant "
                              << Describe(want);
        if (want.variants.size() >= 2) ++two_arms;
        if (want.multiple_exposures > 0) ++with_multiple;
        for (const VariantResult& v : want.variants) {
          if (v.p_value) ++tested;
          if (v.p_value && query.sum_property) ++welch;
          if (v.p_value_adjusted) ++adjusted;
          if (v.always_valid_p_value) ++always_valid;
          if (v.lift) ++lifted;
          if (query.sum_property && v.variance > 0) ++mean_with_variance;
        }
      }
    }
  }
  std::printf(
      "%s: %d compared (%d errors alike, %d refused first), %d with two arms, %d tests "
      "(%d Welch, %d adjusted, %d always-valid, %d lifts), %d with multiple exposures, "
      "%d mean arms with variance\n",
      EngineName(), compared, errors, refused, two_arms, tested, welch, adjusted, always_valid,
      lifted, with_multiple, mean_with_variance);
  EXPECT_EQ(compared, static_cast<int>(kSeeds) * 2 * kQueries);
  EXPECT_GT(two_arms, 100);
  EXPECT_GT(tested, 100);
  EXPECT_GT(welch, 30);
  EXPECT_GT(adjusted, 15);
  EXPECT_GT(always_valid, 30);
  EXPECT_GT(lifted, 35);
  EXPECT_GT(with_multiple, 20);
  EXPECT_GT(mean_with_variance, 20);
  EXPECT_GT(refused, 10);
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
