// The ClickHouse experiments against the brute-force reference on randomized datasets (issue 6,
// "Correctness"), on Debian's 18.16 or on chdb (testing/query_test_base.h): conversion and mean
// metrics, two to four variants (a number 1 and a string "1" being one), multiple exposures,
// exposures without the variant property, confidences, expected splits, mSPRT, rejected
// parameters, both identity modes, goals with user-property filters.
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
#include "analytics/testing/random_queries.h"

namespace cohort::analytics::clickhouse {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

using ClickHouseExperimentQueryTest = testing::ClickHouseQueryTest;

using ::cohort::analytics::testing::Describe;

TEST_F(ClickHouseExperimentQueryTest, AgreesWithTheReferenceOnRandomData) {
  constexpr uint32_t kSeeds = 12;
  constexpr int kQueries = 8;
  int compared = 0, errors = 0, with_user = 0;
  int drilled = 0;  // drill-down cells that exist, compared with the reference
  int two_arms = 0, tested = 0, welch = 0, adjusted = 0, always_valid = 0, lifted = 0,
      with_multiple = 0, mean_with_variance = 0;
  for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
    std::mt19937 rng(seed);
    std::mt19937 drill_rng(seed + 1000);  // cells drawn apart, so the queries stay the same
    analytics::testing::RandomEventsOptions options;
    options.project = absl::StrCat("experiment-", seed);
    std::vector<Event> events = analytics::testing::ExperimentEvents(seed, options);
    Insert(events, 1 + static_cast<int>(rng() % 4));
    ReferenceEngine reference(events);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      for (int q = 0; q < kQueries; ++q) {
        ExperimentQuery query =
            analytics::testing::RandomExperimentQuery(rng, options, identity, seed);
        std::string where = absl::StrCat(EngineName(), " seed ", seed, " query ", q, " identity ",
                                         static_cast<int>(identity));
        ExperimentQuery reduced = query;
        if (analytics::testing::StripUserProperties(reduced)) ++with_user;
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
        drilled += ExpectDrillDownAgrees(query, reference, drill_rng);
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
      "%s: %d compared (%d errors alike, %d with user properties), %d with two arms, %d tests "
      "(%d Welch, %d adjusted, %d always-valid, %d lifts), %d with multiple exposures, "
      "%d mean arms with variance\n",
      EngineName(), compared, errors, with_user, two_arms, tested, welch, adjusted, always_valid,
      lifted, with_multiple, mean_with_variance);
  EXPECT_EQ(compared, static_cast<int>(kSeeds) * 2 * kQueries);
  std::printf("%s: %d drill-down cells compared\n", EngineName(), drilled);
  EXPECT_GT(drilled, 0);
  EXPECT_GT(two_arms, 100);
  EXPECT_GT(tested, 100);
  EXPECT_GT(welch, 30);
  EXPECT_GT(adjusted, 15);
  EXPECT_GT(always_valid, 30);
  EXPECT_GT(lifted, 25);
  EXPECT_GT(with_multiple, 20);
  EXPECT_GT(mean_with_variance, 20);
  EXPECT_GT(with_user, 10);
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
