// RunSessions on a real engine (18.16, or chdb: query_test_base.h) against the brute-force
// reference on randomized datasets (every interval, time zone, identity mode, timeout and
// histogram), plus a hand-checked case of each rule.
#include "analytics/clickhouse/clickhouse_sessions_query.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/testing/query_test_base.h"
#include "analytics/reference/reference_engine.h"
#include "analytics/testing/random_events.h"
#include "analytics/testing/random_queries.h"

namespace cohort::analytics::clickhouse {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

using SessionsQueryTest = testing::ClickHouseQueryTest;

TEST_F(SessionsQueryTest, AgreesWithTheReferenceOnRandomData) {
  int compared = 0;
  int drilled = 0;  // drill-down cells that exist, compared with the reference
  int64_t sessions = 0, with_length = 0, multi_bucket = 0;
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    std::mt19937 rng(seed);
    std::mt19937 drill_rng(seed + 1000);  // cells drawn apart, so the queries stay the same
    analytics::testing::RandomEventsOptions options;
    options.project = absl::StrCat("sessions", seed);
    std::vector<Event> events = analytics::testing::SessionsEvents(seed, options);
    Insert(events, 1 + static_cast<int>(rng() % 4));
    ReferenceEngine reference(events);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      for (int q = 0; q < 4; ++q) {
        SessionsQuery query = analytics::testing::RandomSessionsQuery(rng, options, identity);
        absl::StatusOr<SessionsResult> got = RunSessions(query, Sql(), Table());
        ASSERT_TRUE(got.ok()) << got.status();
        absl::StatusOr<Result> expected = reference.Run(query);
        ASSERT_TRUE(expected.ok()) << expected.status();
        const auto& want = std::get<SessionsResult>(*expected);
        ASSERT_EQ(*got, want) << "seed " << seed << " query " << q << " zone "
                              << query.scope.time_zone << " interval "
                              << IntervalName(query.interval) << " timeout " << query.timeout_ms
                              << " identity " << static_cast<int>(identity) << " on "
                              << EngineName();
        drilled += ExpectDrillDownAgrees(query, reference, drill_rng);
        ++compared;
        sessions += want.total_count;
        if (want.total_average_length_s.value_or(0) > 0) ++with_length;
        int buckets_with_sessions = 0;
        for (int64_t count : want.counts) buckets_with_sessions += count > 0;
        if (buckets_with_sessions > 1) ++multi_bucket;
      }
    }
  }
  EXPECT_EQ(compared, 12 * 2 * 4);
  std::printf("%s: %d drill-down cells compared\n", EngineName(), drilled);
  EXPECT_GT(drilled, 0);
  // The data exercised what matters: many sessions, lengths > 0, several buckets.
  EXPECT_GT(sessions, 2'000);
  EXPECT_GT(with_length, compared / 2);
  EXPECT_GT(multi_bucket, compared / 2);
}

Event Make(std::string user, std::string device, int64_t t, std::string id,
           std::optional<int64_t> session_id, std::string type = "view") {
  Event e;
  e.project = "sessions-hand";
  e.user_id = std::move(user);
  e.device_id = std::move(device);
  e.time_ms = t;
  e.insert_id = std::move(id);
  e.event_type = std::move(type);
  e.session_id = session_id;
  return e;
}

TEST_F(SessionsQueryTest, HandChecked) {
  int64_t day1 = 1'772'841'600'000;  // 2026-03-07 UTC
  int64_t day2 = day1 + kDay;
  std::vector<Event> events = {
      // u1: a gap session starting before the range (a gap of exactly the timeout continues it).
      Make("u1", "", day1 - kMinute, "e1", std::nullopt),
      Make("u1", "", day1 + 29 * kMinute, "e2", std::nullopt),
      // A one-event gap session: the -1 event and the $identify after it extend nothing.
      Make("u1", "", day1 + 2 * kHour, "e3", std::nullopt),
      Make("u1", "", day1 + 2 * kHour + 10'000, "e4", kNoSessionId),
      Make("u1", "", day1 + 2 * kHour + 20'000, "e5", std::nullopt, "$identify"),
      // 1 ms over the timeout: a new gap session, not split by explicit session 5 inside it.
      Make("u1", "", day1 + 2 * kHour + 30 * kMinute + 1, "e6", std::nullopt),
      Make("u1", "", day1 + 2 * kHour + 40 * kMinute, "e7", 5),
      Make("u1", "", day1 + 2 * kHour + 50 * kMinute, "e8", std::nullopt),
      Make("u1", "", day1 + 2 * kHour + 40 * kMinute + 45'500, "e9", 5),
      // d2: a gap session starting on day 2 and ending after the range, counted in full; its
      // session 5 is not u1's.
      Make("", "d2", day2 + 23 * kHour + 50 * kMinute, "f1", std::nullopt),
      Make("", "d2", day2 + kDay + 10 * kMinute, "f2", std::nullopt),
      Make("", "d2", day2 + kHour, "f3", 5),
  };
  Insert(events, 2);
  ReferenceEngine reference(events);
  SessionsQuery query;
  query.scope.project = "sessions-hand";
  query.scope.from_ms = day1;
  query.scope.to_ms = day2 + kDay;
  query.length_buckets_s = {0, 60, 1200};
  absl::StatusOr<SessionsResult> result = RunSessions(query, Sql(), Table());
  ASSERT_TRUE(result.ok()) << result.status();
  // Day 1: lengths 0 (e3), 1199.999 s (e6..e8), 45.5 s (session 5). Day 2: 0 (d2's session 5),
  // 1200 s (f1..f2).
  EXPECT_EQ(result->buckets, (std::vector<int64_t>{day1, day2}));
  EXPECT_EQ(result->counts, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(result->average_length_s,
            (std::vector<Number>{1'245'499 / 3000.0, 1'200'000 / 2000.0}));
  EXPECT_EQ(result->histogram, (std::vector<std::vector<int64_t>>{{1, 1, 1, 0}, {1, 0, 1, 0}}));
  EXPECT_EQ(result->total_count, 5);
  EXPECT_EQ(result->total_average_length_s, Number(2'445'499 / 5000.0));
  EXPECT_EQ(*result, std::get<SessionsResult>(*reference.Run(query)));

  // 1 ms shorter timeout: e2 starts its own (in-range, zero-length) session.
  query.timeout_ms = 30 * kMinute - 1;
  result = RunSessions(query, Sql(), Table());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->counts, (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(result->histogram, (std::vector<std::vector<int64_t>>{{2, 1, 1, 0}, {1, 0, 1, 0}}));
  EXPECT_EQ(*result, std::get<SessionsResult>(*reference.Run(query)));

  // An empty range: no buckets, no sessions, null averages.
  query.scope.to_ms = query.scope.from_ms;
  result = RunSessions(query, Sql(), Table());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->buckets.empty());
  EXPECT_EQ(result->total_count, 0);
  EXPECT_EQ(result->total_average_length_s, std::nullopt);

  query.scope.time_zone = "Not/AZone";
  EXPECT_EQ(RunSessions(query, Sql(), Table()).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
