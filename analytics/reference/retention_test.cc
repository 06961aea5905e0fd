#include "analytics/reference/retention.h"

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

using Cell = RetentionCell;

// UTC, range Jan 1..2 2026, as of Jan 4 18:00.
//   u1 signs up Jan 1 20:00; active Jan 2 10:00 (rolling day 0, calendar day 1), Jan 2 21:00
//      (rolling day 1, calendar day 1)
//   u2 signs up Jan 1 08:00; active Jan 3 09:00 (day 2 either way)
//   u3 signs up Jan 2 12:00; active Jan 3 11:59 (rolling day 0, calendar day 1), Jan 4 12:00
//      (exactly 48 h: rolling day 2; calendar day 2)
//   u4 signs up Jan 3 00:00: after the range.
ReferenceEngine Data() {
  return ReferenceEngine({
      Ev("signup", At(2026, 1, 1, 20), "u1"),
      Ev("view", At(2026, 1, 2, 10), "u1"),
      Ev("view", At(2026, 1, 2, 21), "u1"),
      Ev("signup", At(2026, 1, 1, 8), "u2"),
      Ev("view", At(2026, 1, 3, 9), "u2"),
      Ev("signup", At(2026, 1, 2, 12), "u3"),
      Ev("view", At(2026, 1, 3, 11, 59), "u3"),
      Ev("view", At(2026, 1, 4, 12), "u3"),
      Ev("signup", At(2026, 1, 3), "u4"),
      Ev("view", At(2026, 1, 4), "u4"),
  });
}

RetentionQuery RetQuery(RetentionMode mode, RetentionDays days) {
  RetentionQuery query;
  query.scope = Scope(At(2026, 1, 1), At(2026, 1, 3));
  query.start = {"signup", {}};
  query.returned = {kAnyActiveEvent, {}};
  query.mode = mode;
  query.days = days;
  query.max_day = 2;
  query.as_of_ms = At(2026, 1, 4, 18);
  return query;
}

TEST(RetentionTest, RollingNDayWithIncompleteDays) {
  ReferenceEngine engine = Data();
  auto result =
      RunAs<RetentionResult>(engine, RetQuery(RetentionMode::kNDay, RetentionDays::kRolling));
  // u1's day 2 ends Jan 4 20:00 and u3's Jan 5 12:00: after as-of.
  EXPECT_THAT(result.rows,
              ElementsAre(RetentionRow{At(2026, 1, 1), 2, {Cell{1, 2, false}, Cell{1, 1, true}}},
                          RetentionRow{At(2026, 1, 2), 1, {Cell{0, 1, false}, Cell{0, 0, true}}}));
  EXPECT_EQ(result.total, (RetentionRow{0, 3, {Cell{1, 3, false}, Cell{1, 1, true}}}));
}

TEST(RetentionTest, CalendarNDay) {
  auto result =
      RunAs<RetentionResult>(Data(), RetQuery(RetentionMode::kNDay, RetentionDays::kCalendar));
  EXPECT_THAT(result.rows,
              ElementsAre(RetentionRow{At(2026, 1, 1), 2, {Cell{1, 2, false}, Cell{1, 2, false}}},
                          RetentionRow{At(2026, 1, 2), 1, {Cell{1, 1, false}, Cell{0, 0, true}}}));
  EXPECT_EQ(result.total, (RetentionRow{0, 3, {Cell{2, 3, false}, Cell{1, 2, true}}}));
}

TEST(RetentionTest, UnboundedCountsAReturnOnDayNOrLaterBeforeAsOf) {
  auto result =
      RunAs<RetentionResult>(Data(), RetQuery(RetentionMode::kUnbounded, RetentionDays::kRolling));
  EXPECT_EQ(result.total, (RetentionRow{0, 3, {Cell{3, 3, false}, Cell{1, 1, true}}}));

  // As of Jan 4 12:00, u3's return at exactly 12:00 is not yet there: day 1 (ends Jan 4 12:00)
  // is complete without it.
  RetentionQuery earlier = RetQuery(RetentionMode::kUnbounded, RetentionDays::kRolling);
  earlier.as_of_ms = At(2026, 1, 4, 12);
  result = RunAs<RetentionResult>(Data(), earlier);
  EXPECT_EQ(result.total, (RetentionRow{0, 3, {Cell{2, 3, false}, Cell{1, 1, true}}}));
}

