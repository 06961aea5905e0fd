// The embedded store's retention against the brute-force reference on randomized datasets (issue
// 6, "Correctness"): the same events, appended in several batches so actors span segments and
// duplicates cross them, must give identical results for every mode (N-day, unbounded,
// brackets), day kind (rolling, calendar), time zone, identity mode, start and return selector
// (_active, _new, _all, event types, filters of both scopes) and as-of; plus hand-checked cases.
#include "analytics/store/retention_query.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "analytics/reference/reference_engine.h"
#include "analytics/reference/test_events.h"
#include "analytics/store/testing/stored_events_test_base.h"
#include "analytics/testing/random_events.h"
#include "analytics/testing/random_queries.h"
#include "analytics/time/calendar.h"

namespace cohort::analytics::store {
namespace {

using ::cohort::analytics::testing::At;
using ::cohort::analytics::testing::Ev;
using ::testing::ElementsAre;
using Cell = RetentionCell;

constexpr int64_t kDayMs = 86'400'000;

class RetentionQueryTest : public StoredEventsTest {
 protected:
  // Runs `query` on the store and on the reference (over the same events), expects them equal
  // and returns the store's result.
  RetentionResult RunBoth(const RetentionQuery& query, const std::vector<Event>& events,
                          const Snapshot& snapshot) {
    ActorView view = ActorView::Build(snapshot.segments, query.scope.identity);
    absl::StatusOr<RetentionResult> embedded = RunRetention(query, view);
    EXPECT_TRUE(embedded.ok()) << embedded.status();
    absl::StatusOr<Result> expected = ReferenceEngine(events).Run(query);
    EXPECT_TRUE(expected.ok()) << expected.status();
    if (!embedded.ok() || !expected.ok()) return {};
    EXPECT_EQ(*embedded, std::get<RetentionResult>(*expected));
    return *std::move(embedded);
  }
};

using ::cohort::analytics::testing::MakeFilter;

TEST_F(RetentionQueryTest, AgreesWithTheReferenceOnRandomData) {
  int compared = 0;
  int64_t retained = 0, complete = 0, incomplete_cells = 0, cohorts = 0;
  int drilled = 0;  // drill-down cells that exist, compared with the reference
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    std::mt19937 rng(seed);
    testing::RandomEventsOptions options;
    std::vector<Event> events = testing::RandomEvents(seed, options);
    Snapshot snapshot = Store(events, 1 + static_cast<int>(rng() % 4), static_cast<int>(seed));
    ReferenceEngine reference(events);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      ActorView view = ActorView::Build(snapshot.segments, identity);
      for (int q = 0; q < 12; ++q) {
        RetentionQuery query = testing::RandomRetentionQuery(rng, options, identity, events);
        absl::StatusOr<RetentionResult> embedded = RunRetention(query, view);
        ASSERT_TRUE(embedded.ok()) << embedded.status();
        absl::StatusOr<Result> expected = reference.Run(query);
        ASSERT_TRUE(expected.ok()) << expected.status();
        const auto& want = std::get<RetentionResult>(*expected);
        ASSERT_EQ(*embedded, want)
            << "seed " << seed << " query " << q << " zone " << query.scope.time_zone << " start "
            << query.start.event_type << " return " << query.returned.event_type << " mode "
            << static_cast<int>(query.mode) << " days " << static_cast<int>(query.days)
            << " identity " << static_cast<int>(identity);
        drilled += ExpectDrillDownsAgree(query, view, reference, rng);
        ++compared;
        cohorts += embedded->total.size;
        for (const Cell& cell : embedded->total.cells) {
          retained += cell.count;
          complete += cell.out_of;
          incomplete_cells += cell.incomplete;
        }
      }
    }
  }
  EXPECT_EQ(compared, 30 * 2 * 12);
  EXPECT_GT(drilled, compared / 5);
  // The data exercise every part: cohorts, returns, complete and incomplete cells.
  EXPECT_GT(cohorts, 4000);
  EXPECT_GT(retained, 3000);
  EXPECT_GT(complete, retained);
  EXPECT_GT(incomplete_cells, 300);
}

