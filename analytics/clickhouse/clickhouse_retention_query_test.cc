// The ClickHouse retention against the brute-force reference on randomized datasets (issue 6,
// "Correctness"), on Debian's 18.16 or on chdb (testing/query_test_base.h): every mode (N-day,
// unbounded, brackets), rolling and calendar days in several zones, both identity modes, as-of
// instants inside the data, at day starts and at return times; user-property filters.
#include "analytics/clickhouse/clickhouse_retention_query.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/testing/query_test_base.h"
#include "analytics/reference/reference_engine.h"
#include "analytics/testing/random_events.h"
#include "analytics/testing/random_queries.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::clickhouse {
namespace {

constexpr int64_t kDayMs = 86'400'000;

using ClickHouseRetentionQueryTest = testing::ClickHouseQueryTest;

TEST_F(ClickHouseRetentionQueryTest, AgreesWithTheReferenceOnRandomData) {
  constexpr uint32_t kSeeds = 10;
  constexpr int kQueries = 10;
  int compared = 0, with_user = 0;
  int drilled = 0;  // drill-down cells that exist, compared with the reference
  int64_t retained = 0, complete = 0, incomplete_cells = 0, cohorts = 0;
  for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
    std::mt19937 rng(seed);
    std::mt19937 drill_rng(seed + 1000);  // cells drawn apart, so the queries stay the same
    analytics::testing::RandomEventsOptions options;
    options.project = absl::StrCat("retention-", seed);
    std::vector<Event> events = analytics::testing::RandomEvents(seed, options);
    Insert(events, 1 + static_cast<int>(rng() % 4));
    ReferenceEngine reference(events);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      for (int q = 0; q < kQueries; ++q) {
        RetentionQuery query =
            analytics::testing::RandomRetentionQuery(rng, options, identity, events);
        RetentionQuery reduced = query;
        if (analytics::testing::StripUserProperties(reduced)) ++with_user;
        reduced = query;
        absl::StatusOr<RetentionResult> got = RunRetention(reduced, Sql(), Table());
        ASSERT_TRUE(got.ok()) << got.status();
        absl::StatusOr<Result> expected = reference.Run(reduced);
        ASSERT_TRUE(expected.ok()) << expected.status();
        const auto& want = std::get<RetentionResult>(*expected);
        ASSERT_EQ(*got, want) << EngineName() << " seed " << seed << " query " << q << " zone "
                              << reduced.scope.time_zone << " start " << reduced.start.event_type
                              << " return " << reduced.returned.event_type << " mode "
                              << static_cast<int>(reduced.mode) << " days "
                              << static_cast<int>(reduced.days) << " identity "
                              << static_cast<int>(identity);
        drilled += ExpectDrillDownAgrees(reduced, reference, drill_rng);
        ++compared;
        cohorts += want.total.size;
        for (const RetentionCell& cell : want.total.cells) {
          retained += cell.count;
          complete += cell.out_of;
          incomplete_cells += cell.incomplete;
        }
      }
    }
  }
  std::printf(
      "%s: %d compared (%d with user properties), %lld cohort actors, %lld retained of %lld "
      "complete, %lld incomplete cells\n",
      EngineName(), compared, with_user, static_cast<long long>(cohorts),
      static_cast<long long>(retained), static_cast<long long>(complete),
      static_cast<long long>(incomplete_cells));
  EXPECT_EQ(compared, static_cast<int>(kSeeds) * 2 * kQueries);
  std::printf("%s: %d drill-down cells compared\n", EngineName(), drilled);
  EXPECT_GT(drilled, 0);
  EXPECT_GT(with_user, 30);
  EXPECT_GT(cohorts, 1000);
  EXPECT_GT(retained, 700);
  EXPECT_GT(complete, 2 * retained);
  EXPECT_GT(incomplete_cells, 100);
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
