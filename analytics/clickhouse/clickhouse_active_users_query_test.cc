// RunActiveUsers on a real engine (18.16, or chdb: query_test_base.h) against the brute-force
// reference on randomized datasets: every metric, interval, time zone and identity mode must give
// identical results.
#include "analytics/clickhouse/clickhouse_active_users_query.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/testing/query_test_base.h"
#include "analytics/reference/reference_engine.h"
#include "analytics/testing/random_events.h"
#include "analytics/testing/random_queries.h"

namespace cohort::analytics::clickhouse {
namespace {

using ActiveUsersQueryTest = testing::ClickHouseQueryTest;

TEST_F(ActiveUsersQueryTest, AgreesWithTheReferenceOnRandomData) {
  int compared = 0;
  int drilled = 0;  // drill-down cells that exist, compared with the reference
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    std::mt19937 rng(seed);
    std::mt19937 drill_rng(seed + 1000);  // cells drawn apart, so the queries stay the same
    analytics::testing::RandomEventsOptions options;
    options.project = absl::StrCat("active", seed);
    std::vector<Event> events = analytics::testing::RandomEvents(seed, options);
    Insert(events, 1 + static_cast<int>(rng() % 4));
    ReferenceEngine reference(events);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      for (int q = 0; q < 4; ++q) {
        ActiveUsersQuery query = analytics::testing::RandomActiveUsersQuery(rng, options, identity);
        absl::StatusOr<ActiveUsersResult> got = RunActiveUsers(query, Sql(), Table());
        ASSERT_TRUE(got.ok()) << got.status();
        absl::StatusOr<Result> expected = reference.Run(query);
        ASSERT_TRUE(expected.ok()) << expected.status();
        const auto& want = std::get<ActiveUsersResult>(*expected);
        ASSERT_EQ(got->buckets, want.buckets) << "seed " << seed << " query " << q;
        ASSERT_EQ(got->values, want.values)
            << "seed " << seed << " query " << q << " zone " << query.scope.time_zone << " metric "
            << static_cast<int>(query.metric) << " interval " << IntervalName(query.interval)
            << " identity " << static_cast<int>(identity) << " on " << EngineName();
        drilled += ExpectDrillDownAgrees(query, reference, drill_rng);
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 12 * 2 * 4);
  std::printf("%s: %d drill-down cells compared\n", EngineName(), drilled);
  EXPECT_GT(drilled, 0);
}

TEST_F(ActiveUsersQueryTest, HandCheckedDeviceMergeAndNewUsers) {
  // d1 browses anonymously on day 1, logs in as u1 on day 2; u2 is active on day 2 only.
  int64_t day1 = 1'772'841'600'000;  // 2026-03-07 UTC
  int64_t day2 = day1 + 86'400'000;
  auto make = [](std::string user, std::string device, int64_t t, std::string id) {
    Event e;
    e.project = "hand";
    e.user_id = std::move(user);
    e.device_id = std::move(device);
    e.time_ms = t;
    e.insert_id = std::move(id);
    e.event_type = "view";
    return e;
  };
  Insert({make("", "d1", day1 + 10, "a"), make("u1", "d1", day2 + 10, "b"),
          make("u2", "", day2 + 20, "c")},
         2);
  auto values = [](const ActiveUsersQuery& query) {
    absl::StatusOr<ActiveUsersResult> r = RunActiveUsers(query, Sql(), Table());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->values : std::vector<int64_t>{};
  };
  ActiveUsersQuery query;
  query.scope.project = "hand";
  query.scope.from_ms = day1;
  query.scope.to_ms = day2 + 86'400'000;
  EXPECT_EQ(values(query), (std::vector<int64_t>{1, 2}));
  query.metric = ActiveUsersMetric::kNew;
  EXPECT_EQ(values(query), (std::vector<int64_t>{1, 1}));  // u1 new on day 1
  query.metric = ActiveUsersMetric::kRolling7;
  EXPECT_EQ(values(query), (std::vector<int64_t>{1, 2}));
  query.scope.identity = IdentityMerge::kNone;
  EXPECT_EQ(values(query), (std::vector<int64_t>{1, 3}));
}

TEST_F(ActiveUsersQueryTest, UnknownTimeZone) {
  ActiveUsersQuery query;
  query.scope.project = "hand";
  query.scope.time_zone = "Mars/Olympus";
  query.scope.to_ms = 86'400'000;
  absl::StatusOr<ActiveUsersResult> got = RunActiveUsers(query, Sql(), Table());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(got.status().message(), "time_zone: ")) << got.status();
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