// Returns to _active are read from each actor's active hours (their first and last active
// events) rather than from its events: bursts of events a few minutes either side of day
// boundaries — 24 h after an actor's first event (rolling) and civil midnights (calendar) — with
// inactive events among them, and as-of instants inside the bursts, must still agree with the
// reference.
TEST_F(RetentionQueryTest, AgreesWithTheReferenceWhenActiveHoursStraddleDayBoundaries) {
  constexpr int64_t kMinuteMs = 60'000;
  const char* const kZones[] = {"UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"};
  const char* const kTypes[] = {"view", "click", "view", "$identify",
                                "dify.generate_conversation_name"};
  const char* const kStarts[] = {kNewUserEvent, kAnyActiveEvent, "signup", "view"};
  int compared = 0;
  int64_t retained = 0, complete = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    const char* zone = kZones[seed % 4];
    const Calendar calendar = *Calendar::Load(zone);
    const int64_t base = At(2026, 4, 3, 0, 0, 0, zone);
    std::vector<Event> events;
    std::vector<int64_t> anchors;
    for (int actor = 0; actor < 12; ++actor) {
      const std::string user = absl::StrCat("u", actor), device = absl::StrCat("d", actor);
      const int64_t anchor = base + static_cast<int64_t>(rng() % (2 * kDayMs));
      anchors.push_back(anchor);
      events.push_back(Ev("signup", anchor, "", device));
      for (int k = 0; k < 7; ++k) {
        if (rng() % 2) continue;  // days without a return
        // Around the k-th rolling boundary, or around the k-th civil midnight after the anchor.
        const int64_t center =
            rng() % 2 ? anchor + k * kDayMs : calendar.DayStart(calendar.Day(anchor) + k + 1);
        for (int n = 1 + static_cast<int>(rng() % 4); n > 0; --n) {
          const int64_t t = rng() % 5 == 0 ? center
                                           : center - 15 * kMinuteMs +
                                                 static_cast<int64_t>(rng() % (30 * kMinuteMs));
          if (t <= anchor) continue;
          events.push_back(Ev(kTypes[rng() % 5], t, rng() % 3 ? user : "", device));
        }
      }
    }
    Snapshot snapshot = Store(events, 1 + static_cast<int>(rng() % 3), static_cast<int>(seed));
    ReferenceEngine reference(events);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      ActorView view = ActorView::Build(snapshot.segments, identity);
      for (int q = 0; q < 8; ++q) {
        RetentionQuery query;
        // From before every event, or from inside them (actors active before are not new).
        const int64_t from = base - kDayMs + static_cast<int64_t>(rng() % 3) * kDayMs;
        query.scope = testing::Scope(from, from + 3 * kDayMs);
        query.scope.identity = identity;
        query.scope.time_zone = zone;
        query.start = {kStarts[rng() % 4], {}};
        query.returned = {kAnyActiveEvent, {}};
        query.mode = static_cast<RetentionMode>(rng() % 3);
        query.days = rng() % 2 ? RetentionDays::kRolling : RetentionDays::kCalendar;
        query.max_day = 1 + static_cast<int>(rng() % 7);
        if (query.mode == RetentionMode::kBracket) query.brackets = {{1, 1}, {2, 4}};
        const Event& e = events[rng() % events.size()];
        switch (rng() % 4) {
          case 0:  // at an event (it is not before as-of), or just after it
            query.as_of_ms = e.time_ms + static_cast<int64_t>(rng() % 2);
            break;
          case 1:  // where an actor's rolling day ends
            query.as_of_ms = anchors[rng() % anchors.size()] + (1 + rng() % 5) * kDayMs;
            break;
          case 2:  // where a civil day ends
            query.as_of_ms = calendar.DayStart(calendar.Day(e.time_ms) + 1);
            break;
          default:
            query.as_of_ms = base + 20 * kDayMs;
        }
        RetentionResult result = RunBoth(query, events, snapshot);
        ++compared;
        for (const Cell& cell : result.total.cells) {
          retained += cell.count;
          complete += cell.out_of;
        }
      }
    }
  }
  EXPECT_EQ(compared, 40 * 2 * 8);
  EXPECT_GT(retained, 1000);
  EXPECT_GT(complete, retained);
}

