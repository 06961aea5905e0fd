// The view's hourly active-actor sets: which events count, hour edges (before 1970 too), and
// which scopes may use them.
#include "analytics/store/hourly_active_actors.h"

#include <gtest/gtest.h>

#include <vector>

#include "analytics/store/actor_view.h"
#include "analytics/store/testing/stored_events_test_base.h"

namespace cohort::analytics::store {
namespace {

using HourlyActiveActorsTest = StoredEventsTest;
constexpr int64_t kHour = HourlyActiveActors::kHourMs;

Event At(std::string user, int64_t t, std::string type, std::string id) {
  Event e;
  e.project = "p";
  e.user_id = std::move(user);
  e.time_ms = t;
  e.event_type = std::move(type);
  e.insert_id = std::move(id);
  return e;
}

TEST_F(HourlyActiveActorsTest, CountsActorsWithAnActiveEventPerHour) {
  const int64_t t0 = 1'772'841'600'000;  // 2026-03-07 00:00 UTC
  Snapshot snapshot = Store(
      {
          At("u1", t0 + 10, "click", "a"),
          At("u1", t0 + 20, "click", "b"),  // same hour: counted once
          At("u2", t0 + kHour - 1, "view", "c"),
          At("u2", t0 + kHour, "view", "d"),                         // the next hour
          At("u3", t0 + 5, "$identify", "e"),                        // not activity
          At("u4", t0 + 6, "dify.generate_conversation_name", "f"),  // a default inactive type
          At("u5", -kHour + 1, "click", "g"),                        // 1969-12-31 23:00:00.001
      },
      2, 1);
  ActorView view = ActorView::Build(snapshot.segments, IdentityMerge::kNone);
  const HourlyActiveActors& hourly = view.hourly_active();
  EXPECT_EQ(hourly.CountActive(t0, t0 + kHour), 2u);              // u1, u2
  EXPECT_EQ(hourly.CountActive(t0 + kHour, t0 + 2 * kHour), 1u);  // u2
  EXPECT_EQ(hourly.CountActive(t0, t0 + 2 * kHour), 2u);          // distinct over hours
  EXPECT_EQ(hourly.CountActive(t0 - kHour, t0), 0u);
  EXPECT_EQ(hourly.CountActive(-kHour, 0), 1u);  // u5, before 1970
  EXPECT_EQ(hourly.CountActive(0, kHour), 0u);
  EXPECT_EQ(hourly.CountActive(-kHour, t0 + 2 * kHour), 3u);
  EXPECT_GT(hourly.memory_bytes(), 0u);

  // New actors: by the hour of their first active event (u3 and u4 have none).
  EXPECT_EQ(hourly.CountNew({t0, t0 + kHour}, t0 + 2 * kHour), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(hourly.CountNew({t0 + kHour}, t0 + 2 * kHour), (std::vector<int64_t>{0}));
  EXPECT_EQ(hourly.CountNew({-kHour, 0}, t0 + kHour), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(hourly.CountNew({}, t0).empty());
}

TEST_F(HourlyActiveActorsTest, AppliesOnlyToTheDefaultActivity) {
  QueryScope scope;
  EXPECT_TRUE(HourlyActiveActors::Applies(scope));
  scope.inactive_event_types = {"view"};
  EXPECT_FALSE(HourlyActiveActors::Applies(scope));
  scope.inactive_event_types.clear();
  EXPECT_FALSE(HourlyActiveActors::Applies(scope));
  EXPECT_TRUE(HourlyActiveActors::Aligned(3 * kHour));
  EXPECT_TRUE(HourlyActiveActors::Aligned(-kHour));
  EXPECT_FALSE(HourlyActiveActors::Aligned(kHour / 2));
}

}  // namespace
}  // namespace cohort::analytics::store