TEST(RetentionTest, ABracketIsOneCellCompleteWhenItsLastDayIs) {
  RetentionQuery query = RetQuery(RetentionMode::kBracket, RetentionDays::kRolling);
  query.brackets = {{1, 2}};
  auto result = RunAs<RetentionResult>(Data(), query);
  EXPECT_EQ(result.total, (RetentionRow{0, 3, {Cell{1, 1, true}}}));

  query.as_of_ms = At(2026, 1, 10);
  query.brackets = {{1, 1}, {2, 3}};
  result = RunAs<RetentionResult>(Data(), query);
  EXPECT_EQ(result.total, (RetentionRow{0, 3, {Cell{1, 3, false}, Cell{2, 3, false}}}));
}

TEST(RetentionTest, NewUsersStartOnTheirFirstEverActiveEvent) {
  // u5 was first active before the range; u6's first event is in it, and its return comes
  // exactly 24 h later (the start of day 1).
  ReferenceEngine engine({
      Ev("view", At(2025, 12, 31, 10), "u5"),
      Ev("signup", At(2026, 1, 1, 10), "u5"),
      Ev("view", At(2026, 1, 2, 10, 30), "u5"),
      Ev("$identify", At(2026, 1, 1, 9), "u6"),
      Ev("view", At(2026, 1, 2, 10), "u6"),
      Ev("view", At(2026, 1, 3, 10), "u6"),
  });
  RetentionQuery query = RetQuery(RetentionMode::kNDay, RetentionDays::kRolling);
  query.start = {kNewUserEvent, {}};
  query.max_day = 1;
  query.as_of_ms = At(2026, 1, 10);
  auto fresh = RunAs<RetentionResult>(engine, query);
  EXPECT_THAT(fresh.rows, ElementsAre(RetentionRow{At(2026, 1, 2), 1, {Cell{1, 1, false}}}));
  EXPECT_THAT(CellActors(engine, query, {0, 0}), ElementsAre("u6"));

  query.start = {"signup", {}};
  auto signups = RunAs<RetentionResult>(engine, query);
  EXPECT_THAT(signups.rows, ElementsAre(RetentionRow{At(2026, 1, 1), 1, {Cell{1, 1, false}}}));
}

TEST(RetentionTest, CalendarDaysFollowTheZoneAcrossDst) {
  // New York falls back on Sunday 2026-11-01 (25 hours). A start at Oct 31 23:00 EDT and a
  // return at Nov 2 00:30 EST, 26.5 h later: rolling day 1, calendar day 2.
  const char* ny = "America/New_York";
  ReferenceEngine engine({
      Ev("signup", At(2026, 10, 31, 23, 0, 0, ny), "u"),
      Ev("view", At(2026, 11, 2, 0, 30, 0, ny), "u"),
  });
  RetentionQuery query = RetQuery(RetentionMode::kNDay, RetentionDays::kCalendar);
  query.scope = Scope(At(2026, 10, 31, 0, 0, 0, ny), At(2026, 11, 1, 0, 0, 0, ny), ny);
  query.as_of_ms = At(2026, 11, 10);
  auto calendar = RunAs<RetentionResult>(engine, query);
  EXPECT_THAT(calendar.rows, ElementsAre(RetentionRow{
                                 At(2026, 10, 31, 4), 1, {Cell{0, 1, false}, Cell{1, 1, false}}}));
  query.days = RetentionDays::kRolling;
  auto rolling = RunAs<RetentionResult>(engine, query);
  EXPECT_EQ(rolling.total, (RetentionRow{0, 1, {Cell{1, 1, false}, Cell{0, 1, false}}}));
}

TEST(RetentionTest, DrillDownListsTheCohortAndTheRetained) {
  ReferenceEngine engine = Data();
  RetentionQuery query = RetQuery(RetentionMode::kNDay, RetentionDays::kRolling);
  EXPECT_THAT(CellActors(engine, query, {0, 0}), ElementsAre("u1", "u2"));
  EXPECT_THAT(CellActors(engine, query, {0, 2}), ElementsAre("u2"));
  EXPECT_THAT(CellActors(engine, query, {-1, 1}), ElementsAre("u1"));
  EXPECT_THAT(CellActors(engine, query, {-1, 0}), ElementsAre("u1", "u2", "u3"));
  EXPECT_EQ(engine.Actors(query, {0, 3}, "", 10).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::analytics