// UTC, range Jan 1..2 2026, as of Jan 4 18:00 (the reference's retention_test dataset, with u1
// signing up anonymously on d1 before logging in):
//   u1 (d1) signs up Jan 1 20:00; active Jan 2 10:00 (rolling day 0), Jan 2 21:00 (rolling day 1)
//   u2 signs up Jan 1 08:00; active Jan 3 09:00 (day 2 either way)
//   u3 signs up Jan 2 12:00; active Jan 3 11:59 (rolling day 0), Jan 4 12:00 (exactly 48 h)
//   u4 signs up Jan 3 00:00: after the range.
std::vector<Event> HandData() {
  return {
      Ev("signup", At(2026, 1, 1, 20), "", "d1"), Ev("view", At(2026, 1, 2, 10), "u1", "d1"),
      Ev("view", At(2026, 1, 2, 21), "u1"),       Ev("signup", At(2026, 1, 1, 8), "u2"),
      Ev("view", At(2026, 1, 3, 9), "u2"),        Ev("signup", At(2026, 1, 2, 12), "u3"),
      Ev("view", At(2026, 1, 3, 11, 59), "u3"),   Ev("view", At(2026, 1, 4, 12), "u3"),
      Ev("signup", At(2026, 1, 3), "u4"),         Ev("view", At(2026, 1, 4), "u4"),
  };
}

RetentionQuery HandQuery(RetentionMode mode, RetentionDays days) {
  RetentionQuery query;
  query.scope = testing::Scope(At(2026, 1, 1), At(2026, 1, 3));
  query.start = {"signup", {}};
  query.returned = {kAnyActiveEvent, {}};
  query.mode = mode;
  query.days = days;
  query.max_day = 2;
  query.as_of_ms = At(2026, 1, 4, 18);
  return query;
}

TEST_F(RetentionQueryTest, HandCheckedModesAndCompleteness) {
  std::vector<Event> events = HandData();
  Snapshot snapshot = Store(events, 3, 0);

  // Rolling N-day: u1's day 2 ends Jan 4 20:00 and u3's Jan 5 12:00, after as-of.
  RetentionResult r =
      RunBoth(HandQuery(RetentionMode::kNDay, RetentionDays::kRolling), events, snapshot);
  EXPECT_THAT(r.rows,
              ElementsAre(RetentionRow{At(2026, 1, 1), 2, {Cell{1, 2, false}, Cell{1, 1, true}}},
                          RetentionRow{At(2026, 1, 2), 1, {Cell{0, 1, false}, Cell{0, 0, true}}}));
  EXPECT_EQ(r.total, (RetentionRow{0, 3, {Cell{1, 3, false}, Cell{1, 1, true}}}));

  // Without merging, d1's signup is its own actor that never returns, and u1 has no signup.
  RetentionQuery separate = HandQuery(RetentionMode::kNDay, RetentionDays::kRolling);
  separate.scope.identity = IdentityMerge::kNone;
  r = RunBoth(separate, events, snapshot);
  EXPECT_THAT(r.rows,
              ElementsAre(RetentionRow{At(2026, 1, 1), 2, {Cell{0, 2, false}, Cell{1, 1, true}}},
                          RetentionRow{At(2026, 1, 2), 1, {Cell{0, 1, false}, Cell{0, 0, true}}}));

  // Calendar days: u1's Jan 2 returns are day 1, u3's Jan 3 11:59 too.
  r = RunBoth(HandQuery(RetentionMode::kNDay, RetentionDays::kCalendar), events, snapshot);
  EXPECT_EQ(r.total, (RetentionRow{0, 3, {Cell{2, 3, false}, Cell{1, 2, true}}}));

  // Unbounded: a return on day N or later, before as-of.
  r = RunBoth(HandQuery(RetentionMode::kUnbounded, RetentionDays::kRolling), events, snapshot);
  EXPECT_EQ(r.total, (RetentionRow{0, 3, {Cell{3, 3, false}, Cell{1, 1, true}}}));
  // As of Jan 4 12:00, u3's return at exactly 12:00 is not there yet.
  RetentionQuery earlier = HandQuery(RetentionMode::kUnbounded, RetentionDays::kRolling);
  earlier.as_of_ms = At(2026, 1, 4, 12);
  r = RunBoth(earlier, events, snapshot);
  EXPECT_EQ(r.total, (RetentionRow{0, 3, {Cell{2, 3, false}, Cell{1, 1, true}}}));

  // Brackets: one cell each, complete when its last day is.
  RetentionQuery brackets = HandQuery(RetentionMode::kBracket, RetentionDays::kRolling);
  brackets.brackets = {{1, 2}};
  r = RunBoth(brackets, events, snapshot);
  EXPECT_EQ(r.total, (RetentionRow{0, 3, {Cell{1, 1, true}}}));
  brackets.as_of_ms = At(2026, 1, 10);
  brackets.brackets = {{1, 1}, {2, 3}};
  r = RunBoth(brackets, events, snapshot);
  EXPECT_EQ(r.total, (RetentionRow{0, 3, {Cell{1, 3, false}, Cell{2, 3, false}}}));
}

