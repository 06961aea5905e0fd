#include "analytics/reference/active_users.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "analytics/reference/reference_engine.h"
#include "analytics/reference/test_events.h"

namespace cohort::analytics {
namespace {

using ::cohort::analytics::testing::At;
using ::cohort::analytics::testing::CellActors;
using ::cohort::analytics::testing::Ev;
using ::cohort::analytics::testing::RunAs;
using ::cohort::analytics::testing::Scope;
using ::testing::ElementsAre;

constexpr char kNewYork[] = "America/New_York";

// New York's spring-forward day, Sunday 2026-03-08, is 23 hours long: 05:00Z to 04:00Z.
TEST(ActiveUsersTest, DaysAreCalendarDaysInTheZoneAcrossDst) {
  ReferenceEngine engine({
      Ev("view", At(2026, 3, 8, 4, 30), "u2"),      // Mar 7 23:30 EST
      Ev("view", At(2026, 3, 9, 3, 30), "u1"),      // Mar 8 23:30 EDT
      Ev("view", At(2026, 3, 9, 3, 59, 59), "u3"),  // Mar 8 23:59:59 EDT
      Ev("view", At(2026, 3, 9, 4), "u3"),          // Mar 9 00:00 EDT
      Ev("$identify", At(2026, 3, 9, 12), "u4"),    // not activity
  });
  ActiveUsersQuery query;
  query.scope =
      Scope(At(2026, 3, 7, 0, 0, 0, kNewYork), At(2026, 3, 10, 0, 0, 0, kNewYork), kNewYork);
  auto daily = RunAs<ActiveUsersResult>(engine, query);
  EXPECT_THAT(daily.buckets, ElementsAre(At(2026, 3, 7, 5), At(2026, 3, 8, 5), At(2026, 3, 9, 4)));
  EXPECT_THAT(daily.values, ElementsAre(1, 2, 1));
  EXPECT_THAT(CellActors(engine, query, {-1, 1}), ElementsAre("u1", "u3"));

  query.interval = Interval::kHour;
  query.scope.from_ms = At(2026, 3, 8, 5);
  query.scope.to_ms = At(2026, 3, 9, 4);
  auto hourly = RunAs<ActiveUsersResult>(engine, query);
  EXPECT_EQ(hourly.buckets.size(), 23u);
  EXPECT_EQ(hourly.values.back(), 2);  // 23:00 EDT: u1 and u3
}

// UTC. u1 active Jan 1 and Jan 10, u2 Jan 5; u5 identifies Jan 2 but is first active Jan 8; u6
// first active Jan 11. The range is Jan 7..11.
ReferenceEngine RollingData() {
  return ReferenceEngine({
      Ev("view", At(2026, 1, 1, 12), "u1"), Ev("view", At(2026, 1, 5, 12), "u2"),
      Ev("$identify", At(2026, 1, 2, 12), "u5"), Ev("view", At(2026, 1, 8, 12), "u5"),
      Ev("view", At(2026, 1, 10, 12), "u1"), Ev("view", At(2026, 1, 11, 23), "u6"),
      Ev("view", At(2026, 1, 12), "u3"),  // at the range end: outside
  });
}

ActiveUsersQuery RollingQuery(ActiveUsersMetric metric) {
  ActiveUsersQuery query;
  query.scope = Scope(At(2026, 1, 7), At(2026, 1, 12));
  query.metric = metric;
  return query;
}

TEST(ActiveUsersTest, RollingWindowsAreTheCalendarDaysEndingOnEachDayLookingBack) {
  ReferenceEngine engine = RollingData();
  auto weekly = RunAs<ActiveUsersResult>(engine, RollingQuery(ActiveUsersMetric::kRolling7));
  EXPECT_EQ(weekly.buckets.size(), 5u);
  // Jan 7: Jan 1..7 {u1, u2}; Jan 8: Jan 2..8 {u2, u5}; Jan 9 {u2, u5}; Jan 10 {u1, u2, u5};
  // Jan 11: Jan 5..11 {u1, u2, u5, u6}.
  EXPECT_THAT(weekly.values, ElementsAre(2, 2, 2, 3, 4));
  auto monthly = RunAs<ActiveUsersResult>(engine, RollingQuery(ActiveUsersMetric::kRolling30));
  EXPECT_THAT(monthly.values, ElementsAre(2, 3, 3, 3, 4));
  EXPECT_THAT(CellActors(engine, RollingQuery(ActiveUsersMetric::kRolling7), {-1, 1}),
              ElementsAre("u2", "u5"));
}

TEST(ActiveUsersTest, NewUsersAreCountedOnTheirFirstEverActiveEvent) {
  ReferenceEngine engine = RollingData();
  auto fresh = RunAs<ActiveUsersResult>(engine, RollingQuery(ActiveUsersMetric::kNew));
  EXPECT_THAT(fresh.values, ElementsAre(0, 1, 0, 0, 1));
  EXPECT_THAT(CellActors(engine, RollingQuery(ActiveUsersMetric::kNew), {-1, 4}),
              ElementsAre("u6"));
  auto active = RunAs<ActiveUsersResult>(engine, RollingQuery(ActiveUsersMetric::kActive));
  EXPECT_THAT(active.values, ElementsAre(0, 1, 0, 1, 1));
}

TEST(StickinessTest, DauOverRollingMauPerDayAndDaysActivePerIsoWeek) {
  // 2026-01-05 is a Monday.
  ReferenceEngine engine({
      Ev("view", At(2026, 1, 1, 12), "u1"),
      Ev("view", At(2026, 1, 5, 12), "u1"),
      Ev("view", At(2026, 1, 5, 13), "u2"),
      Ev("view", At(2026, 1, 6, 12), "u2"),
      Ev("view", At(2026, 1, 6, 13), "u2"),
  });
  StickinessQuery query{Scope(At(2026, 1, 5), At(2026, 1, 8))};
  auto result = RunAs<StickinessResult>(engine, query);
  EXPECT_THAT(result.days, ElementsAre(At(2026, 1, 5), At(2026, 1, 6), At(2026, 1, 7)));
  EXPECT_THAT(result.dau_over_mau, ElementsAre(1.0, 0.5, 0.0));
  EXPECT_EQ(result.mean_dau_over_mau, 0.5);
  EXPECT_THAT(result.weeks, ElementsAre(At(2026, 1, 5)));
  ASSERT_EQ(result.days_active_per_week.size(), 1u);
  // u1's Jan 1 lies outside the range: one day; u2: two days.
  EXPECT_THAT(result.days_active_per_week[0], ElementsAre(1, 1, 0, 0, 0, 0, 0));
  EXPECT_THAT(CellActors(engine, query, {0, 1}), ElementsAre("u2"));
  EXPECT_THAT(CellActors(engine, query, {-1, 0}), ElementsAre("u1", "u2"));

  StickinessQuery empty{Scope(At(2025, 12, 1), At(2025, 12, 2))};
  auto none = RunAs<StickinessResult>(engine, empty);
  EXPECT_THAT(none.dau_over_mau, ElementsAre(std::nullopt));
  EXPECT_EQ(none.mean_dau_over_mau, std::nullopt);
  EXPECT_THAT(none.days_active_per_week, ElementsAre(ElementsAre(0, 0, 0, 0, 0, 0, 0)));
}

}  // namespace
}  // namespace cohort::analytics
