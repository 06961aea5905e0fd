// The ClickHouse funnels against the brute-force reference on randomized datasets (issue 6,
// "Correctness"), on Debian's 18.16 or on chdb (testing/query_test_base.h): ordered, strict and
// unordered funnels of 2-4 steps with filters and group-bys in both identity modes must give
// identical results, user-property filters and group-bys included. Plus hand-checked cases.
#include "analytics/clickhouse/clickhouse_funnel_query.h"

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

namespace cohort::analytics::clickhouse {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kT0 = 1'772'841'600'000;  // 2026-03-07 UTC

using ClickHouseFunnelQueryTest = testing::ClickHouseQueryTest;

TEST_F(ClickHouseFunnelQueryTest, AgreesWithTheReferenceOnRandomData) {
  const FunnelOrder kOrders[] = {FunnelOrder::kOrdered, FunnelOrder::kStrict,
                                 FunnelOrder::kUnordered};
  constexpr uint32_t kSeeds = 8;
  constexpr int kQueries = 9;
  int compared = 0, with_user = 0;
  int drilled = 0;  // drill-down cells that exist, compared with the reference
  int completed = 0, partial = 0, with_other = 0, with_gaps = 0;
  int per_order_completed[3] = {0, 0, 0};
  for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
    std::mt19937 rng(seed);
    std::mt19937 drill_rng(seed + 1000);  // cells drawn apart, so the queries stay the same
    analytics::testing::RandomEventsOptions options;
    options.project = absl::StrCat("funnel-", seed);
    std::vector<Event> events = analytics::testing::FunnelEvents(seed, options);
    Insert(events, 1 + static_cast<int>(rng() % 4));
    ReferenceEngine reference(events);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      for (int q = 0; q < kQueries; ++q) {
        FunnelQuery query =
            analytics::testing::RandomFunnelQuery(rng, options, identity, kOrders[q % 3]);
        FunnelQuery reduced = query;
        if (analytics::testing::StripUserProperties(reduced)) ++with_user;
        reduced = query;
        absl::StatusOr<FunnelResult> got = RunFunnel(reduced, Sql(), Table());
        ASSERT_TRUE(got.ok()) << got.status();
        absl::StatusOr<Result> expected = reference.Run(reduced);
        ASSERT_TRUE(expected.ok()) << expected.status();
        const auto& want = std::get<FunnelResult>(*expected);
        ASSERT_EQ(*got, want) << EngineName() << " seed " << seed << " query " << q << " order "
                              << static_cast<int>(reduced.order) << " steps "
                              << reduced.steps.size() << " window " << reduced.window_ms
                              << " identity " << static_cast<int>(identity);
        drilled += ExpectDrillDownAgrees(reduced, reference, drill_rng);
        ++compared;
        const std::vector<FunnelStep>& steps = want.all.steps;
        if (steps.back().actors > 0) {
          ++completed;
          ++per_order_completed[q % 3];
        }
        if (steps[1].actors > 0 && steps[1].actors < steps[0].actors) ++partial;
        if (steps[1].median_time_ms.value_or(0) > 0) ++with_gaps;
        if (!want.groups.empty() && want.groups.back().group == kOtherGroup) ++with_other;
      }
    }
  }
  std::printf(
      "%s: %d compared (%d with user properties), %d completed, %d partial, %d with gaps, "
      "%d with (other)\n",
      EngineName(), compared, with_user, completed, partial, with_gaps, with_other);
  EXPECT_EQ(compared, static_cast<int>(kSeeds) * 2 * kQueries);
  std::printf("%s: %d drill-down cells compared\n", EngineName(), drilled);
  EXPECT_GT(drilled, 0);
  EXPECT_GT(with_user, 12);
  EXPECT_GT(completed, 25);
  EXPECT_GT(partial, 35);
  EXPECT_GT(with_gaps, 35);
  EXPECT_GT(with_other, 6);
  for (int completed_in_order : per_order_completed) EXPECT_GT(completed_in_order, 5);
}

Event Make(std::string user, std::string type, int64_t time, std::string id) {
  Event e;
  e.project = "funnel-hand";
  e.user_id = std::move(user);
  e.event_type = std::move(type);
  e.time_ms = time;
  e.insert_id = std::move(id);
  return e;
}

FunnelQuery Query(std::vector<std::string> types, int64_t from, int64_t to, int64_t window,
                  FunnelOrder order) {
  FunnelQuery query;
  query.scope.project = "funnel-hand";
  query.scope.from_ms = from;
  query.scope.to_ms = to;
  for (std::string& type : types) query.steps.push_back(EventSelector{std::move(type), {}});
  query.window_ms = window;
  query.order = order;
  return query;
}

TEST_F(ClickHouseFunnelQueryTest, HandCheckedOrderedStrictAndUnordered) {
  // u1: view, click, purchase (the purchase after the range end, inside the window); u2: view,
  // then an active "other" event, then click; u3: purchase, view, click (unordered completes).
  Insert({Make("u1", "view", kT0, "a"), Make("u1", "click", kT0 + kMinute, "b"),
          Make("u1", "purchase", kT0 + 3 * kHour, "c"), Make("u2", "view", kT0, "d"),
          Make("u2", "other", kT0 + kMinute, "e"), Make("u2", "click", kT0 + 2 * kMinute, "f"),
          Make("u3", "purchase", kT0, "g"), Make("u3", "view", kT0 + kMinute, "h"),
          Make("u3", "click", kT0 + 5 * kMinute, "i")},
         2);
  FunnelQuery query =
      Query({"view", "click", "purchase"}, kT0, kT0 + kHour, kDay, FunnelOrder::kOrdered);
  absl::StatusOr<FunnelResult> ordered = RunFunnel(query, Sql(), Table());
  ASSERT_TRUE(ordered.ok()) << ordered.status();
  ASSERT_EQ(ordered->all.steps.size(), 3u);
  EXPECT_EQ(ordered->all.steps[0].actors, 3);
  EXPECT_EQ(ordered->all.steps[1].actors, 3);
  EXPECT_EQ(ordered->all.steps[2].actors, 1);
  // Gaps u1 1 min, u2 2 min, u3 4 min: mean 7/3 min, lower median 2 min.
  EXPECT_EQ(ordered->all.steps[1].average_time_ms, 7.0 * kMinute / 3);
  EXPECT_EQ(ordered->all.steps[1].median_time_ms, 2 * kMinute);
  EXPECT_EQ(ordered->all.steps[2].median_time_ms, 3 * kHour - kMinute);

  query.order = FunnelOrder::kStrict;
  absl::StatusOr<FunnelResult> strict = RunFunnel(query, Sql(), Table());
  ASSERT_TRUE(strict.ok()) << strict.status();
  EXPECT_EQ(strict->all.steps[1].actors, 2);  // u2's "other" interrupts

  query.order = FunnelOrder::kUnordered;
  absl::StatusOr<FunnelResult> unordered = RunFunnel(query, Sql(), Table());
  ASSERT_TRUE(unordered.ok()) << unordered.status();
  EXPECT_EQ(unordered->all.steps[2].actors, 2);  // u1 and u3
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