TEST_F(RetentionQueryTest, HandCheckedNewUsersWithAUserPropertyFilter) {
  auto identify = [](int64_t t, std::string user, const char* plan) {
    Event e = Ev("$identify", t, std::move(user));
    e.user_properties["$set"] = PropertyValue::Json(std::string(R"({"plan":")") + plan + "\"}");
    return e;
  };
  std::vector<Event> events = {
      // u5: pro before its first active event (Jan 1 10:00); back on calendar day 1.
      identify(At(2026, 1, 1, 9), "u5", "pro"),
      Ev("view", At(2026, 1, 1, 10), "u5"),
      Ev("view", At(2026, 1, 2, 23, 59), "u5"),
      // u6: first active before the range; its signup in the range does not make it new.
      Ev("view", At(2025, 12, 31, 10), "u6"),
      Ev("signup", At(2026, 1, 1, 10), "u6"),
      Ev("view", At(2026, 1, 2, 10), "u6"),
      // u7: free at its first active event; turning pro later does not start a cohort.
      identify(At(2026, 1, 1, 8), "u7", "free"),
      Ev("view", At(2026, 1, 1, 9), "u7"),
      identify(At(2026, 1, 1, 11), "u7", "pro"),
      Ev("view", At(2026, 1, 1, 12), "u7"),
      Ev("view", At(2026, 1, 2, 12), "u7"),
      // u8: pro, first active Jan 2 02:00, back Jan 3 00:00 (calendar day 1).
      identify(At(2026, 1, 2, 1), "u8", "pro"),
      Ev("view", At(2026, 1, 2, 2), "u8"),
      Ev("view", At(2026, 1, 3), "u8"),
  };
  Snapshot snapshot = Store(events, 2, 0);
  RetentionQuery query = HandQuery(RetentionMode::kNDay, RetentionDays::kCalendar);
  query.start = {kNewUserEvent,
                 {MakeFilter(PropertyRef::Scope::kUser, "plan", FilterOp::kEquals,
                             {PropertyValue::String("pro")})}};
  query.as_of_ms = At(2026, 1, 10);
  RetentionResult r = RunBoth(query, events, snapshot);
  EXPECT_THAT(r.rows,
              ElementsAre(RetentionRow{At(2026, 1, 1), 1, {Cell{1, 1, false}, Cell{0, 1, false}}},
                          RetentionRow{At(2026, 1, 2), 1, {Cell{1, 1, false}, Cell{0, 1, false}}}));
  EXPECT_EQ(r.total, (RetentionRow{0, 2, {Cell{2, 2, false}, Cell{0, 2, false}}}));
}

TEST_F(RetentionQueryTest, HandCheckedCalendarDaysAcrossDst) {
  // New York falls back on Sunday 2026-11-01 (25 hours). A start at Oct 31 23:00 EDT and a
  // return at Nov 2 00:30 EST, 26.5 h later: rolling day 1, calendar day 2.
  const char* ny = "America/New_York";
  std::vector<Event> events = {Ev("signup", At(2026, 10, 31, 23, 0, 0, ny), "u"),
                               Ev("view", At(2026, 11, 2, 0, 30, 0, ny), "u")};
  Snapshot snapshot = Store(events, 1, 0);
  RetentionQuery query = HandQuery(RetentionMode::kNDay, RetentionDays::kCalendar);
  query.scope = testing::Scope(At(2026, 10, 31, 0, 0, 0, ny), At(2026, 11, 1, 0, 0, 0, ny), ny);
  query.as_of_ms = At(2026, 11, 10);
  RetentionResult r = RunBoth(query, events, snapshot);
  EXPECT_THAT(r.rows, ElementsAre(RetentionRow{
                          At(2026, 10, 31, 4), 1, {Cell{0, 1, false}, Cell{1, 1, false}}}));
  query.days = RetentionDays::kRolling;
  r = RunBoth(query, events, snapshot);
  EXPECT_EQ(r.total, (RetentionRow{0, 1, {Cell{1, 1, false}, Cell{0, 1, false}}}));
}

TEST_F(RetentionQueryTest, HandCheckedCalendarDayOneAfterA23HourCohortDay) {
  // New York springs forward on Sunday 2026-03-08 (23 hours). A start at Mar 8 10:00 EDT and a
  // return at Mar 9 00:30 EDT, 14.5 h later: calendar day 1 (which begins 23 h after the cohort
  // day's midnight), rolling day 0.
  const char* ny = "America/New_York";
  std::vector<Event> events = {Ev("signup", At(2026, 3, 8, 10, 0, 0, ny), "u"),
                               Ev("view", At(2026, 3, 9, 0, 30, 0, ny), "u")};
  Snapshot snapshot = Store(events, 1, 0);
  RetentionQuery query = HandQuery(RetentionMode::kNDay, RetentionDays::kCalendar);
  query.scope = testing::Scope(At(2026, 3, 8, 0, 0, 0, ny), At(2026, 3, 9, 0, 0, 0, ny), ny);
  query.max_day = 1;
  query.as_of_ms = At(2026, 3, 20);
  RetentionResult r = RunBoth(query, events, snapshot);
  EXPECT_THAT(r.rows, ElementsAre(RetentionRow{At(2026, 3, 8, 5), 1, {Cell{1, 1, false}}}));
  query.days = RetentionDays::kRolling;
  r = RunBoth(query, events, snapshot);
  EXPECT_EQ(r.total, (RetentionRow{0, 1, {Cell{0, 1, false}}}));
}

TEST_F(RetentionQueryTest, RejectsAnUnknownTimeZoneAndAnswersAnEmptyRange) {
  std::vector<Event> events = HandData();
  Snapshot snapshot = Store(events, 1, 0);
  ActorView view = ActorView::Build(snapshot.segments, IdentityMerge::kDeviceToUser);
  RetentionQuery query = HandQuery(RetentionMode::kNDay, RetentionDays::kRolling);
  query.scope.time_zone = "Mars/Olympus";
  EXPECT_EQ(RunRetention(query, view).status().code(), absl::StatusCode::kInvalidArgument);
  query = HandQuery(RetentionMode::kNDay, RetentionDays::kRolling);
  query.scope.to_ms = query.scope.from_ms;
  RetentionResult r = RunBoth(query, events, snapshot);
  EXPECT_TRUE(r.rows.empty());
  EXPECT_EQ(r.total, (RetentionRow{0, 0, {Cell{}, Cell{}}}));
}

}  // namespace
}  // namespace cohort::analytics::store
